"""Statistics benchmark (PostgreSQL): ``GET /referrals/v1/stats`` at 100k referrals.

1. starts the whole system in this process on scratch schemas, creates a network through the
   directory's API (BENCH_STRUCTURES structures in five départements, three services each, six
   service types) and writes BENCH_REFERRALS referrals of the past year straight into the
   referrals tables (handoffs, their answers' events and thematiques included; a fifth of the
   handoffs without a service);
2. for each grouping, asks the endpoint (JSON, through the in-process ASGI transport: one
   request is all database and Python work, no HTTP server would change it) once with an empty
   directory cache, then BENCH_REPEAT times; and times its two parts alone in the same process:
   the counting queries and the secrecy (``domain.report``);
3. in the same run, the floor: the plain GROUP BY statements of the same answer, raw asyncpg —
   the referrals by group and by every table's category (the person's feedback included) in
   one statement, the thematiques (for the thematique grouping: which go together, and the
   overall row too, as the answer publishes it), the handoffs by state and decline reason, the
   three delays' median and 90th percentile by ``percentile_cont``/``percentile_disc`` — with
   no secrecy, no names and no JSON (the place of a département or service type is given to
   the floor for free; the last handoff is joined for the place groupings only);
4. prints the time of each and their ratio.

Run: ``.venv/bin/python -m bench stats`` (PostgreSQL at TEST_DATABASE_URL or the default
127.0.0.1:5432/test). The schemas are dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.kernel.reference.taxonomies import taxonomy
from services.referrals.domain import stats as domain
from services.referrals.stats.load import Query as LoadQuery
from services.referrals.stats.load import load
from services.referrals.stats.service import directory_facts
from tests.conftest import POSTGRES_URL, start_relais
from tests.tokens import TokenFactory, bearer

REFERRALS = int(os.environ.get("BENCH_REFERRALS", "100000"))
STRUCTURES = int(os.environ.get("BENCH_STRUCTURES", "100"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
GROUPINGS = ("none", "structure", "service", "territory", "service_type", "thematique")
COMMUNES = ("26362", "07186", "38185", "84007", "05061")
TYPES = (
    "accompagnement",
    "aide-financiere",
    "aide-materielle",
    "atelier",
    "formation",
    "information",
)
THEMATIQUES = tuple(sorted(taxonomy("thematiques").values)[::9][:12])
NOW = datetime.now(UTC)
SINCE = NOW - timedelta(days=365)


async def _network(client: Any, tokens: TokenFactory) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """Structures and their services through the directory's API: the places referrals go."""
    moderator = bearer(tokens.user(uuid.uuid4(), ("moderator",)))
    places: list[tuple[uuid.UUID, uuid.UUID | None]] = []
    for i in range(STRUCTURES):
        created = await client.post(
            "/directory/v1/structures",
            json={
                "name": f"Structure {i}",
                "status": "published",
                "accepts_referrals": True,
                "commune_code": COMMUNES[i % len(COMMUNES)],
            },
            headers=moderator,
        )
        assert created.status_code == 201, created.text
        structure = uuid.UUID(created.json()["id"])
        places.append((structure, None))
        for j in range(3):
            service = await client.post(
                "/directory/v1/services",
                json={
                    "structure_id": str(structure),
                    "name": f"Service {i}.{j}",
                    "status": "published",
                    "accepts_referrals": True,
                    "type": TYPES[(i + j) % len(TYPES)],
                    "thematiques": [THEMATIQUES[(i + j) % len(THEMATIQUES)]],
                },
                headers=moderator,
            )
            assert service.status_code == 201, service.text
            places.append((structure, uuid.UUID(service.json()["id"])))
    return places


