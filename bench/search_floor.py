"""The plain-search floor: what a competent PostgreSQL search written in an afternoon does.

One weighted French tsvector (unaccent + French stemming; name A, structure B, description C)
with a GIN index, ``websearch_to_tsquery``, ``ts_rank_cd``, a pg_trgm fallback on the name when
the words find nothing, a btree on the position, the eligibility zones as a ``text[]`` with GIN,
an exact ``count(*) OVER ()`` and facet counts over every match; a service read by id is one
asyncpg statement. A minimal Litestar app serves it at the same paths and with the same query
parameters as Relais, so the benchmark sends both the same requests.

``build(conn)`` creates its tables (``floor_services``, ``floor_communes``) from the directory's
tables in the benchmark's schema; ``python -m bench.search_floor PORT DSN SCHEMA`` serves it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import uvicorn
from litestar import Litestar, get
from litestar.response import Response

SNIPPET = 240
# How the bench finds this app's PostgreSQL backends (to count their CPU).
APPLICATION_NAME = "relais-bench-floor"
KM_PER_DEGREE = 111.195

BUILD = [
    "CREATE TEXT SEARCH CONFIGURATION floor_fr (COPY = pg_catalog.french)",
    "ALTER TEXT SEARCH CONFIGURATION floor_fr ALTER MAPPING FOR hword, hword_part, word "
    "WITH public.unaccent, french_stem",
    """CREATE TABLE floor_services AS
    SELECT s.id, s.name, st.name AS structure_name, s.description, s.type, s.fees,
        s.capacity_status,
        ARRAY(SELECT jsonb_array_elements_text(s.thematiques)) AS thematiques,
        ARRAY(SELECT DISTINCT split_part(t, '--', 1)
              FROM jsonb_array_elements_text(s.thematiques) t) AS categories,
        ARRAY(SELECT jsonb_array_elements_text(s.publics)) AS publics,
        ARRAY(SELECT jsonb_array_elements_text(s.reception_modes)) AS reception_modes,
        ARRAY(SELECT z.zone::text FROM service_zones z WHERE z.service_id = s.id) AS zones,
        coalesce(s.latitude, st.latitude) AS latitude,
        coalesce(s.longitude, st.longitude) AS longitude,
        setweight(to_tsvector('floor_fr', s.name), 'A')
          || setweight(to_tsvector('floor_fr', st.name), 'B')
          || setweight(to_tsvector('floor_fr', coalesce(s.description, '')), 'C') AS tsv
    FROM services s JOIN structures st ON st.id = s.structure_id
    WHERE s.status = 'published'""",
    "ALTER TABLE floor_services ADD PRIMARY KEY (id)",
    "CREATE INDEX floor_services_tsv ON floor_services USING gin (tsv)",
    "CREATE INDEX floor_services_name_trgm ON floor_services USING gin (name public.gin_trgm_ops)",
    "CREATE INDEX floor_services_zones ON floor_services USING gin (zones)",
    "CREATE INDEX floor_services_position ON floor_services (latitude, longitude)",
    "CREATE TABLE floor_communes (code text PRIMARY KEY, zones text[] NOT NULL, "
    "latitude float8, longitude float8)",
]


Commune = tuple[str, list[str], float | None, float | None]


async def build(conn: Any, communes: Sequence[Commune]) -> None:
    """The floor's tables from the directory's tables (same schema), and a commune table
    (code, eligibility zones, position) the floor reads a commune from, by primary key."""
    for statement in BUILD:
        await conn.execute(statement)
    await conn.copy_records_to_table(
        "floor_communes", records=communes, columns=["code", "zones", "latitude", "longitude"]
    )
    await conn.execute("VACUUM ANALYZE floor_services")
    await conn.execute("ANALYZE floor_communes")


DROP = [
    "DROP TABLE IF EXISTS floor_services, floor_communes",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS floor_fr",
]

COLUMNS = (
    "f.id, f.name, f.structure_name, left(f.description, 240) AS description, f.type, f.fees, "
    "f.capacity_status, f.thematiques, f.categories, f.publics, f.reception_modes, f.latitude, "
    "f.longitude"
)
FACETS = """, facets AS (
  SELECT 'categorie' AS facet, v AS value, count(*) AS n
  FROM matches, unnest(categories) v GROUP BY v
  UNION ALL SELECT 'public', v, count(*) FROM matches, unnest(publics) v GROUP BY v
  UNION ALL SELECT 'reception', v, count(*) FROM matches, unnest(reception_modes) v GROUP BY v
  UNION ALL SELECT 'type', type, count(*) FROM matches WHERE type IS NOT NULL GROUP BY type
  UNION ALL SELECT 'fees', fees, count(*) FROM matches WHERE fees IS NOT NULL GROUP BY fees)"""


class Hit(msgspec.Struct):
    id: uuid.UUID
    name: str
    structure_name: str
    description: str | None
    type: str | None
    fees: str | None
    capacity_status: str
    thematiques: list[str]
    publics: list[str]
    reception_modes: list[str]
    latitude: float | None
    longitude: float | None
    distance_km: float | None
    score: float


class Page(msgspec.Struct):
    items: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]


class Params:
    """Numbered parameters of one statement: only those it uses."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def statement(
    *,
    q: str | None,
    trigram: bool,
    zones: list[str] | None,
    origin: tuple[float, float] | None,
    radius_km: float | None,
    by_distance: bool,
    filters: dict[str, list[str]],
    facets: bool,
    limit: int,
) -> tuple[str, list[Any]]:
    """One SQL statement (and its arguments) for this request."""
    p = Params()
    where = ["true"]
    rank = "0::float4"
    if q and trigram:
        text = p(q, "text")
        where.append(f"{text} <% f.name")
        rank = f"word_similarity({text}, f.name)"
    elif q:
        query = f"websearch_to_tsquery('floor_fr', {p(q, 'text')})"
        where.append(f"f.tsv @@ {query}")
        rank = f"ts_rank_cd(f.tsv, {query})"
    if zones is not None:
        where.append(f"f.zones && {p(zones, 'text[]')}")
    distance = "NULL::float8"
    if origin is not None:
        lat, lon = p(origin[0], "float8"), p(origin[1], "float8")
        kx = f"({KM_PER_DEGREE} * cos(radians({lat})))"
        dy = f"(f.latitude - {lat}) * {KM_PER_DEGREE}"
        dx = f"(f.longitude - {lon}) * {kx}"
        distance = f"sqrt({dy} * {dy} + {dx} * {dx})"
        if radius_km is not None:
            r = p(radius_km, "float8")
            where.append(
                f"f.latitude BETWEEN {lat} - {r} / {KM_PER_DEGREE} "
                f"AND {lat} + {r} / {KM_PER_DEGREE}"
            )
            where.append(f"f.longitude BETWEEN {lon} - {r} / {kx} AND {lon} + {r} / {kx}")
            where.append(f"{distance} <= {r}")
    for column, values in filters.items():
        wanted = p(values, "text[]")
        where.append(f"f.fees = ANY({wanted})" if column == "fees" else f"f.{column} && {wanted}")
    order = "distance, id" if by_distance else "score DESC, id"
    size = p(limit, "int")
    matches = (
        f"WITH matches AS MATERIALIZED (SELECT {COLUMNS}, {rank} AS score, {distance} AS distance "
        f"FROM floor_services f WHERE {' AND '.join(where)})"
    )
    if not facets:
        sql = (
            f"{matches} SELECT *, count(*) OVER () AS total FROM matches "
            f"ORDER BY {order} LIMIT {size}"
        )
        return sql, p.values
    page = (
        "SELECT 'p' AS part, to_jsonb(m) - 'total' AS row, m.total AS n, NULL AS facet, "
        "NULL AS value FROM (SELECT *, count(*) OVER () AS total FROM matches "
        f"ORDER BY {order} LIMIT {size}) m"
    )
    sql = (
        f"{matches}{FACETS} SELECT * FROM ({page}) p "
        "UNION ALL SELECT 'f', NULL, n, facet, value FROM facets"
    )
    return sql, p.values


