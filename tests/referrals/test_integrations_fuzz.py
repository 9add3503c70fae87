"""Schemathesis against the integration endpoints (events feed, webhooks, stats, notification
preferences): generated requests, valid and invalid, never make a server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.referrals.conftest import World, create_referral

PATHS = "^/referrals/v1/(events|webhooks|stats|notifications)"
_SENT = ("method", "url", "headers", "params", "json", "content", "data", "files")


def generate_cases(world: World, per_operation: int) -> list[Any]:
    document = world.app().openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
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
    await create_referral(world, ccas, partner)
    created = await world.client.post(
        "/referrals/v1/webhooks", json={"url": "https://hooks.example.org/x"}, headers=partner.admin
    )
    assert created.status_code == 201, created.text
    real = {"webhook_id": created.json()["id"]}
    callers = (
        {},
        partner.admin,
        ccas.member,
        partner.client("webhooks:manage", "referrals:read", "stats:read"),
    )
    failures: list[tuple[str, int, str]] = []
    for index, case in enumerate(generate_cases(world, per_operation=20)):
        if index % 2 and case.path_parameters:
            case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
        for headers in callers:
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=dict(headers))
            request = {k: v for k, v in kwargs.items() if k in _SENT}
            response = await world.client.request(**request)
            if response.status_code >= 500:
                failures.append((case.operation.label, response.status_code, response.text[:200]))
    assert failures == []
