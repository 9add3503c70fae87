"""What every referral flow shares: the service's parts (store, keyring, settings), sealing and
opening personal values, turning domain events into timeline rows and outbox messages, and
saving a pending change (a lost version check becomes 412 / 409)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.db import new_uuid
from services.kernel.problems import ProblemError
from services.kernel.settings import Settings
from services.referrals.crypto import Keyring
from services.referrals.domain import followup
from services.referrals.domain.consent import Category
from services.referrals.domain.lifecycle import Event, Refusal
from services.referrals.domain.records import (
    AccessRecord,
    Change,
    EventRecord,
    FollowUpCodeRecord,
    HandoffRecord,
    ReferralRecord,
    Snapshot,
)
from services.referrals.domain.transitions import Actor, ActorKind, RefusalKind
from services.referrals.store import ReferralStore, Stale

# Where each sealed value lives (associated data: a ciphertext cannot be moved to another row).


def person_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:person"


def summary_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:summary"


def purpose_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:purpose"


def referent_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:referent"


def evaluation_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:evaluation"


def handoff_comment_context(handoff_id: uuid.UUID) -> str:
    return f"handoff:{handoff_id}:comment"


def event_comment_context(event_id: uuid.UUID) -> str:
    return f"event:{event_id}:comment"


def attachment_context(attachment_id: uuid.UUID) -> str:
    return f"attachment:{attachment_id}"


def not_found() -> ProblemError:
    return ProblemError(404, "Orientation introuvable.")


def stale(what: str, **current: Any) -> ProblemError:
    return ProblemError(
        412,
        f"{what} a été modifiée depuis votre lecture (If-Match périmé) ; "
        "rechargez-la avant de réessayer.",
        **current,
    )


def refusal_problem(refusal: Refusal, handoff: HandoffRecord | None = None) -> ProblemError:
    extra: dict[str, Any] = {}
    if handoff is not None:
        extra = {"current_state": handoff.state, "current_version": handoff.version}
    status = 403 if refusal.kind is RefusalKind.NOT_ALLOWED else 409
    return ProblemError(status, refusal.reason, **extra)


# Events that alert the referent (mailed by the notifications).
ALERTS_REFERENT = frozenset({"handoff.declined", "handoff.expired"})
REFERENT_ALERT = "referrals.alert.referent"


@dataclass
class Pending:
    """A change a flow made, not saved yet: the snapshot it was planned on and the one it leads
    to (responses are built from ``after``; ``before`` is None for a new referral)."""

    before: Snapshot | None
    change: Change
    after: Snapshot
    # A follow-up code issued by the change, in clear: for its answer only, never stored.
    follow_up_code: str | None = None


def issue_follow_up_code(change: Change, referral_id: uuid.UUID, actor: Actor) -> str:
    """Add a new follow-up code to ``change`` (any earlier one of the referral stops working)
    and return it in clear, the one time it is shown."""
    code = followup.new_code()
    change.follow_up_code = FollowUpCodeRecord(
        code_hash=followup.code_hash(code),
        referral_id=referral_id,
        created_by=actor.subject,
        created_at=change.now,
    )
    return code


class Base:
    """The parts a referral flow works with, on one session (one transaction)."""

    def __init__(self, session: AsyncSession, keyring: Keyring, settings: Settings) -> None:
        self.session = session
        self.keyring = keyring
        self.settings = settings
        self.store = ReferralStore(session)

    # -- personal values -------------------------------------------------------------------------

    def seal(self, value: str | None, context: str) -> str | None:
        return None if value is None else self.keyring.seal(value, context)

    def open_text(self, token: str | None, context: str) -> str | None:
        return None if token is None else self.keyring.open(token, context)

    def referent_values(self, referral_id: uuid.UUID, referent: str) -> dict[str, Any]:
        """A staff account (its subject, a UUID) is kept as a reference; any other referent is
        free text, sealed like the person's data."""
        try:
            uuid.UUID(referent)
        except ValueError:
            return {
                "referent_subject": None,
                "referent_enc": self.seal(referent, referent_context(referral_id)),
            }
        return {"referent_subject": referent, "referent_enc": None}

    def referent(self, referral: ReferralRecord, *, free_text: bool) -> str | None:
        """The referent's account, or its free text when ``free_text`` may be shown."""
        if referral.referent_subject is not None or not free_text:
            return referral.referent_subject
        return self.open_text(referral.referent_enc, referent_context(referral.id))

    def purpose(self, referral: ReferralRecord) -> str | None:
        return self.open_text(referral.consent_purpose_enc, purpose_context(referral.id))

    def person(self, referral: ReferralRecord) -> dict[str, Any]:
        if referral.person_enc is None:
            return {}
        data: dict[str, Any] = msgspec.json.decode(
            self.keyring.open(referral.person_enc, person_context(referral.id))
        )
        return data

    # -- reading ---------------------------------------------------------------------------------

    async def visible(self, referral_id: uuid.UUID, actor: Actor, now: datetime) -> Snapshot:
        """The referral if the actor's structure takes part in it; 404 otherwise (its existence
        is not revealed)."""
        snapshot = await self.store.load(referral_id)
        if snapshot is None or not snapshot.view(actor.structure_id, now).party:
            raise not_found()
        return snapshot

    async def take(
        self, referral_id: uuid.UUID, actor: Actor, now: datetime, *, if_match: int | None = None
    ) -> Snapshot:
        """The referral loaded for writing (see ``store``); 404 when the actor's structure takes
        no part in it, 412 when ``if_match`` is not its version."""
        before = await self.store.load(referral_id, for_update=True)
        if before is None:
            raise not_found()
        # The worker acts on any referral; the person reaches only their own (by its code).
        if (
            actor.kind not in (ActorKind.SYSTEM, ActorKind.PERSON)
            and not before.view(actor.structure_id, now).party
        ):
            raise not_found()
        if if_match is not None and if_match != before.referral.version:
            raise stale("L'orientation", current_version=before.referral.version)
        return before

    def access(
        self,
        referral_id: uuid.UUID,
        actor: Actor,
        resource: str,
        categories: frozenset[Category],
        now: datetime,
    ) -> AccessRecord:
        """An access-log entry: who read which categories of the person's data, when."""
        return AccessRecord(
            id=new_uuid(),
            referral_id=referral_id,
            actor_kind=actor.kind.value,
            actor_subject=actor.subject,
            structure_id=actor.structure_id,
            resource=resource,
            categories=sorted(str(c) for c in categories),
            at=now,
        )

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self,
        after: Snapshot,
        change: Change,
        event: Event,
        actor: Actor,
        *,
        comment: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add ``event`` to ``change``: its timeline row and its outbox message(s). ``after``
        holds the handoff the event is about (for who may see it)."""
        referral = after.referral
        structures = after.event_structures(event.handoff_id)
        event_id = new_uuid()
        now = change.now
        change.events.append(
            EventRecord(
                id=event_id,
                referral_id=referral.id,
                handoff_id=event.handoff_id,
                type=event.type,
                actor_kind=actor.kind.value,
                actor_subject=actor.subject,
                actor_structure_id=actor.structure_id,
                from_state=event.from_state,
                to_state=event.to_state,
                reason=event.reason,
                comment_enc=self.seal(comment, event_comment_context(event_id)),
                structures=structures,
                data=data or {},
                occurred_at=now,
            )
        )
        change.messages.append(
            (
                f"referrals.{event.type}",
                {
                    "event_id": str(event_id),
                    "type": event.type,
                    "referral_id": str(referral.id),
                    "handoff_id": str(event.handoff_id) if event.handoff_id else None,
                    "from_state": event.from_state,
                    "to_state": event.to_state,
                    "reason": event.reason,
                    "actor_kind": actor.kind.value,
                    "actor_structure_id": str(actor.structure_id) if actor.structure_id else None,
                    "structures": structures,
                    "occurred_at": now.isoformat(),
                    **(data or {}),
                },
            )
        )
        if event.type in ALERTS_REFERENT:
            change.messages.append(
                (
                    REFERENT_ALERT,
                    {
                        "referent": referral.referent_subject,
                        "structure_id": str(referral.structure_id),
                        "referral_id": str(referral.id),
                        "handoff_id": str(event.handoff_id),
                        "event": event.type,
                        "reason": event.reason,
                    },
                )
            )

    async def save(self, pending: Pending) -> None:
        """Write the pending change in this transaction. Loaded with ``take``, the referral
        cannot move on meanwhile; if it did anyway, nothing of this change is written (409)."""
        try:
            await self.store.save(pending.before, pending.change)
        except Stale:
            raise ProblemError(
                409, "L'orientation a été modifiée entre-temps ; rechargez-la avant de réessayer."
            ) from None
