"""Statistics: a fixed scenario with hand-computed numbers, statistical secrecy (small cells and
their complements), CSV export, and who may read what."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.referrals import models as m
from services.referrals import worker
from tests.conftest import BACKENDS, start_relais
from tests.referrals.conftest import (
    Org,
    World,
    act,
    close_both_parts,
    create_referral,
    referral_body,
)
from tests.tokens import TokenFactory, bearer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Scenario:
    world: World
    ccas: Org
    p1: Org
    p2: Org
    since: datetime


def need(channel: str, sex: str, age_band: str) -> dict[str, Any]:
    return {
        "thematiques": ["logement-hebergement--se-maintenir-dans-le-logement"],
        "urgency": "normal",
        "channel": channel,
        "age_band": age_band,
        "sex": sex,
    }


async def _set_times(world: World, handoff_id: str, delays: dict[str, float]) -> None:
    """Pin a handoff's sending time to T0 and each answer to T0 + hours (for exact delays)."""
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Handoff).where(m.Handoff.id == uuid.UUID(handoff_id)).values(created_at=T0)
        )
        for kind, hours in delays.items():
            await session.execute(
                sa.update(m.TimelineEvent)
                .where(
                    m.TimelineEvent.handoff_id == uuid.UUID(handoff_id),
                    m.TimelineEvent.type == kind,
                )
                .values(occurred_at=T0 + timedelta(hours=hours))
            )


@pytest.fixture(scope="module", params=BACKENDS)
async def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[Scenario]:
    home = tmp_path_factory.mktemp(f"stats-{request.param}")
    system, stack = await start_relais(request.param, home, tokens)
    async with stack:
        world = World(system)
        since = datetime.now(UTC) - timedelta(minutes=1)
        ccas, p1, p2 = await world.org("CCAS"), await world.org("P1"), await world.org("P2")
        # 14 referrals. Channels: walk-in 8, phone 4, e-mail 2. Sex: female 10, male 4.
        # Age: 26-44 10, 45-59 4.
        profiles = (
            [("walk_in", "female", "26_44")] * 8
            + [("phone", "male", "26_44")] * 2
            + [("phone", "male", "45_59")] * 2
            + [("email", "female", "45_59")] * 2
        )
        assert len(profiles) == 14
        created = [
            await create_referral(world, ccas, p1 if i < 9 else p2, need=need(*profile))
            for i, profile in enumerate(profiles)
        ]
        # R1-R6 (P1): acknowledged after i h, accepted after 10·i h, taken over after 48 h,
        # closed: 5 "solution found", 1 "no solution".
        for i, referral in enumerate(created[:6], start=1):
            handoff = referral["handoffs"][0]
            for action in ("acknowledge", "accept", "take-over"):
                handoff = await act(world, p1.member, referral["id"], handoff, action)
            outcome = "solution_found" if i <= 5 else "no_solution"
            await close_both_parts(
                world, referral["id"], ccas.member, p1.member, {"outcome": outcome}
            )
            await _set_times(
                world,
                handoff["id"],
                {
                    "handoff.acknowledged": i,
                    "handoff.accepted": 10 * i,
                    "handoff.taken_over": 48,
                },
            )
        # R7-R9: P1 declines (no capacity ×2, out of scope ×1); re-oriented to P2, which
        # accepts after 5 h and takes over after 48 h.
        for i, referral in enumerate(created[6:9]):
            reason = "out_of_scope" if i == 2 else "no_capacity"
            await act(
                world,
                p1.member,
                referral["id"],
                referral["handoffs"][0],
                "decline",
                {"reason": reason, "comment": "Pas de place ce mois-ci"},
            )
            again = await world.client.post(
                f"/referrals/v1/referrals/{referral['id']}/handoffs",
                json={"target": {"structure_id": str(p2.id)}},
                headers=ccas.member,
            )
            assert again.status_code == 201, again.text
            handoff = again.json()
            handoff = await act(world, p2.member, referral["id"], handoff, "accept")
            await act(world, p2.member, referral["id"], handoff, "take-over")
            await _set_times(
                world, handoff["id"], {"handoff.accepted": 5, "handoff.taken_over": 48}
            )
        # R10-R12 (P2): still waiting. R13-R14 (P2): expired.
        async with world.app().state.db.session() as session:
            await session.execute(
                sa.update(m.Handoff)
                .where(m.Handoff.id.in_([uuid.UUID(r["handoffs"][0]["id"]) for r in created[12:]]))
                .values(respond_by=datetime.now(UTC) - timedelta(hours=1))
            )
        assert await worker.expire_handoffs(world.app()) == 2
        yield Scenario(world, ccas, p1, p2, since)


