"""The handoff state machine: one table says who may do what, from which state, to which state.

``decide(state, action, actor, parties)`` is a pure function: it returns the new state or a
refusal explaining why (in French, for the problem ``detail``). Everything else calls it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class HandoffState(enum.StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    TAKEN_OVER = "taken_over"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RELAYED = "relayed"


# A handoff is "current" while it is in one of these states; at most one per referral.
OPEN_STATES = frozenset(
    {
        HandoffState.SENT,
        HandoffState.ACKNOWLEDGED,
        HandoffState.ACCEPTED,
        HandoffState.TAKEN_OVER,
    }
)
TERMINAL_STATES = frozenset(set(HandoffState) - OPEN_STATES)
# Still waiting for the receiver's answer: reminders and expiry apply.
AWAITING_ANSWER = frozenset({HandoffState.SENT, HandoffState.ACKNOWLEDGED})
# After these, the sender may re-orient the person to another partner.
REORIENTABLE = frozenset({HandoffState.DECLINED, HandoffState.CANCELLED, HandoffState.EXPIRED})


class Action(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    TAKE_OVER = "take_over"
    CANCEL = "cancel"
    RELAY = "relay"
    CLOSE = "close"
    EXPIRE = "expire"
    WITHDRAW = "withdraw"


# How the person appears in the timeline and the access log.
PERSON_SUBJECT = "la personne elle-même"


class Side(enum.StrEnum):
    """How the actor's structure relates to one handoff."""

    SENDER = "sender"  # the structure that sent this handoff
    RECEIVER = "receiver"  # the structure this handoff was sent to
    ORIGIN = "origin"  # the structure that created the referral (the referent's)
    SYSTEM = "system"  # the worker (deadlines)


class ActorKind(enum.StrEnum):
    USER = "user"
    CLIENT = "client"
    SYSTEM = "system"
    # The person themself, through their follow-up code (no account, no structure).
    PERSON = "person"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    structure_id: uuid.UUID | None = None
    subject: str = "system"

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM)

    @classmethod
    def person(cls) -> Actor:
        return cls(kind=ActorKind.PERSON, subject=PERSON_SUBJECT)


@dataclass(frozen=True)
class Parties:
    origin_structure_id: uuid.UUID
    from_structure_id: uuid.UUID
    to_structure_id: uuid.UUID


def sides_of(actor: Actor, parties: Parties) -> frozenset[Side]:
    if actor.kind is ActorKind.SYSTEM:
        return frozenset({Side.SYSTEM})
    sides = set()
    if actor.structure_id is not None:
        if actor.structure_id == parties.from_structure_id:
            sides.add(Side.SENDER)
        if actor.structure_id == parties.to_structure_id:
            sides.add(Side.RECEIVER)
        if actor.structure_id == parties.origin_structure_id:
            sides.add(Side.ORIGIN)
    return frozenset(sides)


_S = HandoffState
_SENDERS = frozenset({Side.SENDER, Side.ORIGIN})
_RECEIVER = frozenset({Side.RECEIVER})
_CLOSERS = frozenset({Side.ORIGIN, Side.RECEIVER})
_ANY_PARTY = frozenset({Side.SENDER, Side.RECEIVER, Side.ORIGIN})
_SYSTEM = frozenset({Side.SYSTEM})

# (state, action) -> (new state, sides allowed to do it). Anything absent is refused.
TABLE: dict[tuple[HandoffState, Action], tuple[HandoffState, frozenset[Side]]] = {
    (_S.SENT, Action.ACKNOWLEDGE): (_S.ACKNOWLEDGED, _RECEIVER),
    (_S.SENT, Action.ACCEPT): (_S.ACCEPTED, _RECEIVER),
    (_S.ACKNOWLEDGED, Action.ACCEPT): (_S.ACCEPTED, _RECEIVER),
    (_S.ACCEPTED, Action.TAKE_OVER): (_S.TAKEN_OVER, _RECEIVER),
    (_S.TAKEN_OVER, Action.CLOSE): (_S.CLOSED, _CLOSERS),
    **{
        (s, Action.DECLINE): (_S.DECLINED, _RECEIVER)
        for s in (_S.SENT, _S.ACKNOWLEDGED, _S.ACCEPTED)
    },
    **{
        (s, Action.CANCEL): (_S.CANCELLED, _SENDERS)
        for s in (_S.SENT, _S.ACKNOWLEDGED, _S.ACCEPTED)
    },
    **{(s, Action.RELAY): (_S.RELAYED, _RECEIVER) for s in (_S.SENT, _S.ACKNOWLEDGED, _S.ACCEPTED)},
    **{(s, Action.EXPIRE): (_S.EXPIRED, _SYSTEM) for s in AWAITING_ANSWER},
    # Consent withdrawal stops every open handoff at once, whoever records it.
    **{(s, Action.WITHDRAW): (_S.CANCELLED, _ANY_PARTY) for s in OPEN_STATES},
}

