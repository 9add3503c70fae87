"""The person's follow-up: codes issued and revoked by staff, and what the person does with
theirs — read where the request stands, withdraw consent, say how it went.

Every request by code is counted: per code (any request) and per address (codes that open
nothing), with the kernel's throttling rules; past the limit, 429. An unknown, revoked or
expired code is the same 404. The person acts as ``Actor.person()``: their reads go to the
access log and their withdrawal to the timeline as « la personne elle-même »."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.kernel.clock import utcnow
from services.kernel.problems import ProblemError
from services.kernel.throttle import ThrottlePolicy
from services.referrals.domain import followup
from services.referrals.domain.lifecycle import ReferralStatus
from services.referrals.domain.records import Change, Snapshot
from services.referrals.domain.transitions import Actor
from services.referrals.schemas import FeedbackIn
from services.referrals.service.common import Base, Pending, issue_follow_up_code
from services.referrals.service.flows import ReferralService

RESOURCE = "follow_up"


def feedback_context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:feedback"


def code_not_found() -> ProblemError:
    # One answer for unknown, revoked and expired codes: a guess learns nothing.
    return ProblemError(404, "Ce lien de suivi n'existe pas ou n'est plus valable.")


class FollowUpService(Base):
    """Staff side: renew a referral's code. Person side: open, withdraw, give feedback."""

    def _policies(self) -> tuple[ThrottlePolicy, ThrottlePolicy]:
        s = self.settings
        seconds = s.referrals_follow_up_lockout_seconds
        per_code = ThrottlePolicy(
            slowdown_after=s.referrals_follow_up_code_limit,
            lockout_after=s.referrals_follow_up_code_limit,
            lockout_seconds=seconds,
            ip_lockout_after=s.referrals_follow_up_code_limit,
        )
        per_address = ThrottlePolicy(
            slowdown_after=s.referrals_follow_up_ip_misses,
            lockout_after=s.referrals_follow_up_ip_misses,
            lockout_seconds=seconds,
            ip_lockout_after=s.referrals_follow_up_ip_misses,
        )
        return per_code, per_address

    async def renew(self, actor: Actor, referral_id: uuid.UUID) -> tuple[str, Pending]:
        """Revoke the referral's code and issue a new one (its sending structure only)."""
        now = utcnow()
        before = await self.take(referral_id, actor, now)
        referral = before.referral
        if actor.structure_id != referral.structure_id:
            raise ProblemError(
                403,
                "Seule la structure à l'origine de l'orientation peut renouveler le code de "
                "suivi de la personne.",
            )
        if referral.status == ReferralStatus.WITHDRAWN:
            raise ProblemError(
                409, "Le consentement a été retiré : la personne n'a plus de suivi à consulter."
            )
        change = Change(now=now, status=referral.status)
        code = issue_follow_up_code(change, referral_id, actor)
        return code, Pending(before, change, before.apply(change))

    async def open(self, code: str, address: str, now: datetime) -> Snapshot:
        """The referral ``code`` opens, once the request is counted; 429 past a limit, 404 for
        any code that opens nothing (the miss is counted and kept whatever follows)."""
        per_code, per_address = self._policies()
        digest = followup.code_hash(code) if followup.well_formed(code) else None
        address_key = f"ip:{address[:60]}"
        code_key = f"code:{digest[:40]}" if digest else None
        keys = [address_key] + ([code_key] if code_key else [])
        until = await self.store.throttled_until(keys, now)
        if until is not None:
            seconds = max(1, int((until - now).total_seconds()) + 1)
            raise ProblemError(
                429,
                "Trop de demandes : réessayez dans quelques minutes.",
                headers={"Retry-After": str(seconds)},
            )
        referral_id = await self.store.follow_up_referral(digest) if digest else None
        snapshot = await self.store.load(referral_id) if referral_id else None
        if snapshot is None or not followup.usable(snapshot.referral, now):
            await self.store.count_hit(address_key, per_address, now)
            await self.session.commit()  # the miss counts even though the answer is an error
            raise code_not_found()
        assert code_key is not None
        await self.store.count_hit(code_key, per_code, now)
        return snapshot

    async def view(self, code: str, address: str) -> tuple[Snapshot, followup.PublicStatus]:
        now = utcnow()
        snapshot = await self.open(code, address, now)
        await self.store.log_access(
            [self.access(snapshot.referral.id, Actor.person(), RESOURCE, frozenset(), now)]
        )
        return snapshot, followup.public_status(snapshot)

    async def withdraw(self, code: str, address: str) -> Snapshot:
        """The same withdrawal as staff record: erasure, events, notifications."""
        now = utcnow()
        snapshot = await self.open(code, address, now)
        if snapshot.referral.status == ReferralStatus.WITHDRAWN:
            return snapshot  # already done: the person sees the confirmation again
        person = Actor.person()
        flows = ReferralService(self.session, self.keyring, self.settings)
        pending = await flows.withdraw(person, snapshot.referral.id, if_match=None)
        pending.change.access.append(
            self.access(snapshot.referral.id, person, RESOURCE, frozenset(), now)
        )
        await self.save(pending)
        return pending.after

    async def feedback(self, code: str, address: str, body: FeedbackIn) -> Snapshot:
        """The person's answer once the referral is over (once)."""
        now = utcnow()
        snapshot = await self.open(code, address, now)
        person = Actor.person()
        before = await self.take(snapshot.referral.id, person, now)
        status = followup.public_status(before)
        if not status.can_give_feedback:
            detail = (
                "Vous avez déjà répondu. Merci !"
                if status.feedback is not None
                else "Vous pourrez donner votre avis quand la demande sera terminée."
            )
            raise ProblemError(409, detail)
        change = Change(
            now=now,
            status=before.referral.status,
            referral={
                "person_feedback": body.answer.value,
                "person_feedback_comment_enc": self.seal(
                    before.referral, body.comment, feedback_context(before.referral.id)
                ),
                "person_feedback_at": now,
            },
        )
        change.access.append(self.access(before.referral.id, person, RESOURCE, frozenset(), now))
        pending = Pending(before, change, before.apply(change))
        await self.save(pending)
        return pending.after
