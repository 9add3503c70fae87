"""Keyset pagination: no duplicates or gaps while rows are inserted or updated during the walk."""

from __future__ import annotations

from typing import Any

import httpx

from tests.directory.helpers import BASE, admin, create_service, create_structure
from tests.tokens import TokenFactory


async def walk(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = await client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["next"]:
            return items
        assert page["next"].startswith("http://testserver/directory/v1/")
        response = await client.get(page["next"].removeprefix("http://testserver"))


async def test_pages_stable_under_concurrent_inserts(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    before = [(await create_service(client, tokens, sid))["id"] for _ in range(7)]
    seen: list[str] = []
    added: list[str] = []
    params: dict[str, Any] = {"structure_id": sid, "limit": 3}
    while True:
        page = (await client.get(f"{BASE}/services", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        # Another writer inserts while we page.
        added.append((await create_service(client, tokens, sid))["id"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)), "duplicates"
    assert set(before) <= set(seen), "gaps"
    assert seen == sorted(seen)  # UUIDv7: creation order
    assert set(seen) <= set(before) | set(added)


async def test_sync_by_updated_since(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    first = await create_service(client, tokens, sid)
    second = await create_service(client, tokens, sid)
    since = first["updated_at"]
    params = {"structure_id": sid, "updated_since": since, "limit": 1}
    items = await walk(client, f"{BASE}/services", params)
    assert [i["id"] for i in items] == [first["id"], second["id"]]
    # An update moves the entry to the end of the synchronisation order.
    await client.patch(
        f"{BASE}/services/{first['id']}",
        json={"description": "changé"},
        headers={**admin(tokens, sid), "If-Match": '"1"'},
    )
    items = await walk(client, f"{BASE}/services", params)
    assert [i["id"] for i in items] == [second["id"], first["id"]]
    later = await walk(
        client,
        f"{BASE}/services",
        {"structure_id": sid, "updated_since": items[-1]["updated_at"]},
    )
    assert [i["id"] for i in later] == [first["id"]]


async def test_archived_entries_visible_for_synchronisation(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    await client.delete(f"{BASE}/services/{svc}", headers={**admin(tokens, sid), "If-Match": "*"})
    default = await walk(client, f"{BASE}/services", {"structure_id": sid})
    assert default == []
    tombstones = await walk(
        client, f"{BASE}/services", {"structure_id": sid, "status": ["published", "archived"]}
    )
    assert [(i["id"], i["status"]) for i in tombstones] == [(svc, "archived")]


async def test_history_is_paginated(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    for n in range(3):
        await client.patch(
            f"{BASE}/structures/{sid}",
            json={"description": f"v{n}"},
            headers={**admin(tokens, sid), "If-Match": "*"},
        )
    items = await walk(client, f"{BASE}/structures/{sid}/history", {"limit": 2})
    assert [i["action"] for i in items] == ["create", "update", "update", "update"]
