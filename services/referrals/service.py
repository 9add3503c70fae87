"""Referral flows: load, lock, ask the domain, persist the plan with its events, atomically.

Every mutation first takes the referral (``lock``), reads its fresh state, asks the pure domain
for a plan, and applies handoff state changes conditionally on their version. Each domain event
becomes a timeline row and an outbox row written with the change (staged by ``record``, written
by ``flush`` with set-based inserts: the hot path skips the ORM unit of work). Two ways to take
the referral:

- locking (SQLite, and the PostgreSQL flows that write as they go): an UPDATE that bumps its
  version (a row lock on PostgreSQL, the write lock on SQLite), all in the request's transaction;
- optimistic (PostgreSQL request paths that stage every write): a plain read, then everything
  in one statement guarded by the version read (``pgwrites``); a lost race writes nothing and
  the request plans again (``idempotency.idempotent``).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from services.kernel.clock import utcnow
from services.kernel.db import Database, new_uuid
from services.kernel.outbox import outbox_row
from services.kernel.problems import FieldError, ProblemError
from services.kernel.settings import Settings
from services.referrals import models as m
from services.referrals import pgwrites
from services.referrals.crypto import Keyring
from services.referrals.directory import Target
from services.referrals.domain import lifecycle, visibility
from services.referrals.domain.consent import Category, ConsentTerms
from services.referrals.domain.lifecycle import Event, Plan, ReferralStatus, Refusal
from services.referrals.domain.transitions import (
    AWAITING_ANSWER,
    Action,
    Actor,
    ActorKind,
    HandoffState,
    RefusalKind,
)
from services.referrals.models import (
    ACCESS_LOG,
    EVENTS,
    HANDOFFS,
    IDEMPOTENCY,
    OUTBOX,
    REFERRALS,
    THEMATIQUES,
)
from services.referrals.pgwrites import Guard, HandoffChange, WriteSet
from services.referrals.schemas import (
    CloseIn,
    PersonIn,
    ReferralCreate,
)

_STAGED = "referrals.staged"  # the session's WriteSet, in ``session.info``


def _staged(session: AsyncSession) -> WriteSet:
    staged: WriteSet = session.info.setdefault(_STAGED, WriteSet())
    return staged


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_staged(session: Session, _transaction: Any) -> None:
    session.info.pop(_STAGED, None)


@sa_event.listens_for(Session, "before_commit")
def _refuse_unwritten_events(session: Session) -> None:
    """A change recorded but never flushed would commit without its event: fail loudly."""
    staged = session.info.get(_STAGED)
    if staged:
        raise RuntimeError("changes staged but not written (call ReferralService.flush)")


# Statements of the hot path, built once (building them costs as much CPU as running them).
_LOCK = (
    sa.update(m.Referral)
    .where(m.Referral.id == sa.bindparam("referral_id"))
    .values(version=m.Referral.version + 1, updated_at=sa.bindparam("now"))
    .returning(m.Referral)
    .execution_options(populate_existing=True, synchronize_session=False)
)
# SET clause from the parameters' keys (compiled once per set of keys).
_CHANGE_STATE = sa.update(HANDOFFS).where(
    HANDOFFS.c.id == sa.bindparam("b_id"), HANDOFFS.c.version == sa.bindparam("b_version")
)
_SET_REFERRAL = sa.update(REFERRALS).where(REFERRALS.c.id == sa.bindparam("b_id"))
_INSERTS = {
    table: sa.insert(table)
    for table in (REFERRALS, THEMATIQUES, HANDOFFS, EVENTS, OUTBOX, ACCESS_LOG, IDEMPOTENCY)
}
_HANDOFFS = (
    sa.select(m.Handoff)
    .where(m.Handoff.referral_id == sa.bindparam("referral_id"))
    .order_by(m.Handoff.position)
    .execution_options(populate_existing=True)
)

# Outbox payload keys that could ever carry personal data (scrubbed on withdrawal).
PERSONAL_PAYLOAD_KEYS = frozenset({"person", "summary", "comment", "evaluation_comment"})


@dataclass
class Loaded:
    referral: m.Referral
    handoffs: list[m.Handoff]
    # Known when read with the referral (optimistic reads); None: ask ``attachments()``.
    attachments: list[m.Attachment] | None = None

    def handoff(self, handoff_id: uuid.UUID) -> m.Handoff | None:
        return next((h for h in self.handoffs if h.id == handoff_id), None)

    def snapshot(self) -> lifecycle.Referral:
        ref = self.referral
        return lifecycle.Referral(
            id=ref.id,
            origin_structure_id=ref.structure_id,
            status=ReferralStatus(ref.status),
            onward_relay_allowed=ref.onward_relay_allowed,
            handoffs=[
                lifecycle.Handoff(
                    id=h.id,
                    position=h.position,
                    from_structure_id=h.from_structure_id,
                    to_structure_id=h.to_structure_id,
                    state=HandoffState(h.state),
                    version=h.version,
                    was_accepted=h.state in (HandoffState.ACCEPTED, HandoffState.TAKEN_OVER)
                    or (h.state == HandoffState.CLOSED),
                )
                for h in self.handoffs
            ],
        )

    def terms(self) -> ConsentTerms:
        ref = self.referral
        return ConsentTerms(
            categories=frozenset(Category(c) for c in ref.consent_categories),
            recipients=frozenset(uuid.UUID(r) for r in ref.consent_recipients),
            further_partners=ref.consent_further_partners,
            expires_at=ref.consent_expires_at,
            withdrawn=ref.consent_withdrawn_at is not None,
        )

    def view(self, structure_id: uuid.UUID | None, now: datetime) -> visibility.View:
        """What ``structure_id`` may see of this referral now (``domain.visibility``)."""
        return visibility.view(self.snapshot(), self.terms(), structure_id, now)

    def party_structures(self) -> list[str]:
        ids = {str(self.referral.structure_id)}
        for h in self.handoffs:
            ids.update((str(h.from_structure_id), str(h.to_structure_id)))
        return sorted(ids)


def refusal_problem(refusal: Refusal, handoff: m.Handoff | None = None) -> ProblemError:
    extra: dict[str, Any] = {}
    if handoff is not None:
        extra = {"current_state": handoff.state, "current_version": handoff.version}
    status = 403 if refusal.kind is RefusalKind.NOT_ALLOWED else 409
    return ProblemError(status, refusal.reason, **extra)


def person_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:person"


def summary_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:summary"


def evaluation_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:evaluation"


def handoff_comment_context(handoff_id: uuid.UUID) -> str:
    return f"handoff:{handoff_id}:comment"


def event_comment_context(event_id: uuid.UUID) -> str:
    return f"event:{event_id}:comment"


def attachment_context(attachment_id: uuid.UUID) -> str:
    return f"attachment:{attachment_id}"


class ReferralService:
    """Referral flows on one session.

    ``optimistic`` (PostgreSQL, request paths whose every write is staged): ``lock`` reads
    without locking and the request's changes are written by one statement at ``flush``,
    guarded by the referral's version (``pgwrites``); a ``StaleWrite`` there means "plan again
    on a fresh read". Otherwise ``lock`` takes the row lock and writes go out as they come."""

    def __init__(
        self,
        session: AsyncSession,
        keyring: Keyring,
        settings: Settings,
        *,
        optimistic: Database | None = None,
    ) -> None:
        self.session = session
        self.keyring = keyring
        self.settings = settings
        # The PostgreSQL database written optimistically, by plain statements on pooled
        # connections (the session then only holds what is staged); None: the locking path.
        self._direct = optimistic

    @property
    def optimistic(self) -> bool:
        return self._direct is not None

    def _driver(self) -> AbstractAsyncContextManager[Any]:
        assert self._direct is not None
        return self._direct.driver()

    # -- reading -------------------------------------------------------------------------------

    async def load(self, referral_id: uuid.UUID) -> Loaded | None:
        if self.optimistic:  # one plain statement, no transaction begun
            async with self._driver() as connection:
                found = await pgwrites.read(connection, referral_id)
            return None if found is None else Loaded(*found)
        referral = await self.session.get(m.Referral, referral_id, populate_existing=True)
        if referral is None:
            return None
        return Loaded(referral, await self._handoffs(referral_id))

    async def _handoffs(self, referral_id: uuid.UUID) -> list[m.Handoff]:
        handoffs = await self.session.scalars(_HANDOFFS, {"referral_id": referral_id})
        return list(handoffs.all())

    async def attachments(self, referral_id: uuid.UUID) -> list[m.Attachment]:
        rows = await self.session.scalars(
            sa.select(m.Attachment)
            .where(m.Attachment.referral_id == referral_id)
            .order_by(m.Attachment.created_at, m.Attachment.id)
        )
        return list(rows.all())

    def decrypt_person(self, referral: m.Referral) -> dict[str, Any]:
        if referral.person_enc is None:
            return {}
        raw = self.keyring.open(referral.person_enc, person_context(referral.id))
        data: dict[str, Any] = msgspec.json.decode(raw)
        return data

    def open_text(self, token: str | None, context: str) -> str | None:
        return None if token is None else self.keyring.open(token, context)

    # -- writing primitives --------------------------------------------------------------------

    async def lock(
        self,
        referral_id: uuid.UUID,
        expected_version: int | None = None,
        *,
        visible_to: Actor | None = None,
    ) -> Loaded:
        """Serialise writers of one referral (bumping its version), then read its fresh state.

        The locking UPDATE returns the fresh row (one round trip); with ``visible_to``, a referral
        that actor's structure cannot see is a 404, checked before the version."""
        if self.optimistic:
            loaded = await self._read_for_write(referral_id)
        else:
            referral = (
                await self.session.scalars(_LOCK, {"referral_id": referral_id, "now": utcnow()})
            ).one_or_none()
            if referral is None:
                raise ProblemError(404, "Orientation introuvable.")
            loaded = Loaded(referral, await self._handoffs(referral_id))
        if (
            visible_to is not None
            and visible_to.kind is not ActorKind.SYSTEM
            and not loaded.view(visible_to.structure_id, utcnow()).party
        ):
            raise ProblemError(404, "Orientation introuvable.")
        previous = loaded.referral.version - 1
        if expected_version is not None and expected_version != previous:
            raise ProblemError(
                412,
                "L'orientation a été modifiée depuis votre lecture (If-Match périmé) ; "
                "rechargez-la avant de réessayer.",
                current_version=previous,
            )
        return loaded

    async def _read_for_write(self, referral_id: uuid.UUID) -> Loaded:
        """The optimistic twin of the locking UPDATE: read, bump the version in memory (as the
        lock does), and stage the compare-and-set that ``flush`` writes with the changes."""
        loaded = await self.load(referral_id)
        if loaded is None:
            raise ProblemError(404, "Orientation introuvable.")
        referral = loaded.referral
        now = utcnow()
        staged = _staged(self.session)
        staged.guard = Guard(
            referral.id, referral.version, {"version": referral.version + 1, "updated_at": now}
        )
        referral.version += 1
        referral.updated_at = now
        return loaded

    async def idempotency_record(self, owner: str, key: str) -> m.IdempotencyRecord | None:
        """The response stored under an Idempotency-Key, as committed now."""
        if self.optimistic:
            async with self._driver() as connection:
                return await pgwrites.idempotency_record(connection, owner, key)
        return await self.session.get(m.IdempotencyRecord, (owner, key), populate_existing=True)

    def discard(self) -> None:
        """Forget what this request staged (an optimistic write lost its race)."""
        self.session.info.pop(_STAGED, None)

    async def _change_state(
        self, handoff: m.Handoff, expected_version: int, to_state: HandoffState, **values: Any
    ) -> None:
        now = utcnow()
        changed = {
            "state": to_state.value,
            "version": expected_version + 1,
            "updated_at": now,
            **values,
        }
        if self.optimistic:
            _staged(self.session).handoff_changes.append(
                HandoffChange(handoff.id, expected_version, changed)
            )
        else:
            # Core statements on the tables: the ORM's bulk-update machinery costs more CPU
            # than the round trip, and the loaded rows are kept in step by hand below.
            result = await self.session.execute(
                _CHANGE_STATE, {"b_id": handoff.id, "b_version": expected_version, **changed}
            )
            if getattr(result, "rowcount", 1) != 1:
                raise ProblemError(
                    409,
                    "La transmission a changé entre-temps ; rechargez-la avant de réessayer.",
                    current_state=handoff.state,
                    current_version=handoff.version,
                )
        # Keep the loaded row in step without a reload (and without marking it dirty).
        for key, value in changed.items():
            set_committed_value(handoff, key, value)

    def record(
        self,
        loaded: Loaded,
        event: Event,
        actor: Actor,
        *,
        comment: str | None = None,
        data: dict[str, Any] | None = None,
        structures: list[str] | None = None,
    ) -> None:
        """Stage a timeline event and its outbox message(s); ``flush()`` writes them."""
        referral = loaded.referral
        if structures is None:
            handoff = loaded.handoff(event.handoff_id) if event.handoff_id else None
            if handoff is not None:
                structures = sorted(
                    {
                        str(referral.structure_id),
                        str(handoff.from_structure_id),
                        str(handoff.to_structure_id),
                    }
                )
            else:
                structures = loaded.party_structures()
        event_id = new_uuid()
        now = utcnow()
        staged = _staged(self.session)
        staged.insert(
            EVENTS,
            {
                "id": event_id,
                "referral_id": referral.id,
                "handoff_id": event.handoff_id,
                "type": event.type,
                "actor_kind": actor.kind.value,
                "actor_subject": actor.subject,
                "actor_structure_id": actor.structure_id,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "reason": event.reason,
                "comment_enc": (
                    self.keyring.seal(comment, event_comment_context(event_id)) if comment else None
                ),
                "structures": structures,
                "data": data or {},
                "occurred_at": now,
            },
        )
        staged.insert(
            OUTBOX,
            outbox_row(
                f"referrals.{event.type}",
                referral.id,
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
            ),
        )
        if event.type in ("handoff.declined", "handoff.expired"):
            # Alert the referent (the notifications job delivers it as mail).
            staged.insert(
                OUTBOX,
                outbox_row(
                    "referrals.alert.referent",
                    referral.id,
                    {
                        "referent": referral.referent,
                        "structure_id": str(referral.structure_id),
                        "referral_id": str(referral.id),
                        "handoff_id": str(event.handoff_id),
                        "event": event.type,
                        "reason": event.reason,
                    },
                ),
            )

    async def flush(self) -> None:
        """Write what the request staged. Optimistic: one statement (``pgwrites``), or
        ``StaleWrite`` and nothing written. Otherwise, in the session's transaction: pending
        ORM changes, then each table's staged rows in one executemany of a statement compiled
        once, parents first (a multi-row VALUES would be compiled on every call)."""
        staged = self.session.info.pop(_STAGED, None)
        if self.optimistic:
            if staged:
                async with self._driver() as connection:
                    await pgwrites.write(connection, staged)
            return
        await self.session.flush()
        if staged:
            for table, rows in staged.inserts.items():
                await self.session.execute(_INSERTS[table], rows)

    async def _written(self) -> None:
        """End of a flow: write now, unless the request writes everything at once."""
        if not self.optimistic:
            await self.flush()

    def stage_row(self, table: sa.Table, row: dict[str, Any]) -> None:
        """A row to insert with the request's changes (same statement when optimistic)."""
        _staged(self.session).insert(table, row)

    def _new_handoff_row(
        self,
        loaded: Loaded,
        handoff: lifecycle.Handoff,
        target: Target,
        actor: Actor,
        comment: str | None,
    ) -> m.Handoff:
        now = utcnow()
        days = target.response_days or self.settings.referrals_response_days
        values: dict[str, Any] = {
            "id": handoff.id,
            "referral_id": loaded.referral.id,
            "position": handoff.position,
            "from_structure_id": handoff.from_structure_id,
            "to_structure_id": handoff.to_structure_id,
            "to_service_id": target.service_id,
            "to_structure_name": target.structure_name,
            "to_service_name": target.service_name,
            "state": HandoffState.SENT.value,
            "version": 1,
            "respond_by": now + timedelta(days=days),
            "reminded_at": None,
            "decline_reason": None,
            "cancel_reason": None,
            "comment_enc": (
                self.keyring.seal(comment, handoff_comment_context(handoff.id)) if comment else None
            ),
            "relayed_to_id": None,
            "created_by": actor.subject,
            "created_at": now,
            "updated_at": now,
        }
        self.stage_row(HANDOFFS, values)
        row = m.detached(m.Handoff, values)
        loaded.handoffs.append(row)
        return row

    # -- flows ---------------------------------------------------------------------------------

    async def create(self, actor: Actor, body: ReferralCreate, target: Target) -> Loaded:
        """Record the referral and its first handoff; returns them as written (no reload)."""
        assert actor.structure_id is not None
        now = utcnow()
        referral_id, handoff_id = new_uuid(), new_uuid()
        try:
            _, plan = lifecycle.create(
                referral_id,
                actor.structure_id,
                target.structure_id,
                handoff_id,
                onward_relay_allowed=body.consent.onward_relay_allowed,
            )
        except Refusal as refusal:
            raise ProblemError(
                422,
                refusal.reason,
                errors=[FieldError(field="target.structure_id", reason=refusal.reason)],
            ) from None
        recipients = [str(target.structure_id)]
        recipients += [str(r) for r in body.consent.recipients if str(r) not in recipients]
        person = _person_dict(body.person)
        values: dict[str, Any] = {
            "id": referral_id,
            "structure_id": actor.structure_id,
            "created_by": actor.subject,
            "referent": body.referent or actor.subject,
            "status": plan.status.value,
            "version": 1,
            "thematiques": sorted(set(body.need.thematiques)),
            "urgency": body.need.urgency.value,
            "channel": body.need.channel.value,
            "age_band": body.need.age_band,
            "sex": body.need.sex.value,
            "person_enc": self.keyring.seal(
                msgspec.json.encode(person).decode(), person_context(referral_id)
            ),
            "summary_enc": (
                self.keyring.seal(body.need.summary, summary_context(referral_id))
                if body.need.summary
                else None
            ),
            "consent_given_by": body.consent.given_by.value,
            "consent_method": body.consent.method.value,
            "consent_captured_by": actor.subject,
            # In UTC, as stored and read back: the response is built from these very values.
            "consent_given_at": (body.consent.given_at or now).astimezone(UTC),
            "consent_purpose": body.consent.purpose,
            "consent_categories": sorted({c.value for c in body.consent.data_categories}),
            "consent_recipients": recipients,
            "consent_further_partners": body.consent.further_partners,
            "onward_relay_allowed": body.consent.onward_relay_allowed,
            "consent_expires_at": (
                body.consent.expires_at.astimezone(UTC) if body.consent.expires_at else None
            ),
            "created_at": now,
            "updated_at": now,
        }
        # Parents first: the staged inserts are written in table order.
        self.stage_row(REFERRALS, values)
        for thematique in values["thematiques"]:
            self.stage_row(THEMATIQUES, {"referral_id": referral_id, "thematique": thematique})
        loaded = Loaded(m.detached(m.Referral, values), [], attachments=[])
        assert plan.new_handoff is not None
        self._new_handoff_row(loaded, plan.new_handoff, target, actor, None)
        for event in plan.events:
            self.record(loaded, event, actor)
        await self._written()
        return loaded

    async def transition(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        action: Action,
        *,
        if_match: int | None,
        reason: str | None = None,
        comment: str | None = None,
        relay_target: Target | None = None,
    ) -> tuple[uuid.UUID, Loaded]:
        """Apply one handoff action; returns the handoff to show (the new one on relay) and the
        referral as it now stands."""
        loaded = await self.lock(referral_id)
        handoff = loaded.handoff(handoff_id)
        if actor.kind is not ActorKind.SYSTEM:
            # Checked on the locked, fresh state: other structures learn nothing (404).
            seen = loaded.view(actor.structure_id, utcnow())
            if not seen.party:
                raise ProblemError(404, "Orientation introuvable.")
            if handoff is not None and not seen.sees_handoff(handoff.id):
                handoff = None
        if handoff is None:
            raise ProblemError(404, "Transmission introuvable.")
        if if_match is not None and if_match != handoff.version:
            raise ProblemError(
                412,
                "La transmission a été modifiée depuis votre lecture (If-Match périmé) ; "
                "rechargez-la avant de réessayer.",
                current_state=handoff.state,
                current_version=handoff.version,
            )
        relay_id = new_uuid() if action is Action.RELAY else None
        try:
            plan = lifecycle.act(
                loaded.snapshot(),
                handoff_id,
                action,
                actor,
                reason=reason,
                relay_handoff_id=relay_id,
                relay_target_id=relay_target.structure_id if relay_target else None,
            )
        except Refusal as refusal:
            raise refusal_problem(refusal, handoff) from None
        values: dict[str, Any] = {}
        if action is Action.DECLINE:
            values["decline_reason"] = reason
        if action is Action.CANCEL:
            values["cancel_reason"] = reason
        if action is Action.RELAY:
            values["relayed_to_id"] = relay_id
        if comment:
            values["comment_enc"] = self.keyring.seal(comment, handoff_comment_context(handoff.id))
        await self._persist(loaded, plan, actor, values, comment=comment, relay_target=relay_target)
        return relay_id or handoff_id, loaded

    async def _persist(
        self,
        loaded: Loaded,
        plan: Plan,
        actor: Actor,
        values: dict[str, Any] | None = None,
        *,
        comment: str | None = None,
        relay_target: Target | None = None,
        referral_values: dict[str, Any] | None = None,
        new_handoff_comment: str | None = None,
    ) -> None:
        for change in plan.changes:
            handoff = loaded.handoff(change.handoff_id)
            assert handoff is not None
            await self._change_state(
                handoff, change.expected_version, change.to_state, **(values or {})
            )
        if plan.new_handoff is not None:
            assert relay_target is not None
            self._new_handoff_row(
                loaded, plan.new_handoff, relay_target, actor, new_handoff_comment
            )
        changes = {"status": plan.status.value, **(referral_values or {})}
        if referral_values or plan.status.value != loaded.referral.status:
            # (The version and updated_at were bumped by the lock.)
            if self.optimistic:
                guard = _staged(self.session).guard
                assert guard is not None  # staged by ``lock``
                guard.values.update(changes)
            else:
                await self.session.execute(_SET_REFERRAL, {"b_id": loaded.referral.id, **changes})
            for key, value in changes.items():
                set_committed_value(loaded.referral, key, value)
        for index, event in enumerate(plan.events):
            self.record(loaded, event, actor, comment=comment if index == 0 else None)
        await self._written()

    async def reorient(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        target: Target,
        *,
        add_recipient: bool,
        comment: str | None,
    ) -> tuple[uuid.UUID, Loaded]:
        """Send the person to another partner; returns the new handoff and the referral as it
        now stands."""
        loaded = await self.lock(referral_id)
        handoff_id = new_uuid()
        try:
            plan = lifecycle.reorient(loaded.snapshot(), actor, handoff_id, target.structure_id)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        referral_values: dict[str, Any] = {}
        recipients = list(loaded.referral.consent_recipients)
        if add_recipient and str(target.structure_id) not in recipients:
            referral_values["consent_recipients"] = [*recipients, str(target.structure_id)]
        await self._persist(
            loaded,
            plan,
            actor,
            comment=comment,
            relay_target=target,
            referral_values=referral_values,
            new_handoff_comment=comment,
        )
        return handoff_id, loaded

    async def close(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        body: CloseIn,
        *,
        expected_version: int | None = None,
    ) -> Loaded:
        loaded = await self.lock(referral_id, expected_version, visible_to=actor)
        try:
            plan = lifecycle.close(loaded.snapshot(), actor, outcome=body.outcome.value)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        now = utcnow()
        await self._persist(
            loaded,
            plan,
            actor,
            referral_values={
                "outcome": body.outcome.value,
                "evaluation_score": body.evaluation_score,
                "evaluation_comment_enc": (
                    self.keyring.seal(body.evaluation_comment, evaluation_context(referral_id))
                    if body.evaluation_comment
                    else None
                ),
                "closed_at": now,
            },
        )
        return loaded

    async def change_referent(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        referent: str,
        *,
        expected_version: int | None = None,
    ) -> Loaded:
        loaded = await self.lock(referral_id, expected_version, visible_to=actor)
        try:
            plan = lifecycle.change_referent(loaded.snapshot(), actor)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        await self._persist(loaded, plan, actor, referral_values={"referent": referent})
        return loaded

    async def withdraw(
        self, actor: Actor, referral_id: uuid.UUID, *, expected_version: int | None = None
    ) -> None:
        """Consent withdrawn: erase every personal value of the referral in this transaction."""
        loaded = await self.lock(referral_id, expected_version, visible_to=actor)
        try:
            plan = lifecycle.withdraw(loaded.snapshot(), actor)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        now = utcnow()
        await self._persist(
            loaded,
            plan,
            actor,
            {"cancel_reason": "consent_withdrawn"},
            referral_values={
                "person_enc": None,
                "summary_enc": None,
                "evaluation_comment_enc": None,
                "consent_withdrawn_at": now,
                "erased_at": now,
            },
        )
        await self.erase_personal_data(referral_id, now)

    async def erase_personal_data(self, referral_id: uuid.UUID, now: datetime) -> None:
        session = self.session
        await session.execute(
            sa.update(m.Handoff)
            .where(m.Handoff.referral_id == referral_id)
            .values(comment_enc=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            sa.update(m.TimelineEvent)
            .where(m.TimelineEvent.referral_id == referral_id)
            .values(comment_enc=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            sa.update(m.Attachment)
            .where(m.Attachment.referral_id == referral_id, m.Attachment.erased_at.is_(None))
            .values(content=None, filename_enc=None, key_id=None, erased_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            sa.update(m.IdempotencyRecord)
            .where(m.IdempotencyRecord.referral_id == referral_id)
            .values(response_enc=None)
            .execution_options(synchronize_session=False)
        )
        pending = await session.scalars(
            sa.select(m.OutboxEvent).where(
                m.OutboxEvent.aggregate_id == str(referral_id),
                m.OutboxEvent.processed_at.is_(None),
            )
        )
        for row in pending.all():
            if PERSONAL_PAYLOAD_KEYS & set(row.payload):
                row.payload = {
                    k: v for k, v in row.payload.items() if k not in PERSONAL_PAYLOAD_KEYS
                }
        # Webhook messages not delivered yet keep ids and states only.
        deliveries = await session.scalars(
            sa.select(m.WebhookDelivery).where(
                m.WebhookDelivery.referral_id == referral_id,
                m.WebhookDelivery.status == "pending",
            )
        )
        for delivery in deliveries.all():
            delivery.payload = scrub_payload(delivery.payload)
        await session.flush()

    # -- worker --------------------------------------------------------------------------------

    async def expire_due(self, now: datetime, limit: int = 100) -> int:
        """Expire handoffs still waiting for an answer after their deadline."""
        rows = await self.session.execute(
            sa.select(m.Handoff.referral_id, m.Handoff.id)
            .where(
                m.Handoff.state.in_([s.value for s in AWAITING_ANSWER]),
                m.Handoff.respond_by <= now,
            )
            .order_by(m.Handoff.respond_by)
            .limit(limit)
        )
        done = 0
        for referral_id, handoff_id in rows.all():
            try:
                async with self.session.begin_nested():
                    await self.transition(
                        Actor.system(), referral_id, handoff_id, Action.EXPIRE, if_match=None
                    )
            except ProblemError:
                continue  # answered or withdrawn meanwhile
            done += 1
        return done

    async def remind_due(self, now: datetime, limit: int = 100) -> int:
        """Remind receivers of handoffs whose deadline is near (once per handoff)."""
        lead = timedelta(days=self.settings.referrals_reminder_days)
        handoffs = await self.session.scalars(
            sa.select(m.Handoff)
            .where(
                m.Handoff.state.in_([s.value for s in AWAITING_ANSWER]),
                m.Handoff.reminded_at.is_(None),
                m.Handoff.respond_by > now,
                m.Handoff.respond_by <= now + lead,
            )
            .order_by(m.Handoff.respond_by)
            .limit(limit)
        )
        done = 0
        for handoff in handoffs.all():
            result = await self.session.execute(
                sa.update(m.Handoff)
                .where(m.Handoff.id == handoff.id, m.Handoff.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                continue
            loaded = await self.load(handoff.referral_id)
            assert loaded is not None
            self.record(
                loaded,
                Event("handoff.reminder", handoff_id=handoff.id, reason=None),
                Actor.system(),
                data={"respond_by": handoff.respond_by.isoformat()},
            )
            done += 1
        await self.flush()
        return done


def scrub_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A webhook payload without any personal key, at top level or in ``data``/``details``."""
    clean = {k: v for k, v in payload.items() if k not in PERSONAL_PAYLOAD_KEYS}
    data = clean.get("data")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in PERSONAL_PAYLOAD_KEYS}
        data["details"] = {}
        clean["data"] = data
    return clean


def _person_dict(person: PersonIn) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(person)
    return {k: v for k, v in data.items() if v is not None}


def actor_kind(kind: str) -> ActorKind:
    return ActorKind(kind)
