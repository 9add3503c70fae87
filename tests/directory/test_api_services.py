"""Native API: services (CRUD, contacts visibility, zones, sessions, filters, outbox, history)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from services.directory import models as m
from tests.conftest import Relais
from tests.directory.helpers import (
    BASE,
    admin,
    create_service,
    create_structure,
    member,
    moderator,
    service_body,
    writer_client,
)
from tests.tokens import TokenFactory, bearer


async def test_service_crud_and_contract_fields(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    created = await create_service(client, tokens, sid, referral_response_days=5)
    svc = created["id"]
    got = await client.get(f"{BASE}/services/{svc}")
    assert got.status_code == 200
    body = got.json()
    # Fields referrals rely on (docs/contracts.md).
    assert body["structure_id"] == sid
    assert body["status"] == "published"
    assert body["capacity_status"] == "accepting"
    assert body["accepts_referrals"] is True
    assert body["referral_response_days"] == 5
    assert body["thematiques"] == ["equipement-et-alimentation--alimentation"]
    assert body["eligibility_zones"] == ["commune:35238"]
    assert got.headers["etag"].startswith('"1-')  # version, then digest of the representation

    patched = await client.patch(
        f"{BASE}/services/{svc}",
        json={
            "capacity_status": "waiting_list",
            "capacity_until": "2031-01-15",
            "eligibility_zones": ["departement:35", "commune:35238"],
            "referral_response_days": None,
        },
        headers={**admin(tokens, sid), "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()
    assert data["capacity_status"] == "waiting_list"
    assert data["capacity_until"] == "2031-01-15"
    assert data["eligibility_zones"] == ["commune:35238", "departement:35"]
    assert data["referral_response_days"] is None
    assert data["version"] == 2


async def test_members_only_contact_is_hidden(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    other = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    anonymous = (await client.get(f"{BASE}/services/{svc}")).json()
    assert anonymous["contact_email"] is None
    assert anonymous["contact_phone"] is None
    assert anonymous["contact_hidden"] is True
    outsider = (await client.get(f"{BASE}/services/{svc}", headers=member(tokens, other))).json()
    assert outsider["contact_email"] is None
    insider = (await client.get(f"{BASE}/services/{svc}", headers=member(tokens, sid))).json()
    assert insider["contact_email"] == "camille@ccas.example.org"
    assert insider["contact_phone"] == "+33299112233"
    mod = (await client.get(f"{BASE}/services/{svc}", headers=moderator(tokens))).json()
    assert mod["contact_email"] == "camille@ccas.example.org"
    # Also hidden in lists.
    listed = await client.get(f"{BASE}/services", params={"structure_id": sid})
    assert [i["contact_email"] for i in listed.json()["items"]] == [None]
    public = await create_service(client, tokens, sid, contact_public=True)
    assert (await client.get(f"{BASE}/services/{public['id']}")).json()["contact_email"]


async def test_write_authorisation(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    other = (await create_structure(client, tokens))["id"]
    body = service_body(sid)
    assert (await client.post(f"{BASE}/services", json=body)).status_code == 401
    for headers in (member(tokens, sid), admin(tokens, other), writer_client(tokens, other)):
        response = await client.post(f"{BASE}/services", json=body, headers=headers)
        assert response.status_code == 403, response.text
    read_only = bearer(tokens.client(sid, ["directory:read"]))
    assert (await client.post(f"{BASE}/services", json=body, headers=read_only)).status_code == 403
    by_client = await client.post(f"{BASE}/services", json=body, headers=writer_client(tokens, sid))
    assert by_client.status_code == 201
    unknown = await client.post(
        f"{BASE}/services", json=service_body(str(uuid.uuid4())), headers=moderator(tokens)
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "structure_id"


async def test_archiving_a_structure_archives_its_services(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    archived = await client.delete(
        f"{BASE}/structures/{sid}", headers={**admin(tokens, sid), "If-Match": "*"}
    )
    assert archived.status_code == 200
    service = (await client.get(f"{BASE}/services/{svc}")).json()
    assert service["status"] == "archived"
    edit = await client.patch(
        f"{BASE}/services/{svc}",
        json={"name": "Encore"},
        headers={**admin(tokens, sid), "If-Match": "*"},
    )
    assert edit.status_code == 409


async def test_outbox_and_history_written_with_the_change(
    relais: Relais, tokens: TokenFactory
) -> None:
    client = relais.client
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    await client.post(f"{BASE}/services/{svc}/suspend", headers=moderator(tokens))
    await client.delete(f"{BASE}/services/{svc}", headers={**moderator(tokens), "If-Match": "*"})
    db = relais.app("directory").state.db
    async with db.session() as session:
        events = (
            await session.scalars(
                sa.select(m.OutboxEvent)
                .where(m.OutboxEvent.aggregate_id == svc)
                .order_by(m.OutboxEvent.id)
            )
        ).all()
    assert [e.topic for e in events] == ["service.upserted", "service.upserted", "service.archived"]
    assert events[0].payload == {"id": svc, "structure_id": sid}
    history = (await client.get(f"{BASE}/services/{svc}/history")).json()["items"]
    assert [h["action"] for h in history] == ["create", "suspend", "archive"]
    assert history[1]["changes"]["status"] == ["published", "suspended"]


async def test_sessions_must_use_places_of_the_structure(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    other = (await create_structure(client, tokens))["id"]
    headers = moderator(tokens)
    place = await client.post(
        f"{BASE}/places",
        json={"structure_id": sid, "name": "Salle des fêtes", "commune_code": "35238"},
        headers=headers,
    )
    assert place.status_code == 201, place.text
    foreign = await client.post(
        f"{BASE}/places", json={"structure_id": other, "name": "Ailleurs"}, headers=headers
    )
    sessions = [
        {"place_id": place.json()["id"], "opening_hours": "Tu 14:00-17:00"},
        {"place_id": foreign.json()["id"]},
    ]
    refused = await client.post(
        f"{BASE}/services", json=service_body(sid, sessions=sessions), headers=headers
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["sessions[1].place_id"]
    created = await client.post(
        f"{BASE}/services", json=service_body(sid, sessions=sessions[:1]), headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["sessions"][0]["opening_hours"] == "Tu 14:00-17:00"


async def test_filters(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    sid = (await create_structure(client, tokens))["id"]
    food = await create_service(client, tokens, sid)
    housing = await create_service(
        client,
        tokens,
        sid,
        thematiques=["logement-hebergement--louer-un-logement"],
        eligibility_zones=["departement:75"],
    )
    draft = await create_service(client, tokens, sid, status="draft")

    async def ids(**params: object) -> set[str]:
        response = await client.get(f"{BASE}/services", params={"structure_id": sid, **params})
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert await ids() == {food["id"], housing["id"]}
    assert await ids(thematique="logement-hebergement") == {housing["id"]}
    assert await ids(thematique="equipement-et-alimentation--alimentation") == {food["id"]}
    assert await ids(commune="75056") == {housing["id"]}
    assert await ids(commune="35238") == {food["id"]}
    # Drafts: invisible to the public even when asked for, visible to members.
    assert await ids(status="draft") == set()
    response = await client.get(
        f"{BASE}/services",
        params={"structure_id": sid, "status": ["draft", "published"]},
        headers=member(tokens, sid),
    )
    assert {i["id"] for i in response.json()["items"]} == {
        food["id"],
        housing["id"],
        draft["id"],
    }


async def test_reads_show_sessions_slots_zones_and_link_states(
    relais: Relais, tokens: TokenFactory
) -> None:
    """GET by id and the list page render the same service as the write that created it, with
    its sessions, appointment slots, zones and link-checker states."""
    client = relais.client
    sid = (await create_structure(client, tokens))["id"]
    place = await client.post(
        f"{BASE}/places",
        json={"structure_id": sid, "name": "Salle annexe", "commune_code": "35238"},
        headers=moderator(tokens),
    )
    assert place.status_code == 201, place.text
    created = await create_service(
        client,
        tokens,
        sid,
        referral_url="https://orienter.example.org/aide",
        eligibility_zones=["departement:35", "commune:35238", "epci:243500139"],
        sessions=[
            {"place_id": place.json()["id"], "opening_hours": "Tu 14:00-17:00", "note": "salle 2"}
        ],
        appointment_slots=[
            {"starts_at": "2031-03-04T09:00:00+01:00", "ends_at": "2031-03-04T09:30:00+01:00"}
        ],
    )
    svc = created["id"]
    db = relais.app("directory").state.db
    async with db.session() as session:
        session.add(
            m.LinkCheck(
                entity_type="service",
                entity_id=uuid.UUID(svc),
                field="referral_url",
                url="https://orienter.example.org/aide",
                last_status=404,
                consecutive_failures=3,
                dead=True,
            )
        )
    insider = member(tokens, sid)
    got = (await client.get(f"{BASE}/services/{svc}", headers=insider)).json()
    listed = (
        await client.get(f"{BASE}/services", params={"structure_id": sid}, headers=insider)
    ).json()["items"]
    assert [item["id"] for item in listed] == [svc]
    assert listed[0] == got
    assert got["sessions"] == created["sessions"]
    assert got["sessions"][0]["note"] == "salle 2"
    assert got["appointment_slots"] == created["appointment_slots"]
    assert got["eligibility_zones"] == ["commune:35238", "departement:35", "epci:243500139"]
    assert got["links"] == [
        {
            "field": "referral_url",
            "url": "https://orienter.example.org/aide",
            "state": "dead",
            "http_status": 404,
            "last_checked_at": None,
            "last_ok_at": None,
        }
    ]
    assert created["links"] == []
    assert {k: v for k, v in got.items() if k != "links"} == {
        k: v for k, v in created.items() if k != "links"
    }


async def test_a_304_never_hides_a_derived_change(relais: Relais, tokens: TokenFactory) -> None:
    """`stale` is derived from dates, not stored: the version stays, the ETag must not."""
    client = relais.client
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    first = await client.get(f"{BASE}/services/{svc}")
    assert first.json()["stale"] is False
    old_tag = first.headers["etag"]
    db = relais.app("directory").state.db
    async with db.session() as session:
        long_ago = datetime(2001, 1, 1, tzinfo=UTC)
        await session.execute(
            sa.update(m.Service).where(m.Service.id == uuid.UUID(svc)).values(reviewed_at=long_ago)
        )
    again = await client.get(f"{BASE}/services/{svc}", headers={"If-None-Match": old_tag})
    assert again.status_code == 200
    assert again.json()["stale"] is True
    assert again.json()["version"] == first.json()["version"]
    assert again.headers["etag"] != old_tag
    # The new ETag still works for writes (If-Match looks at the version part).
    patched = await client.patch(
        f"{BASE}/services/{svc}",
        json={"capacity_status": "full"},
        headers={**admin(tokens, sid), "If-Match": again.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text


async def test_conditional_get_answers_304_while_the_version_is_current(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sid = (await create_structure(client, tokens))["id"]
    svc = (await create_service(client, tokens, sid))["id"]
    place = await client.post(
        f"{BASE}/places",
        json={"structure_id": sid, "name": "Annexe", "status": "published"},
        headers=moderator(tokens),
    )
    assert place.status_code == 201, place.text
    for path in (
        f"{BASE}/services/{svc}",
        f"{BASE}/structures/{sid}",
        f"{BASE}/places/{place.json()['id']}",
    ):
        first = await client.get(path)
        assert first.status_code == 200
        etag = first.headers["etag"]
        for header in (etag, f"W/{etag}", f'"999", {etag}', "*"):
            again = await client.get(path, headers={"If-None-Match": header})
            assert again.status_code == 304, (path, header)
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert "Authorization" in again.headers["vary"]
        other = await client.get(path, headers={"If-None-Match": '"999"'})
        assert other.status_code == 200
        assert other.json() == first.json()
    # A new version: the old ETag no longer matches.
    old = (await client.get(f"{BASE}/services/{svc}")).headers["etag"]
    patched = await client.patch(
        f"{BASE}/services/{svc}",
        json={"capacity_status": "full"},
        headers={**admin(tokens, sid), "If-Match": old},
    )
    assert patched.status_code == 200, patched.text
    fresh = await client.get(f"{BASE}/services/{svc}", headers={"If-None-Match": old})
    assert fresh.status_code == 200
    assert fresh.json()["capacity_status"] == "full"
    assert fresh.headers["etag"] != old
    # Unknown or invisible entries stay 404 whatever the header says.
    missing = await client.get(f"{BASE}/services/{uuid.uuid4()}", headers={"If-None-Match": "*"})
    assert missing.status_code == 404
