"""Search benchmark: the database search backends at 100k and 1M services, through the real HTTP
server, against a bare Litestar handler returning a precomputed page of the same size, in the
same run.

1. Generates realistic services: each one copies a service of the demo territory
   (``services.directory.demo``: names, descriptions, thematiques, publics, fees, types, modes —
   so their distributions are the demo's), gets extra description words drawn from the demo's
   word frequencies, a structure modelled on a demo structure, and a commune drawn from the
   COG by population (metropolitan France); eligibility zones (commune, EPCI, département,
   région, France), capacity and freshness follow fixed shares. Positions: the commune's
   reference point (``geography().position``) moved by up to ~1 km (a synthetic point for the
   few communes without one).
2. Loads them fast: documents and facets come from the real indexing code
   (``indexing.service_document`` / ``structure_document``: same analysis, same rows), and are
   written with PostgreSQL ``COPY`` (asyncpg) into the directory tables and the search tables,
   secondary indexes dropped during the load and rebuilt after (the text index is computed by
   PostgreSQL, as in production; no facet rows: PostgreSQL uses the documents' filter arrays,
   as the indexing code does). SQLite: batched multi-row INSERTs, FTS5 triggers as usual.
3. Serves the directory with ``relais serve directory`` (uvicorn, one process, localhost) and a
   bare Litestar app in another process, and drives both with a bounded keep-alive load loop
   (fixed duration and request cap per case): p50/p99 latency and throughput of a query mix —
   text only, text + filters, geo radius sorted by distance, facets (filters + counts).

Sizes: 100k on PostgreSQL, then 1M: the 900k extra services are copies of the first 100k made
inside PostgreSQL (``INSERT … SELECT`` with new ids and moved positions, documents copied,
every index rebuilt by PostgreSQL), so the big size fits the load budget; a
size that is not a whole multiple above the loaded one is generated in Python, scaled down when
it would not fit ``BENCH_LOAD_BUDGET`` seconds (the output says so). SQLite at 100k. Everything
lives in a ``bench…_`` schema / a temporary directory, dropped at the end.

Run: ``.venv/bin/python -m bench search`` (PostgreSQL at TEST_DATABASE_URL or the default).
``BENCH_SEARCH_SIZES=100000 BENCH_SQLITE_SIZE=0 BENCH_KEEP_SCHEMA=1`` measures PostgreSQL at
100k only and keeps its schema, to study the plans (drop it by hand afterwards).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from bisect import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench import search_floor
from bench.client import Connection
from bench.common import (
    backend_cpu,
    cpu_seconds,
    cpu_since,
    free_port,
    process_tree,
    quantile,
    wait_ready,
)

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SIZES = [int(s) for s in os.environ.get("BENCH_SEARCH_SIZES", "100000,1000000").split(",")]
SQLITE_SIZE = int(os.environ.get("BENCH_SQLITE_SIZE", "0"))
LOAD_BUDGET = float(os.environ.get("BENCH_LOAD_BUDGET", "600"))
DURATION = float(os.environ.get("BENCH_SECONDS", "5"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "3000"))
MIX_CONNECTIONS = (8, 16)
BY_ID_CONNECTIONS = 8
# Schemas named after this prefix (one per size) are kept and reused by the next run.
KEEP_PREFIX = os.environ.get("BENCH_SEARCH_PREFIX", "")
# Where to write the figures (JSON), when set.
OUT = os.environ.get("BENCH_OUT", "")
BATCH = 5_000
ROOT = Path(__file__).resolve().parent.parent
SEARCH = "/directory/v1/search/services"
NOW = datetime.now(UTC).replace(microsecond=0)

QUERIES = [
    "aide dossier retraite",
    "logement urgence",
    "ecrivain public",
    "caf",
    "aide alimentaire",
    "rsa",
    "atelier numerique",
    "hebergement",
    "mission locale jeunes",
    "violences conjugales",
    "surendettement",
    "permis de conduire",
    "domiciliation",
    "apl",
    "cpam carte vitale",
    "france travail",
    "logemnt social",
    "retraitte",
    "soutien parentalite",
    "acces aux droits",
]


# --------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    services: list[dict[str, Any]]
    structures: list[dict[str, Any]]
    words: list[str]
    word_weights: list[int]
    communes: list[Any]
    commune_weights: list[float]
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)

    def position(self, code: str, departement: str) -> tuple[float, float]:
        from services.kernel.reference import geography

        found = self.positions.get(code)
        point = geography().position(code) if found is None else None
        if point is not None:
            found = self.positions[code] = (point.latitude, point.longitude)
        if found is None:
            lat0, lon0 = _centre(departement)
            h = int(hashlib.sha256(code.encode()).hexdigest()[:8], 16)
            found = (
                lat0 + ((h % 1000) / 1000 - 0.5) * 0.6,
                lon0 + ((h // 1000 % 1000) / 1000 - 0.5) * 0.8,
            )
            self.positions[code] = found
        return found


def _centre(departement: str) -> tuple[float, float]:
    h = int(hashlib.sha256(f"dep{departement}".encode()).hexdigest()[:8], 16)
    return 43.0 + (h % 7000) / 1000, -1.0 + (h // 7000 % 7500) / 1000


def corpus() -> Corpus:
    from services.directory.demo.generator import generate_territory
    from services.kernel.reference import geography

    structures, services = generate_territory(seed=26)
    counts: Counter[str] = Counter()
    for service in services:
        text = f"{service['nom']} {service.get('description') or ''}"
        counts.update(w for w in re.findall(r"\w+", text.lower()) if len(w) > 3)
    words, weights = zip(*counts.most_common(), strict=True)
    communes = [
        c
        for c in geography().communes.values()
        if c.type == "commune-actuelle"
        and (c.population or 0) > 0
        and len(c.departement) == 2
        and c.departement < "96"
    ]
    return Corpus(
        services=services,
        structures=structures,
        words=list(words),
        word_weights=list(accumulate(weights)),
        communes=communes,
        commune_weights=list(accumulate(float(c.population or 0) for c in communes)),
    )


def _pick(rng: random.Random, items: list[Any], cumulative: list[Any]) -> Any:
    return items[bisect(cumulative, rng.random() * cumulative[-1])]


@dataclass
class Batch:
    structures: list[dict[str, Any]]
    services: list[dict[str, Any]]
    zones: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    facets: list[dict[str, Any]]
    terms: set[str]


_SAFE_SPLIT = re.compile(r" ; |\. ")


@lru_cache(maxsize=400_000)
def _part_terms(text: str) -> tuple[str, ...]:
    from services.directory.search.analysis import term_list

    return tuple(term_list(text))


def memo_index_terms(*texts: str | None) -> str:
    """``analysis.index_terms`` with a memo per text part. Identical output: words never span
    " ; " or ". " (the parts are joined in order and deduplicated the same way), and the
    parts — demo descriptions, taxonomy labels, commune and structure names — repeat a lot."""
    terms: dict[str, None] = {}
    for text in texts:
        if text:
            for part in _SAFE_SPLIT.split(text):
                terms.update(dict.fromkeys(_part_terms(part)))
    return f" {' '.join(terms)} " if terms else " "


def use_memo_analysis() -> None:
    """Install the memo in the real indexing module (self-checked against the original)."""
    from services.directory.search import analysis, indexing

    samples = ["Écrivain public ; Aide aux courriers. Le CCAS de Valence", "l'APL. de ; la", ""]
    for sample in samples:
        assert memo_index_terms(sample, "CCAS de Die") == analysis.index_terms(
            sample, "CCAS de Die"
        )
    indexing.index_terms = memo_index_terms  # type: ignore[attr-defined]


def generate(corpus: Corpus, count: int, seed: int, first_doc_id: int) -> Iterator[Batch]:
    """Batches of about ``BATCH`` services (with their structures), documents and facets."""
    from services.directory.search.indexing import service_document, structure_document
    from services.kernel.reference import geography

    geography()  # loaded once, before the timed loop
    use_memo_analysis()
    rng = random.Random(seed)
    doc_id = first_doc_id
    made = 0
    while made < count:
        batch = Batch([], [], [], [], [], set())
        while len(batch.services) < BATCH and made < count:
            commune = _pick(rng, corpus.communes, corpus.commune_weights)
            lat, lon = corpus.position(commune.code, commune.departement)
            lat += rng.uniform(-0.01, 0.01)
            lon += rng.uniform(-0.01, 0.01)
            template = rng.choice(corpus.structures)
            name = str(template["nom"])
            if template.get("commune") and template["commune"] in name:
                name = name.replace(template["commune"], commune.name)
            else:
                name = f"{name} – {commune.name}"
            structure_id = uuid.uuid4()
            updated = NOW - timedelta(days=rng.choice([3, 20, 60, 120, 170, 250, 500]))
            structure = {
                "id": structure_id,
                "name": name[:300],
                "typology": None,
                "networks": list(template.get("reseaux_porteurs") or []),
                "labels": [],
                "accepts_referrals": True,
                "status": "published",
                "description": template.get("description"),
                "commune_code": commune.code,
                "commune": commune.name,
                "postal_code": commune.postal_codes[0] if commune.postal_codes else None,
                "latitude": lat,
                "longitude": lon,
                "created_at": updated,
                "updated_at": updated,
                "verified_at": updated if rng.random() < 0.6 else None,
                "reviewed_at": updated,
                "version": 1,
            }
            srow = SimpleNamespace(**structure)
            members: list[Any] = []
            for _ in range(min(rng.choice([1, 2, 3, 4, 5, 6, 8]), count - made)):
                t = rng.choice(corpus.services)
                extra = " ".join(
                    _pick(rng, corpus.words, corpus.word_weights) for _ in range(rng.randint(4, 12))
                )
                service_updated = NOW - timedelta(
                    days=rng.choice([1, 10, 40, 90, 150, 200, 400, 700])
                )
                capacity = rng.choices(["accepting", "waiting_list", "full"], [80, 12, 8])[0]
                level = rng.choices(
                    ["commune", "epci", "departement", "region", "france"], [50, 20, 25, 3, 2]
                )[0]
                zone = {
                    "commune": f"commune:{commune.code}",
                    "epci": f"epci:{commune.epci}" if commune.epci else f"commune:{commune.code}",
                    "departement": f"departement:{commune.departement}",
                    "region": f"region:{commune.region}",
                    "france": "france",
                }[level]
                service = {
                    "id": uuid.uuid4(),
                    "structure_id": structure_id,
                    "name": str(t["nom"])[:300],
                    "description": f"{t.get('description') or ''} {extra}",
                    "type": t.get("type"),
                    "thematiques": list(t.get("thematiques") or []),
                    "publics": list(t.get("publics") or []),
                    "publics_details": t.get("publics_precisions"),
                    "fees": t.get("frais"),
                    "fees_details": t.get("frais_precisions"),
                    "access_conditions": t.get("conditions_acces"),
                    "documents_to_bring": [],
                    "reception_modes": list(t.get("modes_accueil") or []),
                    "appointment_slots": [],
                    "referral_modes": list(t.get("modes_mobilisation") or []),
                    "referable_by": list(t.get("mobilisable_par") or []),
                    "appointment_required": rng.choice([None, True, False]),
                    "accepts_referrals": True,
                    "capacity_status": capacity,
                    "contact_public": False,
                    "status": "published",
                    "commune_code": None,
                    "commune": None,
                    "latitude": None,
                    "longitude": None,
                    "created_at": service_updated,
                    "updated_at": service_updated,
                    "verified_at": service_updated if rng.random() < 0.5 else None,
                    "reviewed_at": service_updated,
                    "version": 1,
                }
                row = SimpleNamespace(**service)
                document, facets = service_document(row, srow, [zone], "published")
                doc_id += 1
                batch.documents.append({"doc_id": doc_id, **document})
                batch.facets.extend({"doc_id": doc_id, "facet": f, "value": v} for f, v in facets)
                for terms in ("name_terms", "topic_terms", "body_terms"):
                    batch.terms.update(document[terms].split())
                batch.services.append(service)
                batch.zones.append({"service_id": service["id"], "zone": zone})
                members.append(row)
                made += 1
            document, facets = structure_document(
                srow, members, sorted({z["zone"] for z in batch.zones[-len(members) :]})
            )
            doc_id += 1
            batch.documents.append({"doc_id": doc_id, **document})
            batch.facets.extend({"doc_id": doc_id, "facet": f, "value": v} for f, v in facets)
            batch.structures.append(structure)
        yield batch


# --------------------------------------------------------------------------- loading


def _tables(batch: Batch) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
    """The directory and search tables a batch fills, in foreign-key order."""
    from services.directory.models import Service, ServiceZone, Structure
    from services.directory.search import tables

    out = []
    for table, rows in (
        (Structure.__table__, batch.structures),
        (Service.__table__, batch.services),
        (ServiceZone.__table__, batch.zones),
        (tables.documents, batch.documents),
        (tables.facets, batch.facets),
    ):
        assert isinstance(table, sa.Table)
        out.append((table, rows))
    return out


def _columns(table: sa.Table, rows: list[dict[str, Any]]) -> list[str]:
    return [c.name for c in table.columns if c.name in rows[0]]


class PostgresLoader:
    def __init__(self, schema: str, vocabulary: set[str]) -> None:
        self.schema = schema
        self.vocabulary = vocabulary  # terms already in search_vocabulary
        self.indexes: list[tuple[str, str]] = []

    async def __aenter__(self) -> PostgresLoader:
        import asyncpg  # type: ignore[import-untyped]

        self.conn = await asyncpg.connect(
            POSTGRES_URL, server_settings={"search_path": f'"{self.schema}",public'}
        )
        rows = await self.conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename IN "
            "('search_documents', 'search_facets', 'services', 'structures', 'service_zones') "
            "AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE 'uq_%'",
            self.schema,
        )
        self.indexes = [(r["indexname"], r["indexdef"]) for r in rows]
        for name, _ in self.indexes:
            await self.conn.execute(f'DROP INDEX "{self.schema}"."{name}"')
        return self

    async def __aexit__(self, *_: object) -> None:
        # Rows were written with explicit ids: later writes (indexing) continue after them.
        await self.conn.execute(
            "SELECT setval(pg_get_serial_sequence('search_documents', 'doc_id'), "
            "(SELECT coalesce(max(doc_id), 1) FROM search_documents))"
        )
        for _name, definition in self.indexes:
            await self.conn.execute(definition)
        for table in (
            "structures",
            "services",
            "service_zones",
            "search_documents",
            "search_facets",
        ):
            # VACUUM too: the steady state autovacuum reaches (visibility map set, so index-only
            # scans skip the heap), not the just-bulk-loaded state.
            await self.conn.execute(f'VACUUM ANALYZE "{self.schema}"."{table}"')
        await self.conn.close()

    async def write(self, batch: Batch) -> None:
        from services.directory.search import tables

        for table, rows in _tables(batch):
            if table is tables.facets:
                continue  # PostgreSQL keeps no facet rows (filter arrays on the documents)
            columns = _columns(table, rows)
            json_columns = {
                c.name for c in table.columns if "JSON" in type(c.type).__name__.upper()
            }
            records = [
                tuple(json.dumps(r[c]) if c in json_columns else r[c] for c in columns)
                for r in rows
            ]
            await self.conn.copy_records_to_table(table.name, records=records, columns=columns)
        new = sorted(t for t in batch.terms - self.vocabulary if 1 < len(t) <= 64)
        self.vocabulary.update(new)
        if new:
            await self.conn.copy_records_to_table(
                "search_vocabulary", records=[(t,) for t in new], columns=["term"]
            )

    async def replicate(self, copies: int) -> int:
        """Grow the loaded catalogue ``copies`` times over inside PostgreSQL (INSERT … SELECT):
        each structure and its services are copied with new ids and a position moved by up to
        ~1 km, with their eligibility zones, search documents (indexes
        rebuilt by PostgreSQL). Same distributions as the generated rows, at COPY speed, so the
        1M size fits the load budget. Returns the number of services added."""
        from services.directory.models import Service, Structure
        from services.directory.search import tables

        conn = self.conn
        moved = {
            "latitude": "latitude + (random() - 0.5) * 0.02",
            "longitude": "longitude + (random() - 0.5) * 0.02",
        }

        def columns(table: Any, replaced: dict[str, str]) -> tuple[str, str]:
            names = [c.name for c in table.columns]
            return ", ".join(names), ", ".join(replaced.get(n, f"x.{n}") for n in names)

        await conn.execute(
            "CREATE TEMP TABLE copy_structures AS SELECT id AS old, g AS copy, "
            "gen_random_uuid() AS new FROM structures, generate_series(1, $1) g",
            copies,
        )
        await conn.execute(
            "CREATE TEMP TABLE copy_services AS SELECT id AS old, g AS copy, "
            "gen_random_uuid() AS new FROM services, generate_series(1, $1) g",
            copies,
        )
        await conn.execute("CREATE INDEX ON copy_structures (old, copy)")
        await conn.execute("CREATE INDEX ON copy_services (old, copy)")
        names, values = columns(
            Structure.__table__,
            {"id": "m.new", **{k: f"x.{v}" for k, v in moved.items()}},
        )
        await conn.execute(
            f"INSERT INTO structures ({names}) SELECT {values} FROM structures x "
            "JOIN copy_structures m ON m.old = x.id"
        )
        names, values = columns(Service.__table__, {"id": "v.new", "structure_id": "s.new"})
        await conn.execute(
            f"INSERT INTO services ({names}) SELECT {values} FROM services x "
            "JOIN copy_services v ON v.old = x.id "
            "JOIN copy_structures s ON s.old = x.structure_id AND s.copy = v.copy"
        )
        await conn.execute(
            "INSERT INTO service_zones (service_id, zone) SELECT v.new, z.zone "
            "FROM service_zones z JOIN copy_services v ON v.old = z.service_id"
        )
        offset = int(await conn.fetchval("SELECT max(doc_id) FROM search_documents"))
        names, values = columns(
            tables.documents,
            {
                "doc_id": f"x.doc_id + m.copy * {offset}",
                "entity_id": "m.new",
                "structure_id": "s.new",
                **{k: f"x.{v}" for k, v in moved.items()},
            },
        )
        for kind, mapping in (("service", "copy_services"), ("structure", "copy_structures")):
            await conn.execute(
                f"INSERT INTO search_documents ({names}) SELECT {values} "
                f"FROM search_documents x JOIN {mapping} m ON m.old = x.entity_id "
                "JOIN copy_structures s ON s.old = x.structure_id AND s.copy = m.copy "
                f"WHERE x.kind = '{kind}'"
            )
        added = int(await conn.fetchval("SELECT count(*) FROM copy_services"))
        await conn.execute("DROP TABLE copy_services, copy_structures")
        return added


async def load_sqlite(db: Any, batches: Iterator[Batch]) -> None:
    from services.directory.search.indexing import add_vocabulary

    for batch in batches:
        async with db.session() as session:
            for table, rows in _tables(batch):
                await session.execute(sa.insert(table), rows)
            await add_vocabulary(session, batch.terms)


# --------------------------------------------------------------------------- load loop


async def get(port: int, path: str) -> bytes:
    connection = await Connection.open(port)
    try:
        reply = await connection.request("GET", path)
    finally:
        await connection.close()
    if reply.status != 200:
        raise RuntimeError(f"{path}: {reply.status} {reply.body[:300]!r}")
    return reply.body


async def _worker(
    port: int, paths: list[str], stop: float, budget: list[int], latencies: list[float]
) -> None:
    connection = await Connection.open(port)
    i = random.randrange(len(paths))
    try:
        while time.perf_counter() < stop and budget[0] > 0:
            budget[0] -= 1
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            reply = await connection.request("GET", path)
            if reply.status != 200:
                raise RuntimeError(f"{path}: {reply.status} {reply.body[:300]!r}")
            latencies.append(time.perf_counter() - started)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Served:
    """Whose CPU a load costs: an HTTP server's processes and the PostgreSQL backends of its
    pool (found by their ``application_name``; PostgreSQL runs on this machine)."""

    pid: int
    application: str


async def cpu_used(served: Served) -> tuple[float, dict[int, float]]:
    """CPU seconds so far of the server's processes, and of each of its database backends."""
    app = sum(cpu_seconds(pid) for pid in process_tree(served.pid))
    return app, await backend_cpu(POSTGRES_URL, served.application)


