"""A staff member's mail preferences for the structure they act for."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, put

from services.kernel.clock import utcnow
from services.kernel.identity import Caller
from services.kernel.problems import ProblemError
from services.referrals import models as m
from services.referrals.api.common import PREFIX
from services.referrals.notifications.planner import DEFAULT_REFERENT_EVENTS, referent_events
from services.referrals.service import ReferralService

Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]


ReferentEvent = Literal[
    "handoff.acknowledged",
    "handoff.accepted",
    "handoff.declined",
    "handoff.expired",
    "handoff.taken_over",
    "handoff.closed",
]


class PreferenceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    # Mail about the referrals my structure receives: each one at once, a daily digest, none.
    mode: Literal["immediate", "digest", "off"] = "immediate"
    # Updates on the referrals I follow as referent (default: refusal, expiry, takeover,
    # the partner's closing of its part).
    referent_events: Annotated[list[ReferentEvent], msgspec.Meta(max_length=6)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_REFERENT_EVENTS)  # type: ignore[arg-type]
    )


class PreferenceRead(msgspec.Struct, kw_only=True):
    email: str | None
    mode: Literal["immediate", "digest", "off"]
    referent_events: list[ReferentEvent]


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
            return PreferenceRead(
                email=None,
                mode="off",
                referent_events=list(DEFAULT_REFERENT_EVENTS),  # type: ignore[arg-type]
            )
        return PreferenceRead(
            email=row.email,
            mode=row.mode,  # type: ignore[arg-type]
            referent_events=list(referent_events(row)),  # type: ignore[arg-type]
        )

    @put("/", operation_id="SetNotificationPreferences")
    async def write(
        self, svc: ReferralService, authenticated: Caller, data: PreferenceIn
    ) -> PreferenceRead:
        """For the referrals my structure receives: immediate mail, a daily digest (new,
        overdue, awaiting takeover), or nothing; and which updates I am told of on the referrals
        I follow as referent."""
        caller = _member(authenticated)
        assert caller.structure_id is not None
        row = await svc.session.get(m.NotificationPreference, (caller.subject, caller.structure_id))
        if row is None:
            row = m.NotificationPreference(subject=caller.subject, structure_id=caller.structure_id)
            svc.session.add(row)
        row.email = data.email
        row.mode = data.mode
        row.referent_events = sorted(set(data.referent_events))
        row.is_admin = caller.is_admin_of(caller.structure_id)
        row.updated_at = utcnow()
        return PreferenceRead(
            email=row.email,
            mode=data.mode,
            referent_events=row.referent_events,  # type: ignore[arg-type]
        )
