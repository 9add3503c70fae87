"""Attachments (e.g. a letter from the CAF): encrypted at rest, visible under the consent rules."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, unquote

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.openapi import raw_body
from services.kernel.problems import FieldError, ProblemError
from services.referrals.api.common import PREFIX, actor_for
from services.referrals.api.idempotency import Answer, idempotent
from services.referrals.deps import IdempotencyKey
from services.referrals.domain.consent import Category
from services.referrals.schemas import AttachmentRead
from services.referrals.service.attachments import AttachmentService, Document

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
        attachments: AttachmentService,
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
        await attachments.may_attach(referral_id, actor)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_TYPES:
            raise ProblemError(
                415,
                "Type de document non accepté (PDF, PNG ou JPEG).",
                errors=[FieldError("Content-Type", "type non accepté", source="header")],
            )
        content = await request.body()
        limit = attachments.settings.referrals_attachment_max_bytes
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

        async def run() -> Answer[AttachmentRead]:
            read, pending = await attachments.add(
                actor, referral_id, Document(content, content_type, filename)
            )
            location = f"{PREFIX}/referrals/{referral_id}/attachments/{read.id}"
            return Answer(
                201, read, {"Location": location}, pending, frozenset({Category.DOCUMENTS})
            )

        return await idempotent(request, attachments, actor, AttachmentRead, run)

    @get(
        "/referrals/{referral_id:uuid}/attachments/{attachment_id:uuid}",
        operation_id="DownloadAttachment",
        media_type="application/octet-stream",
    )
    async def download(
        self,
        attachments: AttachmentService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        attachment_id: uuid.UUID,
    ) -> Response[bytes]:
        """The document, if the consent covers documents for the caller's structure (logged)."""
        actor = actor_for(authenticated, write=False)
        document = await attachments.download(referral_id, attachment_id, actor)
        return Response(
            document.content,
            media_type=document.content_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
