"""Attachments (e.g. a letter from the CAF): encrypted at rest, visible under the consent rules."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, unquote

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.clock import utcnow
from services.kernel.db import new_uuid
from services.kernel.openapi import raw_body
from services.kernel.problems import FieldError, ProblemError
from services.kernel.security import Caller, Scope
from services.referrals import models as m
from services.referrals.api.common import PREFIX, visible_referral
from services.referrals.deps import IdempotencyKey
from services.referrals.domain.consent import Category
from services.referrals.domain.lifecycle import Event
from services.referrals.idempotency import Outcome, idempotent
from services.referrals.schemas import AttachmentRead
from services.referrals.service import ReferralService, attachment_context
from services.referrals.views import actor_for, log_access

# Accepted types and the first bytes each must start with (checked, not trusted).
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*UTF-8''([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)', re.IGNORECASE)


def _filename(header: str | None) -> str:
    name = ""
    if header:
        star = _FILENAME_STAR.search(header)
        plain = _FILENAME.search(header)
        if star:
            name = unquote(star.group(1).strip())
        elif plain:
            name = (plain.group(1) or plain.group(2) or "").strip()
    name = name.replace("/", "_").replace("\\", "_").strip()[:200]
    return name or "document"


class AttachmentController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("attachments",)
    security = ({"bearer": []},)

    @post(
        "/referrals/{referral_id:uuid}/attachments",
        operation_id="UploadAttachment",
        status_code=201,
        operation_class=raw_body(
            ALLOWED_TYPES, "le document lui-même (PDF, PNG ou JPEG), tel quel, pas en multipart"
        ),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        content_disposition: str | None = Parameter(
            header="content-disposition",
            default=None,
            description='nom du fichier : `attachment; filename="courrier-caf.pdf"`',
        ),
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AttachmentRead]:
        """Attach a document: raw body (PDF, PNG or JPEG), name in Content-Disposition (not in
        the URL, which proxies log). Stored encrypted."""
        actor = actor_for(authenticated, write=True)
        filename = _filename(content_disposition)
        loaded = await visible_referral(svc, referral_id, actor)
        if actor.structure_id != loaded.referral.structure_id:
            raise ProblemError(
                403, "Seule la structure à l'origine de l'orientation peut joindre des documents."
            )
        if loaded.referral.erased_at is not None or loaded.referral.status == "withdrawn":
            raise ProblemError(
                409, "Le consentement a été retiré : aucun document ne peut être joint."
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_TYPES:
            raise ProblemError(
                415,
                "Type de document non accepté (PDF, PNG ou JPEG).",
                errors=[FieldError("Content-Type", "type non accepté", source="header")],
            )
        content = await request.body()
        limit = svc.settings.referrals_attachment_max_bytes
        if len(content) > limit:
            raise ProblemError(413, f"Le document dépasse la taille autorisée ({limit} octets).")
        if not content:
            raise ProblemError(422, "Le document est vide.", errors=[FieldError("body", "vide")])
        if not content.startswith(ALLOWED_TYPES[content_type]):
            raise ProblemError(
                422,
                "Le contenu du document ne correspond pas à son type déclaré.",
                errors=[FieldError("body", "contenu incohérent avec Content-Type")],
            )

        async def run() -> Outcome[AttachmentRead]:
            now = utcnow()
            attachment_id = new_uuid()
            context = attachment_context(attachment_id)
            key_id, sealed = svc.keyring.seal_bytes(content, context)
            row = m.Attachment(
                id=attachment_id,
                referral_id=referral_id,
                filename_enc=svc.keyring.seal(filename, context),
                content_type=content_type,
                size=len(content),
                key_id=key_id,
                content=sealed,
                created_by=actor.subject,
                created_at=now,
            )
            svc.session.add(row)
            locked = await svc.lock(referral_id)
            svc.record(
                locked, Event("attachment.added"), actor, data={"attachment_id": str(attachment_id)}
            )
            await svc.flush()
            body = AttachmentRead(
                id=attachment_id,
                content_type=content_type,
                size=len(content),
                filename=filename,
                created_at=now,
                erased=False,
            )
            location = f"{PREFIX}/referrals/{referral_id}/attachments/{attachment_id}"
            return Outcome(
                201, body, {"Location": location}, referral_id, frozenset({Category.DOCUMENTS})
            )

        return await idempotent(request, svc, actor, AttachmentRead, run)

    @get(
        "/referrals/{referral_id:uuid}/attachments/{attachment_id:uuid}",
        operation_id="DownloadAttachment",
        media_type="application/octet-stream",
    )
    async def download(
        self,
        svc: ReferralService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        attachment_id: uuid.UUID,
    ) -> Response[bytes]:
        """The document, if the consent covers documents for the caller's structure (logged)."""
        actor = actor_for(authenticated, write=False)
        loaded = await visible_referral(svc, referral_id, actor)
        attachment = await svc.session.get(m.Attachment, attachment_id)
        if attachment is None or attachment.referral_id != referral_id:
            raise ProblemError(404, "Document introuvable.")
        if Category.DOCUMENTS not in loaded.view(actor.structure_id, utcnow()).categories:
            raise ProblemError(
                403,
                "Le consentement de la personne ne couvre pas ses documents pour votre structure.",
            )
        if attachment.content is None or attachment.key_id is None:
            raise ProblemError(410, "Document effacé (retrait du consentement ou durée dépassée).")
        context = attachment_context(attachment.id)
        content = svc.keyring.open_bytes(attachment.key_id, attachment.content, context)
        filename = svc.open_text(attachment.filename_enc, context) or "document"
        log_access(svc, referral_id, actor, "attachment", {Category.DOCUMENTS})
        return Response(
            content,
            media_type=attachment.content_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
