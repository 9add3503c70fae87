"""Authorisation matrix: every endpoint × every kind of caller, with the expected status, and
no personal field in any response that should not carry it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.referrals.conftest import PERSONAL_VALUES, Org, World, act, create_referral

PDF = b"%PDF-1.4\n%%EOF\n"

CALLERS = [
    "anonymous",
    "sender_member",
    "sender_admin",
    "receiver_member",
    "unrelated_member",
    "client_rw",
    "client_read",
    "client_none",
    "no_structure_user",
]


@dataclass
class Case:
    sender: Org
    receiver: Org
    other: Org
    referral: dict[str, Any]
    handoff: dict[str, Any]
    extra: dict[str, Any]


def headers_for(caller: str, case: Case) -> dict[str, str]:
    sender, receiver, other = case.sender, case.receiver, case.other
    match caller:
        case "anonymous":
            return {}
        case "sender_member":
            return sender.member
        case "sender_admin":
            return sender.admin
        case "receiver_member":
            return receiver.member
        case "unrelated_member":
            return other.member
        case "client_rw":
            return sender.client("referrals:read", "referrals:write")
        case "client_read":
            return sender.client("referrals:read")
        case "client_none":
            return sender.client("directory:read")
        case "no_structure_user":
            return {"Authorization": "Bearer " + sender.tokens.user(None, ())}
    raise AssertionError(caller)


Prep = Callable[[World, Case], Awaitable[None]]


async def _nothing(world: World, case: Case) -> None:
    return None


async def _accepted(world: World, case: Case) -> None:
    case.handoff = await act(
        world, case.receiver.member, case.referral["id"], case.handoff, "accept"
    )


async def _taken_over(world: World, case: Case) -> None:
    await _accepted(world, case)
    case.handoff = await act(
        world, case.receiver.member, case.referral["id"], case.handoff, "take-over"
    )


async def _declined(world: World, case: Case) -> None:
    case.handoff = await act(
        world, case.receiver.member, case.referral["id"], case.handoff, "decline",
        {"reason": "duplicate", "comment": "doublon"},
    )  # fmt: skip


async def _attached(world: World, case: Case) -> None:
    response = await world.client.post(
        f"/referrals/v1/referrals/{case.referral['id']}/attachments",
        content=PDF,
        headers={**case.sender.member, "Content-Type": "application/pdf"},
    )
    assert response.status_code == 201
    case.extra["attachment"] = response.json()["id"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    expected: dict[str, int]
    prep: Prep = _nothing
    body: Any = None
    raw: bytes | None = None
    personal_ok: frozenset[str] = frozenset()


READ = {
    "anonymous": 401,
    "sender_member": 200,
    "sender_admin": 200,
    "receiver_member": 200,
    "unrelated_member": 404,
    "client_rw": 200,
    "client_read": 200,
    "client_none": 403,
    "no_structure_user": 403,
}
SEES_PERSON = frozenset(
    {"sender_member", "sender_admin", "receiver_member", "client_rw", "client_read"}
)


def answer(status: int) -> dict[str, int]:
    """Receiver-only actions."""
    return {
        "anonymous": 401,
        "sender_member": 403,
        "sender_admin": 403,
        "receiver_member": status,
        "unrelated_member": 404,
        "client_rw": 403,
        "client_read": 403,
        "client_none": 403,
        "no_structure_user": 403,
    }


def sender_write(status: int, receiver: int = 403) -> dict[str, int]:
    return {
        "anonymous": 401,
        "sender_member": status,
        "sender_admin": status,
        "receiver_member": receiver,
        "unrelated_member": 404,
        "client_rw": status,
        "client_read": 403,
        "client_none": 403,
        "no_structure_user": 403,
    }


R = "/referrals/v1/referrals/{rid}"
H = R + "/handoffs/{hid}"
ENDPOINTS = [
    Endpoint("get referral", "GET", R, READ, personal_ok=SEES_PERSON),
    Endpoint("get handoff", "GET", H, READ),
    Endpoint("timeline", "GET", R + "/timeline", READ),
    Endpoint(
        "access log",
        "GET",
        R + "/access-log",
        {
            **READ,
            "sender_member": 403,
            "receiver_member": 403,
            "client_rw": 403,
            "client_read": 403,
        },
    ),
    Endpoint(
        "structure access log",
        "GET",
        "/referrals/v1/access-log",
        {
            **{caller: 403 for caller in READ},
            "anonymous": 401,
            "sender_admin": 200,
        },
    ),
    Endpoint("inbox", "GET", "/referrals/v1/inbox", {**READ, "unrelated_member": 200}),
    Endpoint("outbox", "GET", "/referrals/v1/outbox", {**READ, "unrelated_member": 200}),
    Endpoint("acknowledge", "POST", H + "/acknowledge", answer(200)),
    Endpoint("accept", "POST", H + "/accept", answer(200)),
    Endpoint(
        "decline", "POST", H + "/decline", answer(200), body={"reason": "other", "comment": "non"}
    ),
    Endpoint("take over", "POST", H + "/take-over", answer(200), prep=_accepted),
    Endpoint(
        "relay", "POST", H + "/relay", answer(201), body={"target": {"structure_id": "{other}"}}
    ),
    Endpoint("cancel", "POST", H + "/cancel", sender_write(200), body={"reason": "duplicate"}),
    Endpoint(
        "re-orient",
        "POST",
        R + "/handoffs",
        sender_write(201),
        prep=_declined,
        body={"target": {"structure_id": "{other}"}},
    ),
    Endpoint(
        "close",
        "POST",
        R + "/close",
        sender_write(200, receiver=200),
        prep=_taken_over,
        body={"outcome": "solution_found"},
        personal_ok=SEES_PERSON,
    ),
    Endpoint(
        "referent",
        "POST",
        R + "/referent",
        sender_write(200),
        body={"referent": "someone-else"},
        personal_ok=SEES_PERSON,
    ),
    Endpoint("withdraw consent", "POST", R + "/consent/withdraw", sender_write(200, receiver=200)),
    Endpoint(
        "upload attachment",
        "POST",
        R + "/attachments",
        sender_write(201),
        raw=PDF,
    ),
    Endpoint(
        "download attachment",
        "GET",
        R + "/attachments/{aid}",
        READ,
        prep=_attached,
        personal_ok=SEES_PERSON,
    ),
]


def _fill(value: Any, case: Case) -> Any:
    if isinstance(value, str):
        return value.format(
            rid=case.referral["id"],
            hid=case.handoff["id"],
            aid=case.extra.get("attachment", ""),
            other=case.other.id,
        )
    if isinstance(value, dict):
        return {k: _fill(v, case) for k, v in value.items()}
    return value


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
async def test_authorisation_matrix(world: World, endpoint: Endpoint) -> None:
    assert set(endpoint.expected) == set(CALLERS)
    failures = []
    for caller in CALLERS:
        sender, receiver, other = await world.org(), await world.org(), await world.org()
        referral = await create_referral(world, sender, receiver)
        case = Case(sender, receiver, other, referral, referral["handoffs"][0], {})
        await endpoint.prep(world, case)
        headers = headers_for(caller, case)
        if endpoint.method == "POST":
            headers["If-Match"] = f'"{case.handoff["version"]}"'
        url = _fill(endpoint.path, case)
        if endpoint.raw is not None:
            response = await world.client.post(
                url, content=endpoint.raw, headers={**headers, "Content-Type": "application/pdf"}
            )
        elif endpoint.method == "POST":
            response = await world.client.post(
                url, json=_fill(endpoint.body, case), headers=headers
            )
        else:
            response = await world.client.get(url, headers=headers)
        if response.status_code != endpoint.expected[caller]:
            failures.append(
                (caller, endpoint.expected[caller], response.status_code, response.text[:200])
            )
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        if caller not in endpoint.personal_ok:
            for value in PERSONAL_VALUES:
                assert value not in response.text, (caller, value)
    assert not failures, failures
