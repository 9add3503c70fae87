"""The referral aggregate: its handoffs, its status, and the events every change records.

Pure and in memory: the store loads a snapshot, asks one of these functions for a ``Plan``
(handoff state changes, a new handoff, the referral's new status, events), then persists the
plan in one transaction. The hypothesis state machine drives the same functions.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.referrals.domain.transitions import (
    OPEN_STATES,
    REORIENTABLE,
    Action,
    Actor,
    ActorKind,
    Allowed,
    HandoffState,
    Parties,
    RefusalKind,
    Refused,
    Side,
    decide,
    sides_of,
)


class ReferralStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    TAKEN_OVER = "taken_over"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Refusal(Exception):
    def __init__(self, kind: RefusalKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Handoff:
    id: uuid.UUID
    position: int
    from_structure_id: uuid.UUID
    to_structure_id: uuid.UUID
    state: HandoffState = HandoffState.SENT
    version: int = 1
    # True once the handoff went through `accepted` (takeover is only reachable that way).
    was_accepted: bool = False


@dataclass
class Referral:
    id: uuid.UUID
    origin_structure_id: uuid.UUID
    status: ReferralStatus = ReferralStatus.IN_PROGRESS
    onward_relay_allowed: bool = False
    handoffs: list[Handoff] = field(default_factory=list)
    # Each side (origin, receiver) closes its own part: who closed first, and when, and
    # whether the other side has closed its part too. The referral ends when both have, or
    # when the closing delay has passed.
    closed_by: Side | None = None
    closed_at: datetime | None = None
    second_closed: bool = False

    def handoff(self, handoff_id: uuid.UUID) -> Handoff:
        for handoff in self.handoffs:
            if handoff.id == handoff_id:
                return handoff
        raise KeyError(handoff_id)

    @property
    def current(self) -> Handoff | None:
        """The open handoff, if any (there is at most one)."""
        return next((h for h in self.handoffs if h.state in OPEN_STATES), None)

    @property
    def latest(self) -> Handoff | None:
        return max(self.handoffs, key=lambda h: h.position) if self.handoffs else None

    def parties(self, handoff: Handoff) -> Parties:
        return Parties(self.origin_structure_id, handoff.from_structure_id, handoff.to_structure_id)


@dataclass(frozen=True)
class Event:
    """One timeline entry: what changed, on which handoff, from which state to which."""

    type: str
    handoff_id: uuid.UUID | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StateChange:
    handoff_id: uuid.UUID
    expected_version: int
    from_state: HandoffState
    to_state: HandoffState


@dataclass
class Plan:
    status: ReferralStatus
    changes: list[StateChange] = field(default_factory=list)
    new_handoff: Handoff | None = None
    events: list[Event] = field(default_factory=list)
    # The side whose part this plan closes.
    part_closed: Side | None = None

    def apply(self, referral: Referral) -> None:
        """Apply the plan to an in-memory snapshot (what the store does in SQL)."""
        for change in self.changes:
            index = next(i for i, h in enumerate(referral.handoffs) if h.id == change.handoff_id)
            old = referral.handoffs[index]
            referral.handoffs[index] = replace(
                old,
                state=change.to_state,
                version=old.version + 1,
                was_accepted=old.was_accepted or change.to_state is HandoffState.ACCEPTED,
            )
        if self.new_handoff is not None:
            referral.handoffs.append(self.new_handoff)
        if self.part_closed is not None:
            if referral.closed_by is None:
                referral.closed_by = self.part_closed
            else:
                referral.second_closed = True
        referral.status = self.status


def _refuse(decision: Refused) -> Refusal:
    return Refusal(decision.kind, decision.reason)


def _check_target(actor_structure: uuid.UUID | None, target: uuid.UUID) -> None:
    if actor_structure == target:
        raise Refusal(
            RefusalKind.NOT_ALLOWED,
            "La structure d'accueil doit être différente de la structure qui oriente.",
        )


def _check_open(referral: Referral) -> None:
    if referral.status is ReferralStatus.WITHDRAWN:
        raise Refusal(
            RefusalKind.WRONG_STATE,
            "Le consentement a été retiré : l'orientation ne peut plus évoluer.",
        )
    if referral.status is ReferralStatus.CLOSED:
        raise Refusal(RefusalKind.WRONG_STATE, "L'orientation est clôturée.")


def _new_handoff(
    referral: Referral, handoff_id: uuid.UUID, sender: uuid.UUID, target: uuid.UUID
) -> Handoff:
    position = (referral.latest.position + 1) if referral.latest else 1
    return Handoff(
        id=handoff_id, position=position, from_structure_id=sender, to_structure_id=target
    )


def create(
    referral_id: uuid.UUID,
    origin_structure_id: uuid.UUID,
    target_structure_id: uuid.UUID,
    handoff_id: uuid.UUID,
    *,
    onward_relay_allowed: bool,
) -> tuple[Referral, Plan]:
    """A new referral and its first handoff, sent by the origin structure."""
    _check_target(origin_structure_id, target_structure_id)
    referral = Referral(
        id=referral_id,
        origin_structure_id=origin_structure_id,
        onward_relay_allowed=onward_relay_allowed,
    )
    first = _new_handoff(referral, handoff_id, origin_structure_id, target_structure_id)
    plan = Plan(
        status=ReferralStatus.IN_PROGRESS,
        new_handoff=first,
        events=[
            Event("referral.created", to_state=ReferralStatus.IN_PROGRESS),
            Event("handoff.sent", handoff_id=first.id, to_state=HandoffState.SENT),
        ],
    )
    return referral, plan


def act(
    referral: Referral,
    handoff_id: uuid.UUID,
    action: Action,
    actor: Actor,
    *,
    reason: str | None = None,
    relay_handoff_id: uuid.UUID | None = None,
    relay_target_id: uuid.UUID | None = None,
) -> Plan:
    """One handoff transition (acknowledge, accept, decline, take over, cancel, relay, expire)."""
    if action in (Action.CLOSE, Action.WITHDRAW):
        raise ValueError(f"use {action.value}() for this action")
    _check_open(referral)
    handoff = referral.handoff(handoff_id)
    decision = decide(
        handoff.state,
        action,
        actor,
        referral.parties(handoff),
        onward_relay_allowed=referral.onward_relay_allowed,
    )
    if isinstance(decision, Refused):
        raise _refuse(decision)
    assert isinstance(decision, Allowed)
    if decision.new_state is HandoffState.TAKEN_OVER and not handoff.was_accepted:
        raise Refusal(RefusalKind.WRONG_STATE, "La prise en charge suit une acceptation.")
    status = referral.status
    if decision.new_state is HandoffState.TAKEN_OVER:
        status = ReferralStatus.TAKEN_OVER
    plan = Plan(
        status=status,
        changes=[StateChange(handoff.id, handoff.version, handoff.state, decision.new_state)],
        events=[
            Event(
                f"handoff.{decision.new_state.value}",
                handoff_id=handoff.id,
                from_state=handoff.state,
                to_state=decision.new_state,
                reason=reason,
            )
        ],
    )
    if action is Action.RELAY:
        if relay_handoff_id is None or relay_target_id is None:
            raise ValueError("a relay needs the new handoff's id and target")
        _check_target(handoff.to_structure_id, relay_target_id)
        nxt = _new_handoff(referral, relay_handoff_id, handoff.to_structure_id, relay_target_id)
        plan.new_handoff = nxt
        plan.events.append(Event("handoff.sent", handoff_id=nxt.id, to_state=HandoffState.SENT))
    return plan


def reorient(
    referral: Referral, actor: Actor, handoff_id: uuid.UUID, target_structure_id: uuid.UUID
) -> Plan:
    """After a decline, a cancellation or an expiry, the sender sends the person elsewhere."""
    _check_reorient(referral, actor)
    _check_target(actor.structure_id, target_structure_id)
    assert actor.structure_id is not None
    nxt = _new_handoff(referral, handoff_id, actor.structure_id, target_structure_id)
    return Plan(
        status=referral.status,
        new_handoff=nxt,
        events=[
            Event("referral.reoriented", handoff_id=nxt.id, reason=None),
            Event("handoff.sent", handoff_id=nxt.id, to_state=HandoffState.SENT),
        ],
    )


def _check_reorient(referral: Referral, actor: Actor) -> None:
    _check_open(referral)
    latest = referral.latest
    if latest is None or latest.state not in REORIENTABLE:
        raise Refusal(
            RefusalKind.WRONG_STATE,
            "Une nouvelle transmission n'est possible qu'après un refus, une annulation ou "
            "une expiration de la précédente.",
        )
    sides = sides_of(actor, referral.parties(latest))
    if not sides & {Side.ORIGIN, Side.SENDER}:
        raise Refusal(
            RefusalKind.NOT_ALLOWED,
            "Seule la structure qui a envoyé la dernière transmission peut réorienter.",
        )


CLOSING_SIDES = frozenset({Side.ORIGIN, Side.RECEIVER})


def closing_side(referral: Referral, actor: Actor) -> Side | None:
    """The part ``actor`` closes: the origin's (the referent's) or the receiver's."""
    handoff = referral.current or referral.latest
    if handoff is None:
        return None
    sides = sides_of(actor, referral.parties(handoff)) & CLOSING_SIDES
    if referral.closed_by is not None:
        sides -= {referral.closed_by}
    return Side.ORIGIN if Side.ORIGIN in sides else next(iter(sides), None)


