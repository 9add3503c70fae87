"""Review filters of the lists and review lists per structure and per network: stale, never
verified, dead or failing links (failing only for insiders), capacity not stated lately."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.directory import models as m
from services.kernel.clock import utcnow
from tests.conftest import Relais
from tests.directory.helpers import (
    BASE,
    admin,
    create_service,
    create_structure,
    member,
    moderator,
)
from tests.tokens import bearer

NETWORK = "konexio"


@dataclass
class Territory:
    structure: str
    site: str
    fresh: str
    stale: str
    dead: str
    failing: str
    capacity: str
    on_site: str

    def services(self) -> set[str]:
        return {self.fresh, self.stale, self.dead, self.failing, self.capacity, self.on_site}


async def _territory(relais: Relais) -> Territory:
    client, tokens = relais.client, relais.tokens
    structure = (await create_structure(client, tokens, networks=[NETWORK]))["id"]
    site = (await create_structure(client, tokens, parent_id=structure, networks=[]))["id"]
    ids = {
        name: (await create_service(client, tokens, structure))["id"]
        for name in ("fresh", "stale", "dead", "failing", "capacity")
    }
    ids["on_site"] = (await create_service(client, tokens, site))["id"]
    for entry in (structure, site):
        response = await client.post(
            f"{BASE}/structures/{entry}/verify", headers=admin(tokens, structure)
        )
        assert response.status_code == 200, response.text
    for service in ids.values():
        response = await client.post(
            f"{BASE}/services/{service}/verify", headers=admin(tokens, structure)
        )
        assert response.status_code == 200, response.text
    now = utcnow()
    db = relais.app("directory").state.db
    async with db.session() as session:
        await session.execute(
            sa.update(m.Service)
            .where(m.Service.id == uuid.UUID(ids["stale"]))
            .values(reviewed_at=now - timedelta(days=400))
        )
        await session.execute(
            sa.update(m.Service)
            .where(m.Service.id == uuid.UUID(ids["capacity"]))
            .values(capacity_confirmed_at=now - timedelta(days=45))
        )
        # The site was never confirmed.
        await session.execute(
            sa.update(m.Service)
            .where(m.Service.id == uuid.UUID(ids["on_site"]))
            .values(verified_at=None)
        )
        for key, dead, failures in (("dead", True, 3), ("failing", False, 1)):
            session.add(
                m.LinkCheck(
                    entity_type="service",
                    entity_id=uuid.UUID(ids[key]),
                    field="referral_url",
                    url="https://lien.example.org/orienter",
                    last_status=500,
                    last_checked_at=now,
                    consecutive_failures=failures,
                    failing_since=now - timedelta(days=3 if dead else 0),
                    dead=dead,
                )
            )
    return Territory(structure=structure, site=site, **ids)


@pytest.fixture
async def territory(relais: Relais) -> Territory:
    return await _territory(relais)


async def _ids(relais: Relais, path: str, headers: Any = None, **params: Any) -> set[str]:
    response = await relais.client.get(
        f"{BASE}/{path}", params={"limit": 200, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_list_filters(relais: Relais, territory: Territory) -> None:
    t = territory
    mine = {"structure_id": t.structure}
    assert await _ids(relais, "services", stale="true", **mine) == {t.stale}
    assert await _ids(relais, "services", stale="false", **mine) == {
        t.fresh,
        t.dead,
        t.failing,
        t.capacity,
    }
    site = {"structure_id": t.site}
    assert await _ids(relais, "services", verified="false", **site) == {t.on_site}
    assert await _ids(relais, "services", verified="true", **site) == set()
    assert await _ids(relais, "services", capacity_unconfirmed_days=30, **mine) == {t.capacity}
    assert await _ids(relais, "services", capacity_unconfirmed_days=60, **mine) == set()

    # Dead links are public; failing ones are the structure's and the moderators' to see.
    assert await _ids(relais, "services", link_state="dead", **mine) == {t.dead}
    assert await _ids(relais, "services", link_state="failing", **mine) == set()
    stranger = member(relais.tokens, str(uuid.uuid4()))
    assert await _ids(relais, "services", stranger, link_state="failing", **mine) == set()
    for insider in (member(relais.tokens, t.structure), moderator(relais.tokens)):
        assert await _ids(relais, "services", insider, link_state="failing", **mine) == {t.failing}
        assert await _ids(relais, "services", insider, link_state=["dead", "failing"], **mine) == {
            t.dead,
            t.failing,
        }
    # Filters combine.
    assert await _ids(relais, "services", stale="true", link_state="dead", **mine) == set()

    assert t.structure in await _ids(relais, "structures", network=NETWORK)
    assert t.site not in await _ids(relais, "structures", network=NETWORK)
    assert t.fresh in await _ids(relais, "services", network=NETWORK)
    assert t.on_site not in await _ids(relais, "services", network=NETWORK)
    assert t.structure not in await _ids(relais, "structures", network=NETWORK, stale="true")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"link_state": "broken"}, "link_state"),
        ({"stale": "maybe"}, "stale"),
        ({"network": "inconnu"}, "network"),
        ({"capacity_unconfirmed_days": -1}, "capacity_unconfirmed_days"),
    ],
)
async def test_bad_filters_are_400(relais: Relais, params: dict[str, Any], field: str) -> None:
    response = await relais.client.get(f"{BASE}/services", params=params)
    assert response.status_code == 400, response.text
    assert field in response.text


async def _review(relais: Relais, path: str, headers: Any, **params: Any) -> dict[str, list[str]]:
    """Every item of a review list (walking its pages) as {id: reasons}."""
    found: dict[str, list[str]] = {}
    cursor = None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        response = await relais.client.get(f"{BASE}/{path}", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body["items"]:
            assert item["id"] not in found
            found[item["id"]] = item["reasons"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


async def test_a_structure_review_list(relais: Relais, territory: Territory) -> None:
    t = territory
    path = f"structures/{t.structure}/review"
    for headers in (member(relais.tokens, t.structure), moderator(relais.tokens)):
        found = await _review(relais, path, headers)
        assert found == {
            t.stale: ["stale"],
            t.dead: ["link_dead"],
            t.failing: ["link_failing"],
            t.capacity: ["capacity_unconfirmed"],
            t.on_site: ["never_verified"],
        }
    only_links = await _review(
        relais, path, moderator(relais.tokens), reason=["link_dead", "link_failing"]
    )
    assert only_links == {t.dead: ["link_dead"], t.failing: ["link_failing"]}
    stricter = await _review(
        relais, path, moderator(relais.tokens), reason="capacity_unconfirmed", capacity_days=60
    )
    assert stricter == {}

    # A site's own list holds the site's entries only.
    site = await _review(relais, f"structures/{t.site}/review", member(relais.tokens, t.site))
    assert site == {t.on_site: ["never_verified"]}

    response = await relais.client.get(f"{BASE}/{path}")
    assert response.status_code == 401
    stranger = member(relais.tokens, str(uuid.uuid4()))
    response = await relais.client.get(f"{BASE}/{path}", headers=stranger)
    assert response.status_code == 403
    response = await relais.client.get(
        f"{BASE}/structures/{uuid.uuid4()}/review", headers=moderator(relais.tokens)
    )
    assert response.status_code == 404
    client_token = bearer(relais.tokens.client(t.structure, ["directory:read"]))
    assert t.failing in await _review(relais, path, client_token)


async def test_a_network_review_list_is_for_moderators(
    relais: Relais, territory: Territory
) -> None:
    t = territory
    path = f"networks/{NETWORK}/review"
    found = await _review(relais, path, moderator(relais.tokens), limit=200)
    assert found[t.stale] == ["stale"]
    assert found[t.failing] == ["link_failing"]
    assert t.on_site not in found  # the site is not in the network
    assert t.fresh not in found
    response = await relais.client.get(f"{BASE}/{path}", headers=member(relais.tokens, t.structure))
    assert response.status_code == 403
    response = await relais.client.get(
        f"{BASE}/networks/inconnu/review", headers=moderator(relais.tokens)
    )
    assert response.status_code == 404


async def test_stating_the_capacity_confirms_it(relais: Relais, territory: Territory) -> None:
    t = territory
    headers = admin(relais.tokens, t.structure)
    current = await relais.client.get(f"{BASE}/services/{t.capacity}")
    before = current.json()
    assert before["capacity_confirmed_at"] < utcnow().isoformat()
    # Same status sent again ("still accepting"): a confirmation, not a no-op.
    response = await relais.client.patch(
        f"{BASE}/services/{t.capacity}",
        json={"capacity_status": before["capacity_status"]},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["version"] == before["version"] + 1
    assert after["capacity_confirmed_at"] > before["capacity_confirmed_at"]
    assert t.capacity not in await _ids(
        relais, "services", structure_id=t.structure, capacity_unconfirmed_days=30
    )
