"""The referral page's words without a server: the journey in one line, each event's sentence,
who follows the referral, and which personal data the consent shares with the viewer."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from services.web.clients.referrals import Referral, TimelineEvent
from services.web.features.orientations import story
from services.web.features.orientations.view import referent_label, shared_categories

CCAS, CMS, PIMMS = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NAMES = {CCAS: "CCAS de Valence", CMS: "CMS Valence Nord", PIMMS: "PIMMS"}


def _referral(**changes: object) -> Referral:
    first, second = uuid.uuid4(), uuid.uuid4()
    body = {
        "id": str(uuid.uuid4()),
        "status": "taken_over",
        "structure_id": str(CCAS),
        "referent": "x",
        "created_at": "2026-12-03T09:00:00Z",
        "updated_at": "2026-12-09T09:00:00Z",
        "version": 3,
        "personal_data": "partial",
        "need": {
            "thematiques": ["numerique"],
            "urgency": "normal",
            "channel": "walk_in",
            "age_band": "unknown",
            "sex": "unknown",
        },
        "consent": {
            "status": "active",
            "given_by": "person",
            "method": "oral",
            "given_at": "2026-12-03T09:00:00Z",
            "purpose": "p",
            "data_categories": ["identity", "contact"],
            "recipients": [str(CMS)],
            "further_partners": True,
            "onward_relay_allowed": True,
        },
        "handoffs": [
            {
                "id": str(first),
                "state": "relayed",
                "position": 1,
                "from_structure_id": str(CCAS),
                "to_structure_id": str(CMS),
                "to_structure_name": NAMES[CMS],
                "respond_by": "2026-12-10T09:00:00Z",
                "created_at": "2026-12-03T09:00:00Z",
            },
            {
                "id": str(second),
                "state": "taken_over",
                "position": 2,
                "from_structure_id": str(CMS),
                "to_structure_id": str(PIMMS),
                "to_structure_name": NAMES[PIMMS],
                "respond_by": "2026-12-12T09:00:00Z",
                "created_at": "2026-12-05T09:00:00Z",
            },
        ],
        **changes,
    }
    return msgspec.convert(body, Referral)


def _event(
    kind: str,
    day: int,
    handoff: int | None = None,
    reason: str | None = None,
    actor: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {"type": kind, "day": day, "handoff": handoff, "reason": reason, "actor": actor}


def _events(referral: Referral, specs: list[dict[str, Any]]) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            id=uuid.uuid4(),
            position=i,
            type=spec["type"],
            handoff_id=referral.handoffs[spec["handoff"]].id
            if spec["handoff"] is not None
            else None,
            reason=spec["reason"],
            actor_structure_id=spec["actor"],
            occurred_at=datetime(2026, 12, spec["day"], 10, tzinfo=UTC),
        )
        for i, spec in enumerate(specs, start=1)
    ]


def test_the_journey_in_one_line_names_each_partner_once() -> None:
    referral = _referral()
    events = _events(
        referral,
        [
            _event("referral.created", 3),
            _event("handoff.sent", 3, 0),
            _event("handoff.acknowledged", 4, 0),
            _event("handoff.relayed", 5, 0),
            _event("handoff.sent", 5, 1),
            _event("handoff.accepted", 6, 1),
            _event("handoff.taken_over", 9, 1),
            _event("referral.part_closed", 12, None, "partial", PIMMS),
            _event("referral.part_closed", 2, None, "solution_found", CCAS),  # in January
            _event("referral.closed", 2, None, "both_parts_closed"),
        ],
    )
    for event in events[-2:]:
        event.occurred_at = datetime(2027, 1, 2, 10, tzinfo=UTC)
    found = story.steps(referral, events, NAMES)
    assert story.journey(found, date(2026, 12, 20)) == (
        "Transmise à CMS Valence Nord le 3 décembre, accusé de réception le 4, "
        "relayée à PIMMS le 5, acceptée le 6, prise en charge par PIMMS le 9, "
        "part clôturée (solution partielle) le 12, "
        "part clôturée (solution trouvée) par CCAS de Valence le 2 janvier 2027, terminée le 2"
    )
    sentences = [s.text for s in found]
    assert sentences[0] == "Orientation enregistrée par CCAS de Valence."
    assert "CMS Valence Nord l’a relayée à PIMMS." in sentences
    assert sentences[-3:] == [
        "PIMMS a clôturé sa part (solution partielle).",
        "CCAS de Valence a clôturé sa part (solution trouvée).",
        "Orientation terminée : chaque partie a clôturé sa part.",
    ]
    assert len(sentences) == 9  # the relay is said once, by the new handoff


def test_a_closing_the_delay_ended_says_so() -> None:
    referral = _referral()
    events = _events(referral, [_event("referral.closed", 9, None, "closing_delay_elapsed")])
    (found,) = story.steps(referral, events, NAMES)
    assert found.text == (
        "Orientation terminée : le délai de clôture est passé sans la clôture de l’autre partie."
    )


def test_a_refusal_says_its_reason_and_who() -> None:
    referral = _referral()
    events = _events(
        referral,
        [_event("handoff.sent", 3, 0), _event("handoff.declined", 4, 0, "no_capacity")],
    )
    found = story.steps(referral, events, NAMES)
    assert found[-1].text == "CMS Valence Nord a refusé l’orientation (plus de place disponible)."
    assert story.journey(found, date(2026, 12, 20)).endswith(
        "refusée (plus de place disponible) le 4"
    )


def test_who_follows_the_referral() -> None:
    member = str(uuid.uuid4())
    assert referent_label(member, {member: "Camille"}) == "Camille"
    assert referent_label("Dossier 42", {}) == "Dossier 42"  # named by the sender's software
    assert referent_label(str(uuid.uuid4()), {}) == "un·e ancien·ne membre de la structure"
    assert referent_label(None, {}) == ""


def test_what_the_consent_shares_with_the_viewer() -> None:
    assert shared_categories(_referral()) == {"identity", "contact"}
    assert len(shared_categories(_referral(personal_data="full"))) == 4
    assert shared_categories(_referral(personal_data="none")) == frozenset()
    assert shared_categories(_referral(personal_data="erased")) == frozenset()