FILTERS = {"thematiques": "categories", "publics": "publics", "fees": "fees"}


def serve(port: int, dsn: str, schema: str) -> None:
    pools: list[Any] = []

    async def connect() -> None:
        pools.append(
            await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=20,
                server_settings={
                    "search_path": f'"{schema}",public',
                    "plan_cache_mode": "force_custom_plan",
                    "application_name": APPLICATION_NAME,
                    "jit": "off",
                },
            )
        )

    async def close() -> None:
        await pools[0].close()

    encode = msgspec.json.Encoder().encode

    @get("/directory/v1/search/services")
    async def search(
        q: str | None = None,
        commune: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        radius_km: float | None = None,
        sort: str | None = None,
        thematiques: str | None = None,
        publics: str | None = None,
        fees: str | None = None,
        limit: int = 20,
        facets: bool = True,
        highlight: bool = True,
    ) -> Response[bytes]:
        async with pools[0].acquire() as conn:
            zones: list[str] | None = None
            if commune is not None:
                found = await conn.fetchrow(
                    "SELECT zones, latitude, longitude FROM floor_communes WHERE code = $1",
                    commune,
                )
                if found is None:
                    return Response(b'{"detail":"commune inconnue"}', status_code=422)
                zones = list(found["zones"])
                if lat is None and found["latitude"] is not None:
                    lat, lon = found["latitude"], found["longitude"]
            chosen = {"thematiques": thematiques, "publics": publics, "fees": fees}
            shape: dict[str, Any] = {
                "q": q if q and q.strip() else None,
                "zones": zones,
                "origin": (lat, lon) if lat is not None and lon is not None else None,
                "radius_km": radius_km,
                # Nearest first when asked, or for a place without words (as Relais).
                "by_distance": lat is not None
                and (sort == "distance" or (sort is None and not (q and q.strip()))),
                "filters": {FILTERS[k]: v.split(",") for k, v in chosen.items() if v},
                "facets": facets,
                "limit": limit,
            }
            sql, args = statement(trigram=False, **shape)
            rows = await conn.fetch(sql, *args)
            if not rows and shape["q"]:
                sql, args = statement(trigram=True, **shape)
                rows = await conn.fetch(sql, *args)
        if facets:
            page_rows = [msgspec.json.decode(r["row"]) for r in rows if r["part"] == "p"]
            total = next((int(r["n"]) for r in rows if r["part"] == "p"), 0)
            counts: dict[str, dict[str, int]] = {}
            for r in rows:
                if r["part"] == "f":
                    counts.setdefault(r["facet"], {})[r["value"]] = int(r["n"])
        else:
            page_rows = [dict(r) for r in rows]
            total = int(rows[0]["total"]) if rows else 0
            counts = {}
        items = [
            Hit(
                id=uuid.UUID(str(r["id"])),
                name=r["name"],
                structure_name=r["structure_name"],
                description=r["description"],
                type=r["type"],
                fees=r["fees"],
                capacity_status=r["capacity_status"],
                thematiques=list(r["thematiques"] or []),
                publics=list(r["publics"] or []),
                reception_modes=list(r["reception_modes"] or []),
                latitude=r["latitude"],
                longitude=r["longitude"],
                distance_km=None if r["distance"] is None else round(r["distance"], 2),
                score=float(r["score"]),
            )
            for r in page_rows
        ]
        return Response(encode(Page(items, total, counts)), media_type="application/json")

    @get("/directory/v1/services/{service_id:uuid}")
    async def read(service_id: uuid.UUID) -> Response[bytes]:
        row = await pools[0].fetchrow(
            "SELECT s.*, ARRAY(SELECT zone FROM service_zones z WHERE z.service_id = s.id "
            "ORDER BY zone) AS eligibility_zones FROM services s WHERE s.id = $1",
            service_id,
        )
        if row is None:
            return Response(b'{"detail":"introuvable"}', status_code=404)
        return Response(encode(dict(row)), media_type="application/json")

    @get("/readyz")
    async def ready() -> Response[bytes]:
        return Response(b"{}", media_type="application/json")

    app = Litestar([search, read, ready], on_startup=[connect], on_shutdown=[close], debug=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
