"""Freshness follows the content's own date: an import carries its source's date_maj (it is not
a verification), an edit or a confirmation here is a review, a status change is not."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from services.directory import models as m
from tests.conftest import Relais
from tests.directory.helpers import BASE, admin, moderator
from tests.directory.test_import import _import, _scalar, service_row, structure_row, unique_source


async def _imported(relais: Relais, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    source = unique_source()
    name = f"Point CAF {uuid.uuid4().hex[:8]}"
    report = await _import(
        relais,
        [structure_row(source, date_maj=day)],
        [service_row(source, nom=name, date_maj=day)],
    )
    assert report.created == 2, report.errors
    structure_id = await _scalar(
        relais, sa.select(m.Structure.id).where(m.Structure.source == source)
    )
    service_id = await _scalar(relais, sa.select(m.Service.id).where(m.Service.source == source))
    structure = (await relais.client.get(f"{BASE}/structures/{structure_id}")).json()
    service = (await relais.client.get(f"{BASE}/services/{service_id}")).json()
    return name, structure, service


async def test_an_entry_imported_with_an_old_date_is_stale(relais: Relais) -> None:
    name, structure, service = await _imported(relais, "2013-12-06")
    for entry in (structure, service):
        assert entry["stale"] is True
        assert entry["reviewed_at"].startswith("2013-12-06")
        assert entry["verified_at"] is None  # an import is not a verification
        assert _day(entry["updated_at"]) == _today()  # Relais' change time (synchronisation)

    search = await relais.client.get(f"{BASE}/search/services", params={"q": name})
    [hit] = [h for h in search.json()["items"] if h["id"] == service["id"]]
    assert hit["stale"] is True
    fresh_only = await relais.client.get(
        f"{BASE}/search/services", params={"q": name, "exclude_stale": "true"}
    )
    assert service["id"] not in {h["id"] for h in fresh_only.json()["items"]}

    hsds = (await relais.client.get(f"/directory/hsds/services/{service['id']}")).json()
    assert hsds["assured_date"] == "2013-12-06"


async def test_an_entry_imported_with_a_recent_date_is_fresh(relais: Relais) -> None:
    _, structure, service = await _imported(relais, _today().isoformat())
    assert structure["stale"] is False
    assert service["stale"] is False


async def test_edits_and_confirmations_are_reviews_status_changes_are_not(
    relais: Relais,
) -> None:
    client = relais.client
    _, structure, service = await _imported(relais, "2013-12-06")
    sid = structure["id"]

    # A moderator suspends then republishes the service: still stale.
    suspended = await client.post(
        f"{BASE}/services/{service['id']}/suspend", headers=moderator(relais.tokens)
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["stale"] is True
    assert suspended.json()["reviewed_at"].startswith("2013-12-06")

    # Its structure's admin edits the description: reviewed now.
    edited = await client.patch(
        f"{BASE}/services/{service['id']}",
        json={"description": "Accueil sur rendez-vous, dossiers CAF."},
        headers={**admin(relais.tokens, sid), "If-Match": suspended.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["stale"] is False
    assert edited.json()["verified_at"] is None
    assert _day(edited.json()["reviewed_at"]) == _today()

    # Confirming the structure as it is: verified and reviewed now.
    verified = await client.post(
        f"{BASE}/structures/{sid}/verify", headers=admin(relais.tokens, sid)
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["stale"] is False
    assert body["verified_at"] == body["reviewed_at"]
    assert _day(body["reviewed_at"]) == _today()


def _day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(UTC).date()


def _today() -> date:
    return datetime.now(UTC).date()
