"""Schemathesis against the referrals API: generated requests (valid and invalid, anonymous, as a
member of a structure involved, and as a client) never make a server error and are answered as
documented; paths point at a real referral and handoff half of the time."""

from __future__ import annotations

import pytest
import schemathesis

from tests.fuzz import contract_failures, generate_cases
from tests.referrals.conftest import World, create_referral

PATHS = "^/referrals/v1/(referrals|inbox|outbox)"


@pytest.mark.slow
async def test_generated_requests_are_answered_as_documented(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    referral = await create_referral(world, ccas, partner)
    # From the app's own document (not over ASGI: that would run the app's lifespan again).
    document = world.app().openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document).include(path_regex=PATHS)
    callers = ({}, ccas.member, partner.member, ccas.client("referrals:read", "referrals:write"))
    cases = generate_cases(schema, per_operation=15, at_least=18)
    real = {"referral_id": referral["id"], "handoff_id": referral["handoffs"][0]["id"]}
    assert await contract_failures(world.client, cases, callers, real=real) == []