def closing(referral: Referral) -> bool:
    """One side has closed its part; the referral waits for the other side's."""
    return referral.status is ReferralStatus.TAKEN_OVER and referral.closed_by is not None


def close(
    referral: Referral,
    actor: Actor,
    *,
    outcome: str,
    now: datetime | None = None,
    window: timedelta | None = None,
) -> Plan:
    """Record a side's outcome once a partner took the person over.

    The first side to close (origin or receiver) closes the handoff with its outcome; the
    referral ends when the other side has closed and evaluated its own part too, within
    ``window`` of the first closing (after it, ``end_closing`` ends the referral).
    """
    if closing(referral):
        return _close_second(referral, actor, outcome=outcome, now=now, window=window)
    _check_open(referral)
    current = referral.current
    if current is None or current.state is not HandoffState.TAKEN_OVER:
        raise Refusal(
            RefusalKind.WRONG_STATE,
            "L'orientation ne peut être clôturée qu'après une prise en charge.",
        )
    decision = decide(current.state, Action.CLOSE, actor, referral.parties(current))
    if isinstance(decision, Refused):
        raise _refuse(decision)
    return Plan(
        status=ReferralStatus.TAKEN_OVER,
        changes=[StateChange(current.id, current.version, current.state, HandoffState.CLOSED)],
        events=[
            Event(
                "handoff.closed",
                handoff_id=current.id,
                from_state=current.state,
                to_state=HandoffState.CLOSED,
            ),
            Event("referral.part_closed", reason=outcome),
        ],
        part_closed=closing_side(referral, actor),
    )