def moderator(world: World) -> dict[str, str]:
    return bearer(world.relais.tokens.user(uuid.uuid4(), ("moderator",)))


async def stats(sc: Scenario, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    query = {"since": sc.since.isoformat(), **params}
    response = await sc.world.client.get("/referrals/v1/stats", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def table(body: dict[str, Any], name: str, group: str = "*") -> dict[str, Any]:
    """One row of a table, without its label."""
    found = next(t for t in body["tables"] if t["name"] == name)
    row: dict[str, Any] = next(r for r in found["rows"] if r["group"] == group)
    return {"group": row["group"], "cells": row["cells"], "total": row["total"]}


def pick(body: dict[str, Any], kind: str, name: str, group: str = "*") -> dict[str, Any]:
    item: dict[str, Any] = next(x for x in body[kind] if x["name"] == name and x["group"] == group)
    return item


async def test_network_numbers_match_the_hand_computed_scenario(scenario: Scenario) -> None:
    body = await stats(scenario, moderator(scenario.world))
    assert body["scope"] == "network"
    assert body["min_cell"] == 5
    assert body["groups"] == []
    # Statuses: closed 6, taken over 3, in progress 5 (3 waiting + 2 expired), withdrawn 0.
    # "taken over" (3) is small; "in progress" (5) is its complement (else 14 - 6 - 0 = 3).
    assert table(body, "statut") == {
        "group": "*",
        "cells": {"in_progress": None, "taken_over": None, "closed": 6, "withdrawn": 0},
        "total": 14,
    }
    statut = next(t for t in body["tables"] if t["name"] == "statut")
    assert statut["label"] == "Orientations par statut"
    assert {c["code"]: c["label"] for c in statut["categories"]}["withdrawn"] == (
        "consentement retiré"
    )
    assert statut["rows"][0]["group_label"] == "Ensemble"
    # Channels: walk-in 8; phone 4 and e-mail 2 are both small (two unknowns: safe).
    assert table(body, "canal")["cells"] == {
        "walk_in": 8,
        "phone": None,
        "email": None,
        "outreach": 0,
        "partner": 0,
        "postal": 0,
    }
    # Female 10, male 4: the small one and its complement; zeros stay published.
    assert table(body, "sexe")["cells"] == {"female": None, "male": None, "other": 0, "unknown": 0}
    ages = table(body, "tranche_age")
    assert (ages["cells"]["26_44"], ages["cells"]["45_59"], ages["total"]) == (None, None, 14)
    # Outcomes of the 6 closed: 5 solution found, 1 no solution (small) → both hidden; the
    # total is the closed cell of « statut ».
    assert table(body, "issue") == {
        "group": "*",
        "cells": {"solution_found": None, "partial": 0, "no_solution": None, "did_not_come": 0},
        "total": 6,
    }
    # Handoffs per referral: 1 → 11, 2 → 3 (small), 3+ → 0. With « 3+ » published as 0, the
    # 17 handoffs of « etat_transmission » would give 17 - 14 = 3 referrals with two of them:
    # « 3+ » is hidden too.
    assert table(body, "transmissions") == {
        "group": "*",
        "cells": {"1": None, "2": None, "3+": None},
        "total": 14,
    }
    # Handoffs: 17 = closed 6, declined 3, taken over 3, sent 3, expired 2. Taken over (3) is
    # hidden in both tables that count it (the taking-over handoff is the referral's last).
    states = table(body, "etat_transmission")
    assert states["total"] == 17
    assert states["cells"]["closed"] == 6
    assert {k for k, v in states["cells"].items() if v is None} == {
        "declined",
        "taken_over",
        "sent",
        "expired",
    }
    # Decline reasons: 3 in all, below the threshold: nothing shown.
    assert table(body, "motif_refus") == {
        "group": "*",
        "cells": {
            "out_of_scope": None,
            "no_capacity": None,
            "person_unreachable": 0,
            "conditions_not_met": 0,
            "duplicate": 0,
            "other": 0,
        },
        "total": None,
    }
    assert table(body, "thematique")["cells"] == {
        "logement-hebergement--se-maintenir-dans-le-logement": 14
    }
    # No evaluation was given at closing.
    assert table(body, "evaluation")["cells"] == {
        "1": 0,
        "2": 0,
        "3": 0,
        "4": 0,
        "5": 0,
        "sans_note": 6,
    }
    assert pick(body, "means", "note_moyenne") | {"label": ""} == {
        "name": "note_moyenne",
        "label": "",
        "group": "*",
        "group_label": "Ensemble",
        "count": 0,
        "mean": None,
    }
    # Delays (hours), nearest-rank p90. Acknowledged: 1..6 h → median 3.5, p90 6.
    assert pick(body, "delays", "delai_accuse_reception") == {
        "name": "delai_accuse_reception",
        "label": "Délai de l'envoi à l'accusé de réception (heures)",
        "group": "*",
        "group_label": "Ensemble",
        "median_hours": 3.5,
        "p90_hours": 6.0,
    }
    # Accepted: 10, 20, 30, 40, 50, 60 and 5, 5, 5 → median 20, p90 60.
    accepted = pick(body, "delays", "delai_acceptation")
    assert (accepted["median_hours"], accepted["p90_hours"]) == (20.0, 60.0)
    taken = pick(body, "delays", "delai_prise_en_charge")
    assert (taken["median_hours"], taken["p90_hours"]) == (48.0, 48.0)
    # Rates hide what their numerator hides.
    assert pick(body, "rates", "taux_expiration")["rate"] is None
    assert pick(body, "rates", "taux_expiration")["denominator"] == 17
    assert pick(body, "rates", "taux_solution")["rate"] is None


async def test_structure_scope(scenario: Scenario) -> None:
    # P1 took part in R1-R9: 6 closed, 3 taken over (by P2 after P1 declined).
    body = await stats(scenario, scenario.p1.member)
    assert body["scope"] == "structure"
    assert body["structure_id"] == str(scenario.p1.id)
    statuses = table(body, "statut")
    assert statuses["total"] == 9
    assert statuses["cells"] == {
        "in_progress": 0,
        "taken_over": None,
        "closed": None,
        "withdrawn": 0,
    }
    # Only the handoffs P1 took part in: R1-R6 closed 6, R7-R9 declined 3 (not the
    # re-orientations from the CCAS to P2).
    assert table(body, "etat_transmission")["total"] == 9
    # A member may not read another structure's statistics.
    other = await scenario.world.client.get(
        "/referrals/v1/stats",
        params={"structure_id": str(scenario.p2.id)},
        headers=scenario.p1.member,
    )
    assert other.status_code == 403


async def test_groupings_name_their_groups_and_share_the_overall_row(scenario: Scenario) -> None:
    p1, p2 = str(scenario.p1.id), str(scenario.p2.id)
    answers = {
        g: await stats(scenario, moderator(scenario.world), group_by=g)
        for g in ("none", "structure", "service", "territory", "service_type", "thematique")
    }
    # By receiving structure: where each handoff went, and where each referral is or ended (its
    # last handoff): R1-R6 with P1, R7-R14 with P2. Names come from the directory.
    grouped = answers["structure"]
    assert [g["id"] for g in grouped["groups"]] == [p1, p2]
    assert [g["label"][:2] for g in grouped["groups"]] == ["P1", "P2"]
    assert table(grouped, "statut", p1)["total"] == 6
    assert table(grouped, "statut", p2)["total"] == 8
    states_p1 = table(grouped, "etat_transmission", p1)
    states_p2 = table(grouped, "etat_transmission", p2)
    assert (states_p1["total"], states_p2["total"]) == (9, 8)
    # P1: closed 6, declined 3 (small).
    assert states_p1["cells"]["declined"] is None
    # P2: taken over 3, sent 3, expired 2: all small.
    assert {k for k, v in states_p2["cells"].items() if v} == set()
    # No targeted service: one row per structure « sans service précisé », one type.
    assert [g["id"] for g in answers["service"]["groups"]] == [
        f"sans-service:{p1}",
        f"sans-service:{p2}",
    ]
    assert answers["service"]["groups"][0]["label"].endswith("(sans service précisé)")
    assert answers["service_type"]["groups"] == [
        {"id": "sans-type", "label": "Type de service non renseigné"}
    ]
    # By territory: the département of each structure, from the directory (none set here).
    assert answers["territory"]["groups"] == [{"id": "inconnu", "label": "Territoire inconnu"}]
    assert table(answers["territory"], "statut", "inconnu")["total"] == 14
    theme = "logement-hebergement--se-maintenir-dans-le-logement"
    assert answers["thematique"]["groups"] == [
        {"id": theme, "label": "Se maintenir dans le logement"}
    ]
    # The overall row is the same whatever the grouping.
    overall = {g: [table(body, t["name"]) for t in body["tables"]] for g, body in answers.items()}
    assert all(rows == overall["none"] for rows in overall.values())
    # No hidden cell can be recomputed from its row or its column (the property test of
    # test_stats_secrecy.py tries every relation between tables and groupings).
    for body in answers.values():
        for name in ("etat_transmission", "statut", "canal"):
            rows = next(t for t in body["tables"] if t["name"] == name)["rows"]
            for row in rows:
                hidden = [k for k, v in row["cells"].items() if v is None]
                assert len(hidden) != 1 or row["total"] is None
            for category in rows[0]["cells"]:
                column = [row["cells"][category] for row in rows]
                assert len(rows) == 1 or column.count(None) != 1


async def test_csv_export_in_french(scenario: Scenario) -> None:
    response = await scenario.world.client.get(
        "/referrals/v1/stats",
        params={"since": scenario.since.isoformat(), "format": "csv"},
        headers=moderator(scenario.world),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["indicateur", "groupe", "identifiant du groupe", "modalité", "valeur"]
    lookup = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert lookup[("Orientations par statut", "Ensemble", "clôturée")] == "6"
    assert lookup[("Orientations par statut", "Ensemble", "prise en charge")] == "secret"
    assert lookup[("Orientations par statut", "Ensemble", "total")] == "14"
    assert lookup[("Orientations par canal d'arrivée", "Ensemble", "accueil physique")] == "8"
    delay = "Délai de l'envoi à l'accusé de réception (heures)"
    assert lookup[(delay, "Ensemble", "médiane")] == "3,5"
    same = await scenario.world.client.get(
        "/referrals/v1/stats",
        params={"since": scenario.since.isoformat()},
        headers={**moderator(scenario.world), "Accept": "text/csv"},
    )
    assert same.headers["content-type"].startswith("text/csv")


async def test_who_may_read_statistics(scenario: Scenario) -> None:
    client = scenario.world.client
    assert (await client.get("/referrals/v1/stats")).status_code == 401
    no_scope = await client.get("/referrals/v1/stats", headers=scenario.p1.client("referrals:read"))
    assert no_scope.status_code == 403
    network = await client.get("/referrals/v1/stats", headers=scenario.p1.client("stats:read"))
    assert network.status_code == 200
    assert network.json()["scope"] == "network"
    empty = await client.get(
        "/referrals/v1/stats",
        params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=scenario.p1.member,
    )
    assert empty.status_code == 400


@pytest.mark.parametrize("backend", BACKENDS)
async def test_age_bands_are_a_setting(
    backend: str, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> None:
    """A network counting by its own age bands records and counts those; others are refused."""
    home = tmp_path_factory.mktemp(f"bands-{backend}")
    system, stack = await start_relais(
        backend, home, tokens, referrals_age_bands="under_16,16_25,26_59,60_plus"
    )
    async with stack:
        world = World(system)
        since = datetime.now(UTC) - timedelta(minutes=1)
        ccas, partner = await world.org("CCAS"), await world.org("P")
        for band in ["16_25"] * 6 + ["60_plus"]:
            await create_referral(world, ccas, partner, need=need("walk_in", "female", band))
        refused = await world.client.post(
            "/referrals/v1/referrals",
            json=referral_body(partner, need=need("walk_in", "female", "18_25")),
            headers=ccas.member,
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["need.age_band"]
        body = await stats(Scenario(world, ccas, partner, partner, since), world.moderator)
        bands = next(t for t in body["tables"] if t["name"] == "tranche_age")
        assert [(c["code"], c["label"]) for c in bands["categories"]] == [
            ("under_16", "moins de 16 ans"),
            ("16_25", "16 à 25 ans"),
            ("26_59", "26 à 59 ans"),
            ("60_plus", "60 ans et plus"),
            ("unknown", "non renseigné"),
        ]
        # 60+: 1 (small) is hidden, and 16-25 (6) with it; zeros stay published.
        assert table(body, "tranche_age")["cells"] == {
            "under_16": 0,
            "16_25": None,
            "26_59": 0,
            "60_plus": None,
            "unknown": 0,
        }
