"""Schemathesis against the referrals API: generated requests (valid and invalid, anonymous, as a
member of a structure involved, and as a client) never make a server error.

Cases are generated first (paths pointing at a real referral and handoff half of the time), then
sent through the test client on the test's own event loop."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.referrals.conftest import World, create_referral

PATHS = "^/referrals/v1/(referrals|inbox|outbox)"
_SENT = ("method", "url", "headers", "params", "json", "content", "data", "files")


def generate_cases(world: World, per_operation: int) -> list[Any]:
    # From the app's own document (not over ASGI: that would run the app's lifespan again).
    document = world.app().openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    cases: list[Any] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=per_operation,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


@pytest.mark.slow
async def test_no_server_error_on_generated_requests(world: World) -> None:
    ccas, partner = await world.org(), await world.org()
    referral = await create_referral(world, ccas, partner)
    real = {"referral_id": referral["id"], "handoff_id": referral["handoffs"][0]["id"]}
    callers = ({}, ccas.member, partner.member, ccas.client("referrals:read", "referrals:write"))
    failures: list[tuple[str, int, str]] = []
    for index, case in enumerate(generate_cases(world, per_operation=15)):
        if index % 2 and case.path_parameters:
            case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
        for headers in callers:
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=dict(headers))
            request = {k: v for k, v in kwargs.items() if k in _SENT}
            response = await world.client.request(**request)
            if response.status_code >= 500:
                failures.append((case.operation.label, response.status_code, response.text[:200]))
    assert failures == []
