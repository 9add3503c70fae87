"""Directory benchmark (PostgreSQL): import throughput, then GET-by-id and a filtered list page
through the real HTTP server, against a bare Litestar handler returning a constant body of the
same size, served the same way in the same run.

1. generates a data·inclusion v1 dataset (2,000 structures, 100,000 services) and imports it
   with ``import_datainclusion`` (one transaction, committed): rows/s;
2. runs ``relais serve directory`` (uvicorn) and a bare Litestar app in subprocesses on
   localhost ports, and drives each with a bounded load loop (a minimal keep-alive HTTP/1.1
   client on asyncio: several connections, fixed duration), printing throughput, p50/p99 and
   the ratios to the bare floor.

Run: ``.venv/bin/python -m bench directory`` (needs PostgreSQL at TEST_DATABASE_URL or the
default 127.0.0.1:5432/test). Bounded to a few minutes; the schema it creates is dropped.

While iterating on the HTTP side, ``BENCH_SCHEMA_PREFIX=benchkeep_`` keeps the schema between
runs: the first run migrates and imports as usual, later runs find the services already there,
skip both import measurements and go straight to the load (the bare floor is still measured in
the same run). ``BENCH_SKIP_LOAD=1`` measures only the import.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import free_port, wait_ready

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
STRUCTURES = int(os.environ.get("BENCH_STRUCTURES", "2000"))
SERVICES_PER_STRUCTURE = int(os.environ.get("BENCH_SERVICES_PER_STRUCTURE", "50"))
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
KEEP_PREFIX = os.environ.get("BENCH_SCHEMA_PREFIX", "")
SKIP_LOAD = os.environ.get("BENCH_SKIP_LOAD", "") not in ("", "0")
ROOT = Path(__file__).resolve().parent.parent

THEMES = [
    "equipement-et-alimentation--alimentation",
    "logement-hebergement--louer-un-logement",
    "numerique--acceder-a-des-services-en-ligne",
    "difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives",
    "sante--acces-aux-soins",
    "trouver-un-emploi--repondre-a-des-offres-demploi",
]


def dataset(communes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(42)
    structures, services = [], []
    for i in range(STRUCTURES):
        commune = rng.choice(communes)
        structures.append(
            {
                "source": "bench",
                "id": f"s{i}",
                "nom": f"Structure {i} de la commune {commune}",
                "date_maj": "2025-06-01",
                "telephone": f"02 99 {i // 100 % 100:02d} {i % 100:02d} 00",
                "courriel": f"accueil{i}@bench.example.org",
                "site_web": f"https://s{i}.bench.example.org",
                "code_insee": commune,
                "adresse": f"{i % 90 + 1} rue de la Mairie",
                "reseaux_porteurs": ["ccas-cias"],
                "horaires_accueil": "Mo-Fr 09:00-12:00,14:00-17:00",
            }
        )
        for j in range(SERVICES_PER_STRUCTURE):
            services.append(
                {
                    "source": "bench",
                    "id": f"s{i}-v{j}",
                    "structure_id": f"s{i}",
                    "nom": f"Service {j} de la structure {i}",
                    "description": "Accompagnement individuel et ateliers collectifs. " * 4,
                    "date_maj": "2025-06-01",
                    "type": "accompagnement",
                    "thematiques": [THEMES[(i + j) % len(THEMES)]],
                    "publics": ["tous-publics"],
                    "frais": "gratuit",
                    "zone_eligibilite": [commune, commune[:2]],
                    "modes_accueil": ["en-presentiel"],
                    "modes_mobilisation": ["telephoner"],
                    "mobilisable_par": ["professionnels"],
                    "telephone": f"02 99 {i // 100 % 100:02d} {i % 100:02d} {j % 100:02d}",
                    "horaires_accueil": "Tu,Th 14:00-17:00",
                }
            )
    return structures, services


# --------------------------------------------------------------------------- load loop


async def _worker(port: int, paths: list[str], stop: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    i = random.randrange(len(paths))
    try:
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{path}: {status!r}")
            latencies.append(time.perf_counter() - started)
            done += 1
    finally:
        writer.close()
    return done


async def load(port: int, paths: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    warm_stop = time.perf_counter() + 1.0
    await asyncio.gather(*(_worker(port, paths, warm_stop, []) for _ in range(CONNECTIONS)))
    started = time.perf_counter()
    stop = started + DURATION
    counts = await asyncio.gather(
        *(_worker(port, paths, stop, latencies) for _ in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": sum(counts) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


# --------------------------------------------------------------------------- bare floor

BARE_SOURCE = """
import sys
from litestar import Litestar, get
from litestar.response import Response
import uvicorn

one = b'{"x":"' + b"a" * max(int(sys.argv[2]) - 8, 0) + b'"}'
page = b'{"x":"' + b"a" * max(int(sys.argv[3]) - 8, 0) + b'"}'

@get("/one", sync_to_thread=False)
def read_one() -> Response[bytes]:
    return Response(one, media_type="application/json")

@get("/page", sync_to_thread=False)
def read_page() -> Response[bytes]:
    return Response(page, media_type="application/json")

