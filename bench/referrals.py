"""Referrals benchmark (PostgreSQL): full lifecycles per second through the real HTTP server.

1. migrates a scratch set of schemas and runs ``relais serve referrals directory --workers N``
   (uvicorn, BENCH_WORKERS processes, default one per core) on a localhost port;
2. drives it with a bounded number of full lifecycles — create (with the directory check) →
   acknowledge → accept → take over → close, each with If-Match — from several concurrent
   keep-alive connections of a minimal HTTP/1.1 client (bench/client.py: httpx would eat the
   CPU the server needs), and records the latency of every transition;
3. in the same run, replays the same number of lifecycles as raw SQL on a scratch table
   (1 INSERT + 4 conditional UPDATEs per lifecycle, one transaction each, same concurrency):
   the floor that the database alone allows;
4. in the same run, sends the statements the server's store sends for as many lifecycles, by
   raw asyncpg with no HTTP and no framework (the server's own statements);
5. in the same run, serves a bare Litestar POST handler answering a constant body of the same
   mean size with the same workers and drives it with the same client: the floor that Python,
   uvicorn and Litestar allow on this machine (lifecycles/s can never exceed it / 5);
6. prints lifecycles/s, p50/p99 per transition, and the ratios to the three baselines.

Run: ``.venv/bin/python -m bench referrals`` (PostgreSQL at TEST_DATABASE_URL or the default
127.0.0.1:5432/test). Bounded: BENCH_LIFECYCLES (default 400) and BENCH_MAX_SECONDS (default 60)
for the HTTP phase; the schemas it creates are dropped. BENCH_IDEMPOTENCY=1 sends an
Idempotency-Key with every POST, as a careful client does (one more lookup per request).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import sqlalchemy as sa

from bench.client import Connection, Reply
from bench.common import backend_cpu, cpu_seconds, cpu_since, free_port, process_tree, quantile
from services import system
from services.kernel.db import JSONType, application_name
from services.kernel.outbox import outbox_row
from services.kernel.settings import load_settings
from services.referrals.domain.records import (
    AccessRecord,
    EventRecord,
    HandoffRecord,
    ReferralRecord,
)
from services.referrals.models import ACCESS_LOG, EVENTS, HANDOFFS, OUTBOX, REFERRALS, THEMATIQUES
from tests.tokens import ISSUER, TokenFactory, bearer

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
LIFECYCLES = int(os.environ.get("BENCH_LIFECYCLES", "400"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "60"))
IDEMPOTENCY = os.environ.get("BENCH_IDEMPOTENCY", "") == "1"
# Server processes (uvicorn workers): one per core, as deployed.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
ROOT = Path(__file__).resolve().parent.parent
THEMATIQUE = "logement-hebergement--se-maintenir-dans-le-logement"
STEPS = ("create", "acknowledge", "accept", "take_over", "close")


def _body(target: uuid.UUID, i: int) -> dict[str, Any]:
    return {
        "person": {"first_name": "Personne", "last_name": f"Banc-{i}", "birth_year": 1980},
        "need": {
            "thematiques": [THEMATIQUE],
            "summary": "Situation décrite pour le banc d'essai.",
            "channel": "walk_in",
        },
        "consent": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Banc d'essai",
            "data_categories": ["identity", "contact", "situation"],
            "recipients": [str(target)],
        },
        "target": {"structure_id": str(target)},
    }


async def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):  # two minutes: a loaded machine starts the workers slowly
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            conn = await Connection.open(port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        await conn.close()
        return
    raise RuntimeError("the server did not start")


async def _http_phase(
    port: int, tokens: TokenFactory, pids: list[int], applications: str
) -> tuple[float, int, dict[str, list[float]], tuple[float, float], int]:
    """Full lifecycles through HTTP: elapsed, count, latencies per step, CPU seconds of the
    server's processes and of their PostgreSQL backends (``applications``: the prefix of their
    ``application_name``), mean body size."""
    moderator = bearer(tokens.user(uuid.uuid4(), ("moderator",)))
    setup = await Connection.open(port)
    orgs = []
    for name in ("CCAS du banc", "Partenaire du banc"):
        reply = await setup.request(
            "POST",
            "/directory/v1/structures",
            {**moderator, "Content-Type": "application/json"},
            msgspec.json.encode({"name": name, "status": "published", "accepts_referrals": True}),
        )
        if reply.status != 201:
            raise RuntimeError(f"structure: {reply.status} {reply.body[:200]!r}")
        orgs.append(uuid.UUID(reply.json()["id"]))
    await setup.close()
    sender, receiver = orgs
    sender_h = {**bearer(tokens.user(sender, ("member",))), "Content-Type": "application/json"}
    receiver_h = bearer(tokens.user(receiver, ("member",)))
    latencies: dict[str, list[float]] = {step: [] for step in STEPS}
    close_body = msgspec.json.encode({"outcome": "solution_found"})
    sizes: list[int] = []

    async def timed(
        conn: Connection, step: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Reply:
        if IDEMPOTENCY:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        reply = await conn.request("POST", path, headers, body)
        latencies[step].append(time.perf_counter() - started)
        sizes.append(len(reply.body))
        if reply.status >= 300:
            raise RuntimeError(f"{step}: {reply.status} {reply.body[:200]!r}")
        return reply

    async def lifecycle(conn: Connection, i: int) -> None:
        created = (
            await timed(
                conn,
                "create",
                "/referrals/v1/referrals",
                sender_h,
                msgspec.json.encode(_body(receiver, i)),
            )
        ).json()
        rid, handoff = created["id"], created["handoffs"][0]["id"]
        etag = '"1"'
        for step, action in (
            ("acknowledge", "acknowledge"),
            ("accept", "accept"),
            ("take_over", "take-over"),
        ):
            reply = await timed(
                conn,
                step,
                f"/referrals/v1/referrals/{rid}/handoffs/{handoff}/{action}",
                {**receiver_h, "If-Match": etag},
            )
            etag = reply.headers["etag"]
        await timed(conn, "close", f"/referrals/v1/referrals/{rid}/close", sender_h, close_body)

    connections = [await Connection.open(port) for _ in range(CONCURRENCY)]
    # Warm-up (connections, caches, every worker process), not measured.
    await asyncio.gather(*(lifecycle(conn, -i) for i, conn in enumerate(connections, 1)))
    for values in latencies.values():
        values.clear()

    counter = iter(range(LIFECYCLES))
    done = 0
    deadline = time.monotonic() + MAX_SECONDS

    async def worker(conn: Connection) -> None:
        nonlocal done
        for i in counter:
            if time.monotonic() > deadline:
                return
            await lifecycle(conn, i)
            done += 1

    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    db_before = await backend_cpu(POSTGRES_URL, applications)
    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in connections))
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    db_cpu = cpu_since(db_before, await backend_cpu(POSTGRES_URL, applications))
    for conn in connections:
        await conn.close()
    return elapsed, done, latencies, (cpu, db_cpu), round(statistics.fmean(sizes))


BARE_APP = """
import os
from litestar import Litestar, post
from litestar.response import Response

