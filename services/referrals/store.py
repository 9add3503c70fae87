"""The referrals store: a referral loaded as a plain snapshot, a change saved with one version
check. The one write path of the aggregate, the same statements on SQLite and PostgreSQL, used by
every writer (API, worker, withdrawal, retention, attachments).

A writer loads the referral ``for_update``: it takes the referral's row for writing first (a
write that changes nothing: PostgreSQL's row lock, SQLite's write lock), so writers of one
referral queue there and each plans on what the previous one committed — a client that sent no
precondition is answered on the current state, one that sent an outdated If-Match gets 412.

``save`` runs in the caller's transaction. It moves the referral's version with a
compare-and-set (``UPDATE … WHERE id = … AND version = <read>``): a change planned on any other
version writes nothing and raises ``Stale`` — every write of a referral goes through here, so
every write moves its version. Then handoff updates (each checked against the version read), and
Core inserts: new handoffs, events, outbox messages, access log, idempotency record, attachment.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel import throttle
from services.kernel.outbox import outbox_row
from services.kernel.throttle import ThrottlePolicy
from services.referrals.domain.records import (
    AccessRecord,
    AttachmentRecord,
    Change,
    EventRecord,
    HandoffRecord,
    IdempotencyRecord,
    ReferralRecord,
    Snapshot,
)
from services.referrals.models import (
    ACCESS_LOG,
    ATTACHMENTS,
    EVENTS,
    FOLLOW_UP_CODES,
    FOLLOW_UP_THROTTLE,
    HANDOFFS,
    IDEMPOTENCY,
    OUTBOX,
    REFERRAL_KEYS,
    REFERRALS,
    THEMATIQUES,
    WEBHOOK_DELIVERIES,
)

# Outbox and webhook payload keys that could ever carry personal data (scrubbed on erasure).
PERSONAL_PAYLOAD_KEYS = frozenset({"person", "summary", "comment", "evaluation_comment"})


class Stale(Exception):
    """The referral (or one of its handoffs) changed since it was read: nothing was written."""


def _fields(record: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(record))


_REFERRAL_FIELDS = _fields(ReferralRecord)
# A referral's columns, with its wrapped data key (kept in a table of its own).
_REFERRAL_COLUMNS = tuple(
    REFERRAL_KEYS.c.wrapped.label(name) if name == "data_key_enc" else REFERRALS.c[name]
    for name in _REFERRAL_FIELDS
)
_WITH_KEY = REFERRALS.outerjoin(REFERRAL_KEYS, REFERRAL_KEYS.c.referral_id == REFERRALS.c.id)
_HANDOFF_FIELDS = _fields(HandoffRecord)
_ATTACHMENT_FIELDS = _fields(AttachmentRecord)
_EVENT_FIELDS = _fields(EventRecord)

# Statements built once (building one costs about as much CPU as running it).
# Taking the referral for writing: a write to its row (PostgreSQL's row lock, SQLite's write lock)
# held until the transaction ends, so writers of one referral plan one after the other, each on
# the state the previous one committed.
_TAKE = (
    sa.update(REFERRALS)
    .where(REFERRALS.c.id == sa.bindparam("referral_id"))
    .values(version=REFERRALS.c.version)
)
_LOAD = (
    sa.select(
        *_REFERRAL_COLUMNS,
        *(HANDOFFS.c[name].label(f"h_{name}") for name in _HANDOFF_FIELDS),
    )
    .select_from(_WITH_KEY.outerjoin(HANDOFFS, HANDOFFS.c.referral_id == REFERRALS.c.id))
    .where(REFERRALS.c.id == sa.bindparam("referral_id"))
    .order_by(HANDOFFS.c.position)
)
# SET clauses come from the parameters' keys (compiled once per set of keys).
_SET_REFERRAL = sa.update(REFERRALS).where(
    REFERRALS.c.id == sa.bindparam("b_id"), REFERRALS.c.version == sa.bindparam("b_version")
)
_SET_HANDOFF = sa.update(HANDOFFS).where(
    HANDOFFS.c.id == sa.bindparam("b_id"), HANDOFFS.c.version == sa.bindparam("b_version")
)
_INSERT = {
    table: sa.insert(table)
    for table in (
        REFERRALS,
        REFERRAL_KEYS,
        THEMATIQUES,
        HANDOFFS,
        EVENTS,
        OUTBOX,
        ACCESS_LOG,
        IDEMPOTENCY,
    )
}
_ATTACHMENTS = (
    sa.select(*(ATTACHMENTS.c[name] for name in _ATTACHMENT_FIELDS))
    .where(ATTACHMENTS.c.referral_id == sa.bindparam("referral_id"))
    .order_by(ATTACHMENTS.c.created_at, ATTACHMENTS.c.id)
)


def _row(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


class ReferralStore:
    """Queries and persistence of the referral aggregate, on one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the aggregate ---------------------------------------------------------------------------

    async def load(self, referral_id: uuid.UUID, *, for_update: bool = False) -> Snapshot | None:
        """The referral and its handoffs, from one statement (one snapshot). ``for_update``:
        first take the referral for writing, until the transaction ends (a writer's load)."""
        if for_update:
            await self.session.execute(_TAKE, {"referral_id": referral_id})
        rows = (await self.session.execute(_LOAD, {"referral_id": referral_id})).all()
        if not rows:
            return None
        width = len(_REFERRAL_FIELDS)
        referral = ReferralRecord(*rows[0][:width])
        handoffs = tuple(HandoffRecord(*row[width:]) for row in rows if row[width] is not None)
        return Snapshot(referral, handoffs)

    async def save(self, before: Snapshot | None, change: Change) -> None:
        """Write ``change`` in the session's transaction; ``Stale`` (and nothing written by this
        call) when the referral moved on since ``before`` was read."""
        execute = self.session.execute
        values = dict(change.referral)
        # The data key has a row of its own: written when given, deleted with the erasure.
        wrapped = values.pop("data_key_enc", None)
        if change.created is not None:
            created = change.created
            row = _row(created)
            wrapped = row.pop("data_key_enc")
            await execute(_INSERT[REFERRALS], row)
            await execute(
                _INSERT[THEMATIQUES],
                [{"referral_id": created.id, "thematique": t} for t in created.thematiques],
            )
            referral_id = created.id
        else:
            assert before is not None
            referral_id = before.referral.id
            moved = await execute(
                _SET_REFERRAL,
                {
                    "b_id": referral_id,
                    "b_version": before.referral.version,
                    "version": before.referral.version + 1,
                    "status": change.status,
                    "updated_at": change.now,
                    **values,
                },
            )
            if _count(moved) != 1:
                raise Stale
            for handoff_id, values in change.handoffs.items():
                done = await execute(
                    _SET_HANDOFF,
                    {"b_id": handoff_id, "b_version": change.expected[handoff_id], **values},
                )
                if _count(done) != 1:
                    raise Stale
        if wrapped is not None and not change.erase:
            key_row = {"referral_id": referral_id, "wrapped": wrapped, "created_at": change.now}
            await execute(_INSERT[REFERRAL_KEYS], key_row)
        inserts: list[tuple[sa.Table, list[dict[str, Any]]]] = [
            (HANDOFFS, [_row(h) for h in change.new_handoffs]),
            (EVENTS, [_row(e) for e in change.events]),
            (OUTBOX, [outbox_row(topic, referral_id, p) for topic, p in change.messages]),
            (ACCESS_LOG, [_row(a) for a in change.access]),
            (IDEMPOTENCY, [_row(change.idempotency)] if change.idempotency else []),
        ]
        for table, rows in inserts:
            if rows:
                await execute(_INSERT[table], rows)
        if change.follow_up_code is not None:
            await execute(
                sa.update(FOLLOW_UP_CODES)
                .where(
                    FOLLOW_UP_CODES.c.referral_id == referral_id,
                    FOLLOW_UP_CODES.c.revoked_at.is_(None),
                )
                .values(revoked_at=change.now)
            )
            await execute(sa.insert(FOLLOW_UP_CODES), _row(change.follow_up_code))
        if change.attachment is not None:
            new = change.attachment
            await execute(
                sa.insert(ATTACHMENTS),
                {**_row(new.record), "content": new.content},
            )
        if change.erase:
            await self._erase(referral_id, change.now)
        elif change.erase_attachments:
            await self._erase_attachments(referral_id, change.now)

    async def _erase(self, referral_id: uuid.UUID, now: datetime) -> None:
        """Personal data kept outside the snapshot: event comments, attachments, stored answers,
        queued outbox and webhook payloads; and the referral's data key, which makes any other
        copy of them (older row versions, backups) unreadable."""
        execute = self.session.execute
        await execute(sa.delete(REFERRAL_KEYS).where(REFERRAL_KEYS.c.referral_id == referral_id))
        await execute(
            sa.update(EVENTS).where(EVENTS.c.referral_id == referral_id).values(comment_enc=None)
        )
        await self._erase_attachments(referral_id, now)
        await execute(
            sa.update(IDEMPOTENCY)
            .where(IDEMPOTENCY.c.referral_id == referral_id)
            .values(response_enc=None)
        )
        for table, pending in (
            (OUTBOX, OUTBOX.c.processed_at.is_(None)),
            (WEBHOOK_DELIVERIES, WEBHOOK_DELIVERIES.c.status == "pending"),
        ):
            key = (
                OUTBOX.c.aggregate_id == str(referral_id)
                if table is OUTBOX
                else WEBHOOK_DELIVERIES.c.referral_id == referral_id
            )
            rows = (await execute(sa.select(table.c.id, table.c.payload).where(key, pending))).all()
            for row_id, payload in rows:
                clean = scrub_payload(payload)
                if clean != payload:
                    await execute(
                        sa.update(table).where(table.c.id == row_id).values(payload=clean)
                    )

    async def _erase_attachments(self, referral_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            sa.update(ATTACHMENTS)
            .where(ATTACHMENTS.c.referral_id == referral_id, ATTACHMENTS.c.erased_at.is_(None))
            .values(content=None, filename_enc=None, erased_at=now)
        )

    async def log_access(self, entries: Sequence[AccessRecord]) -> None:
        """Reads of personal data by a request that writes nothing else."""
        if entries:
            await self.session.execute(_INSERT[ACCESS_LOG], [_row(a) for a in entries])

    # -- the person's follow-up -------------------------------------------------------------------

    async def follow_up_referral(self, code_hash: str) -> uuid.UUID | None:
        """The referral a follow-up code opens, if the code was not revoked (by its hash: one
        index lookup, whatever the code)."""
        found = await self.session.execute(
            sa.select(FOLLOW_UP_CODES.c.referral_id).where(
                FOLLOW_UP_CODES.c.code_hash == code_hash, FOLLOW_UP_CODES.c.revoked_at.is_(None)
            )
        )
        return found.scalar_one_or_none()

    async def throttled_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        """When the first of ``keys`` that is locked opens again (None: none is)."""
        return await throttle.blocked_until(self.session, FOLLOW_UP_THROTTLE, keys, now)

    async def count_hit(self, key: str, policy: ThrottlePolicy, now: datetime) -> None:
        """One more request counted against ``key`` (it locks when the policy says so); a burst
        in parallel is counted in full (``kernel.throttle.count_failure``)."""
        await throttle.count_failure(
            self.session, FOLLOW_UP_THROTTLE, key, policy, now, per_ip=True
        )

    # -- what hangs off the aggregate ------------------------------------------------------------

    async def attachments(self, referral_id: uuid.UUID) -> list[AttachmentRecord]:
        rows = await self.session.execute(_ATTACHMENTS, {"referral_id": referral_id})
        return [AttachmentRecord(*row) for row in rows.all()]

    async def attachment_content(
        self, referral_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> tuple[AttachmentRecord, bytes | None] | None:
        """An attachment of the referral with its sealed content (None once erased)."""
        row = (
            await self.session.execute(
                sa.select(
                    *(ATTACHMENTS.c[name] for name in _ATTACHMENT_FIELDS),
                    ATTACHMENTS.c.content,
                ).where(ATTACHMENTS.c.id == attachment_id, ATTACHMENTS.c.referral_id == referral_id)
            )
        ).one_or_none()
        if row is None:
            return None
        width = len(_ATTACHMENT_FIELDS)
        return AttachmentRecord(*row[:width]), row[width]

    async def events(
        self, referral_id: uuid.UUID, *, after: int = 0
    ) -> list[tuple[int, EventRecord]]:
        """The timeline from ``after`` (a position), oldest first, with each event's position."""
        rows = await self.session.execute(
            sa.select(EVENTS.c.position, *(EVENTS.c[name] for name in _EVENT_FIELDS))
            .where(EVENTS.c.referral_id == referral_id, EVENTS.c.position > after)
            .order_by(EVENTS.c.position)
        )
        return [(row[0], EventRecord(*row[1:])) for row in rows.all()]

    async def access_log(
        self,
        *,
        referral_id: uuid.UUID | None = None,
        origin_structure_id: uuid.UUID | None = None,
        after: uuid.UUID | None = None,
        limit: int | None = None,
    ) -> list[AccessRecord]:
        """Reads of one referral, or of every referral a structure sent, by id (time order)."""
        query = sa.select(*(ACCESS_LOG.c[name] for name in _fields(AccessRecord)))
        if referral_id is not None:
            query = query.where(ACCESS_LOG.c.referral_id == referral_id)
        if origin_structure_id is not None:
            sent = sa.select(REFERRALS.c.id).where(REFERRALS.c.structure_id == origin_structure_id)
            query = query.where(ACCESS_LOG.c.referral_id.in_(sent))
        if after is not None:
            query = query.where(ACCESS_LOG.c.id > after)
        query = query.order_by(ACCESS_LOG.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [AccessRecord(*row) for row in (await self.session.execute(query)).all()]

    async def idempotency(self, owner: str, key: str) -> IdempotencyRecord | None:
        row = (
            await self.session.execute(
                sa.select(*(IDEMPOTENCY.c[name] for name in _fields(IdempotencyRecord))).where(
                    IDEMPOTENCY.c.owner == owner, IDEMPOTENCY.c.key == key
                )
            )
        ).one_or_none()
        return None if row is None else IdempotencyRecord(*row)

    async def forget_idempotency(self, before: datetime) -> int:
        result = await self.session.execute(
            sa.delete(IDEMPOTENCY).where(IDEMPOTENCY.c.created_at < before)
        )
        return _count(result)


def scrub_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload without any personal key, at top level or in ``data``/``details``."""
    clean = {k: v for k, v in payload.items() if k not in PERSONAL_PAYLOAD_KEYS}
    data = clean.get("data")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in PERSONAL_PAYLOAD_KEYS}
        data["details"] = {}
        clean["data"] = data
    return clean


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@dataclasses.dataclass(frozen=True)
class BoxFilters:
    """A box and its filters: ``column`` is ``to_structure_id`` (inbox) or
    ``from_structure_id`` (outbox); ``partner`` is (the other end's column, its id)."""

    column: str
    structure_id: uuid.UUID
    awaiting: Sequence[str]
    now: datetime
    states: Sequence[str] | None = None
    thematique: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    partner: tuple[str, uuid.UUID] | None = None
    referent: str | None = None
    overdue: bool | None = None


class Queries:
    """Set-based reads across referrals: the inbox and outbox, the worker's due handoffs, the
    retention's candidates."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _box_conditions(box: BoxFilters) -> list[sa.ColumnElement[bool]]:
        """The conditions of a box and its filters, on handoffs joined to their referral."""
        found: list[sa.ColumnElement[bool]] = [HANDOFFS.c[box.column] == box.structure_id]
        if box.states:
            found.append(HANDOFFS.c.state.in_(box.states))
        if box.thematique is not None:
            found.append(
                sa.exists().where(
                    THEMATIQUES.c.referral_id == REFERRALS.c.id,
                    THEMATIQUES.c.thematique == box.thematique,
                )
            )
        if box.since is not None:
            found.append(HANDOFFS.c.created_at >= box.since)
        if box.until is not None:
            found.append(HANDOFFS.c.created_at < box.until)
        if box.partner is not None:
            found.append(HANDOFFS.c[box.partner[0]] == box.partner[1])
        if box.referent is not None:
            found.append(REFERRALS.c.referent_subject == box.referent)
        late = sa.and_(HANDOFFS.c.state.in_(box.awaiting), HANDOFFS.c.respond_by <= box.now)
        if box.overdue is True:
            found.append(late)
        elif box.overdue is False:
            found.append(sa.not_(late))
        return found

    async def box(
        self, box: BoxFilters, *, before: uuid.UUID | None, limit: int
    ) -> list[tuple[ReferralRecord, HandoffRecord]]:
        """Handoffs of a box, newest first, with their referral."""
        query = (
            sa.select(*_REFERRAL_COLUMNS, *(HANDOFFS.c[name] for name in _HANDOFF_FIELDS))
            .select_from(HANDOFFS.join(_WITH_KEY, REFERRALS.c.id == HANDOFFS.c.referral_id))
            .where(*self._box_conditions(box))
            .order_by(HANDOFFS.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(HANDOFFS.c.id < before)
        width = len(_REFERRAL_FIELDS)
        return [
            (ReferralRecord(*row[:width]), HandoffRecord(*row[width:]))
            for row in (await self.session.execute(query)).all()
        ]

    async def box_count(self, box: BoxFilters) -> int:
        """How many handoffs of a box match."""
        query = (
            sa.select(sa.func.count())
            .select_from(HANDOFFS.join(REFERRALS, REFERRALS.c.id == HANDOFFS.c.referral_id))
            .where(*self._box_conditions(box))
        )
        return int(await self.session.scalar(query) or 0)

    async def due_handoffs(
        self,
        states: Sequence[str],
        *,
        respond_after: datetime | None,
        respond_by: datetime,
        unreminded: bool,
        limit: int,
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(referral id, handoff id) of handoffs in ``states`` whose deadline falls in the
        window, soonest first."""
        query = sa.select(HANDOFFS.c.referral_id, HANDOFFS.c.id).where(
            HANDOFFS.c.state.in_(states), HANDOFFS.c.respond_by <= respond_by
        )
        if respond_after is not None:
            query = query.where(HANDOFFS.c.respond_by > respond_after)
        if unreminded:
            query = query.where(HANDOFFS.c.reminded_at.is_(None))
        query = query.order_by(HANDOFFS.c.respond_by).limit(limit)
        return [(row[0], row[1]) for row in (await self.session.execute(query)).all()]

    async def closings_due(self, closed_before: datetime, *, limit: int) -> list[uuid.UUID]:
        """Referrals one side closed before ``closed_before`` that still wait for the other
        side's part, oldest first."""
        query = (
            sa.select(REFERRALS.c.id)
            .where(
                REFERRALS.c.status == "taken_over",
                REFERRALS.c.closed_at.is_not(None),
                REFERRALS.c.closed_at < closed_before,
            )
            .order_by(REFERRALS.c.closed_at)
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def quiet_since(
        self, before: datetime, *, ended: bool, open_states: Sequence[str]
    ) -> list[uuid.UUID]:
        """Referrals not erased whose last event is older than ``before``: those that ended
        (closed, or in progress with no open handoff left), or those still open."""
        condition = _ended(open_states)
        if not ended:
            condition = sa.and_(sa.not_(condition), REFERRALS.c.status != "withdrawn")
        last = _last_activity()
        rows = await self.session.execute(
            sa.select(REFERRALS.c.id)
            .join(last, last.c.referral_id == REFERRALS.c.id)
            .where(REFERRALS.c.erased_at.is_(None), condition, last.c.last_at < before)
            .order_by(REFERRALS.c.id)
        )
        return list(rows.scalars().all())

    async def ended_attachments(
        self, before: datetime, *, open_states: Sequence[str]
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(referral id, attachment id) of attachments still held by referrals that ended and
        whose last event is older than ``before``."""
        last = _last_activity()
        rows = await self.session.execute(
            sa.select(ATTACHMENTS.c.referral_id, ATTACHMENTS.c.id)
            .join(REFERRALS, REFERRALS.c.id == ATTACHMENTS.c.referral_id)
            .join(last, last.c.referral_id == REFERRALS.c.id)
            .where(ATTACHMENTS.c.erased_at.is_(None), _ended(open_states), last.c.last_at < before)
            .order_by(ATTACHMENTS.c.referral_id)
        )
        return [(row[0], row[1]) for row in rows.all()]


def _last_activity() -> Any:
    return (
        sa.select(EVENTS.c.referral_id, sa.func.max(EVENTS.c.occurred_at).label("last_at"))
        .group_by(EVENTS.c.referral_id)
        .subquery()
    )


def _ended(open_states: Sequence[str]) -> Any:
    has_open = sa.exists(
        sa.select(HANDOFFS.c.id).where(
            HANDOFFS.c.referral_id == REFERRALS.c.id, HANDOFFS.c.state.in_(open_states)
        )
    )
    return sa.or_(
        REFERRALS.c.status == "closed",
        sa.and_(REFERRALS.c.status == "in_progress", sa.not_(has_open)),
    )