async def load(
    port: int, paths: list[str], connections: int, served: Served | None = None
) -> dict[str, float]:
    """Requests over ``connections`` keep-alive connections for ``DURATION`` seconds (at most
    ``MAX_REQUESTS``), after a short warm-up: throughput, p50 and p99; with ``served``, the CPU
    per request of the server and of its database backends (a backend opened during the load
    counts whole)."""
    warm = [min(20 * connections, MAX_REQUESTS)]
    stop = time.perf_counter() + 1
    await asyncio.gather(*(_worker(port, paths, stop, warm, []) for _ in range(connections)))
    before = await cpu_used(served) if served else None
    latencies: list[float] = []
    budget = [MAX_REQUESTS]
    started = time.perf_counter()
    stop = started + DURATION
    await asyncio.gather(
        *(_worker(port, paths, stop, budget, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    result = {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": quantile(latencies, 0.5) * 1000,
        "p99": quantile(latencies, 0.99) * 1000,
    }
    if served and before and latencies:
        app, backends = await cpu_used(served)
        db = cpu_since(before[1], backends)
        result["app_ms"] = (app - before[0]) / len(latencies) * 1000
        result["db_ms"] = db / len(latencies) * 1000
    return result


# Query classes: words of the corpus (demo services' names and descriptions) that are rare
# (in a few templates), common (in a large share of the documents), several words, typos.
RARE = ["psychologue", "addictions", "portage", "mdph", "avocat", "smartphone", "pmi", "carsat"]
COMMON = ["aide", "accompagnement", "caf", "logement", "emploi", "retraite"]
MULTI = [
    "aide dossier retraite",
    "logement urgence",
    "mission locale jeunes",
    "violences conjugales",
    "cpam carte vitale",
    "atelier numerique",
    "permis de conduire",
    "aide alimentaire",
]
TYPOS = ["logemnt social", "retraitte", "domicilation", "ecrivin public", "hebergment"]


def query_classes(corpus: Corpus, seed: int) -> dict[str, list[str]]:
    """The same URLs for Relais and the floor, per class of query."""
    from services.kernel.reference import geography
    from services.kernel.reference.taxonomies import category_of

    rng = random.Random(seed)
    big = sorted(corpus.communes, key=lambda c: -c.population)[:40]
    categories = [
        c
        for c, _ in Counter(
            category_of(t) for s in corpus.services for t in s.get("thematiques") or []
        ).most_common(6)
    ]

    def url(**params: Any) -> str:
        return f"{SEARCH}?{urllib.parse.urlencode(params)}"

    placed = [c for c in corpus.communes if geography().position(c.code) is not None]
    geo = []
    for commune in big[:20]:
        lat, lon = corpus.position(commune.code, commune.departement)
        radius = rng.choice([5, 10, 20])
        geo.append(url(lat=f"{lat:.4f}", lon=f"{lon:.4f}", radius_km=radius, sort="distance"))
    return {
        "rare word": [url(q=q, facets="false") for q in RARE],
        "common word": [url(q=q, facets="false") for q in COMMON],
        "multi-word": [url(q=q, facets="false") for q in MULTI],
        "typo": [url(q=q, facets="false") for q in TYPOS],
        "text + commune": [
            url(q=rng.choice(RARE + COMMON + MULTI), commune=c.code, facets="false")
            for c in big[:20]
        ],
        "geo radius + sort": [f"{u}&facets=false" for u in geo],
        # Any commune (most are small and hold no entry), nearest first: its reference point.
        "commune + sort distance": [
            url(commune=c.code, sort="distance", facets="false")
            if i % 2
            else url(q=rng.choice(COMMON), commune=c.code, sort="distance", facets="false")
            for i, c in enumerate(rng.sample(placed, 20))
        ],
        "facets": [url(q=q) for q in MULTI[:4] + COMMON[:2]]
        + [url(commune=c.code, thematiques=rng.choice(categories)) for c in big[:6]],
    }


@dataclass
class Measure:
    label: str
    size: int
    classes: dict[str, tuple[dict[str, float], dict[str, float]]] = field(default_factory=dict)
    mix: dict[int, tuple[dict[str, float], dict[str, float]]] = field(default_factory=dict)
    by_id: tuple[dict[str, float], dict[str, float]] | None = None
    rss_mb: float = 0.0


SERVE = [sys.executable, "-m", "services.cli", "serve", "directory"]
FLOOR = [sys.executable, "-m", "bench.search_floor"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(label: str, size: int, env: dict[str, str], corpus: Corpus) -> Measure:
    """Relais (``relais serve directory``, one process) and, on PostgreSQL, the floor app (one
    process) serve the same requests: per class one client (p50), the whole mix at 8 and 16
    connections (throughput), a service read by id; then Relais's resident memory."""
    processes: list[subprocess.Popen[bytes]] = []
    result = Measure(label, size)
    try:
        port = free_port()
        server = subprocess.Popen(  # noqa: ASYNC220
            [*SERVE, "--port", str(port), "--workers", "1"],
            env=env,
            cwd=ROOT,
        )
        processes.append(server)
        floor_port = 0
        if label == "postgresql":
            floor_port = free_port()
            schema = env["DATABASE_SCHEMA_PREFIX"] + "directory"
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220
                    [*FLOOR, str(floor_port), POSTGRES_URL, schema],
                    cwd=ROOT,
                )
            )
            wait_ready(floor_port, "/readyz")
        wait_ready(port, "/readyz")
        classes = query_classes(corpus, 7)
        for name, paths in classes.items():
            totals = [msgspec.json.decode(await get(port, p))["total"] for p in paths]
            line = (
                f"  {name}: {len(paths)} queries, median {statistics.median(totals):,.0f} matches"
            )
            if floor_port:
                floor_totals = [
                    msgspec.json.decode(await get(floor_port, p))["total"] for p in paths
                ]
                line += f" (floor {statistics.median(floor_totals):,.0f})"
            print(line, flush=True)
        mine = floor_app = None
        if label == "postgresql":
            from services.kernel.db import application_name

            schema = env["DATABASE_SCHEMA_PREFIX"] + "directory"
            mine = Served(server.pid, application_name(schema))
            floor_app = Served(processes[1].pid, search_floor.APPLICATION_NAME)
        for name, paths in classes.items():
            real = await load(port, paths, 1, mine)
            floor = await load(floor_port, paths, 1, floor_app) if floor_port else real
            result.classes[name] = (real, floor)
            _print_case(f"{name}, 1 client", real, floor)
        everything = [p for paths in classes.values() for p in paths]
        for connections in MIX_CONNECTIONS:
            real = await load(port, everything, connections, mine)
            floor = (
                await load(floor_port, everything, connections, floor_app) if floor_port else real
            )
            result.mix[connections] = (real, floor)
            _print_case(f"mix, {connections} connections", real, floor)
        result.rss_mb = rss_mb(server.pid)
        print(f"  RSS of the Relais server after the search load: {result.rss_mb:.0f} MB")
        if floor_port:
            ids = await _service_ids(env["DATABASE_SCHEMA_PREFIX"] + "directory")
            paths = [f"/directory/v1/services/{i}" for i in ids]
            real = await load(port, paths, BY_ID_CONNECTIONS, mine)
            floor = await load(floor_port, paths, BY_ID_CONNECTIONS, floor_app)
            result.by_id = (real, floor)
            _print_case(f"GET by id, {BY_ID_CONNECTIONS} connections", real, floor)
        return result
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


async def _service_ids(schema: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        rows = await conn.fetch(
            f'SELECT id FROM "{schema}".services TABLESAMPLE SYSTEM (1) LIMIT 2000'
        )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


def _print_case(name: str, real: dict[str, float], floor: dict[str, float]) -> None:
    print(
        f"  {name:32} {real['rps']:7,.1f} req/s p50 {real['p50']:7.1f} ms p99 "
        f"{real['p99']:7.1f} ms ({real['n']:,.0f} req) | floor {floor['rps']:7,.1f} req/s p50 "
        f"{floor['p50']:7.1f} ms p99 {floor['p99']:7.1f} ms | p50 ×{real['p50'] / floor['p50']:.2f}"
        f" throughput ×{real['rps'] / floor['rps']:.2f}",
        flush=True,
    )
    if "app_ms" in real:
        cpu = f"    CPU per request: server {real['app_ms']:.1f} ms"
        cpu += f" + PostgreSQL {real['db_ms']:.1f} ms"
        if "app_ms" in floor:
            cpu += f" | floor {floor['app_ms']:.1f} ms + {floor['db_ms']:.1f} ms"
        print(cpu, flush=True)


# --------------------------------------------------------------------------- main


def main() -> None:
    # A terminated run still drops its schema and directory (the ``finally`` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(run())


async def run() -> None:
    corpus_ = corpus()
    print(
        f"corpus: {len(corpus_.services)} demo services as templates, {len(corpus_.words):,} "
        f"words, {len(corpus_.communes):,} communes weighted by population; ≤ {DURATION:.0f} s "
        f"and ≤ {MAX_REQUESTS:,} requests per case; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results: list[Measure] = []
    results += await run_postgres(corpus_)
    results += await run_sqlite(corpus_)
    print(
        "\nsummary (targets: per class p50 ≤ 1.0× the floor; GET by id throughput ≥ 0.7× the "
        "floor; RSS ≤ 150 MB)"
    )
    for m in results:
        print(f"  {m.label} {m.size:,} services:")
        for name, (real, floor) in m.classes.items():
            print(
                f"    {name:18} p50 {real['p50']:7.1f} ms, floor {floor['p50']:7.1f} ms: "
                f"×{real['p50'] / floor['p50']:.2f}"
            )
        for connections, (real, floor) in m.mix.items():
            print(
                f"    mix at {connections:2} connections: {real['rps']:7.1f} req/s "
                f"(floor {floor['rps']:7.1f})"
            )
        if m.by_id is not None:
            real, floor = m.by_id
            print(
                f"    GET by id: {real['rps']:,.0f} req/s, floor {floor['rps']:,.0f}: "
                f"×{real['rps'] / floor['rps']:.2f}"
            )
        print(f"    RSS after the search load: {m.rss_mb:.0f} MB")
    if OUT:
        with open(OUT, "w", encoding="utf-8") as out:  # noqa: ASYNC230
            json.dump([m.__dict__ for m in results], out, indent=1, default=str)


async def run_postgres(corpus_: Corpus) -> list[Measure]:
    results: list[Measure] = []
    if KEEP_PREFIX:
        # One schema per size, kept between runs: each is loaded once.
        for target in SIZES:
            results += await _run_postgres_schema(
                corpus_, f"{KEEP_PREFIX}{target // 1000}k_", [target]
            )
        return results
    return await _run_postgres_schema(corpus_, f"bench{uuid.uuid4().hex[:6]}_", SIZES)


async def _run_postgres_schema(corpus_: Corpus, prefix: str, sizes: list[int]) -> list[Measure]:
    from services import system
    from services.kernel.settings import load_settings

    schema = f"{prefix}directory"
    settings = load_settings(
        environ={},
        database_url=POSTGRES_URL,
        database_schema_prefix=prefix,
        log_level="WARNING",
        worker_enabled=False,
    )
    try:
        await system.migrate(settings, ["directory"])
    except OSError as exc:
        print(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
        return []
    env = {
        **os.environ,
        "DATABASE_URL": POSTGRES_URL,
        "DATABASE_SCHEMA_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        "WORKER_ENABLED": "false",
    }
    env.pop("RELAIS_HOME", None)
    env.pop("MEILI_URL", None)
    results: list[Measure] = []
    try:
        loaded, doc_id, vocabulary = await _loaded(schema)
        rate = 0.0
        for target in sizes:
            extra = target - loaded
            if extra <= 0:
                print(f"postgresql: {schema} holds {loaded:,} services (kept)", flush=True)
            elif loaded and extra >= loaded:
                # Grow inside PostgreSQL: copies of what is loaded (see PostgresLoader.replicate).
                started = time.perf_counter()
                async with PostgresLoader(schema, vocabulary) as loader:
                    added = await loader.replicate(extra // loaded)
                    copy_time = time.perf_counter() - started
                elapsed = time.perf_counter() - started
                loaded += added
                print(
                    f"postgresql: +{added:,} services copied inside PostgreSQL in "
                    f"{copy_time:.0f} s, indexes + VACUUM ANALYZE {elapsed - copy_time:.0f} s "
                    f"→ {loaded:,} services",
                    flush=True,
                )
            else:
                if loaded and rate and int(LOAD_BUDGET * rate) < extra:
                    print(
                        f"postgresql: {target:,} would take ~{extra / rate:,.0f} s to load at "
                        f"{rate:,.0f} services/s; loading {int(LOAD_BUDGET * rate):,} more "
                        f"instead (BENCH_LOAD_BUDGET={LOAD_BUDGET:.0f} s)",
                        flush=True,
                    )
                    extra = int(LOAD_BUDGET * rate)
                started = time.perf_counter()
                async with PostgresLoader(schema, vocabulary) as loader:
                    for batch in generate(corpus_, extra, seed=target, first_doc_id=doc_id):
                        await loader.write(batch)
                        doc_id = batch.documents[-1]["doc_id"]
                    copy_time = time.perf_counter() - started
                elapsed = time.perf_counter() - started
                loaded += extra
                rate = extra / elapsed
                print(
                    f"postgresql: +{extra:,} services generated, indexed and copied in "
                    f"{copy_time:.0f} s, indexes + VACUUM ANALYZE {elapsed - copy_time:.0f} s "
                    f"({rate:,.0f} services/s) → {loaded:,} services",
                    flush=True,
                )
            await _build_floor(schema, corpus_)
            results.append(await measure("postgresql", loaded, env, corpus_))
    finally:
        if KEEP_PREFIX:
            print(f"postgresql: schema {schema} kept (BENCH_SEARCH_PREFIX)", flush=True)
        else:
            engine = create_async_engine(
                POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://")
            )
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()
    return results


async def _loaded(schema: str) -> tuple[int, int, set[str]]:
    """Services, last document id and vocabulary already in the schema (kept from a run)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": f'"{schema}"'})
    try:
        services = int(await conn.fetchval("SELECT count(*) FROM services"))
        doc_id = int(await conn.fetchval("SELECT coalesce(max(doc_id), 0) FROM search_documents"))
        terms = {r["term"] for r in await conn.fetch("SELECT term FROM search_vocabulary")}
    finally:
        await conn.close()
    return services, doc_id, terms


async def _build_floor(schema: str, corpus_: Corpus) -> None:
    """The floor's tables, (re)built from the directory's tables of this schema."""
    import asyncpg

    from services.kernel.reference import geography

    communes = [
        (c.code, sorted(geography().zones_of(c.code)), *corpus_.position(c.code, c.departement))
        for c in corpus_.communes
    ]
    conn = await asyncpg.connect(
        POSTGRES_URL, server_settings={"search_path": f'"{schema}",public'}
    )
    try:
        started = time.perf_counter()
        for statement in search_floor.DROP:
            await conn.execute(statement)
        await search_floor.build(conn, communes)
        print(f"floor: tables built in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        await conn.close()


async def run_sqlite(corpus_: Corpus) -> list[Measure]:
    from services import system
    from services.kernel.db import Database
    from services.kernel.settings import load_settings

    if SQLITE_SIZE <= 0:
        return []
    home = Path(tempfile.mkdtemp(prefix="relais-bench-search-"))
    try:
        settings = load_settings(environ={}, home=home, log_level="WARNING", worker_enabled=False)
        await system.migrate(settings, ["directory"])
        db = Database(settings, "directory")
        started = time.perf_counter()
        await load_sqlite(db, generate(corpus_, SQLITE_SIZE, seed=SQLITE_SIZE, first_doc_id=0))
        await db.dispose()
        elapsed = time.perf_counter() - started
        print(
            f"sqlite: {SQLITE_SIZE:,} services generated, indexed and inserted in {elapsed:.0f} s",
            flush=True,
        )
        env = {
            **os.environ,
            "RELAIS_HOME": str(home),
            "LOG_LEVEL": "WARNING",
            "WORKER_ENABLED": "false",
        }
        for name in ("DATABASE_URL", "DATABASE_SCHEMA_PREFIX", "MEILI_URL"):
            env.pop(name, None)
        return [await measure("sqlite", SQLITE_SIZE, env, corpus_)]
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
