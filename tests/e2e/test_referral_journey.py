"""End to end across the three services, with tokens issued by auth (login + PKCE) and verified
through its JWKS, partners found through the directory's search, and the referral relayed until
takeover — then the person withdraws consent and every personal field is gone.

A CCAS agent searches the directory, refers a person to a first partner, which declines with a
reason; the CCAS re-orients to a second partner, which accepts and relays (onward consent given)
to a third, which takes the person over; the referent closes with "solution found".
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.referrals import models as m
from tests.auth.conftest import start_services
from tests.auth.helpers import make_account, make_app_client, make_client, user_tokens
from tests.conftest import BACKENDS, Relais
from tests.directory.helpers import service_body, structure_body
from tests.tokens import TokenFactory

PERSON = {
    "first_name": "Nadia",
    "last_name": "Journeymaker",
    "birth_date": "1979-03-14",
    "contact_method": "phone",
    "phone": "07 01 02 03 04",
    "preferred_language": "fr",
    "accessibility_needs": "malentendante : privilégier les SMS",
}
SUMMARY = "Impayés de loyer depuis quatre mois, procédure engagée par le bailleur."
PERSONAL = (
    "Nadia",
    "Journeymaker",
    "+33701020304",
    "malentendante",
    "Impayés de loyer",
    "bailleur",
)
THEME = "logement-hebergement--reduire-les-impayes-de-loyer"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _staff_token(relais: Relais, app_id: str, structure: uuid.UUID | None, **kw: Any) -> str:
    account = await make_account(
        relais, memberships=[(structure, "member")] if structure else None, **kw
    )
    tokens = await user_tokens(relais, app_id, account.email, structure)
    access: str = tokens["access_token"]
    return access


async def _all_stored(relais: Relais, referral_id: str) -> str:
    rid = uuid.UUID(referral_id)
    chunks: list[str] = []
    async with relais.app("referrals").state.db.session() as session:
        for model, column in (
            (m.Referral, m.Referral.id),
            (m.Handoff, m.Handoff.referral_id),
            (m.TimelineEvent, m.TimelineEvent.referral_id),
            (m.AccessLogEntry, m.AccessLogEntry.referral_id),
            (m.IdempotencyRecord, m.IdempotencyRecord.referral_id),
        ):
            rows = (await session.execute(sa.select(model.__table__).where(column == rid))).all()  # type: ignore[attr-defined]
            chunks += [repr(tuple(r)) for r in rows]
        outbox = await session.scalars(
            sa.select(m.OutboxEvent.payload).where(m.OutboxEvent.aggregate_id == referral_id)
        )
        chunks += [json.dumps(p, ensure_ascii=False) for p in outbox.all()]
    return "\n".join(chunks)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_referral_journey_across_services(
    backend: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    relais, stack = await start_services(
        backend, tmp_path, tokens, names=("directory", "referrals", "auth")
    )
    async with stack:
        http = relais.client
        app_id, _ = await make_app_client(relais)

        # Moderation publishes the CCAS and three partners, each with a housing service.
        moderator = bearer(await _staff_token(relais, app_id, None, moderator=True))
        structures: dict[str, str] = {}
        services: dict[str, str] = {}
        for key, name in (
            ("ccas", "CCAS de Rennes"),
            ("p1", "Association Toit d'abord"),
            ("p2", "ADIL d'Ille-et-Vilaine"),
            ("p3", "Fondation Logement solidaire"),
        ):
            created = await http.post(
                "/directory/v1/structures",
                json=structure_body(name=name, siret=None, accepts_referrals=True),
                headers=moderator,
            )
            assert created.status_code == 201, created.text
            structures[key] = created.json()["id"]
            if key != "ccas":
                service = await http.post(
                    "/directory/v1/services",
                    json=service_body(
                        structures[key],
                        name=f"Prévention des expulsions — {name}",
                        description="Accompagnement des locataires en impayés de loyer.",
                        type="accompagnement",
                        thematiques=[THEME],
                        referral_response_days=5,
                    ),
                    headers=moderator,
                )
                assert service.status_code == 201, service.text
                services[key] = service.json()["id"]

        staff = {
            key: bearer(await _staff_token(relais, app_id, uuid.UUID(sid)))
            for key, sid in structures.items()
        }

        # 1. The CCAS agent searches the directory for a partner near the person.
        found = await http.get(
            "/directory/v1/search/services",
            params={"q": "impayés de loyer", "thematiques": THEME, "commune": "35238"},
            headers=staff["ccas"],
        )
        assert found.status_code == 200, found.text
        hits = {item["id"] for item in found.json()["items"]}
        assert services["p1"] in hits

        # 2. …and refers the person to the first partner's service, with consent.
        body = {
            "person": PERSON,
            "need": {
                "thematiques": [THEME],
                "summary": SUMMARY,
                "urgency": "urgent",
                "channel": "walk_in",
                "age_band": "45_59",
                "sex": "female",
            },
            "consent": {
                "given_by": "person",
                "method": "written",
                "purpose": "Prévention de l'expulsion",
                "data_categories": ["identity", "contact", "situation"],
                "recipients": [structures["p1"]],
                "further_partners": True,
                "onward_relay_allowed": True,
            },
            "target": {"structure_id": structures["p1"], "service_id": services["p1"]},
        }
        created = await http.post(
            "/referrals/v1/referrals",
            json=body,
            headers={**staff["ccas"], "Idempotency-Key": "e2e-create"},
        )
        assert created.status_code == 201, created.text
        referral = created.json()
        rid = referral["id"]
        assert referral["handoffs"][0]["to_service_name"].startswith("Prévention des expulsions")

        # 3. The first partner finds it in its inbox and declines with a reason.
        inbox = await http.get("/referrals/v1/inbox", headers=staff["p1"])
        item = next(i for i in inbox.json()["items"] if i["referral_id"] == rid)
        h1 = item["handoff"]
        declined = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{h1['id']}/decline",
            json={"reason": "no_capacity", "comment": "Liste d'attente pleine jusqu'en mars."},
            headers={**staff["p1"], "If-Match": f'"{h1["version"]}"'},
        )
        assert declined.status_code == 200, declined.text

        # 4. The CCAS re-orients to the second partner, which accepts…
        reoriented = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs",
            json={"target": {"structure_id": structures["p2"], "service_id": services["p2"]}},
            headers=staff["ccas"],
        )
        assert reoriented.status_code == 201, reoriented.text
        h2 = reoriented.json()
        accepted = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{h2['id']}/accept",
            headers={**staff["p2"], "If-Match": reoriented.headers["etag"]},
        )
        assert accepted.status_code == 200, accepted.text
        # …sees the person (further partners are covered) and relays to the third partner.
        p2_view = (await http.get(f"/referrals/v1/referrals/{rid}", headers=staff["p2"])).json()
        assert p2_view["person"]["last_name"] == "Journeymaker"
        relayed = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{h2['id']}/relay",
            json={"target": {"structure_id": structures["p3"]}, "comment": "Dossier FSL à monter"},
            headers={**staff["p2"], "If-Match": accepted.headers["etag"]},
        )
        assert relayed.status_code == 201, relayed.text
        h3 = relayed.json()

        # 5. The third partner accepts and takes the person over.
        accepted = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{h3['id']}/accept",
            headers={**staff["p3"], "If-Match": relayed.headers["etag"]},
        )
        assert accepted.status_code == 200, accepted.text
        taken = await http.post(
            f"/referrals/v1/referrals/{rid}/handoffs/{h3['id']}/take-over",
            headers={**staff["p3"], "If-Match": accepted.headers["etag"]},
        )
        assert taken.status_code == 200, taken.text

        # 6. The partner closes its part, then the referent its own with "solution found":
        # the referral ends.
        closed = await http.post(
            f"/referrals/v1/referrals/{rid}/close",
            json={"outcome": "solution_found"},
            headers=staff["p3"],
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "taken_over"
        closed = await http.post(
            f"/referrals/v1/referrals/{rid}/close",
            json={"outcome": "solution_found", "evaluation_score": 5},
            headers=staff["ccas"],
        )
        assert closed.status_code == 200, closed.text
        journey = closed.json()
        assert journey["status"] == "closed"
        assert [h["state"] for h in journey["handoffs"]] == ["declined", "relayed", "closed"]
        assert journey["person"]["phone"] == "+33701020304"

        timeline = await http.get(f"/referrals/v1/referrals/{rid}/timeline", headers=staff["ccas"])
        assert [e["type"] for e in timeline.json()["items"]] == [
            "referral.created",
            "handoff.sent",
            "handoff.declined",
            "referral.reoriented",
            "handoff.sent",
            "handoff.accepted",
            "handoff.relayed",
            "handoff.sent",
            "handoff.accepted",
            "handoff.taken_over",
            "handoff.closed",
            "referral.part_closed",
            "referral.part_closed",
            "referral.closed",
        ]
        # An API client of the CCAS follows its outbox with the referrals:read scope.
        client_id, secret = await make_client(
            relais, uuid.UUID(structures["ccas"]), ["referrals:read"]
        )
        token = await http.post(
            "/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or "")
        )
        assert token.status_code == 200, token.text
        outbox = await http.get(
            "/referrals/v1/outbox", headers=bearer(token.json()["access_token"])
        )
        assert rid in {i["referral_id"] for i in outbox.json()["items"]}
        assert all(value not in outbox.text for value in PERSONAL)

        # 7. The person withdraws consent: every personal field is gone, everywhere.
        withdrawn = await http.post(
            f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=staff["ccas"]
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["status"] == "withdrawn"
        for key in ("ccas", "p1", "p2", "p3"):
            view = await http.get(f"/referrals/v1/referrals/{rid}", headers=staff[key])
            assert view.status_code == 200, (key, view.text)
            assert view.json()["person"] is None
            assert view.json()["need"]["summary"] is None
            assert view.json()["personal_data"] == "erased"
            for value in PERSONAL:
                assert value not in view.text, (key, value)
            events = await http.get(f"/referrals/v1/referrals/{rid}/timeline", headers=staff[key])
            assert all(e["comment"] is None for e in events.json()["items"])
        # Statistics survive: thematiques, channel, age band, sex, dates, outcome.
        kept = (await http.get(f"/referrals/v1/referrals/{rid}", headers=staff["ccas"])).json()
        assert kept["need"]["thematiques"] == [THEME]
        assert kept["need"]["age_band"] == "45_59"
        assert kept["outcome"]["outcome"] == "solution_found"
        stored = await _all_stored(relais, rid)
        for value in PERSONAL:
            assert value not in stored, value
        # A replay of the first request cannot bring the personal data back.
        replay = await http.post(
            "/referrals/v1/referrals",
            json=body,
            headers={**staff["ccas"], "Idempotency-Key": "e2e-create"},
        )
        assert replay.status_code == 410
