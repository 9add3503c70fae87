"""Search contract: every backend (SQLite FTS5, PostgreSQL, Meilisearch when MEILI_URL is set)
gives the same answers on the same catalogue (tests/directory/search_support.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.directory.search import database
from tests.conftest import Relais, start_relais
from tests.directory import search_support as data
from tests.tokens import TokenFactory, bearer

SERVICES = "/directory/v1/search/services"
STRUCTURES = "/directory/v1/search/structures"
LEAKS = (
    "sqlalchemy",
    "operationalerror",
    "programmingerror",
    "asyncpg",
    "syntax error",
    "traceback",
    "fts5",
    "tsquery",
    "search_documents.",
    "select ",
)


@dataclass
class SearchSystem:
    backend: str
    relais: Relais
    catalogue: data.Catalogue

    @property
    def client(self) -> httpx.AsyncClient:
        return self.relais.client

    async def ids(self, path: str = SERVICES, **params: Any) -> list[str]:
        body = await self.ok(path, **params)
        return [item["id"] for item in body["items"]]

    async def names(self, path: str = SERVICES, **params: Any) -> list[str]:
        return self.catalogue.names(await self.ids(path, **params))

    async def ok(self, path: str = SERVICES, **params: Any) -> dict[str, Any]:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        if self.backend == "meilisearch":  # answered by Meilisearch, not by the fallback
            assert response.headers["X-Search-Backend"] == "meilisearch", response.headers
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session", params=data.SEARCH_BACKENDS)
async def search_system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[SearchSystem]:
    backend = request.param
    overrides: dict[str, Any] = {}
    db_backend = backend
    if backend == "meilisearch":
        if not data.MEILI_URL:
            pytest.skip("Meilisearch contract tests need MEILI_URL (no Meilisearch here)")
        db_backend = "postgresql"
        overrides = {
            "meili_url": data.MEILI_URL,
            "meili_key": os.environ.get("MEILI_KEY", ""),
            "meili_index_prefix": f"t{os.urandom(4).hex()}_",
        }
    home = tmp_path_factory.mktemp(f"search-{backend}")
    relais, stack = await start_relais(db_backend, home, tokens, **overrides)
    async with stack:
        catalogue = await data.seed(relais.app("directory").state.db)
        if backend == "meilisearch":
            from services.directory.search.feed import sync_outbox
            from services.directory.search.meili_feed import reindex

            await reindex(relais.app("directory"))
            await sync_outbox(relais.app("directory"), wait=True)
        yield SearchSystem(backend, relais, catalogue)


# --- French-aware text ------------------------------------------------------------------------


async def test_accents_and_case_do_not_matter(search_system: SearchSystem) -> None:
    for q in ("ecrivain public", "ÉCRIVAIN PUBLIC", "Écrivain Public"):
        names = await search_system.names(q=q)
        assert {"ecrivain-lodeve", "ecrivain-mende"} <= set(names[:3]), (q, names)


async def test_plurals_and_stemming(search_system: SearchSystem) -> None:
    assert "hlm" in await search_system.names(q="logements sociaux")
    assert "numerique" in await search_system.names(q="atelier numérique")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("retraitte", "retraite"),
        ("logemnt social", "hlm"),
        ("ecrivin public", "ecrivain-mende"),
        ("hebergment urgense", "urgence"),
        ("domicilliation", "domiciliation"),
    ],
)
async def test_typos_are_tolerated(search_system: SearchSystem, q: str, expected: str) -> None:
    body = await search_system.ok(q=q)
    names = search_system.catalogue.names([i["id"] for i in body["items"]])
    assert expected in names[:3], (q, names)
    assert body["corrections"], body["corrections"]


async def test_prefix_matching_as_you_type(search_system: SearchSystem) -> None:
    assert "retraite" in (await search_system.names(q="retrai"))[:3]
    assert "urgence" in (await search_system.names(q="héberg"))[:3]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("caf", "allocataires"),
        ("allocations familiales", "allocataires"),
        ("samu social", "urgence"),
        ("hlm", "hlm"),
        ("logement social", "hlm"),
        ("pole emploi", "jeunes"),
    ],
)
async def test_synonyms_and_acronyms(search_system: SearchSystem, q: str, expected: str) -> None:
    if q == "pole emploi":
        # One-way: "emploi" finds the mission locale; "pôle emploi" ↔ "France Travail" only.
        assert expected in await search_system.names(q="emploi")
        return
    assert expected in (await search_system.names(q=q))[:3], q


async def test_matches_are_highlighted_and_escaped(search_system: SearchSystem) -> None:
    body = await search_system.ok(q="ecrivain")
    first = body["items"][0]
    assert "<mark>" in first["highlights"]["name"]
    assert "<mark>É" in first["highlights"]["name"] or "<mark>é" in first["highlights"]["name"]
    body = await search_system.ok(q="<script>alert(1)</script> logement")
    for item in body["items"]:
        assert "<script>" not in (item["highlights"]["name"] or "")


# --- ranking ----------------------------------------------------------------------------------


async def test_name_matches_rank_above_description_matches(search_system: SearchSystem) -> None:
    names = await search_system.names(q="logement")
    # "Recherche de logement social" (name) above "Accueil des allocataires" (description).
    assert names.index("hlm") < names.index("allocataires")


async def test_a_structure_name_alone_ranks_below_a_name_match(
    search_system: SearchSystem,
) -> None:
    # "Accueil et orientation" of the Association Zéphyr (verified, accepting) is found only
    # through its structure's name; "Atelier d'écriture Zéphyr" is named after the word.
    body = await search_system.ok(q="zephyr")
    names = search_system.catalogue.names([i["id"] for i in body["items"]])
    assert names[:2] == ["zephyr-atelier", "zephyr-accueil"], names
    scores = [i["score"] for i in body["items"]]
    assert scores[0] - scores[1] >= 20, scores


async def test_fresh_and_accepting_rank_above_stale_and_full(search_system: SearchSystem) -> None:
    names = await search_system.names(q="logement")
    # Both named "…logement…": the stale and full one comes after the verified accepting one.
    assert names.index("hlm") < names.index("maintien")


async def test_ties_are_broken_deterministically(search_system: SearchSystem) -> None:
    first = await search_system.ids(q=data.PAGING_WORD, limit=50)
    second = await search_system.ids(q=data.PAGING_WORD, limit=50)
    assert first == second
    assert len(first) == 23


# --- filters ----------------------------------------------------------------------------------


async def test_thematique_category_covers_its_sub_thematiques(search_system: SearchSystem) -> None:
    names = set(await search_system.names(thematiques="logement-hebergement", limit=100))
    assert {"urgence", "hlm", "maintien"} <= names
    assert "retraite" not in names


async def test_filters(search_system: SearchSystem) -> None:
    s = search_system
    assert set(await s.names(q="numérique", types="atelier")) == {"numerique"}
    assert set(await s.names(reception_modes="a-distance", limit=100)) == {
        "allocataires",
        "distance",
    }
    assert set(await s.names(capacity="full", limit=100)) == {"maintien"}
    assert "maintien" not in await s.names(q="logement", exclude_stale="true")
    assert set(await s.names(appointment_required="true", limit=100)) == {"retraite"}
    assert set(await s.names(networks="caf", limit=100)) == {"allocataires"}
    assert set(await s.names(typologies="CAF", limit=100)) == {"allocataires"}
    assert set(await s.names(publics="jeunes", limit=100)) == {"jeunes"}
    fees = set(await s.names(q="ecrivain", fees="payant"))
    assert fees == {"ecrivain-mende"}


async def test_eligibility_for_a_commune(search_system: SearchSystem) -> None:
    names = set(await search_system.names(commune="34301", limit=100))  # Sète
    assert {"allocataires", "urgence", "hlm", "justice", "distance"} <= names
    assert not {"retraite", "ecrivain-mende", "ecrivain-lodeve"} & names
    # A postal code works too (an INSEE code wins when a code is both: 34200 is not Sète).
    for commune in ("48095", "48000"):  # Mende
        names = set(await search_system.names(commune=commune, limit=100))
        assert names == {"ecrivain-mende", "distance"}, commune


async def test_radius_and_distance_sort(search_system: SearchSystem) -> None:
    lat, lon = data.MONTPELLIER[3], data.MONTPELLIER[4]
    body = await search_system.ok(lat=lat, lon=lon, radius_km=10, limit=100)
    names = search_system.catalogue.names([i["id"] for i in body["items"]])
    assert {"retraite", "domiciliation", "allocataires", "jeunes"} <= set(names)
    assert not {"urgence", "hlm", "ecrivain-mende"} & set(names)
    distances = [i["distance_km"] for i in body["items"]]
    assert distances == sorted(distances)
    assert all(d <= 10 for d in distances)


async def test_remote_services_are_included_where_eligible(search_system: SearchSystem) -> None:
    lat, lon = data.MONTPELLIER[3], data.MONTPELLIER[4]
    names = await search_system.names(commune="34172", lat=lat, lon=lon, radius_km=5, limit=100)
    assert "distance" in names  # à distance, eligible in Occitanie, held in Mende (150 km)
    assert "ecrivain-mende" not in names


async def test_commune_gives_a_position_for_distance_sort(search_system: SearchSystem) -> None:
    body = await search_system.ok(commune="34301", sort="distance", limit=100)
    located = [i["distance_km"] for i in body["items"] if i["distance_km"] is not None]
    assert located == sorted(located)


async def test_drafts_are_visible_only_to_insiders(search_system: SearchSystem) -> None:
    s = search_system
    assert "jardin" not in await s.names(q="jardin")
    response = await s.client.get(SERVICES, params={"q": "jardin", "status": "draft"})
    assert response.status_code == 401
    tokens = s.relais.tokens
    member = tokens.user(s.catalogue.structures["ccas"], roles=("member",))
    response = await s.client.get(
        SERVICES, params={"q": "jardin", "status": "published,draft"}, headers=bearer(member)
    )
    assert response.status_code == 200
    assert s.catalogue.names([i["id"] for i in response.json()["items"]]) == ["jardin"]
    outsider = tokens.user(s.catalogue.structures["caf"], roles=("member",))
    response = await s.client.get(
        SERVICES, params={"q": "jardin", "status": "draft"}, headers=bearer(outsider)
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
    moderator = tokens.user(None, roles=("moderator",))
    response = await s.client.get(
        SERVICES, params={"q": "jardin", "status": "draft"}, headers=bearer(moderator)
    )
    assert [i["status"] for i in response.json()["items"]] == ["draft"]


# --- facets -----------------------------------------------------------------------------------


async def test_facets_count_the_current_query(search_system: SearchSystem) -> None:
    body = await search_system.ok(q=data.PAGING_WORD, limit=1)
    facets = body["facets"]
    assert body["total"] == 23
    assert facets["type"] == {"atelier": 23}
    assert facets["fees"] == {"gratuit": 15, "payant": 8}
    assert facets["categorie"] == {"equipement-et-alimentation": 23}
    assert facets["reception"] == {"en-presentiel": 23}
    payant = await search_system.ok(q=data.PAGING_WORD, fees="payant", limit=1)
    assert payant["total"] == 8


async def test_counts_stop_at_the_cap_and_say_so(
    search_system: SearchSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    if search_system.backend == "meilisearch":
        pytest.skip("the count cap belongs to the database backends")
    exact = await search_system.ok(q=data.PAGING_WORD, limit=1)
    assert exact["total_exact"] is True
    assert exact["facets_exact"] is True
    monkeypatch.setattr(database, "COUNT_CAP", 5)
    capped = await search_system.ok(q=data.PAGING_WORD, limit=1)
    # Counting stopped after 6 matches: a lower bound, flagged; facets counted on those 6.
    assert capped["total"] == 6
    assert capped["total_exact"] is False
    assert capped["facets_exact"] is False
    assert sum(capped["facets"]["type"].values()) == 6
    for facet, values in capped["facets"].items():
        for value, count in values.items():
            assert count <= exact["facets"][facet][value]


async def _all_pages(s: SearchSystem, **params: Any) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    cursor = None
    while True:
        body = await s.ok(**params, **({"cursor": cursor} if cursor else {}))
        out += [(item["id"], item["score"]) for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


@pytest.mark.parametrize(
    "q", [data.PAGING_WORD, "aide", "logement", "ecrivain public", "aide alimentaire", "caf"]
)
async def test_capped_search_ranks_exactly_like_the_full_one(
    search_system: SearchSystem, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    """Counting stops at the cap; ranking does not: the same entries in the same order, page
    after page."""
    if search_system.backend == "meilisearch":
        pytest.skip("the count cap belongs to the database backends")
    full = await _all_pages(search_system, q=q, limit=2, facets="false")
    monkeypatch.setattr(database, "COUNT_CAP", 1)
    capped = await _all_pages(search_system, q=q, limit=2, facets="false")
    assert full, q
    assert capped == full


@pytest.mark.parametrize(
    "params",
    [
        {"q": data.PAGING_WORD, "commune": "34301", "sort": "distance"},
        {"commune": "34301", "sort": "distance"},
        {"commune": "34172", "radius_km": "30", "sort": "distance"},
        {"q": "aide", "commune": "34172", "radius_km": "60", "sort": "distance"},
    ],
)
async def test_capped_search_sorts_by_distance_exactly_like_the_full_one(
    search_system: SearchSystem, monkeypatch: pytest.MonkeyPatch, params: dict[str, str]
) -> None:
    """Counting stops at the cap; sorting by distance does not: the same entries in the same
    order."""
    if search_system.backend == "meilisearch":
        pytest.skip("the count cap belongs to the database backends")
    full = await _all_pages(search_system, **params, limit=2, facets="false")
    monkeypatch.setattr(database, "COUNT_CAP", 1)
    capped = await _all_pages(search_system, **params, limit=2, facets="false")
    assert len(full) > 2, params
    assert capped == full


# --- pagination -------------------------------------------------------------------------------


async def test_cursor_pages_have_no_duplicates_or_gaps(search_system: SearchSystem) -> None:
    everything = await search_system.ids(q=data.PAGING_WORD, limit=100)
    seen: list[str] = []
    params: dict[str, Any] = {"q": data.PAGING_WORD, "limit": 5}
    while True:
        body = await search_system.ok(**params)
        seen += [i["id"] for i in body["items"]]
        if not body["next_cursor"]:
            break
        assert body["next"].startswith("http://testserver/directory/v1/search/services?")
        params["cursor"] = body["next_cursor"]
    assert seen == everything


async def test_pages_stay_consistent_while_entries_change(search_system: SearchSystem) -> None:
    from services.directory.search.indexing import refresh_search_index

    before = await search_system.ids(
        q=data.PAGING_WORD, sort="distance", commune="34301", limit=100
    )
    first = await search_system.ok(q=data.PAGING_WORD, commune="34301", sort="distance", limit=6)
    # Meanwhile: a new matching entry appears at the top of the list.
    db = search_system.relais.app("directory").state.db
    async with db.session() as session:
        spec = dict(data.SERVICES["cuisine-00"], name="Atelier cuisine nouveau")
        row = data.service_row("cuisine-new", spec, search_system.catalogue.structures["cuisine"])
        session.add(row)
        await session.flush()
        await refresh_search_index(session, [row.id])
    if search_system.backend == "meilisearch":
        from services.directory.search.feed import sync_outbox

        await sync_outbox(search_system.relais.app("directory"), wait=True)
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        body = await search_system.ok(
            q=data.PAGING_WORD, commune="34301", sort="distance", limit=6, cursor=cursor
        )
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen)


# --- structures ---------------------------------------------------------------------------------


async def test_structure_search(search_system: SearchSystem) -> None:
    s = search_system
    assert (await s.names(STRUCTURES, q="caf"))[0] == "caf"
    assert "toit" in await s.names(STRUCTURES, q="hébergement")
    assert set(await s.names(STRUCTURES, commune="48095", limit=100)) >= {"gevaudan"}
    assert "ccas" not in await s.names(STRUCTURES, commune="48095", limit=100)
    body = await s.ok(STRUCTURES, q="ecrivain")
    assert body["items"][0]["thematiques"]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"thematiques": "logement-et-chateaux"}, 400, "thematiques"),
        ({"publics": "martiens"}, 400, "publics"),
        ({"types": "x"}, 400, "types"),
        ({"fees": "cher"}, 400, "fees"),
        ({"reception_modes": "teleportation"}, 400, "reception_modes"),
        ({"networks": "illuminati"}, 400, "networks"),
        ({"capacity": "plein"}, 400, "capacity"),
        ({"status": "archived"}, 400, "status"),
        ({"lat": "abc", "lon": "3"}, 400, "lat"),
        ({"lat": "91", "lon": "3"}, 400, "lat"),
        ({"lat": "43", "lon": "-181"}, 400, "lon"),
        ({"lat": "nan", "lon": "3"}, 400, "lat"),
        ({"lat": "43"}, 400, "lon"),
        ({"lat": "43", "lon": "3", "radius_km": "5000"}, 400, "radius_km"),
        ({"lat": "43", "lon": "3", "radius_km": "-1"}, 400, "radius_km"),
        ({"radius_km": "10"}, 400, "radius_km"),
        ({"commune": "99999"}, 400, "commune"),
        ({"commune": "' OR 1=1 --"}, 400, "commune"),
        ({"q": "x" * 10_000}, 400, "q"),
        ({"sort": "price"}, 400, "sort"),
        ({"sort": "distance"}, 400, "sort"),
        ({"limit": "0"}, 400, "limit"),
        ({"limit": "1000"}, 400, "limit"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "WyJ4Il0"}, 400, "cursor"),
    ],
)
async def test_bad_input_is_a_clear_problem(
    search_system: SearchSystem, params: dict[str, str], status: int, field: str
) -> None:
    response = await search_system.client.get(SERVICES, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert field in {e["field"] for e in problem.get("errors", [])} or field in problem["detail"]
    assert not any(word in response.text.lower() for word in LEAKS), response.text


async def test_cursor_of_another_search_is_refused(search_system: SearchSystem) -> None:
    body = await search_system.ok(q=data.PAGING_WORD, limit=2)
    response = await search_system.client.get(
        SERVICES, params={"q": "logement", "limit": 2, "cursor": body["next_cursor"]}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "*",
        "NEAR",
        "NEAR(logement urgence)",
        "'",
        "\\",
        '"logement',
        "logement*",
        "a AND",
        "OR OR",
        "(((",
        "^",
        "-logement",
        "col:logement",
        "{name}: x",
        "!",
        "&|",
        "<->",
        "%_",
        "l'hébergement",
        "1=1; DROP TABLE search_documents",
        "\u0000",
        "🏠 logement",
    ],
)
async def test_syntax_characters_are_plain_text(search_system: SearchSystem, q: str) -> None:
    for path in (SERVICES, STRUCTURES):
        response = await search_system.client.get(path, params={"q": q})
        assert response.status_code in (200, 400), response.text
        assert not any(word in response.text.lower() for word in LEAKS), response.text
        if q != "\u0000":
            assert response.status_code == 200
