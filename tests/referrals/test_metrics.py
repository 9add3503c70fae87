"""Handoff gauges for the dashboard: counts per state and overdue handoffs, from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from services.referrals import worker
from services.referrals.metrics import refresh_handoff_gauges
from tests.referrals.conftest import World, create_referral
from tests.referrals.test_worker import _set_deadline


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    value = REGISTRY.get_sample_value(name, labels or {})
    assert value is not None, name
    return value


async def test_gauges_follow_new_and_overdue_handoffs(world: World) -> None:
    assert "referrals.handoff-metrics" in {job.name for job in worker.JOBS}
    await refresh_handoff_gauges(world.app())
    sent_before = _sample("relais_handoffs", {"state": "sent"})
    overdue_before = _sample("relais_handoffs_overdue")

    ccas, partner = await world.org(), await world.org()
    created = await create_referral(world, ccas, partner)
    await refresh_handoff_gauges(world.app())
    assert _sample("relais_handoffs", {"state": "sent"}) == sent_before + 1
    assert _sample("relais_handoffs_overdue") == overdue_before

    handoff = created["handoffs"][0]["id"]
    await _set_deadline(world, handoff, datetime.now(UTC) - timedelta(minutes=1))
    await refresh_handoff_gauges(world.app())
    assert _sample("relais_handoffs_overdue") == overdue_before + 1