BODY = b'{"x":"' + b"a" * max(int(os.environ["BENCH_BARE_SIZE"]) - 8, 0) + b'"}'

@post("/bare", sync_to_thread=False)
def bare() -> Response[bytes]:
    return Response(BODY, media_type="application/json", status_code=201)

app = Litestar([bare])
"""


async def _bare_floor(size: int, requests: int, home: Path) -> float:
    """Requests/s of a bare Litestar POST handler answering a constant body of ``size`` bytes,
    served and driven exactly like the real server (uvicorn, same workers, client, concurrency)."""
    port = free_port()
    (home / "bare_app.py").write_text(BARE_APP)
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        [
            sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(home),
            "--port", str(port), "--workers", str(WORKERS), "--log-level", "warning",
            "--no-access-log",
        ],
        env={**os.environ, "BENCH_BARE_SIZE": str(size)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _wait_port(port, process)
        connections = [await Connection.open(port) for _ in range(CONCURRENCY)]
        headers = {"Content-Type": "application/json"}

        async def worker(conn: Connection, count: int) -> None:
            for _ in range(count):
                reply = await conn.request("POST", "/bare", headers, b"{}")
                if reply.status != 201:
                    raise RuntimeError(f"bare: {reply.status}")

        await asyncio.gather(*(worker(conn, 20) for conn in connections))  # warm-up
        per_connection = max(requests // CONCURRENCY, 1)
        started = time.perf_counter()
        await asyncio.gather(*(worker(conn, per_connection) for conn in connections))
        elapsed = time.perf_counter() - started
        for conn in connections:
            await conn.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    return per_connection * CONCURRENCY / elapsed


async def _baseline(schema: str, lifecycles: int) -> tuple[float, list[float]]:
    """The same number of lifecycles as raw statements: 1 INSERT + 4 conditional UPDATEs."""
    pool = await asyncpg.create_pool(
        POSTGRES_URL, min_size=CONCURRENCY, max_size=CONCURRENCY,
        server_settings={"search_path": schema},
    )  # fmt: skip
    assert pool is not None
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE bench_baseline (id uuid PRIMARY KEY, state text NOT NULL, "
            "version int NOT NULL, payload text, updated_at timestamptz NOT NULL DEFAULT now())"
        )
    latencies: list[float] = []
    counter = iter(range(lifecycles))

    async def worker() -> None:
        for _ in counter:
            rid = uuid.uuid4()
            async with pool.acquire() as conn:
                started = time.perf_counter()
                await conn.execute(
                    "INSERT INTO bench_baseline (id, state, version, payload) "
                    "VALUES ($1, 'sent', 1, $2)",
                    rid,
                    "x" * 400,
                )
                latencies.append(time.perf_counter() - started)
                for version, state in enumerate(
                    ("acknowledged", "accepted", "taken_over", "closed"), 1
                ):
                    started = time.perf_counter()
                    await conn.execute(
                        "UPDATE bench_baseline SET state = $1, version = version + 1, "
                        "updated_at = now() WHERE id = $2 AND version = $3",
                        state,
                        rid,
                        version,
                    )
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed, latencies


def _insert(table: sa.Table, columns: list[str], rows: int) -> str:
    """``INSERT … VALUES (…), (…)`` of ``rows`` rows, as SQLAlchemy sends a Core executemany."""
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(f"${r * width + i + 1}" for i in range(width)) + ")" for r in range(rows)
    )
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table.name} ({names}) VALUES {values}"


def _args(table: sa.Table, rows: list[dict[str, Any]]) -> list[Any]:
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSONType)}
    return [
        msgspec.json.encode(row[name]).decode() if name in json_columns else row[name]
        for row in rows
        for name in row
    ]


class _Statements:
    """The statements ``store.py`` sends for one lifecycle, as SQL for raw asyncpg."""

    def __init__(self) -> None:
        referral_columns = [f.name for f in dataclasses.fields(ReferralRecord)]
        handoff_columns = [f.name for f in dataclasses.fields(HandoffRecord)]
        self.event_columns = [f.name for f in dataclasses.fields(EventRecord)]
        self.outbox_columns = [c.name for c in OUTBOX.columns]
        self.access_columns = [f.name for f in dataclasses.fields(AccessRecord)]
        self.referral_columns, self.handoff_columns = referral_columns, handoff_columns
        self.insert_referral = _insert(REFERRALS, referral_columns, 1)
        self.insert_thematique = _insert(THEMATIQUES, ["referral_id", "thematique"], 1)
        self.insert_handoff = _insert(HANDOFFS, handoff_columns, 1)
        self.insert_access = _insert(ACCESS_LOG, self.access_columns, 1)
        self.take = "UPDATE referrals SET version = referrals.version WHERE referrals.id = $1"
        self.load = (
            "SELECT "
            + ", ".join(f"referrals.{c}" for c in referral_columns)
            + ", "
            + ", ".join(f"handoffs.{c}" for c in handoff_columns)
            + " FROM referrals LEFT OUTER JOIN handoffs ON handoffs.referral_id = referrals.id"
            " WHERE referrals.id = $1 ORDER BY handoffs.position"
        )

    def events(self, count: int) -> str:
        return _insert(EVENTS, self.event_columns, count)

    def outbox(self, count: int) -> str:
        return _insert(OUTBOX, self.outbox_columns, count)


def _event(rid: uuid.UUID, hid: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "referral_id": rid, "handoff_id": hid, "type": "handoff.x",
        "actor_kind": "user", "actor_subject": "u", "actor_structure_id": uuid.uuid4(),
        "from_state": "sent", "to_state": "acknowledged", "reason": None, "comment_enc": None,
        "structures": [str(uuid.uuid4()), str(uuid.uuid4())], "data": {}, "occurred_at": now,
    }  # fmt: skip


def _access(rid: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "referral_id": rid, "actor_kind": "user", "actor_subject": "u",
        "structure_id": uuid.uuid4(), "resource": "referral",
        "categories": ["contact", "identity", "situation"], "at": now,
    }  # fmt: skip


async def _write_events(
    conn: Any, sql: _Statements, rid: uuid.UUID, hid: uuid.UUID, now: datetime, count: int
) -> None:
    events = [_event(rid, hid, now) for _ in range(count)]
    outbox = [outbox_row("referrals.handoff.x", rid, {"x": "y" * 400}) for _ in range(count)]
    await conn.execute(sql.events(count), *_args(EVENTS, events))
    await conn.execute(sql.outbox(count), *_args(OUTBOX, outbox))


def _check_columns(row: dict[str, Any], columns: list[str]) -> None:
    """The floor writes the store's columns: a renamed one must be renamed here too."""
    unknown = sorted(set(row) - set(columns))
    if unknown:
        raise RuntimeError(f"design floor: not columns of the store any more: {unknown}")