def _rows(
    places: list[tuple[uuid.UUID, uuid.UUID | None]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Referrals of the past year with consistent states, answers and thematiques."""
    rnd = random.Random(7)
    weights = [rnd.paretovariate(1.5) if s else 1.0 for _, s in places]
    referrals: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    themes: list[dict[str, Any]] = []
    for _ in range(REFERRALS):
        rid = uuid.uuid4()
        created = SINCE + timedelta(seconds=rnd.uniform(3600, 365 * 86400 - 3600))
        status = rnd.choices(
            ["closed", "taken_over", "in_progress", "withdrawn"], [50, 15, 25, 10]
        )[0]
        count = rnd.choices([1, 2, 3], [70, 25, 5])[0]
        origin = rnd.choice(places)[0]
        weights_t = [1 / (k + 1) for k in range(len(THEMATIQUES))]
        chosen = sorted({*rnd.choices(THEMATIQUES, weights_t, k=rnd.choice([1, 1, 2]))})
        referrals.append(
            {
                "id": rid,
                "structure_id": origin,
                "created_by": "bench",
                "referent": "bench",
                "status": status,
                "thematiques": chosen,
                "urgency": "normal",
                "channel": rnd.choices(
                    ["walk_in", "phone", "email", "outreach", "partner"], [50, 30, 10, 5, 5]
                )[0],
                "age_band": rnd.choices(
                    ["under_18", "18_25", "26_44", "45_59", "60_74", "75_plus", "unknown"],
                    [2, 15, 35, 25, 12, 6, 5],
                )[0],
                "sex": rnd.choices(["female", "male", "other", "unknown"], [55, 40, 1, 4])[0],
                "consent_given_by": "person",
                "consent_method": "oral",
                "consent_captured_by": "bench",
                "consent_given_at": created,
                "consent_purpose": "banc",
                "consent_categories": ["identity"],
                "consent_recipients": [],
                "outcome": rnd.choices(
                    ["solution_found", "partial", "no_solution", "did_not_come"], [55, 20, 20, 5]
                )[0]
                if status == "closed"
                else None,
                "evaluation_score": rnd.choice([None, 1, 2, 3, 4, 4, 5, 5])
                if status == "closed"
                else None,
                "created_at": created,
                "updated_at": created,
            }
        )
        themes += [{"referral_id": rid, "thematique": t} for t in chosen]
        for position in range(1, count + 1):
            last = position == count
            structure, service = rnd.choices(places, weights)[0]
            state = (
                {"closed": "closed", "taken_over": "taken_over", "withdrawn": "cancelled"}.get(
                    status
                )
                or rnd.choice(["sent", "acknowledged", "accepted", "expired"])
                if last
                else rnd.choice(["declined", "relayed"])
            )
            hid = uuid.uuid4()
            sent = created + timedelta(hours=position)
            handoffs.append(
                {
                    "id": hid,
                    "referral_id": rid,
                    "position": position,
                    "from_structure_id": origin,
                    "to_structure_id": structure,
                    "to_service_id": service,
                    "to_structure_name": "S",
                    "to_service_name": "V" if service else None,
                    "state": state,
                    "respond_by": sent + timedelta(days=8),
                    "decline_reason": rnd.choice(["no_capacity", "out_of_scope", "other"])
                    if state == "declined"
                    else None,
                    "created_by": "bench",
                    "created_at": sent,
                    "updated_at": sent,
                }
            )
            reached = {
                "acknowledged": 1,
                "accepted": 2,
                "taken_over": 3,
                "closed": 3,
                "declined": 1,
            }
            for step, kind in enumerate(
                ("handoff.acknowledged", "handoff.accepted", "handoff.taken_over")[
                    : reached.get(state, 0)
                ]
            ):
                events.append(
                    {
                        "referral_id": rid,
                        "handoff_id": hid,
                        "type": kind,
                        "actor_kind": "user",
                        "actor_subject": "bench",
                        "structures": [],
                        "occurred_at": sent
                        + timedelta(hours=rnd.expovariate(1 / (8 * (step + 1)))),
                    }
                )
    return referrals, handoffs, events, themes


async def _write(
    conn: asyncpg.Connection, schema: str, rows: tuple[list[dict[str, Any]], ...]
) -> None:
    """COPY the rows in, the columns a row leaves out taking their default (or NULL)."""
    referrals, handoffs, events, themes = rows
    defaults = {"version": 1, "consent_further_partners": False, "onward_relay_allowed": False}
    for table, values in (
        ("referrals", referrals),
        ("handoffs", handoffs),
        ("events", events),
        ("referral_thematiques", themes),
    ):
        described = await conn.fetch(
            "SELECT column_name, data_type, is_nullable, column_default FROM"
            " information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            schema,
            table,
        )
        columns = [
            (c["column_name"], c["data_type"] in ("json", "jsonb"))
            for c in described
            if c["column_name"] in values[0]
            or c["column_name"] in defaults
            or (c["is_nullable"] == "NO" and c["column_default"] is None)
        ]
        if table == "events":
            values = [{"id": uuid.uuid4(), "data": {}, **v} for v in values]
        records = [
            tuple(
                json.dumps(v.get(name, defaults.get(name)))
                if is_json
                else v.get(name, defaults.get(name))
                for name, is_json in columns
            )
            for v in values
        ]
        await conn.copy_records_to_table(
            table, schema_name=schema, columns=[n for n, _ in columns], records=records
        )


FLOOR_GROUPS = {
    "none": ("NULL", "NULL"),
    "structure": ("l.to_structure_id", "h.to_structure_id"),
    "service": ("l.to_service_id", "h.to_service_id"),
    "territory": ("l.to_structure_id", "h.to_structure_id"),
    "service_type": ("l.to_service_id", "h.to_service_id"),
    "thematique": ("t.thematique", "t.thematique"),
}


async def _floor(conn: asyncpg.Connection, schema: str, grouping: str) -> float:
    """The plain GROUP BY statements that count the same answer (the thematique grouping also
    publishes the overall row, which counts each referral once whatever its thematiques)."""
    started = time.perf_counter()
    if grouping == "thematique":
        await _floor_statements(conn, schema, "none")
    await _floor_statements(conn, schema, grouping)
    return time.perf_counter() - started


async def _floor_statements(conn: asyncpg.Connection, schema: str, grouping: str) -> None:
    referral_group, handoff_group = FLOOR_GROUPS[grouping]
    themed = grouping == "thematique"
    placed = grouping not in ("none", "thematique")
    join_r = f"JOIN {schema}.referral_thematiques t ON t.referral_id = r.id" if themed else ""
    join_h = (
        f"JOIN {schema}.referral_thematiques t ON t.referral_id = h.referral_id" if themed else ""
    )
    # The receiving place of each referral's last handoff, for the place groupings only.
    join_last = (
        f"JOIN {schema}.handoffs l ON l.referral_id = r.id AND l.position = per.last"
        if placed
        else ""
    )
    window = "r.created_at >= $1 AND r.created_at < $2"
    chosen = f"h.referral_id IN (SELECT r.id FROM {schema}.referrals r WHERE {window})"
    per = f"""per AS (SELECT h.referral_id, count(*) n, max(h.position) last
                      FROM {schema}.handoffs h WHERE {chosen} GROUP BY h.referral_id)"""
    await conn.fetch(
        f"""WITH {per}
            SELECT {referral_group}, r.status, r.channel, r.age_band, r.sex, r.outcome,
                   r.evaluation_score, r.person_feedback, per.n, count(*)
            FROM {schema}.referrals r JOIN per ON per.referral_id = r.id {join_last} {join_r}
            WHERE {window} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9""",
        SINCE,
        NOW,
    )
    if themed:
        # Which thematiques go together: the thematique table of each thematique's row.
        await conn.fetch(
            f"""SELECT t.thematique, o.thematique, count(*)
                FROM {schema}.referral_thematiques t
                JOIN {schema}.referral_thematiques o ON o.referral_id = t.referral_id
                JOIN {schema}.referrals r ON r.id = t.referral_id
                WHERE {window} GROUP BY 1, 2""",
            SINCE,
            NOW,
        )
    else:
        await conn.fetch(
            f"""WITH {per}
                SELECT {referral_group}, t.thematique, count(*)
                FROM {schema}.referrals r JOIN per ON per.referral_id = r.id {join_last}
                JOIN {schema}.referral_thematiques t ON t.referral_id = r.id
                WHERE {window} GROUP BY 1, 2""",
            SINCE,
            NOW,
        )
    await conn.fetch(
        f"""SELECT {handoff_group}, h.state, h.decline_reason, count(*)
            FROM {schema}.handoffs h {join_h} WHERE {chosen} GROUP BY 1, 2, 3""",
        SINCE,
        NOW,
    )
    await conn.fetch(
        f"""SELECT {handoff_group}, e.type,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY e.at - h.created_at),
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY e.at - h.created_at)
            FROM (SELECT handoff_id, type, min(occurred_at) at FROM {schema}.events
                  WHERE type IN ('handoff.acknowledged', 'handoff.accepted', 'handoff.taken_over')
                  GROUP BY 1, 2) e
            JOIN {schema}.handoffs h ON h.id = e.handoff_id {join_h}
            WHERE {chosen} GROUP BY 1, 2""",
        SINCE,
        NOW,
    )


async def run() -> None:
    tokens = TokenFactory()
    home = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    relais, stack = await start_relais("postgresql", home, tokens)
    async with stack:
        began = time.perf_counter()
        places = await _network(relais.client, tokens)
        db = relais.app("referrals").state.db
        schema = relais.settings.schema_for("referrals")
        conn = await asyncpg.connect(POSTGRES_URL)
        await _write(conn, schema, _rows(places))
        await conn.execute(
            f"ANALYZE {schema}.referrals, {schema}.handoffs, {schema}.events, "
            f"{schema}.referral_thematiques"
        )
        print(
            f"{REFERRALS} referrals, {STRUCTURES} structures, {len(places) - STRUCTURES} services "
            f"written in {time.perf_counter() - began:.0f} s; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        moderator = bearer(tokens.user(uuid.uuid4(), ("moderator",)))
        params = {"since": SINCE.isoformat(), "until": NOW.isoformat()}
        print(
            f"{'group_by':<13} {'first':>7} {'p50':>7} {'counts':>7} {'secrecy':>8} "
            f"{'floor':>7} {'ratio':>6}"
        )
        for grouping in GROUPINGS:
            times = []
            for _ in range(REPEAT + 1):
                started = time.perf_counter()
                response = await relais.client.get(
                    "/referrals/v1/stats",
                    params={**params, "group_by": grouping},
                    headers=moderator,
                )
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            async with db.session() as session:
                started = time.perf_counter()
                counts = await load(
                    session,
                    LoadQuery(
                        since=SINCE,
                        until=NOW,
                        structure_id=None,
                        by_place=grouping not in ("none", "thematique"),
                        by_thematique=grouping == "thematique",
                        age_bands=relais.settings.age_bands,
                    ),
                )
                counting = time.perf_counter() - started
            facts = None
            if grouping not in ("none", "thematique"):
                _, facts = await directory_facts(relais.app("referrals").state.locator, counts)
            started = time.perf_counter()
            domain.report(
                counts,
                relais.settings.stats_min_cell,
                grouping,
                age_bands=relais.settings.age_bands,
                directory=facts,
            )
            secrecy = time.perf_counter() - started
            floors = [await _floor(conn, schema, grouping) for _ in range(REPEAT)]
            p50, floor = statistics.median(times[1:]), statistics.median(floors)
            print(
                f"{grouping:<13} {times[0] * 1000:>6.0f}ms {p50 * 1000:>5.0f}ms "
                f"{counting * 1000:>5.0f}ms {secrecy * 1000:>6.0f}ms "
                f"{floor * 1000:>5.0f}ms {p50 / floor:>5.1f}x",
                flush=True,
            )
        await conn.close()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")


def main() -> None:
    asyncio.run(run())