def _past_delay(referral: Referral, now: datetime | None, window: timedelta | None) -> bool:
    return (
        now is not None
        and window is not None
        and referral.closed_at is not None
        and now > referral.closed_at + window
    )


def _close_second(
    referral: Referral,
    actor: Actor,
    *,
    outcome: str,
    now: datetime | None,
    window: timedelta | None,
) -> Plan:
    """The other side closes and evaluates its own part: the referral ends."""
    side = closing_side(referral, actor)
    if side is None:
        handoff = referral.latest
        assert handoff is not None  # a referral being closed was taken over
        if referral.closed_by in sides_of(actor, referral.parties(handoff)):
            raise Refusal(
                RefusalKind.WRONG_STATE,
                "Votre structure a déjà clôturé sa part : l'orientation attend la clôture "
                "de l'autre partie.",
            )
        raise Refusal(
            RefusalKind.NOT_ALLOWED,
            "Seules la structure qui a orienté et celle qui a pris en charge la personne "
            "clôturent l'orientation.",
        )
    if _past_delay(referral, now, window):
        assert window is not None
        raise Refusal(
            RefusalKind.WRONG_STATE,
            "L'orientation est clôturée depuis plus de "
            f"{window.days} jours : sa clôture ne peut plus être complétée.",
        )
    return Plan(
        status=ReferralStatus.CLOSED,
        events=[
            Event("referral.part_closed", reason=outcome),
            Event(
                "referral.closed",
                from_state=referral.status,
                to_state=ReferralStatus.CLOSED,
                reason="both_parts_closed",
            ),
        ],
        part_closed=side,
    )


