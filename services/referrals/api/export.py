"""Data-subject access: export everything Relais holds about the person of one referral."""

from __future__ import annotations

import uuid

from litestar import Controller, get

from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.problems import ProblemError
from services.referrals.api.common import PREFIX, actor_for
from services.referrals.service.reading import ReadingService, SubjectAccessExport


class SubjectAccessController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("Droits des personnes",)
    security = [{"bearer": []}]  # noqa: RUF012

    @get("/referrals/{referral_id:uuid}/export", operation_id="ExportReferralSubjectData")
    async def export(
        self, reading: ReadingService, authenticated: Caller, referral_id: uuid.UUID
    ) -> SubjectAccessExport:
        """Right of access (RGPD art. 15): the person's data, the journey, the timeline, the
        attachments and the access log, as JSON, for the person, through the structure that holds
        the relation with them (the one that recorded the referral). A receiving structure gets
        no more than its own view under the consent. Staff members only; each export is written
        to the access log with the categories it shows."""
        if authenticated.kind != "user":
            raise ProblemError(403, "L'export pour la personne est réservé aux membres.")
        return await reading.export(referral_id, actor_for(authenticated, write=False))
