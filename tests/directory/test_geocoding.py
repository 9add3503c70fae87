"""The address geocoder (``services.directory.geocoding``) against a local HTTP server speaking
the Base Adresse Nationale's ``/search/`` format (real HTTP; never the internet).

The server answers by a word of the query (``q``): a house number, a street, a low score, another
commune, a commune-level result, a 500, a timeout, a 500 then an answer. Ports: the range in
``RELAIS_TEST_PORTS`` (``9500-9599``) when set, else any free port.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import threading
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from services.cli import app as cli
from services.directory import geocoding, worker
from services.directory.domain.geocoding import (
    FeatureCollection,
    Found,
    NotFound,
    Query,
    judge,
    query_of,
)
from services.directory.domain.positions import Located, entry_position, service_position
from services.directory.geocoding import (
    ATTEMPTS,
    GeocodeSummary,
    Unavailable,
    geocode_pending,
    locate,
    make_client,
)
from services.directory.models import Service, Structure
from services.kernel.reference import geography
from services.kernel.settings import Settings, SettingsError, load_settings
from tests.conftest import BACKENDS, Relais, cli_database
from tests.directory.helpers import BASE, moderator

RENNES = "35238"
CESSON = "35051"
# Where the server puts the addresses it finds (Rennes, away from the commune's reference point).
HOUSE = (48.1052, -1.6634)
STREET = (48.1201, -1.7002)


def _feature(
    point: tuple[float, float], *, score: float, kind: str, citycode: str, label: str
) -> dict[str, Any]:
    """One feature as the BAN sends it (properties trimmed to a realistic subset)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [point[1], point[0]]},
        "properties": {
            "label": label,
            "score": score,
            "housenumber": "12" if kind == "housenumber" else None,
            "id": f"{citycode}_0001_00012",
            "name": label.split(" 35")[0],
            "postcode": "35000",
            "citycode": citycode,
            "x": 351_000.0,
            "y": 6_789_000.0,
            "city": "Rennes" if citycode == RENNES else "Cesson-Sévigné",
            "context": "35, Ille-et-Vilaine, Bretagne",
            "type": kind,
            "importance": 0.7,
            "street": "Rue de la Paix",
        },
    }


