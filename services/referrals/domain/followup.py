"""The person's follow-up: their code, how long it works, and what their page may show (pure).

The code is the person's only key to their request: 128 random bits from ``secrets``, nothing
derived from them or the referral. Only its SHA-256 is stored, so a code is found by an index
lookup on its hash (no comparison of secrets that could leak timing) and a copy of the database
reveals no code. It works until the referral ends, plus a month.

What the page shows is what the person may know without an account: which structure has the
request, since when, what happens next, by when they should hear back, and when someone has
taken them over. Never a staff member's name, a comment, the summary, nor any personal value:
``public_status`` reads none of the sealed fields.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.referrals.domain.lifecycle import ReferralStatus
from services.referrals.domain.records import ReferralRecord, Snapshot
from services.referrals.domain.transitions import AWAITING_ANSWER, HandoffState

CODE_BYTES = 16  # 128 bits
# How long the page still works after the referral has ended (closed or consent withdrawn).
GRACE = timedelta(days=31)
# What a code looks like (URL-safe base64 of CODE_BYTES): anything else is a miss at once.
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FEEDBACK_COMMENT_MAX = 1000


class Stage(enum.StrEnum):
    """Where the request stands, as the person understands it."""

    WAITING = "waiting"  # sent to a partner, who has not answered yet
    ACCEPTED = "accepted"  # the partner said yes and will contact the person
    TAKEN_OVER = "taken_over"  # the partner is helping the person
    SEARCHING = "searching"  # no partner now: the referent is looking for another one
    CLOSED = "closed"  # the referral is over
    WITHDRAWN = "withdrawn"  # the person (or staff for them) withdrew consent


class Feedback(enum.StrEnum):
    """« Avez-vous trouvé une solution ? »"""

    YES = "oui"
    PARTLY = "en_partie"
    NO = "non"


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def well_formed(code: str) -> bool:
    return _SHAPE.match(code) is not None


def _closed(referral: ReferralRecord) -> bool:
    """Over for the person as soon as one side has closed its part (the other side's closing
    is between the structures)."""
    return referral.status == ReferralStatus.CLOSED or referral.closing


def ended_at(referral: ReferralRecord) -> datetime | None:
    if _closed(referral):
        return referral.closed_at or referral.updated_at
    if referral.status == ReferralStatus.WITHDRAWN:
        return referral.consent_withdrawn_at or referral.updated_at
    return None


def valid_until(referral: ReferralRecord) -> datetime | None:
    """When the code stops working (None while the referral is open)."""
    end = ended_at(referral)
    return None if end is None else end + GRACE


def usable(referral: ReferralRecord, now: datetime) -> bool:
    until = valid_until(referral)
    return until is None or now < until


@dataclass(frozen=True)
class PublicStatus:
    stage: Stage
    # The structure that has the request now (None while searching or once withdrawn).
    holder_structure_id: uuid.UUID | None
    holder_name: str | None
    # The structure that sent it, whose referent follows the person: whom to call.
    referent_structure_id: uuid.UUID
    since: datetime
    respond_by: datetime | None
    taken_over: bool
    ended_at: datetime | None
    can_withdraw: bool
    can_give_feedback: bool
    feedback: Feedback | None
    # The partners the request was sent to (public names), told if the person withdraws.
    partners: tuple[str, ...] = ()


def public_status(snapshot: Snapshot) -> PublicStatus:
    """What the person's page says, from the referral's states and public names only."""
    referral = snapshot.referral
    current = snapshot.current()
    latest = snapshot.handoffs[-1] if snapshot.handoffs else None
    taken = any(
        h.state in (HandoffState.TAKEN_OVER, HandoffState.CLOSED) for h in snapshot.handoffs
    )
    holder = current
    respond_by = None
    if referral.status == ReferralStatus.WITHDRAWN:
        stage, holder, since = Stage.WITHDRAWN, None, ended_at(referral) or referral.updated_at
    elif _closed(referral):
        holder = next(
            (h for h in reversed(snapshot.handoffs) if h.state == HandoffState.CLOSED), latest
        )
        stage, since = Stage.CLOSED, ended_at(referral) or referral.updated_at
    elif current is None:
        stage = Stage.SEARCHING
        since = latest.updated_at if latest else referral.created_at
    elif current.state in AWAITING_ANSWER:
        stage, since, respond_by = Stage.WAITING, current.created_at, current.respond_by
    elif current.state == HandoffState.ACCEPTED:
        stage, since = Stage.ACCEPTED, current.updated_at
    else:
        stage, since = Stage.TAKEN_OVER, current.updated_at
    given = Feedback(referral.person_feedback) if referral.person_feedback else None
    return PublicStatus(
        stage=stage,
        holder_structure_id=holder.to_structure_id if holder else None,
        holder_name=holder.to_structure_name if holder else None,
        referent_structure_id=referral.structure_id,
        since=since,
        respond_by=respond_by,
        taken_over=taken,
        ended_at=ended_at(referral),
        can_withdraw=stage is not Stage.WITHDRAWN,
        can_give_feedback=stage is Stage.CLOSED and given is None,
        feedback=given,
        partners=tuple(dict.fromkeys(h.to_structure_name for h in snapshot.handoffs)),
    )