uvicorn.run(Litestar([read_one, read_page]), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def main() -> None:
    asyncio.run(run())


async def run() -> None:
    from services import system
    from services.kernel.db import Database
    from services.kernel.reference import geography
    from services.kernel.settings import load_settings

    prefix = KEEP_PREFIX or f"bench{uuid.uuid4().hex[:6]}_"
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
        return
    processes: list[subprocess.Popen[bytes]] = []
    try:
        communes = sorted(
            c.code
            for c in geography().communes.values()
            if c.departement == "35" and c.type == "commune-actuelle"
        )
        structures, services = dataset(communes)
        db = Database(settings, "directory")
        async with db.session() as session:
            loaded = await session.scalar(sa.text("SELECT count(*) FROM services"))
        if loaded:
            print(f"reusing {prefix}directory ({loaded:,} services): import not measured")
        else:
            await _import(db, structures, services)
        if SKIP_LOAD:
            await db.dispose()
            return
        async with db.session() as session:
            ids = [
                str(i)
                for i in await session.scalars(
                    sa.select(sa.text("id")).select_from(sa.text("services")).limit(5000)
                )
            ]
        await db.dispose()

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": POSTGRES_URL,
            "DATABASE_SCHEMA_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
            "WORKER_ENABLED": "false",
        }
        env.pop("RELAIS_HOME", None)
        processes.append(
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "services.cli", "serve", "directory", "--port", str(port)],
                env=env,
                cwd=ROOT,
            )
        )
        wait_ready(port, "/readyz", timeout=60.0)
        one_paths = [f"/directory/v1/services/{i}" for i in ids]
        list_paths = [
            f"/directory/v1/services?thematique={t}&commune={c}&limit=20"
            for t in THEMES
            for c in communes[:20]
        ]
        size_one = await _size(port, one_paths[0])
        size_page = await _size(port, list_paths[0])

        bare_port = free_port()
        processes.append(
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-c", BARE_SOURCE, str(bare_port), str(size_one), str(size_page)],
                cwd=ROOT,
            )
        )
        wait_ready(bare_port, "/one", timeout=60.0)

        print(f"load: {CONNECTIONS} keep-alive connections, {DURATION:.0f} s per case", flush=True)
        results = {
            "GET by id": (await load(port, one_paths), await load(bare_port, ["/one"])),
            "filtered list": (await load(port, list_paths), await load(bare_port, ["/page"])),
        }
        for name, (real, bare) in results.items():
            body = size_one if name == "GET by id" else size_page
            print(
                f"{name} ({body} B): {real['rps']:,.0f} req/s p50 {real['p50']:.1f} ms "
                f"p99 {real['p99']:.1f} ms | bare {bare['rps']:,.0f} req/s p50 "
                f"{bare['p50']:.1f} ms p99 {bare['p99']:.1f} ms | ratio "
                f"{real['rps'] / bare['rps']:.0%}",
                flush=True,
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if not KEEP_PREFIX:
            await _drop_schema(prefix)


async def _drop_schema(prefix: str) -> None:
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{prefix}directory" CASCADE'))
    await engine.dispose()


async def _import(
    db: Any, structures: list[dict[str, Any]], services: list[dict[str, Any]]
) -> None:
    from services.directory.importer import import_datainclusion
    from services.directory.search import indexing

    # Split of the import's time: search indexing (IndexRefresh, fed chunk by chunk) and the
    # rest (parsing, validation, upserts, history, outbox).
    spent = {"indexing": 0.0}
    refresh = indexing.IndexRefresh
    originals = {
        name: getattr(refresh, name)
        for name in ("add_services", "add_documents", "add_structures", "finish")
    }

    def timed(original: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent["indexing"] += time.perf_counter() - started

        return wrapper

    for name, original in originals.items():
        setattr(refresh, name, timed(original))
    started = time.perf_counter()
    cpu = time.process_time()
    try:
        async with db.session() as session:
            report = await import_datainclusion(session, structures, services, actor="bench")
    finally:
        for name, original in originals.items():
            setattr(refresh, name, original)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    rows = len(structures) + len(services)
    rest = elapsed - spent["indexing"]
    print(
        f"import: {len(services):,} services + {len(structures):,} structures in "
        f"{elapsed:.1f} s → {len(services) / elapsed:,.0f} services/s "
        f"({rows / elapsed:,.0f} rows/s); created {report.created:,}, rejected "
        f"{report.rejected}\n"
        f"  split: search indexing {spent['indexing']:.1f} s, the rest (parse, validate, "
        f"upsert, history, outbox, commit) {rest:.1f} s → {len(services) / rest:,.0f} "
        f"services/s without indexing; this process's CPU {cpu:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    async with db.session() as session:
        again = await import_datainclusion(session, structures, services, actor="bench")
    elapsed = time.perf_counter() - started
    print(
        f"re-import (unchanged {again.unchanged:,}): {len(services) / elapsed:,.0f} services/s",
        flush=True,
    )


async def _size(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head[:80]!r}")
    return len(body)


if __name__ == "__main__":
    main()
