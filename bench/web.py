"""Web app benchmark: the annuaire's search page and a fiche service page, against the API calls
each page wraps, timed in the same run.

1. starts `relais serve` (one process, every service, the web app at /) on a temporary
   RELAIS_HOME with the demo territory (SQLite), on BENCH_WEB_PORT (a free port if unset);
2. the search page ``/annuaire?q=aide+alimentaire&commune=26000&rayon=20`` and its floor: the
   two directory calls the page makes, straight to the API (``/directory/v1/communes/26000``,
   then ``/directory/v1/search/services`` with the same query and page size), JSON decoded and
   nothing rendered;
3. a fiche service page ``/services/{id}`` (a service with itinerant sessions, so all three
   calls are made) and its floor: the service, its structure and the structure's places;
4. each request BENCH_REPEAT times after a warm-up, page and floor interleaved so both share the
   machine's noise, over one keep-alive connection each (bench/client.py: a client that costs
   next to nothing, so the figures are the server's); prints median and p90 of each and the
   ratio of medians (the goal: a page at most 1.5× the calls it wraps).

BENCH_WEB_SERVICES (default 0: the demo territory alone) adds that many generated services
(bench/search.py's generator: the demo's distributions, communes all over France by population)
to the SQLite directory before the server starts; ``BENCH_WEB_SERVICES=100000`` is the 100k size.

Anonymous visitor (both pages are public, like the API they wrap). Run: ``.venv/bin/python -m
bench web``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import msgspec

from bench.client import Connection
from bench.common import free_port, quantile
from tests.web.screenshots import serve_demo

REPEAT = int(os.environ.get("BENCH_REPEAT", "200"))
PORT = int(os.environ.get("BENCH_WEB_PORT", "0")) or free_port()
WARMUP = 20
SEARCH_PAGE = "/annuaire?" + urlencode({"q": "aide alimentaire", "commune": "26000", "rayon": "20"})
PAGE_SIZE = 20  # the annuaire's page size (services/web/features/annuaire/routes.py)
SERVICES = int(os.environ.get("BENCH_WEB_SERVICES", "0"))


def _add_services(home: Path) -> None:
    """SERVICES generated services more in the directory (after the demo's)."""
    from bench.search import corpus, generate, load_sqlite
    from services.kernel.db import Database
    from services.kernel.settings import load_settings

    async def load() -> None:
        settings = load_settings(environ={}, home=home, log_level="WARNING", worker_enabled=False)
        db = Database(settings, "directory")
        try:
            started = time.perf_counter()
            await load_sqlite(db, generate(corpus(), SERVICES, seed=7, first_doc_id=10_000_000))
            print(f"{SERVICES:,} services added in {time.perf_counter() - started:.0f} s")
        finally:
            await db.dispose()

    asyncio.run(load())


def _service_with_sessions(folder: Path) -> tuple[str, str]:
    """A published service that has itinerant sessions: (service id, structure id)."""
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        row = db.execute(
            "SELECT v.id, v.structure_id FROM services v WHERE v.status = 'published' AND "
            "EXISTS (SELECT 1 FROM service_sessions s WHERE s.service_id = v.id) "
            "ORDER BY v.name LIMIT 1"
        ).fetchone()
        if row is None:
            row = db.execute(
                "SELECT id, structure_id FROM services WHERE status = 'published' LIMIT 1"
            ).fetchone()
    finally:
        db.close()
    return str(uuid.UUID(str(row[0]))), str(uuid.UUID(str(row[1])))


async def _get(conn: Connection, path: str, *, html: bool = False) -> bytes:
    accept = "text/html" if html else "application/json"
    reply = await conn.request("GET", path, {"Accept": accept})
    if reply.status != 200:
        raise RuntimeError(f"GET {path}: {reply.status} {reply.body[:200]!r}")
    return reply.body


async def _time(
    runs: dict[str, Callable[[], Awaitable[None]]], repeat: int
) -> dict[str, list[float]]:
    for _ in range(WARMUP):
        for run in runs.values():
            await run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            await run()
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def _report(title: str, page: list[float], floor: list[float]) -> None:
    median_page, median_floor = quantile(page, 0.5), quantile(floor, 0.5)
    print(
        f"{title}: page median {median_page:.2f} ms (p90 {quantile(page, 0.9):.2f}), "
        f"API calls median {median_floor:.2f} ms (p90 {quantile(floor, 0.9):.2f}) "
        f"-> ratio {median_page / median_floor:.2f}x (goal <= 1.5x)",
        flush=True,
    )


async def _measure(folder: Path) -> None:
    page_conn = await Connection.open(PORT)
    api_conn = await Connection.open(PORT)
    directory = "/directory/v1"
    try:
        communes = msgspec.json.decode(await _get(api_conn, f"{directory}/communes/26000"))
        code = communes[0]["code"]
        search = f"{directory}/search/services?" + urlencode(
            {"q": "aide alimentaire", "commune": code, "radius_km": 20, "limit": PAGE_SIZE}
        )
        hits = msgspec.json.decode(await _get(api_conn, search))
        assert hits["items"], "the demo search found nothing"

        async def search_page() -> None:
            await _get(page_conn, SEARCH_PAGE, html=True)

        async def search_floor() -> None:
            msgspec.json.decode(await _get(api_conn, f"{directory}/communes/26000"))
            msgspec.json.decode(await _get(api_conn, search))

        service_id, structure_id = _service_with_sessions(folder)
        places = f"{directory}/places?" + urlencode(
            {"structure_id": structure_id, "status": "published", "limit": 200}
        )

        async def fiche_page() -> None:
            await _get(page_conn, f"/services/{service_id}", html=True)

        async def fiche_floor() -> None:
            msgspec.json.decode(await _get(api_conn, f"{directory}/services/{service_id}"))
            msgspec.json.decode(await _get(api_conn, f"{directory}/structures/{structure_id}"))
            msgspec.json.decode(await _get(api_conn, places))

        size = f"demo territory + {SERVICES:,} services" if SERVICES else "demo territory"
        print(f"{size}, {REPEAT} requests each, one keep-alive connection each", flush=True)
        times = await _time({"page": search_page, "floor": search_floor}, REPEAT)
        _report("annuaire search", times["page"], times["floor"])
        times = await _time({"page": fiche_page, "floor": fiche_floor}, REPEAT)
        _report("fiche service  ", times["page"], times["floor"])
    finally:
        await page_conn.close()
        await api_conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="relais-bench-web-") as home:
        folder = Path(home)
        process = serve_demo(folder, PORT, _add_services if SERVICES else None)
        try:
            asyncio.run(_measure(folder))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
