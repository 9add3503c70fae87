"""Attachments (e.g. a letter from the CAF): sealed at rest, added by the origin structure through
the referral's one write path, read under the consent's documents category (and logged)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.kernel.clock import utcnow
from services.kernel.db import new_uuid
from services.kernel.problems import ProblemError
from services.referrals.domain.consent import Category
from services.referrals.domain.lifecycle import Event
from services.referrals.domain.records import AttachmentRecord, Change, NewAttachment, Snapshot
from services.referrals.domain.transitions import Actor
from services.referrals.schemas import AttachmentRead
from services.referrals.service.common import Base, Pending, attachment_context


@dataclass(frozen=True)
class Document:
    content: bytes
    content_type: str
    filename: str


def _check_may_attach(snapshot: Snapshot, actor: Actor) -> None:
    referral = snapshot.referral
    if actor.structure_id != referral.structure_id:
        raise ProblemError(
            403, "Seule la structure à l'origine de l'orientation peut joindre des documents."
        )
    if referral.erased_at is not None or referral.status == "withdrawn":
        raise ProblemError(409, "Le consentement a été retiré : aucun document ne peut être joint.")


class AttachmentService(Base):
    async def may_attach(self, referral_id: uuid.UUID, actor: Actor) -> None:
        """404, 403 or 409 before a document is even read, when it could not be attached."""
        _check_may_attach(await self.visible(referral_id, actor, utcnow()), actor)

    async def add(
        self, actor: Actor, referral_id: uuid.UUID, document: Document
    ) -> tuple[AttachmentRead, Pending]:
        """Attach a document to the referral (its origin structure only, before withdrawal)."""
        now = utcnow()
        before = await self.take(referral_id, actor, now)
        _check_may_attach(before, actor)
        referral = before.referral
        attachment_id = new_uuid()
        context = attachment_context(attachment_id)
        sealed = self.seal_bytes(referral, document.content, context)
        record = AttachmentRecord(
            id=attachment_id,
            referral_id=referral_id,
            filename_enc=self.seal(referral, document.filename, context),
            content_type=document.content_type,
            size=len(document.content),
            created_by=actor.subject,
            created_at=now,
            erased_at=None,
        )
        change = Change(
            now=now,
            status=referral.status,
            attachment=NewAttachment(record, sealed),
        )
        after = before.apply(change)
        self.record(
            after, change, Event("attachment.added"), actor, data={"attachment_id": str(record.id)}
        )
        read = AttachmentRead(
            id=record.id,
            content_type=record.content_type,
            size=record.size,
            filename=document.filename,
            created_at=now,
            erased=False,
        )
        return read, Pending(before, change, after)

    async def download(
        self, referral_id: uuid.UUID, attachment_id: uuid.UUID, actor: Actor
    ) -> Document:
        """The document, if the consent covers documents for the actor's structure (logged)."""
        now = utcnow()
        snapshot = await self.visible(referral_id, actor, now)
        found = await self.store.attachment_content(referral_id, attachment_id)
        if found is None:
            raise ProblemError(404, "Document introuvable.")
        if Category.DOCUMENTS not in snapshot.view(actor.structure_id, now).categories:
            raise ProblemError(
                403,
                "Le consentement de la personne ne couvre pas ses documents pour votre structure.",
            )
        record, content = found
        if content is None:
            raise ProblemError(410, "Document effacé (retrait du consentement ou durée dépassée).")
        context = attachment_context(record.id)
        plain = self.open_bytes(snapshot.referral, content, context)
        filename = self.open_text(snapshot.referral, record.filename_enc, context) or "document"
        access = self.access(referral_id, actor, "attachment", frozenset({Category.DOCUMENTS}), now)
        await self.store.log_access([access])
        return Document(plain, record.content_type, filename)
