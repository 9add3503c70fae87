"""Schemathesis against the integration endpoints (events feed, webhooks, stats, notification
preferences): generated requests, valid and invalid, never make a server error and are answered
as documented."""

from __future__ import annotations

import pytest
import schemathesis

from tests.fuzz import contract_failures, generate_cases
from tests.referrals.conftest import World, create_referral

PATHS = "^/referrals/v1/(events|webhooks|stats|notifications)"


@pytest.mark.slow
async def test_generated_requests_are_answered_as_documented(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    await create_referral(world, ccas, partner)
    created = await world.client.post(
        "/referrals/v1/webhooks", json={"url": "https://hooks.example.org/x"}, headers=partner.admin
    )
    assert created.status_code == 201, created.text
    document = world.app().openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document).include(path_regex=PATHS)
    callers = (
        {},
        partner.admin,
        ccas.member,
        partner.client("webhooks:manage", "referrals:read", "stats:read"),
    )
    cases = generate_cases(schema, per_operation=20, at_least=10)
    real = {"webhook_id": created.json()["id"]}
    assert await contract_failures(world.client, cases, callers, real=real) == []