def end_closing(referral: Referral, *, now: datetime, window: timedelta) -> Plan:
    """The closing delay has passed without the other side's part: the referral ends."""
    if not closing(referral) or not _past_delay(referral, now, window):
        raise Refusal(RefusalKind.WRONG_STATE, "Le délai de clôture n'est pas écoulé.")
    return Plan(
        status=ReferralStatus.CLOSED,
        events=[
            Event(
                "referral.closed",
                from_state=referral.status,
                to_state=ReferralStatus.CLOSED,
                reason="closing_delay_elapsed",
            )
        ],
    )


def withdraw(referral: Referral, actor: Actor) -> Plan:
    """Consent withdrawn: every open handoff is cancelled, the referral becomes withdrawn."""
    if referral.status is ReferralStatus.WITHDRAWN:
        raise Refusal(RefusalKind.WRONG_STATE, "Le consentement a déjà été retiré.")
    # The person may withdraw their own consent; otherwise only a structure taking part.
    if actor.kind is not ActorKind.PERSON and (
        actor.kind is ActorKind.SYSTEM or not _is_party(referral, actor)
    ):
        raise Refusal(
            RefusalKind.NOT_ALLOWED,
            "Seule la personne ou une structure concernée par l'orientation peut enregistrer "
            "le retrait.",
        )
    plan = Plan(status=ReferralStatus.WITHDRAWN)
    for handoff in referral.handoffs:
        if handoff.state in OPEN_STATES:
            plan.changes.append(
                StateChange(handoff.id, handoff.version, handoff.state, HandoffState.CANCELLED)
            )
            plan.events.append(
                Event(
                    "handoff.cancelled",
                    handoff_id=handoff.id,
                    from_state=handoff.state,
                    to_state=HandoffState.CANCELLED,
                    reason="consent_withdrawn",
                )
            )
    plan.events.append(
        Event(
            "consent.withdrawn",
            from_state=referral.status,
            to_state=ReferralStatus.WITHDRAWN,
        )
    )
    return plan


def change_referent(referral: Referral, actor: Actor) -> Plan:
    """The follow-up moves to another member of the origin structure."""
    _check_open(referral)
    if actor.structure_id != referral.origin_structure_id:
        raise Refusal(
            RefusalKind.NOT_ALLOWED,
            "Seule la structure à l'origine de l'orientation peut changer de référent.",
        )
    return Plan(status=referral.status, events=[Event("referral.referent_changed")])


def _is_party(referral: Referral, actor: Actor) -> bool:
    if actor.structure_id is None:
        return False
    if actor.structure_id == referral.origin_structure_id:
        return True
    return any(
        actor.structure_id in (h.from_structure_id, h.to_structure_id) for h in referral.handoffs
    )


def is_party(referral: Referral, structure_id: uuid.UUID | None) -> bool:
    if structure_id is None:
        return False
    return _is_party(referral, Actor(kind=ActorKind.USER, structure_id=structure_id))


class ReferralAction(enum.StrEnum):
    """What can be done on the referral itself (handoff transitions are per handoff)."""

    REORIENT = "reorient"
    CLOSE = "close"
    CHANGE_REFERENT = "change_referent"
    WITHDRAW_CONSENT = "withdraw_consent"


def referral_actions(
    referral: Referral,
    actor: Actor,
    *,
    now: datetime | None = None,
    closing_window: timedelta | None = None,
) -> list[ReferralAction]:
    """The referral-level actions ``actor`` may take now, decided by the same checks as the
    actions themselves (shown to clients as hints)."""
    checks: dict[ReferralAction, Callable[[], object]] = {
        ReferralAction.REORIENT: lambda: _check_reorient(referral, actor),
        ReferralAction.CLOSE: lambda: close(
            referral, actor, outcome="", now=now, window=closing_window
        ),
        ReferralAction.CHANGE_REFERENT: lambda: change_referent(referral, actor),
        ReferralAction.WITHDRAW_CONSENT: lambda: withdraw(referral, actor),
    }
    allowed = []
    for action, check in checks.items():
        try:
            check()
        except Refusal:
            continue
        allowed.append(action)
    return allowed
