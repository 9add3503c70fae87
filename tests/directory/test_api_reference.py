"""Lookups: data·inclusion taxonomies and communes (COG)."""

from __future__ import annotations

import httpx

from tests.directory.helpers import BASE


async def test_taxonomies(client: httpx.AsyncClient) -> None:
    listed = (await client.get(f"{BASE}/taxonomies")).json()
    names = {t["name"]: t for t in listed}
    assert names["categories-thematiques"]["count"] == 16
    assert names["thematiques"]["url"] == f"{BASE}/taxonomies/thematiques"
    thematiques = (await client.get(f"{BASE}/taxonomies/thematiques")).json()
    values = {t["value"] for t in thematiques["terms"]}
    assert "equipement-et-alimentation--alimentation" in values
    unknown = await client.get(f"{BASE}/taxonomies/nope")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


async def test_commune_by_insee_or_postal_code(client: httpx.AsyncClient) -> None:
    [rennes] = (await client.get(f"{BASE}/communes/35238")).json()
    assert rennes["name"] == "Rennes"
    assert rennes["departement"] == {"code": "35", "name": rennes["departement"]["name"]}
    assert rennes["region"]["code"] == "53"
    assert rennes["epci"]["code"] == "243500139"
    assert "epci:243500139" in rennes["zones"]
    by_postal = (await client.get(f"{BASE}/communes/35000")).json()
    assert [c["code"] for c in by_postal] == ["35238"]
    assert (await client.get(f"{BASE}/communes/00000")).status_code == 404


async def test_commune_search(client: httpx.AsyncClient) -> None:
    found = (await client.get(f"{BASE}/communes", params={"q": "renne"})).json()
    assert found[0]["code"] == "35238"
    accents = (await client.get(f"{BASE}/communes", params={"q": "ST ETIENNE"})).json()
    assert any(c["name"] == "Saint-Étienne" for c in accents)
    assert (await client.get(f"{BASE}/communes")).status_code == 400
    assert (await client.get(f"{BASE}/communes", params={"q": "a", "limit": 99})).status_code == 400