_ACTION_LABELS = {
    Action.ACKNOWLEDGE: "accuser réception de",
    Action.ACCEPT: "accepter",
    Action.DECLINE: "refuser",
    Action.TAKE_OVER: "confirmer la prise en charge de",
    Action.CANCEL: "annuler",
    Action.RELAY: "relayer",
    Action.CLOSE: "clôturer",
    Action.EXPIRE: "faire expirer",
    Action.WITHDRAW: "retirer le consentement sur",
}
STATE_LABELS = {
    _S.SENT: "envoyée",
    _S.ACKNOWLEDGED: "reçue",
    _S.ACCEPTED: "acceptée",
    _S.TAKEN_OVER: "prise en charge",
    _S.CLOSED: "clôturée",
    _S.DECLINED: "refusée",
    _S.CANCELLED: "annulée",
    _S.EXPIRED: "expirée",
    _S.RELAYED: "relayée",
}
_SIDE_LABELS = {
    Side.SENDER: "la structure qui a envoyé la transmission",
    Side.RECEIVER: "la structure d'accueil",
    Side.ORIGIN: "la structure à l'origine de l'orientation",
    Side.SYSTEM: "le système (échéances)",
}


def _de(verb: str) -> str:
    return f"d'{verb}" if verb[0] in "aeéiou" else f"de {verb}"


class RefusalKind(enum.StrEnum):
    NOT_ALLOWED = "not_allowed"  # the actor's side may not do this (403)
    WRONG_STATE = "wrong_state"  # the handoff's state does not allow it (409)


@dataclass(frozen=True)
class Allowed:
    new_state: HandoffState


@dataclass(frozen=True)
class Refused:
    kind: RefusalKind
    reason: str


Decision = Allowed | Refused


def decide(
    state: HandoffState,
    action: Action,
    actor: Actor,
    parties: Parties,
    *,
    onward_relay_allowed: bool = False,
) -> Decision:
    """The one place that says whether ``actor`` may do ``action`` on a handoff in ``state``."""
    verb = _ACTION_LABELS[action]
    entry = TABLE.get((state, action))
    if entry is None:
        return Refused(
            RefusalKind.WRONG_STATE,
            f"Impossible {_de(verb)} une transmission {STATE_LABELS[state]}.",
        )
    new_state, allowed_sides = entry
    sides = sides_of(actor, parties)
    if not sides & allowed_sides:
        who = " ou ".join(sorted(_SIDE_LABELS[s] for s in allowed_sides))
        return Refused(RefusalKind.NOT_ALLOWED, f"Seule {who} peut {verb} cette transmission.")
    if action is Action.RELAY and not onward_relay_allowed:
        return Refused(
            RefusalKind.NOT_ALLOWED,
            "Le consentement de la personne n'autorise pas le relais vers un autre partenaire.",
        )
    return Allowed(new_state)


def allowed_actions(
    state: HandoffState, actor: Actor, parties: Parties, *, onward_relay_allowed: bool
) -> list[Action]:
    """Actions the actor may take now (shown to clients as hints)."""
    return [
        action
        for (s, action) in TABLE
        if s == state
        and action not in (Action.EXPIRE, Action.WITHDRAW, Action.CLOSE)
        and isinstance(
            decide(state, action, actor, parties, onward_relay_allowed=onward_relay_allowed),
            Allowed,
        )
    ]
