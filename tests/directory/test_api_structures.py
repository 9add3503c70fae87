"""Native API: structures (CRUD, ETag/If-Match, moderation, history, authorisation)."""

from __future__ import annotations

import httpx

from tests.directory.helpers import (
    BASE,
    admin,
    create_structure,
    member,
    moderator,
    structure_body,
    writer_client,
)
from tests.tokens import TokenFactory, bearer


async def test_create_read_update_archive(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    created = await create_structure(client, tokens)
    sid = created["id"]
    assert created["status"] == "published"
    assert created["phone"] == "+33299000000"
    assert created["commune"] == "Rennes"
    assert created["departement_code"] == "35"
    assert created["stale"] is False
    assert created["version"] == 1

    got = await client.get(f"{BASE}/structures/{sid}")
    assert got.status_code == 200
    assert got.headers["etag"].startswith('"1-')  # version, then digest of the representation
    body = got.json()
    for key in ("id", "name", "status", "accepts_referrals", "email", "commune_code"):
        assert key in body

    patched = await client.patch(
        f"{BASE}/structures/{sid}",
        json={"description": "Nouveau texte", "website": None},
        headers={**admin(tokens, sid), "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["description"] == "Nouveau texte"
    assert patched.json()["website"] is None
    assert patched.json()["name"] == created["name"]  # not sent: unchanged

    archived = await client.delete(
        f"{BASE}/structures/{sid}", headers={**admin(tokens, sid), "If-Match": '"2"'}
    )
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"

    history = await client.get(f"{BASE}/structures/{sid}/history")
    assert history.status_code == 200
    actions = [h["action"] for h in history.json()["items"]]
    assert actions == ["create", "update", "archive"]
    update = history.json()["items"][1]
    assert update["changes"]["description"] == [None, "Nouveau texte"]


async def test_if_match_rules(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    headers = admin(tokens, sid)
    missing = await client.patch(f"{BASE}/structures/{sid}", json={"name": "X"}, headers=headers)
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    stale = await client.patch(
        f"{BASE}/structures/{sid}", json={"name": "X"}, headers={**headers, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    assert stale.json()["extra"]["current_version"] == 1
    assert (await client.get(f"{BASE}/structures/{sid}")).json()["name"] != "X"
    weak = await client.patch(
        f"{BASE}/structures/{sid}", json={"name": "X"}, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert weak.status_code == 412
    star = await client.patch(
        f"{BASE}/structures/{sid}", json={"name": "Y"}, headers={**headers, "If-Match": "*"}
    )
    assert star.status_code == 200
    no_archive = await client.delete(f"{BASE}/structures/{sid}", headers=headers)
    assert no_archive.status_code == 428


async def test_concurrent_updates_one_wins(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    headers = {**admin(tokens, sid), "If-Match": '"1"'}
    first = await client.patch(f"{BASE}/structures/{sid}", json={"name": "A"}, headers=headers)
    second = await client.patch(f"{BASE}/structures/{sid}", json={"name": "B"}, headers=headers)
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    assert (await client.get(f"{BASE}/structures/{sid}")).json()["name"] == "A"


async def test_authorisation(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    parent = await create_structure(client, tokens)
    pid = parent["id"]
    other = (await create_structure(client, tokens))["id"]
    # Anonymous and non-moderators may not create top-level structures.
    anon = await client.post(f"{BASE}/structures", json=structure_body())
    assert anon.status_code == 401
    refused = await client.post(
        f"{BASE}/structures", json=structure_body(), headers=admin(tokens, pid)
    )
    assert refused.status_code == 403
    # A structure admin creates a site of its own structure, then manages it.
    site = await client.post(
        f"{BASE}/structures",
        json=structure_body(parent_id=pid, status="draft"),
        headers=admin(tokens, pid),
    )
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    # A draft is hidden from anonymous readers and from other structures.
    assert (await client.get(f"{BASE}/structures/{site_id}")).status_code == 404
    assert (
        await client.get(f"{BASE}/structures/{site_id}", headers=member(tokens, other))
    ).status_code == 404
    assert (
        await client.get(f"{BASE}/structures/{site_id}", headers=member(tokens, pid))
    ).status_code == 200
    # Members may not write; admins of another structure neither.
    for headers in (member(tokens, pid), admin(tokens, other)):
        response = await client.post(f"{BASE}/structures/{site_id}/publish", headers=headers)
        assert response.status_code in (403, 404), response.text
    # A write client bound to the parent publishes the site.
    published = await client.post(
        f"{BASE}/structures/{site_id}/publish", headers=writer_client(tokens, pid)
    )
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    # A read-only client may not write.
    read_only = bearer(tokens.client(pid, ["directory:read"]))
    denied = await client.patch(
        f"{BASE}/structures/{pid}", json={"name": "Z"}, headers={**read_only, "If-Match": "*"}
    )
    assert denied.status_code == 403


async def test_moderation(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    owner = admin(tokens, sid)
    assert (await client.post(f"{BASE}/structures/{sid}/suspend", headers=owner)).status_code == 403
    suspended = await client.post(f"{BASE}/structures/{sid}/suspend", headers=moderator(tokens))
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"
    # Suspended: hidden from the public, the owner cannot republish it.
    assert (await client.get(f"{BASE}/structures/{sid}")).status_code == 404
    again = await client.post(f"{BASE}/structures/{sid}/publish", headers=owner)
    assert again.status_code == 409
    lifted = await client.post(f"{BASE}/structures/{sid}/publish", headers=moderator(tokens))
    assert lifted.json()["status"] == "published"


async def test_owner_unpublishes_and_republishes(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    owner = admin(tokens, sid)
    assert (
        await client.post(f"{BASE}/structures/{sid}/unpublish", headers=member(tokens, sid))
    ).status_code == 403
    off = await client.post(f"{BASE}/structures/{sid}/unpublish", headers=owner)
    assert off.status_code == 200, off.text
    assert off.json()["status"] == "draft"
    # Off the public directory, still there for its structure.
    assert (await client.get(f"{BASE}/structures/{sid}")).status_code == 404
    assert (await client.get(f"{BASE}/structures/{sid}", headers=owner)).status_code == 200
    back = await client.post(f"{BASE}/structures/{sid}/publish", headers=owner)
    assert back.json()["status"] == "published"
    assert (await client.get(f"{BASE}/structures/{sid}")).status_code == 200
    history = (await client.get(f"{BASE}/structures/{sid}/history", headers=owner)).json()
    assert [h["action"] for h in history["items"]][-2:] == ["unpublish", "publish"]
    # A moderator's suspension is not the owner's to turn into a draft.
    await client.post(f"{BASE}/structures/{sid}/suspend", headers=moderator(tokens))
    refused = await client.post(f"{BASE}/structures/{sid}/unpublish", headers=owner)
    assert refused.status_code == 409


async def test_verify_sets_verified_at(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    verified = await client.post(f"{BASE}/structures/{sid}/verify", headers=admin(tokens, sid))
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified_at"] is not None
    assert verified.json()["version"] == 2
    stale = await client.post(
        f"{BASE}/structures/{sid}/verify", headers={**admin(tokens, sid), "If-Match": '"1"'}
    )
    assert stale.status_code == 412