@dataclass
class BanServer:
    """A tiny HTTP/1.1 server answering ``GET /search/?q=…&citycode=…&limit=1``."""

    port: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    # Words of q whose first request fails with a 500 (then the server answers).
    flaky_seen: set[str] = field(default_factory=set)
    # House number found for queries containing "paix" (a test moves it).
    house: tuple[float, float] = HOUSE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/search/"

    def count(self, word: str) -> int:
        return sum(word in r.get("q", "").lower() for r in self.requests)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            _, target, _ = line.split(" ", 2)
            parsed = urllib.parse.urlsplit(target)
            params = dict(urllib.parse.parse_qsl(parsed.query))
            self.requests.append({"path": parsed.path, **params})
            status, body = await self.answer(parsed.path, params)
            content = msgspec.json.encode(body) if body is not None else b"{}"
            location = body.get("location") if status == 301 else None
            head = (
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(content)}\r\nConnection: close\r\n"
                + (f"Location: {location}\r\n" if location else "")
                + "\r\n"
            )
            writer.write(head.encode() + content)
            await writer.drain()
        except (ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        q = params.get("q", "").lower()
        citycode = params.get("citycode", "")
        if path == "/ancienne/":
            return 301, {"location": "/search/?" + urllib.parse.urlencode(params)}
        if path != "/search/":
            return 404, None
        if len(q) < 3:
            return 400, {"code": 400, "message": "q must contain between 3 and 200 chars"}
        if "panne" in q:
            return 500, {"message": "Internal Server Error"}
        if "lent" in q:
            await asyncio.sleep(3)
            return 200, _collection(q, citycode, [])
        if "instable" in q and q not in self.flaky_seen:
            self.flaky_seen.add(q)
            return 503, {"message": "Service Unavailable"}
        if "nimporte" in q:
            return 200, _collection(q, citycode, [])
        features = []
        if "faible" in q:
            features = [_feature(HOUSE, score=0.31, kind="housenumber", citycode=citycode, label=q)]
        elif "parmentier" in q:
            # Paris: the BAN answers with the arrondissement's code.
            features = [_feature(HOUSE, score=0.9, kind="housenumber", citycode="75111", label=q)]
        elif "ailleurs" in q:
            features = [_feature(HOUSE, score=0.95, kind="housenumber", citycode=CESSON, label=q)]
        elif "mairie" in q:
            features = [_feature(HOUSE, score=0.9, kind="municipality", citycode=citycode, label=q)]
        elif "boulevard" in q:
            features = [_feature(STREET, score=0.8, kind="street", citycode=citycode, label=q)]
        elif "paix" in q or "instable" in q:
            features = [
                _feature(self.house, score=0.92, kind="housenumber", citycode=citycode, label=q)
            ]
        return 200, _collection(q, citycode, features)


def _collection(q: str, citycode: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "version": "draft",
        "features": features,
        "attribution": "BAN",
        "licence": "ETALAB-2.0",
        "query": q,
        "filters": {"citycode": citycode},
        "limit": 1,
    }


def _ports() -> list[int]:
    spec = os.environ.get("RELAIS_TEST_PORTS", "")
    if "-" not in spec:
        return [0]
    low, high = (int(part) for part in spec.split("-", 1))
    return list(range(low, high + 1))


@pytest.fixture
async def ban() -> AsyncIterator[BanServer]:
    state = BanServer()
    listener = None
    for port in _ports():
        try:
            listener = await asyncio.start_server(state.handle, "127.0.0.1", port)
            break
        except OSError:
            continue
    assert listener is not None, "no free port for the BAN test server"
    state.port = listener.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after 10 ms, not half a second (the server answers at once or never)."""
    monkeypatch.setattr(geocoding, "RETRY_DELAY_SECONDS", 0.01)


def conf(ban: BanServer | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"geocoder_timeout_seconds": 0.25}
    if ban is not None:
        values["geocoder_url"] = ban.url
    values.update(overrides)
    return load_settings(environ={}, **values)


# --- pure rules --------------------------------------------------------------------------------


def test_the_query_is_the_address_in_its_commune() -> None:
    assert query_of("12  rue de la Paix", "35000", RENNES, "Rennes") == Query(
        "12 rue de la Paix 35000 Rennes", RENNES
    )
    assert query_of("12 rue de la Paix", None, RENNES, None) == Query("12 rue de la Paix", RENNES)
    # Nothing to look up, or no INSEE code to check the answer against.
    assert query_of(None, "35000", RENNES, "Rennes") is None
    assert query_of("  ", "35000", RENNES, "Rennes") is None
    assert query_of("12 rue de la Paix", "35000", None, "Rennes") is None
    long = query_of("x" * 300, "35000", RENNES, "Rennes")
    assert long is not None
    assert len(long.text) == 200


def test_which_answers_are_believed() -> None:
    query = Query("12 rue de la Paix 35000 Rennes", RENNES)

    def answer(**props: Any) -> FeatureCollection:
        point = props.pop("point", HOUSE)
        values = {"score": 0.9, "kind": "housenumber", "citycode": RENNES, "label": "x"} | props
        return msgspec.convert(
            _collection("q", RENNES, [_feature(point, **values)]), FeatureCollection
        )

    found = judge(answer(), query, 0.6)
    assert found == Found(HOUSE[0], HOUSE[1], 0.9, "housenumber", "x")
    assert isinstance(judge(answer(kind="street"), query, 0.6), Found)
    assert isinstance(judge(answer(kind="locality"), query, 0.6), Found)
    assert judge(answer(kind="municipality"), query, 0.6) == NotFound("commune_only")
    assert judge(answer(score=0.59), query, 0.6) == NotFound("low_score")
    assert judge(answer(citycode=CESSON), query, 0.6) == NotFound("other_commune")
    assert judge(answer(point=(123.0, 2.0)), query, 0.6) == NotFound("no_point")
    assert judge(FeatureCollection(), query, 0.6) == NotFound("no_result")
    # Paris is asked without the commune filter, and its arrondissements are in it.
    paris = Query("12 avenue Parmentier 75011 Paris", "75056")
    assert paris.params() == {"q": paris.text, "limit": "1"}
    assert query.params() == {"q": query.text, "citycode": RENNES, "limit": "1"}
    assert isinstance(judge(answer(citycode="75111"), paris, 0.6), Found)
    assert judge(answer(citycode="69381"), paris, 0.6) == NotFound("other_commune")
    assert judge(answer(citycode="75056"), paris, 0.6) == Found(*HOUSE, 0.9, "housenumber", "x")


def test_a_geocoded_position_comes_after_own_coordinates_and_before_the_commune() -> None:
    assert entry_position(48.0, -1.0, RENNES, *HOUSE) == Located(48.0, -1.0, "address")
    assert entry_position(None, None, RENNES, *HOUSE) == Located(*HOUSE, "geocoded")
    assert entry_position(None, None, RENNES, HOUSE[0], None).precision == "commune"  # type: ignore[union-attr]
    # A service: its own geocoded address, else (same commune) its structure's.
    assert service_position(
        None, None, RENNES, None, None, RENNES, geocoded=HOUSE, structure_geocoded=STREET
    ) == Located(*HOUSE, "geocoded")
    assert service_position(
        None, None, RENNES, None, None, RENNES, structure_geocoded=STREET
    ) == Located(*STREET, "geocoded")
    assert service_position(
        None, None, None, 48.0, -1.0, RENNES, structure_geocoded=STREET
    ) == Located(48.0, -1.0, "address")


def test_the_minimum_score_is_a_score() -> None:
    assert conf(None).geocoder_url == ""  # off by default
    assert conf(None).geocoder_min_score == 0.6
    with pytest.raises(SettingsError, match="GEOCODER_MIN_SCORE"):
        load_settings(environ={"GEOCODER_MIN_SCORE": "1.5"})


# --- the HTTP client ---------------------------------------------------------------------------


async def test_answers_of_the_geocoder(ban: BanServer) -> None:
    settings = conf(ban)

    async def ask(address: str) -> Any:
        query = query_of(address, "35000", RENNES, "Rennes")
        assert query is not None
        async with make_client(settings) as client:
            return await locate(client, settings, query)

    found = await ask("12 rue de la Paix")
    assert isinstance(found, Found)
    assert (found.latitude, found.longitude, found.type) == (*HOUSE, "housenumber")
    assert ban.requests[-1] == {
        "path": "/search/",
        "q": "12 rue de la Paix 35000 Rennes",
        "citycode": RENNES,
        "limit": "1",
    }
    street = await ask("Boulevard de la Liberté")
    assert isinstance(street, Found)
    assert street.type == "street"
    assert await ask("3 chemin faible") == NotFound("low_score")
    assert await ask("8 rue ailleurs") == NotFound("other_commune")
    assert await ask("Mairie") == NotFound("commune_only")
    async with make_client(settings) as client:
        paris = await locate(client, settings, Query("12 avenue Parmentier 75011 Paris", "75056"))
    assert isinstance(paris, Found)
    assert "citycode" not in ban.requests[-1]
    assert await ask("4 impasse nimporte") == NotFound("no_result")

    # A 500 is retried, then given up: nothing is concluded about the address.
    before = len(ban.requests)
    assert await ask("5 rue en panne") == Unavailable("http_500")
    assert len(ban.requests) - before == ATTEMPTS
    assert await ask("6 rue lent") == Unavailable("timeout")
    # A wrong URL is not an answer about the address (and is not retried).
    before = len(ban.requests)
    wrong = conf(None, geocoder_url=f"http://127.0.0.1:{ban.port}/recherche/")
    async with make_client(wrong) as client:
        missing = await locate(client, wrong, Query("12 rue de la Paix", RENNES))
    assert missing == Unavailable("http_404")
    assert len(ban.requests) - before == 1
    # A moved endpoint is followed.
    moved = conf(None, geocoder_url=f"http://127.0.0.1:{ban.port}/ancienne/")
    async with make_client(moved) as client:
        followed = await locate(client, moved, Query("12 rue de la Paix", RENNES))
    assert isinstance(followed, Found)
    # A failure then an answer: the retry finds it.
    recovered = await ask("7 rue instable")
    assert isinstance(recovered, Found)
    assert ban.count("7 rue instable") == 2


async def test_a_closed_port_is_unavailable() -> None:
    from tests.conftest import free_port

    settings = load_settings(environ={}, geocoder_url=f"http://127.0.0.1:{free_port()}/search/")
    async with make_client(settings) as client:
        outcome = await locate(client, settings, Query("12 rue de la Paix", RENNES))
    assert isinstance(outcome, Unavailable)


# --- the job, through the real system on both databases ------------------------------------------


async def _structure(relais: Relais, address: str, **extra: Any) -> str:
    body = {
        "name": f"Maison des solidarités {uuid.uuid4().hex[:8]}",
        "address": address,
        "postal_code": "35000",
        "commune_code": RENNES,
        "commune": "Rennes",
        "status": "published",
        **extra,
    }
    response = await relais.client.post(
        f"{BASE}/structures", json=body, headers=moderator(relais.tokens)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _position(relais: Relais, path: str) -> dict[str, Any] | None:
    response = await relais.client.get(path)
    assert response.status_code == 200, response.text
    position: dict[str, Any] | None = response.json()["position"]
    return position


def _commune() -> dict[str, Any]:
    point = geography().position(RENNES)
    assert point is not None
    return {"latitude": point.latitude, "longitude": point.longitude, "precision": "commune"}


async def _run(relais: Relais, settings: Settings) -> GeocodeSummary:
    return await geocode_pending(relais.app("directory").state.db, settings)


async def test_off_by_default_no_request_is_made(relais: Relais, ban: BanServer) -> None:
    assert relais.settings.geocoder_url == ""
    structure_id = await _structure(relais, f"12 rue de la Paix {uuid.uuid4().hex[:6]}")
    # The worker's job with the system's settings (GEOCODER_URL unset) does nothing.
    (job,) = [j for j in worker.JOBS if j.name == "directory.geocode"]
    assert await job.run(relais.app("directory")) == 0
    summary = await _run(relais, conf(None))
    assert summary == GeocodeSummary(enabled=False)
    assert ban.requests == []
    assert await _position(relais, f"{BASE}/structures/{structure_id}") == _commune()


async def test_the_job_places_entries_at_their_address(relais: Relais, ban: BanServer) -> None:
    tag = uuid.uuid4().hex[:6]
    structure_id = await _structure(relais, f"12 rue de la Paix {tag}")
    low_id = await _structure(relais, f"3 chemin faible {tag}")
    other_id = await _structure(relais, f"8 rue ailleurs {tag}")
    own_id = await _structure(relais, f"9 rue de la Paix bis {tag}", latitude=48.2, longitude=-1.5)
    service = await relais.client.post(
        f"{BASE}/services",
        json={
            "structure_id": structure_id,
            "name": f"Aide alimentaire {tag}",
            "description": "Colis alimentaires chaque semaine.",
            "thematiques": ["equipement-et-alimentation--alimentation"],
            "reception_modes": ["en-presentiel"],
            "status": "published",
        },
        headers=moderator(relais.tokens),
    )
    assert service.status_code == 201, service.text
    structure_path = f"{BASE}/structures/{structure_id}"
    assert await _position(relais, structure_path) == _commune()  # the write asked nobody
    assert ban.requests == []

    summary = await _run(relais, conf(ban))
    assert summary.found >= 1
    assert summary.unavailable == 0
    geocoded = {"latitude": HOUSE[0], "longitude": HOUSE[1], "precision": "geocoded"}
    assert await _position(relais, structure_path) == geocoded
    # Low score, other commune: left at the commune's centre. Own coordinates: never asked.
    assert await _position(relais, f"{BASE}/structures/{low_id}") == _commune()
    assert await _position(relais, f"{BASE}/structures/{other_id}") == _commune()
    own = await _position(relais, f"{BASE}/structures/{own_id}")
    assert own == {"latitude": 48.2, "longitude": -1.5, "precision": "address"}
    assert ban.count(f"bis {tag}") == 0
    # The entry's own fields and version are untouched.
    read = (await relais.client.get(structure_path)).json()
    assert (read["latitude"], read["longitude"], read["version"]) == (None, None, 1)

    # Its service (no address of its own) is there too, in the native API as in search.
    service_path = f"{BASE}/services/{service.json()['id']}"
    assert await _position(relais, service_path) == geocoded
    # Search: the structure and its service at the geocoded address.
    hits = await relais.client.get(
        f"{BASE}/search/services", params={"q": f"Aide alimentaire {tag}", "commune": RENNES}
    )
    assert hits.status_code == 200, hits.text
    [hit] = [h for h in hits.json()["items"] if h["structure_id"] == structure_id]
    assert hit["position"] == geocoded
    structures = await relais.client.get(
        f"{BASE}/search/structures", params={"commune": RENNES, "sort": "distance", "limit": 100}
    )
    [found] = [h for h in structures.json()["items"] if h["id"] == structure_id]
    assert found["position"] == geocoded

    # HSDS: the coordinates, marked as the address's position found by the geocoder.
    location = (await relais.client.get(f"/directory/hsds/locations/{structure_id}")).json()
    assert (location["latitude"], location["longitude"]) == HOUSE
    marks = [a for a in location.get("attributes", []) if a["link_type"] == "position_precision"]
    assert [m["value"] for m in marks] == ["geocoded"]

    # Asked once: a second run asks about nothing already answered (found or not).
    again = await _run(relais, conf(ban))
    assert ban.count(f"paix {tag}") == 1
    assert ban.count(f"faible {tag}") == 1
    assert again.found == 0

    # A new address: the old position is void at once, the next run finds the new one.
    current = await relais.client.get(structure_path)
    ban.house = (48.1111, -1.6666)
    patched = await relais.client.patch(
        structure_path,
        json={"address": f"14 rue de la Paix {tag}"},
        headers={**moderator(relais.tokens), "If-Match": current.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["position"] == _commune()
    # A change that is not the address keeps the position.
    await _run(relais, conf(ban))
    moved = {"latitude": 48.1111, "longitude": -1.6666, "precision": "geocoded"}
    assert await _position(relais, structure_path) == moved
    current = await relais.client.get(structure_path)
    renamed = await relais.client.patch(
        structure_path,
        json={"description": "Accueil social."},
        headers={**moderator(relais.tokens), "If-Match": current.headers["ETag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["position"] == moved


async def test_an_unavailable_geocoder_delays_and_blocks_nothing(
    relais: Relais, ban: BanServer
) -> None:
    tag = uuid.uuid4().hex[:6]
    down_id = await _structure(relais, f"5 rue en panne {tag}")
    slow_id = await _structure(relais, f"6 rue lent {tag}")
    summary = await _run(relais, conf(ban))
    assert summary.unavailable >= 2
    for entry in (down_id, slow_id):
        assert await _position(relais, f"{BASE}/structures/{entry}") == _commune()
    # Not recorded as answered: asked again at the next run.
    async with relais.app("directory").state.db.session() as session:
        answered = await session.scalars(
            sa.select(Structure.geocoded_at).where(
                Structure.id.in_([uuid.UUID(down_id), uuid.UUID(slow_id)])
            )
        )
        assert list(answered) == [None, None]
    # Writes go on while the geocoder is down.
    assert await _structure(relais, f"7 rue en panne {tag}")
    # The geocoder is back (the addresses now answer): the next run places them.
    current = await relais.client.get(f"{BASE}/structures/{down_id}")
    response = await relais.client.patch(
        f"{BASE}/structures/{down_id}",
        json={"address": f"5 rue de la Paix {tag}"},
        headers={**moderator(relais.tokens), "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    await _run(relais, conf(ban))
    position = await _position(relais, f"{BASE}/structures/{down_id}")
    assert position is not None
    assert position["precision"] == "geocoded"
    # The entries whose geocoder stays down leave the directory (the next tests' runs would
    # wait on them).
    async with relais.app("directory").state.db.session() as session:
        await session.execute(
            sa.update(Structure)
            .where(Structure.address.like(f"% rue % {tag}"), Structure.geocoded_at.is_(None))
            .values(status="archived")
        )


async def test_imported_entries_are_geocoded_and_a_new_address_voids_the_position(
    relais: Relais, ban: BanServer
) -> None:
    source = f"geocoder-{uuid.uuid4().hex[:8]}"

    def rows(address: str, description: str = "Accueil.") -> dict[str, Any]:
        return {
            "source": source,
            "structures": [
                {
                    "id": "s1",
                    "nom": "Centre social de la Paix",
                    "date_maj": "2026-11-01",
                    "adresse": address,
                    "code_postal": "35000",
                    "code_insee": RENNES,
                    "commune": "Rennes",
                    "description": description,
                }
            ],
            "services": [
                {
                    "id": "v1",
                    "structure_id": "s1",
                    "nom": "Permanence d'accès aux droits",
                    "description": "Aide aux démarches.",
                    "date_maj": "2026-11-01",
                    "type": "accompagnement",
                    "thematiques": ["famille--garde-denfants"],
                    "zone_eligibilite": ["35238"],
                    "modes_accueil": ["en-presentiel"],
                    "adresse": "Boulevard de la Liberté",
                    "code_postal": "35000",
                    "code_insee": RENNES,
                    "commune": "Rennes",
                }
            ],
        }

    async def load(body: dict[str, Any]) -> None:
        response = await relais.client.post(
            f"{BASE}/imports", json=body, headers=moderator(relais.tokens)
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0, response.text

    await load(rows("12 rue de la Paix"))
    async with relais.app("directory").state.db.session() as session:
        structure_id = await session.scalar(
            sa.select(Structure.id).where(Structure.source == source)
        )
        service_id = await session.scalar(sa.select(Service.id).where(Service.source == source))
    assert ban.requests == []  # the import asked nobody
    await _run(relais, conf(ban))
    structure_path = f"{BASE}/structures/{structure_id}"
    service_path = f"{BASE}/services/{service_id}"
    assert await _position(relais, structure_path) == {
        "latitude": HOUSE[0],
        "longitude": HOUSE[1],
        "precision": "geocoded",
    }
    assert await _position(relais, service_path) == {
        "latitude": STREET[0],
        "longitude": STREET[1],
        "precision": "geocoded",
    }
    # Re-imported with another description only: the position stays.
    await load(rows("12 rue de la Paix", "Accueil social."))
    assert (await _position(relais, structure_path) or {})["precision"] == "geocoded"
    # Re-imported with another address: void, until the next run.
    await load(rows("Mairie annexe"))
    assert await _position(relais, structure_path) == _commune()
    assert (await _position(relais, service_path) or {})["precision"] == "geocoded"
    await _run(relais, conf(ban))
    assert await _position(relais, structure_path) == _commune()  # a commune-level answer
    assert ban.count("mairie annexe") == 1


def test_the_worker_declares_the_job() -> None:
    (job,) = [j for j in worker.JOBS if j.name == "directory.geocode"]
    assert job.queue == "directory"
    assert job.interval_seconds == 60


# --- `relais geocode` ----------------------------------------------------------------------------


class _SyncBan(http.server.BaseHTTPRequestHandler):
    """The BAN in a thread (the command runs its own event loop): every query is found."""

    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        self.queries.append(params.get("q", ""))
        citycode = params.get("citycode", "")
        feature = _feature(HOUSE, score=0.9, kind="housenumber", citycode=citycode, label="x")
        body = msgspec.json.encode(_collection(params.get("q", ""), citycode, [feature]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _sync_server() -> http.server.ThreadingHTTPServer:
    for port in _ports():
        try:
            return http.server.ThreadingHTTPServer(("127.0.0.1", port), _SyncBan)
        except OSError:
            continue
    raise AssertionError("no free port for the BAN test server")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_geocode_command(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    server = _sync_server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with cli_database(backend, tmp_path, monkeypatch):
            assert runner.invoke(cli, ["migrate", "directory"]).exit_code == 0
            data = tmp_path / "structures.json"
            structure = {
                "source": "cli",
                "id": "s1",
                "nom": "Centre social de la Paix",
                "date_maj": "2025-02-14",
                "adresse": "12 rue de la Paix",
                "code_postal": "35000",
                "code_insee": RENNES,
                "commune": "Rennes",
            }
            data.write_text(msgspec.json.encode({"structures": [structure]}).decode())
            imported = runner.invoke(cli, ["import", "data-inclusion", str(data)])
            assert imported.exit_code == 0, imported.output

            off = runner.invoke(cli, ["geocode"])
            assert off.exit_code == 1
            assert "GEOCODER_URL" in off.output
            assert _SyncBan.queries == []

            port = server.server_address[1]
            monkeypatch.setenv("GEOCODER_URL", f"http://127.0.0.1:{port}/search/")
            done = runner.invoke(cli, ["geocode"])
            assert done.exit_code == 0, done.output
            assert "1 trouvées" in done.output
            assert _SyncBan.queries == ["12 rue de la Paix 35000 Rennes"]
            again = runner.invoke(cli, ["geocode"])
            assert again.exit_code == 0, again.output
            assert "0 trouvées" in again.output
            assert len(_SyncBan.queries) == 1
    finally:
        server.shutdown()
        server.server_close()
        _SyncBan.queries.clear()
