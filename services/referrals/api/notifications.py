"""A staff member's mail preferences for the structure they act for."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, put

from services.kernel.clock import utcnow
from services.kernel.problems import ProblemError
from services.kernel.security import Caller
from services.referrals import models as m
from services.referrals.api.common import PREFIX
from services.referrals.service import ReferralService

Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]


class PreferenceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    mode: Literal["immediate", "digest", "off"] = "immediate"


class PreferenceRead(msgspec.Struct, kw_only=True):
    email: str | None
    mode: Literal["immediate", "digest", "off"]


def _member(caller: Caller) -> Caller:
    if caller.kind != "user" or not caller.is_member_of(caller.structure_id):
        raise ProblemError(403, "Réservé aux membres d'une structure, pour eux-mêmes.")
    return caller


class NotificationPreferencesController(Controller):
    path = f"{PREFIX}/notifications/preferences"
    tags = ("Notifications",)
    security = [{"bearer": []}]  # noqa: RUF012

    @get("/", operation_id="GetNotificationPreferences")
    async def read(self, svc: ReferralService, authenticated: Caller) -> PreferenceRead:
        """Where and how you receive referral mail for the structure you act for."""
        caller = _member(authenticated)
        row = await svc.session.get(m.NotificationPreference, (caller.subject, caller.structure_id))
        if row is None:
            return PreferenceRead(email=None, mode="off")
        return PreferenceRead(email=row.email, mode=row.mode)  # type: ignore[arg-type]

    @put("/", operation_id="SetNotificationPreferences")
    async def write(
        self, svc: ReferralService, authenticated: Caller, data: PreferenceIn
    ) -> PreferenceRead:
        """Immediate mail, a daily digest (new, overdue, awaiting takeover), or nothing."""
        caller = _member(authenticated)
        assert caller.structure_id is not None
        row = await svc.session.get(m.NotificationPreference, (caller.subject, caller.structure_id))
        if row is None:
            row = m.NotificationPreference(subject=caller.subject, structure_id=caller.structure_id)
            svc.session.add(row)
        row.email = data.email
        row.mode = data.mode
        row.is_admin = caller.is_admin_of(caller.structure_id)
        row.updated_at = utcnow()
        return PreferenceRead(email=row.email, mode=data.mode)
