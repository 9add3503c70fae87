"""The person's follow-up: public endpoints by code (no account), and the staff endpoint that
issues a new code."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.access import CLIENT_SCOPES, ClientScopes, client_address
from services.kernel.identity import Caller, Scope
from services.referrals.api.common import PREFIX, actor_for
from services.referrals.api.idempotency import Answer, idempotent
from services.referrals.deps import IdempotencyKey, KeyringHolder, public_session
from services.referrals.directory import public_contact
from services.referrals.domain import followup
from services.referrals.domain.records import Snapshot
from services.referrals.schemas import (
    FeedbackIn,
    FollowUpCodeRead,
    FollowUpRead,
    PublicStructure,
)
from services.referrals.service.followup import FollowUpService


async def provide_follow_up(state: State, session: AsyncSession) -> FollowUpService:
    holder: KeyringHolder = state.keyring
    return FollowUpService(session, holder.get(), state.settings)


def _address(request: Request[Any, Any, Any]) -> str:
    return client_address(request, request.app.state.settings.forwarded_allow_ips)


async def _contact(
    request: Request[Any, Any, Any], structure_id: uuid.UUID | None, name: str | None
) -> PublicStructure | None:
    if structure_id is None:
        return None
    found = await public_contact(request.app.state.locator, structure_id)
    if found is None:
        return PublicStructure(name=name) if name else None
    return PublicStructure(name=found.name, phone=found.phone)


async def _read(request: Request[Any, Any, Any], snapshot: Snapshot) -> FollowUpRead:
    status = followup.public_status(snapshot)
    holder = await _contact(request, status.holder_structure_id, status.holder_name)
    referent = await _contact(request, status.referent_structure_id, None)
    return FollowUpRead(
        stage=status.stage,
        holder=holder,
        referent_structure=referent,
        since=status.since,
        respond_by=status.respond_by,
        taken_over=status.taken_over,
        ended_at=status.ended_at,
        valid_until=followup.valid_until(snapshot.referral),
        can_withdraw=status.can_withdraw,
        can_give_feedback=status.can_give_feedback,
        feedback=status.feedback,
        partners=[] if status.stage is followup.Stage.WITHDRAWN else list(status.partners),
    )


class FollowUpController(Controller):
    """No token: the code is the key. Counted per code and per address (429 past the limits);
    an unknown, revoked or expired code is the same 404."""

    path = f"{PREFIX}/follow-up"
    tags = ("follow-up",)
    dependencies = {  # noqa: RUF012
        "session": Provide(public_session),
        "follow_up": Provide(provide_follow_up),
    }

    @get("/{code:str}", operation_id="GetFollowUp")
    async def get_follow_up(
        self, request: Request[Any, Any, Any], follow_up: FollowUpService, code: str
    ) -> Response[FollowUpRead]:
        """Where the person's request stands, in what they may know (read logged as theirs)."""
        snapshot, _ = await follow_up.view(code, _address(request))
        return Response(await _read(request, snapshot), headers={"Cache-Control": "no-store"})

    @post("/{code:str}/withdraw", operation_id="WithdrawConsentByPerson", status_code=200)
    async def withdraw(
        self, request: Request[Any, Any, Any], follow_up: FollowUpService, code: str
    ) -> Response[FollowUpRead]:
        """The person withdraws their consent: the same withdrawal as staff record (personal
        data erased, open handoffs cancelled, the structures told). Repeating it changes
        nothing."""
        snapshot = await follow_up.withdraw(code, _address(request))
        return Response(await _read(request, snapshot), headers={"Cache-Control": "no-store"})

    @post("/{code:str}/feedback", operation_id="GiveFollowUpFeedback", status_code=200)
    async def feedback(
        self,
        request: Request[Any, Any, Any],
        follow_up: FollowUpService,
        code: str,
        data: FeedbackIn,
    ) -> Response[FollowUpRead]:
        """Once the request is over: did the person find a solution (oui, en partie, non)?
        Counted in the anonymous statistics; once per referral."""
        snapshot = await follow_up.feedback(code, _address(request), data)
        return Response(await _read(request, snapshot), headers={"Cache-Control": "no-store"})


class FollowUpCodeController(Controller):
    path = PREFIX
    opt = {CLIENT_SCOPES: ClientScopes(read=Scope.REFERRALS_READ, write=Scope.REFERRALS_WRITE)}  # noqa: RUF012
    tags = ("referrals",)
    security = ({"bearer": []},)
    dependencies = {"follow_up": Provide(provide_follow_up)}  # noqa: RUF012

    @post(
        "/referrals/{referral_id:uuid}/follow-up-code",
        operation_id="RenewFollowUpCode",
        status_code=201,
    )
    async def renew(
        self,
        request: Request[Any, Any, Any],
        follow_up: FollowUpService,
        authenticated: Caller,
        referral_id: uuid.UUID,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[FollowUpCodeRead]:
        """Revoke the person's follow-up code and issue a new one, shown this once (the sending
        structure only)."""
        actor = actor_for(authenticated, write=True)

        async def run() -> Answer[FollowUpCodeRead]:
            code, pending = await follow_up.renew(actor, referral_id)
            body = FollowUpCodeRead(
                referral_id=referral_id,
                code=code,
                valid_until=followup.valid_until(pending.after.referral),
            )
            return Answer(201, body, {"Cache-Control": "no-store"}, pending)

        return await idempotent(request, follow_up, actor, FollowUpCodeRead, run)
