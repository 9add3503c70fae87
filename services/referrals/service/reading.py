"""Reads of referrals: one referral or handoff, its timeline, its access log, a structure's inbox
and outbox, and the person's file (right of access). Every read that shows personal data is
written to the access log with the categories it showed."""

from __future__ import annotations

import base64
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

import msgspec

from services.kernel.clock import utcnow
from services.kernel.problems import ProblemError
from services.referrals.domain.consent import Category, filter_person
from services.referrals.domain.records import AccessRecord, Snapshot
from services.referrals.domain.transitions import AWAITING_ANSWER, Actor
from services.referrals.schemas import BoxItem, HandoffRead, ReferralRead, TimelineEventRead
from services.referrals.service.common import (
    Base,
    attachment_context,
    evaluation_context,
    event_comment_context,
    handoff_comment_context,
    second_evaluation_context,
    summary_context,
)
from services.referrals.service.views import (
    Shown,
    closing_ends_at,
    event_read,
    handoff_read,
    handoff_shown,
    referral_read,
)
from services.referrals.store import BoxFilters, Queries


class SubjectAccessExport(msgspec.Struct, kw_only=True):
    """Everything Relais holds about the person of one referral (right of access, RGPD art. 15)."""

    exported_at: datetime
    referral: dict[str, Any]
    handoffs: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    access_log: list[dict[str, Any]]


