"""The Grafana dashboard queries metrics that the code really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import services.kernel.jobs
import services.kernel.observability  # registers the HTTP and pool metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "relais-dashboard.json"
# To be published by services/referrals with services.kernel.observability.counter/gauge
# (issue 8: webhook deliveries, handoffs by state, overdue handoffs).
FROM_REFERRALS = {"relais_webhook_deliveries_total", "relais_handoffs", "relais_handoffs_overdue"}


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
    exported = set(REGISTRY._names_to_collectors)  # includes _total, _bucket… sample names
    queried = {
        name
        for panel in load()["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\brelais_[a-z_]+", target["expr"])
    }
    assert len(queried) >= 10
    missing = queried - exported - FROM_REFERRALS
    assert not missing, f"the dashboard queries metrics nobody exports: {missing}"
