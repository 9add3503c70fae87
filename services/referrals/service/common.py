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
from services.referrals.crypto import DataKey, DecryptionError, Keyring
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


def second_evaluation_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:second-evaluation"


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
        # Data keys issued in this transaction to referrals that had none (see ``writing_key``).
        self._issued: dict[uuid.UUID, tuple[DataKey, str]] = {}
        # Data keys unwrapped in this transaction (a read opens several values).
        self._unwrapped: dict[tuple[uuid.UUID, str], DataKey] = {}

    # -- personal values -------------------------------------------------------------------------
    # Every personal value of a referral is sealed with the referral's own data key (see
    # ``crypto``); once erased, the referral has none and nothing sealed before opens again.

    def key(self, referral: ReferralRecord) -> DataKey | None:
        """The referral's data key; None once erased (and no new one was issued since)."""
        wrapped = referral.data_key_enc
        if wrapped is not None:
            key = self._unwrapped.get((referral.id, wrapped))
            if key is None:
                key = self.keyring.unwrap(wrapped, referral.id)
                self._unwrapped[(referral.id, wrapped)] = key
            return key
        issued = self._issued.get(referral.id)
        return None if issued is None else issued[0]

    def new_key(self, referral_id: uuid.UUID) -> tuple[DataKey, str]:
        """A fresh data key for a new referral, and its wrapped form to store."""
        key = DataKey.generate()
        return key, self.keyring.wrap(key, referral_id)

    def writing_key(self, referral: ReferralRecord) -> DataKey:
        key = self.key(referral)
        if key is None:
            # Anonymised while still open (inactivity), then written to again: the new text gets
            # a new key, stored with the change (``save``).
            self._issued[referral.id] = self.new_key(referral.id)
            key = self._issued[referral.id][0]
        return key

    def seal(self, referral: ReferralRecord, value: str | None, context: str) -> str | None:
        if value is None:
            return None
        return self.writing_key(referral).seal(value, context)

    def seal_bytes(self, referral: ReferralRecord, value: bytes, context: str) -> bytes:
        return self.writing_key(referral).seal_bytes(value, context)

    def open_text(self, referral: ReferralRecord, token: str | None, context: str) -> str | None:
        if token is None:
            return None
        return self._reading_key(referral).open(token, context)

    def open_bytes(self, referral: ReferralRecord, blob: bytes, context: str) -> bytes:
        return self._reading_key(referral).open_bytes(blob, context)

    def _reading_key(self, referral: ReferralRecord) -> DataKey:
        key = self.key(referral)
        if key is None:
            raise DecryptionError("the referral's data key was destroyed")
        return key

    @staticmethod
    def referent_values(key: DataKey, referral_id: uuid.UUID, referent: str) -> dict[str, Any]:
        """A staff account (its subject, a UUID) is kept as a reference; any other referent is
        free text, sealed like the person's data."""
        try:
            uuid.UUID(referent)
        except ValueError:
            return {
                "referent_subject": None,
                "referent_enc": key.seal(referent, referent_context(referral_id)),
            }
        return {"referent_subject": referent, "referent_enc": None}

    def referent(self, referral: ReferralRecord, *, free_text: bool) -> str | None:
        """The referent's account, or its free text when ``free_text`` may be shown."""
        if referral.referent_subject is not None or not free_text:
            return referral.referent_subject
        return self.open_text(referral, referral.referent_enc, referent_context(referral.id))

    def purpose(self, referral: ReferralRecord) -> str | None:
        return self.open_text(referral, referral.consent_purpose_enc, purpose_context(referral.id))

    def person(self, referral: ReferralRecord) -> dict[str, Any]:
        raw = self.open_text(referral, referral.person_enc, person_context(referral.id))
        if raw is None:
            return {}
        data: dict[str, Any] = msgspec.json.decode(raw)
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
                comment_enc=self.seal(referral, comment, event_comment_context(event_id)),
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
        change = pending.change
        issued = self._issued.get(pending.after.referral.id)
        if issued is not None and not change.erase and change.created is None:
            change.referral["data_key_enc"] = issued[1]
        try:
            await self.store.save(pending.before, pending.change)
        except Stale:
            raise ProblemError(
                409, "L'orientation a été modifiée entre-temps ; rechargez-la avant de réessayer."
            ) from None
