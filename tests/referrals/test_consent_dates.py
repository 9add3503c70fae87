"""A consent's dates must be the person's present agreement: not in year 1, not years old, not
expiring centuries ahead (a 422 naming the field, and nothing written)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.referrals.conftest import World, referral_body

NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_at", "0001-01-01T00:00:00+01:00"),
        ("given_at", (NOW - timedelta(days=800)).isoformat()),
        ("expires_at", "9999-12-31T23:00:00-14:00"),
        ("expires_at", (NOW + timedelta(days=365 * 30)).isoformat()),
    ],
)
async def test_implausible_consent_dates_are_refused(world: World, field: str, value: str) -> None:
    sender, receiver = await world.org(), await world.org()
    body = referral_body(receiver)
    body["consent"][field] = value
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=sender.member)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [f"consent.{field}"]
    outbox = await world.client.get("/referrals/v1/outbox", headers=sender.member)
    assert outbox.json()["items"] == []


async def test_a_recent_consent_is_accepted(world: World) -> None:
    sender, receiver = await world.org(), await world.org()
    body = referral_body(receiver)
    body["consent"]["given_at"] = (NOW - timedelta(days=3)).isoformat()
    body["consent"]["expires_at"] = (NOW + timedelta(days=365)).isoformat()
    response = await world.client.post("/referrals/v1/referrals", json=body, headers=sender.member)
    assert response.status_code == 201, response.text
