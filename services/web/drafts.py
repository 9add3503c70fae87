"""Referral forms being filled in: what the person typed, kept server-side (sealed), bound to the
web session that started them, with the documents to join.

The feature encodes its own values (``bytes``); this module only keeps them. A draft lives at
most ``DRAFT_TTL`` and ends with its session (foreign key, cascade).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.kernel.db import Database
from services.web.crypto import Sealer
from services.web.models import DraftDocument, ReferralDraft

DRAFT_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class DocumentInfo:
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sent: bool


@dataclass(frozen=True)
class Draft:
    id: uuid.UUID
    structure_id: uuid.UUID
    idempotency_key: str
    values: bytes  # empty once sent
    referral_id: uuid.UUID | None
    documents: tuple[DocumentInfo, ...]


def _context(draft_id: uuid.UUID) -> str:
    return f"draft:{draft_id}"


def _document_context(document_id: uuid.UUID) -> str:
    return f"draft-document:{document_id}"


class Drafts:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def start(
        self, session_id: uuid.UUID, structure_id: uuid.UUID, values: bytes
    ) -> uuid.UUID:
        draft_id = uuid.uuid4()  # random: it is in URLs, and must not be guessable
        async with self.db.session() as session:
            session.add(
                ReferralDraft(
                    id=draft_id,
                    session_id=session_id,
                    structure_id=structure_id,
                    idempotency_key=secrets.token_urlsafe(32),
                    values=self._seal(draft_id, values),
                )
            )
        return draft_id

    def _seal(self, draft_id: uuid.UUID, values: bytes) -> str:
        return self.sealer.seal(values.decode(), _context(draft_id))

    async def get(self, session_id: uuid.UUID, draft_id: uuid.UUID) -> Draft | None:
        """The session's draft, or None (another session's, too old, or gone)."""
        async with self.db.session() as session:
            # One statement: the draft with what its documents are (not their content).
            found = (
                await session.execute(
                    sa.select(
                        ReferralDraft,
                        DraftDocument.id,
                        DraftDocument.filename,
                        DraftDocument.content_type,
                        DraftDocument.size,
                        DraftDocument.sent,
                    )
                    .outerjoin(DraftDocument, DraftDocument.draft_id == ReferralDraft.id)
                    .where(ReferralDraft.id == draft_id)
                    .order_by(DraftDocument.created_at, DraftDocument.id)
                )
            ).all()
        if not found:
            return None
        row = found[0][0]
        if row.session_id != session_id or row.created_at < utcnow() - DRAFT_TTL:
            return None
        values = b""
        if row.values:
            opened = self.sealer.open(row.values, _context(draft_id))
            if opened is None:
                return None
            values = opened.encode()
        return Draft(
            id=row.id,
            structure_id=row.structure_id,
            idempotency_key=row.idempotency_key,
            values=values,
            referral_id=row.referral_id,
            documents=tuple(
                DocumentInfo(
                    id=document_id,
                    filename=self.sealer.open(filename, _document_context(document_id))
                    or "document",
                    content_type=content_type,
                    size=size,
                    sent=sent,
                )
                for _, document_id, filename, content_type, size, sent in found
                if document_id is not None
            ),
        )

    async def save(self, draft_id: uuid.UUID, values: bytes) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.update(ReferralDraft)
                .where(ReferralDraft.id == draft_id, ReferralDraft.referral_id.is_(None))
                .values(values=self._seal(draft_id, values), updated_at=utcnow())
            )

    async def add_document(
        self, draft_id: uuid.UUID, filename: str, content_type: str, content: bytes
    ) -> None:
        document_id = uuid.uuid4()
        context = _document_context(document_id)
        async with self.db.session() as session:
            session.add(
                DraftDocument(
                    id=document_id,
                    draft_id=draft_id,
                    filename=self.sealer.seal(filename, context),
                    content_type=content_type,
                    size=len(content),
                    content=self.sealer.seal_bytes(content, context),
                )
            )

    async def remove_document(self, draft_id: uuid.UUID, document_id: uuid.UUID) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.delete(DraftDocument).where(
                    DraftDocument.id == document_id,
                    DraftDocument.draft_id == draft_id,
                    DraftDocument.sent.is_(False),
                )
            )

    async def document_content(self, draft_id: uuid.UUID, document_id: uuid.UUID) -> bytes | None:
        async with self.db.session() as session:
            row = await session.get(DraftDocument, document_id)
        if row is None or row.draft_id != draft_id:
            return None
        return self.sealer.open_bytes(row.content, _document_context(document_id))

    async def document_sent(self, document_id: uuid.UUID) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.update(DraftDocument).where(DraftDocument.id == document_id).values(sent=True)
            )

    async def sent(self, draft_id: uuid.UUID, referral_id: uuid.UUID) -> None:
        """The referral exists, its documents are still to send: remember it (a second
        « Envoyer » finds it and sends only what is left)."""
        async with self.db.session() as session:
            await session.execute(
                sa.update(ReferralDraft)
                .where(ReferralDraft.id == draft_id)
                .values(referral_id=referral_id, updated_at=utcnow())
            )

    async def finish(self, draft_id: uuid.UUID, referral_id: uuid.UUID) -> None:
        """Everything reached the API: what the person said is no longer kept here, only the
        referral (a second « Envoyer » finds it)."""
        async with self.db.session() as session:
            await session.execute(
                sa.delete(DraftDocument).where(DraftDocument.draft_id == draft_id)
            )
            await session.execute(
                sa.update(ReferralDraft)
                .where(ReferralDraft.id == draft_id)
                .values(values="", referral_id=referral_id, updated_at=utcnow())
            )

    async def discard(self, draft_id: uuid.UUID) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.delete(DraftDocument).where(DraftDocument.draft_id == draft_id)
            )
            await session.execute(sa.delete(ReferralDraft).where(ReferralDraft.id == draft_id))

    async def purge(self, now: datetime | None = None) -> int:
        """Drafts older than DRAFT_TTL (sent or abandoned) and their documents."""
        old = sa.select(ReferralDraft.id).where(
            ReferralDraft.created_at < (now or utcnow()) - DRAFT_TTL
        )
        async with self.db.session() as session:
            await session.execute(sa.delete(DraftDocument).where(DraftDocument.draft_id.in_(old)))
            gone = await session.execute(sa.delete(ReferralDraft).where(ReferralDraft.id.in_(old)))
        return int(getattr(gone, "rowcount", 0) or 0)