async def _design_floor(schema: str, lifecycles: int) -> float:
    """Lifecycles/s of the server's own statements without the server: per lifecycle, the
    creation (one transaction: the referral, its thematique, the first handoff, two events and
    their outbox messages, the access log), then for each of acknowledge, accept, take over,
    close one transaction of the store's write path (take the referral, load it, the version
    compare-and-set, the handoff update, the event(s) and outbox message(s); the access log on
    close) — the statements ``store.py`` sends, by raw asyncpg at the same concurrency."""
    pool = await asyncpg.create_pool(
        POSTGRES_URL, min_size=CONCURRENCY, max_size=CONCURRENCY,
        server_settings={"search_path": schema},
    )  # fmt: skip
    assert pool is not None
    sql = _Statements()
    counter = iter(range(lifecycles))

    async def worker() -> None:
        for _ in counter:
            async with pool.acquire() as conn:
                now = datetime.now(UTC)
                rid, hid, sender, receiver = (uuid.uuid4() for _ in range(4))
                referral = dict.fromkeys(sql.referral_columns)
                referral.update(
                    id=rid, structure_id=sender, created_by="u", referent_subject="u",
                    status="in_progress", version=1, thematiques=[THEMATIQUE], urgency="normal",
                    channel="walk_in", age_band="unknown", sex="unknown", person_enc="p" * 160,
                    summary_enc="s" * 110, consent_given_by="person", consent_method="oral",
                    consent_captured_by="u", consent_given_at=now, consent_purpose_enc="c" * 90,
                    consent_categories=["contact", "identity", "situation"],
                    consent_recipients=[str(receiver)], consent_further_partners=False,
                    onward_relay_allowed=False, created_at=now, updated_at=now,
                )  # fmt: skip
                _check_columns(referral, sql.referral_columns)
                handoff = dict.fromkeys(sql.handoff_columns)
                handoff.update(
                    id=hid, referral_id=rid, position=1, from_structure_id=sender,
                    to_structure_id=receiver, to_structure_name="Partenaire du banc",
                    state="sent", version=1, respond_by=now, created_by="u", created_at=now,
                    updated_at=now,
                )  # fmt: skip
                _check_columns(handoff, sql.handoff_columns)
                async with conn.transaction():
                    await conn.execute(sql.insert_referral, *_args(REFERRALS, [referral]))
                    await conn.execute(sql.insert_thematique, rid, THEMATIQUE)
                    await conn.execute(sql.insert_handoff, *_args(HANDOFFS, [handoff]))
                    await _write_events(conn, sql, rid, hid, now, 2)
                    await conn.execute(sql.insert_access, *_args(ACCESS_LOG, [_access(rid, now)]))
                for version, state in enumerate(
                    ("acknowledged", "accepted", "taken_over", "closed"), 1
                ):
                    async with conn.transaction():
                        await conn.execute(sql.take, rid)
                        await conn.fetch(sql.load, rid)
                        # The sender's close is its part: the referral stays taken over.
                        status = (
                            "taken_over" if state in ("taken_over", "closed") else "in_progress"
                        )
                        moved = await conn.execute(
                            "UPDATE referrals SET version=$1, status=$2, updated_at=$3 "
                            "WHERE referrals.id = $4 AND referrals.version = $5",
                            version + 1, status, now, rid, version,
                        )  # fmt: skip
                        if moved != "UPDATE 1":
                            raise RuntimeError("design floor: compare-and-set failed")
                        await conn.execute(
                            "UPDATE handoffs SET state=$1, version=$2, updated_at=$3 "
                            "WHERE handoffs.id = $4 AND handoffs.version = $5",
                            state, version + 1, now, hid, version,
                        )  # fmt: skip
                        closing = state == "closed"
                        await _write_events(conn, sql, rid, hid, now, 2 if closing else 1)
                        if closing:
                            await conn.execute(
                                sql.insert_access, *_args(ACCESS_LOG, [_access(rid, now)])
                            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return lifecycles / elapsed


async def _drop(prefix: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        for name in system.SERVICE_NAMES:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE')
    finally:
        await conn.close()


async def run() -> None:
    tokens = TokenFactory()
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": POSTGRES_URL,
        "DATABASE_SCHEMA_PREFIX": prefix,
        "DATABASE_POOL_SIZE": str(CONCURRENCY),
        "JWT_JWKS": tokens.jwks,
        # The issuer the test tokens carry (the default follows the port being served).
        "JWT_ISSUER": ISSUER,
        "LOG_LEVEL": "WARNING",
        "WORKER_ENABLED": "false",
        "RELAIS_HOME": str(home),
        "REFERRALS_ENCRYPTION_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
    }
    settings = load_settings(environ=env)
    await system.migrate(settings)
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "referrals",
            "directory",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_port(port, process)
        elapsed, done, latencies, (cpu, db_cpu), size = await _http_phase(
            port, tokens, process_tree(process.pid), application_name(prefix)
        )
        base_elapsed, base_latencies = await _baseline(f"{prefix}referrals", done)
        floor_rate = await _design_floor(f"{prefix}referrals", done)
        bare_rate = await _bare_floor(size, done * 5, home)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        await _drop(prefix)

    rate = done / elapsed
    base_rate = done / base_elapsed
    base_p99 = quantile(base_latencies, 0.99)
    keys = ", an Idempotency-Key on each" if IDEMPOTENCY else ""
    print(f"lifecycles: {done} (5 HTTP requests each{keys}), concurrency {CONCURRENCY}")
    print(f"HTTP full lifecycles/s: {rate:8.1f}   ({done * 5 / elapsed:.0f} requests/s)")
    print(f"raw SQL lifecycles/s:   {base_rate:8.1f}   (1 INSERT + 4 UPDATE each)")
    print(f"ratio HTTP / raw:       {rate / base_rate:8.3f}")
    print(
        f"server's statements:    {floor_rate:8.1f}   (same reads and writes as the server, raw "
        f"asyncpg, no HTTP) -> ratio HTTP / them {rate / floor_rate:.3f}"
    )
    print(
        f"bare Litestar floor:    {bare_rate / 5:8.1f}   ({bare_rate:.0f} POST requests/s of "
        f"{size} bytes, same workers and client) -> ratio HTTP / bare {rate * 5 / bare_rate:.3f}"
    )
    print(
        f"server CPU per request: {cpu / (done * 5) * 1000:.1f} ms over {WORKERS} worker "
        f"process(es) (busy {cpu / elapsed * 100:.0f} % of one core; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"PostgreSQL CPU per request: {db_cpu / (done * 5) * 1000:.1f} ms (its backends serving "
        f"the server; busy {db_cpu / elapsed * 100:.0f} % of one core)"
    )
    base_p50 = quantile(base_latencies, 0.5)
    print(f"raw statement p50/p99:  {base_p50 * 1000:.2f} / {base_p99 * 1000:.2f} ms")
    for step in STEPS:
        values = latencies[step]
        p50, p99 = quantile(values, 0.5), quantile(values, 0.99)
        print(
            f"  {step:<12} p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   "
            f"p99/p50 {p99 / p50:4.1f} (target <= 3)   p99 ratio to raw statement "
            f"{p99 / base_p99:6.1f}"
        )
    mean = statistics.fmean(v for values in latencies.values() for v in values)
    print(f"mean transition latency {mean * 1000:.2f} ms")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
