"""The Grafana dashboard queries metrics that the code really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import services.kernel.jobs
import services.kernel.observability  # registers the HTTP and pool metrics
import services.referrals.metrics
import services.referrals.webhooks.delivery  # registers the webhook and handoff metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "relais-dashboard.json"


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def test_dashboard_shape() -> None:
    dashboard = load()
    assert dashboard["uid"] == "relais-overview"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "service"} <= names
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_every_queried_metric_is_exported() -> None:
    assert services.kernel.jobs.JOB_RUNS is not None
    assert services.referrals.metrics.HANDOFFS is not None
    assert services.referrals.webhooks.delivery.DELIVERIES is not None
    exported = set(REGISTRY._names_to_collectors)  # includes _total, _bucket… sample names
    queried = {
        name
        for panel in load()["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\brelais_[a-z_]+", target["expr"])
    }
    assert len(queried) >= 10
    missing = queried - exported
    assert not missing, f"the dashboard queries metrics nobody exports: {missing}"