def _plain(record: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A record's values without its sealed ones (``*_enc``)."""
    return {k: v for k, v in asdict(record).items() if k not in skip and not k.endswith("_enc")}


async def read_referral(
    svc: Base, snapshot: Snapshot, actor: Actor, now: datetime
) -> tuple[ReferralRead, Shown]:
    """The referral as ``actor`` sees it (its attachments are read only when the consent shows
    them) and the personal categories shown."""
    seen = snapshot.view(actor.structure_id, now)
    attachments = (
        await svc.store.attachments(snapshot.referral.id)
        if Category.DOCUMENTS in seen.categories
        else []
    )
    return referral_read(svc, snapshot, attachments, actor, now)


class ReadingService(Base):
    async def get_referral(self, referral_id: uuid.UUID, actor: Actor) -> ReferralRead:
        now = utcnow()
        snapshot = await self.visible(referral_id, actor, now)
        read, shown = await read_referral(self, snapshot, actor, now)
        await self.log(referral_id, actor, "referral", shown, now)
        return read

    async def get_handoff(
        self, referral_id: uuid.UUID, handoff_id: uuid.UUID, actor: Actor
    ) -> HandoffRead:
        now = utcnow()
        snapshot = await self.visible(referral_id, actor, now)
        seen = snapshot.view(actor.structure_id, now)
        handoff = snapshot.handoff(handoff_id)
        if handoff is None or not seen.sees_handoff(handoff_id):
            raise ProblemError(404, "Transmission introuvable.")
        read = handoff_read(self, snapshot, handoff, actor, now, seen)
        await self.log(referral_id, actor, "handoff", handoff_shown(read), now)
        return read

    async def timeline(
        self, referral_id: uuid.UUID, actor: Actor, *, after: int, limit: int
    ) -> tuple[list[TimelineEventRead], bool]:
        """Events the actor's structure may see after ``after``, and whether more follow."""
        now = utcnow()
        snapshot = await self.visible(referral_id, actor, now)
        seen = snapshot.view(actor.structure_id, now)
        visible = [
            (position, event)
            for position, event in await self.store.events(referral_id, after=after)
            if seen.sees_event(event.structures)
        ]
        ref = snapshot.referral
        items = [event_read(self, ref, pos, event, seen) for pos, event in visible[:limit]]
        if any(i.comment for i in items):
            await self.log(referral_id, actor, "timeline", frozenset({Category.SITUATION}), now)
        return items, len(visible) > limit

    async def access_log(
        self,
        *,
        referral_id: uuid.UUID | None = None,
        origin_structure_id: uuid.UUID | None = None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[AccessRecord]:
        return await self.store.access_log(
            referral_id=referral_id,
            origin_structure_id=origin_structure_id,
            after=after,
            limit=limit,
        )

    @staticmethod
    def _box(
        box: Literal["inbox", "outbox"],
        actor: Actor,
        *,
        states: list[str] | None,
        thematique: str | None,
        since: datetime | None,
        until: datetime | None,
        partner: uuid.UUID | None,
        referent: str | None,
        overdue: bool | None,
    ) -> BoxFilters:
        assert actor.structure_id is not None
        inbox = box == "inbox"
        return BoxFilters(
            column="to_structure_id" if inbox else "from_structure_id",
            structure_id=actor.structure_id,
            awaiting=[s.value for s in AWAITING_ANSWER],
            now=utcnow(),
            states=states,
            thematique=thematique,
            since=since,
            until=until,
            # The structure at the other end of the handoff.
            partner=(("from_structure_id" if inbox else "to_structure_id"), partner)
            if partner
            else None,
            referent=referent,
            overdue=overdue,
        )

    async def box(
        self,
        box: Literal["inbox", "outbox"],
        actor: Actor,
        *,
        states: list[str] | None,
        thematique: str | None,
        since: datetime | None,
        until: datetime | None,
        partner: uuid.UUID | None,
        referent: str | None,
        overdue: bool | None,
        before: uuid.UUID | None,
        limit: int,
    ) -> list[BoxItem]:
        """Handoffs received (inbox) or sent (outbox) by the actor's structure, newest first,
        without personal data."""
        filters = self._box(
            box, actor, states=states, thematique=thematique, since=since, until=until,
            partner=partner, referent=referent, overdue=overdue,
        )  # fmt: skip
        rows = await Queries(self.session).box(filters, before=before, limit=limit)
        mine = actor.structure_id
        return [
            BoxItem(
                referral_id=referral.id,
                referral_status=referral.status,
                origin_structure_id=referral.structure_id,
                referent=referral.referent_subject if referral.structure_id == mine else None,
                thematiques=list(referral.thematiques),
                urgency=referral.urgency,  # type: ignore[arg-type]
                channel=referral.channel,  # type: ignore[arg-type]
                handoff=handoff_read(
                    self, Snapshot(referral, (handoff,)), handoff, actor, filters.now, None
                ),
                closing_ends_at=closing_ends_at(self, referral),
            )
            for referral, handoff in rows
        ]

    async def box_count(
        self,
        box: Literal["inbox", "outbox"],
        actor: Actor,
        *,
        states: list[str] | None,
        thematique: str | None,
        since: datetime | None,
        until: datetime | None,
        partner: uuid.UUID | None,
        referent: str | None,
        overdue: bool | None,
    ) -> int:
        """How many handoffs of the box match (the same filters as ``box``)."""
        filters = self._box(
            box, actor, states=states, thematique=thematique, since=since, until=until,
            partner=partner, referent=referent, overdue=overdue,
        )  # fmt: skip
        return await Queries(self.session).box_count(filters)

    async def export(self, referral_id: uuid.UUID, actor: Actor) -> SubjectAccessExport:
        """The person's file as the actor's structure may see it: whole for the origin (which
        holds the relation with the person), never more than its consent-filtered view for a
        receiver. Written to the access log with the categories it shows."""
        now = utcnow()
        snapshot = await self.visible(referral_id, actor, now)
        seen = snapshot.view(actor.structure_id, now)
        categories = seen.categories
        await self.log(referral_id, actor, "export", categories, now)
        ref = snapshot.referral
        referral = _plain(ref)
        person = filter_person(self.person(ref), categories) if categories else {}
        referral["person"] = person or None
        referral["summary"] = (
            self.open_text(ref, ref.summary_enc, summary_context(ref.id))
            if Category.SITUATION in categories
            else None
        )
        referral["referent"] = self.referent(ref, free_text=seen.comments)
        referral["consent_purpose"] = self.purpose(ref) if categories else None
        referral["evaluation_comment"] = (
            self.open_text(ref, ref.evaluation_comment_enc, evaluation_context(ref.id))
            if seen.comments
            else None
        )
        referral["second_evaluation_comment"] = (
            self.open_text(
                ref, ref.second_evaluation_comment_enc, second_evaluation_context(ref.id)
            )
            if seen.comments
            else None
        )
        handoffs = [
            {
                **_plain(h),
                "comment": self.open_text(ref, h.comment_enc, handoff_comment_context(h.id))
                if seen.comments
                else None,
            }
            for h in snapshot.handoffs
            if seen.sees_handoff(h.id)
        ]
        timeline = [
            {
                "position": position,
                **_plain(e),
                "comment": self.open_text(ref, e.comment_enc, event_comment_context(e.id))
                if seen.comments
                else None,
            }
            for position, e in await self.store.events(referral_id)
            if seen.sees_event(e.structures)
        ]
        files = []
        if Category.DOCUMENTS in categories:
            for a in await self.store.attachments(referral_id):
                found = await self.store.attachment_content(referral_id, a.id)
                assert found is not None
                _, content = found
                context = attachment_context(a.id)
                files.append(
                    {
                        **_plain(a),
                        "filename": self.open_text(ref, a.filename_enc, context),
                        "content_base64": base64.b64encode(
                            self.open_bytes(ref, content, context)
                        ).decode()
                        if content is not None
                        else None,
                    }
                )
        # Who read the file is the origin's record (as on the access-log route).
        log = await self.store.access_log(referral_id=referral_id) if seen.origin else []
        return SubjectAccessExport(
            exported_at=now,
            referral=referral,
            handoffs=handoffs,
            timeline=timeline,
            attachments=files,
            access_log=[asdict(r) for r in log],
        )

    async def log(
        self, referral_id: uuid.UUID, actor: Actor, resource: str, shown: Shown, now: datetime
    ) -> None:
        """Write a read of personal data to the access log (nothing when none was shown)."""
        if shown:
            await self.store.log_access([self.access(referral_id, actor, resource, shown, now)])
