"""Referral flows: load the referral for writing, ask the domain for a plan, turn it into the
change the store saves. Each flow returns the change pending (``Pending``): the caller builds
its answer from the snapshot the change leads to, then saves (see ``api.idempotency``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from services.kernel.clock import utcnow
from services.kernel.db import new_uuid
from services.kernel.problems import FieldError, ProblemError
from services.referrals.directory import Target
from services.referrals.domain import consent as consent_rules
from services.referrals.domain import lifecycle
from services.referrals.domain.lifecycle import Plan, Refusal
from services.referrals.domain.records import Change, HandoffRecord, ReferralRecord, Snapshot
from services.referrals.domain.transitions import Action, Actor, ActorKind, HandoffState
from services.referrals.schemas import CloseIn, PersonIn, ReferralCreate
from services.referrals.service.common import (
    Base,
    Pending,
    evaluation_context,
    handoff_comment_context,
    issue_follow_up_code,
    person_context,
    purpose_context,
    refusal_problem,
    second_evaluation_context,
    stale,
    summary_context,
)


class ReferralService(Base):
    """The referral's lifecycle: create, answer a handoff, re-orient, close, change referent,
    withdraw consent."""

    def apply(
        self,
        before: Snapshot,
        plan: Plan,
        actor: Actor,
        now: datetime,
        *,
        handoff_values: dict[str, Any] | None = None,
        referral_values: dict[str, Any] | None = None,
        new_handoff: HandoffRecord | None = None,
        comment: str | None = None,
    ) -> Pending:
        """The change a domain plan makes: its handoff state changes (with ``handoff_values``
        set on each), ``referral_values``, the new handoff, and one event per plan event (the
        first one carrying ``comment``)."""
        change = Change(now=now, status=plan.status.value, referral=dict(referral_values or {}))
        for state_change in plan.changes:
            handoff = before.handoff(state_change.handoff_id)
            assert handoff is not None
            change.handoffs[handoff.id] = {
                "state": state_change.to_state.value,
                "version": state_change.expected_version + 1,
                "updated_at": now,
                **(handoff_values or {}),
            }
            change.expected[handoff.id] = state_change.expected_version
        if new_handoff is not None:
            change.new_handoffs.append(new_handoff)
        after = before.apply(change)
        for index, event in enumerate(plan.events):
            self.record(after, change, event, actor, comment=comment if index == 0 else None)
        return Pending(before, change, after)

    def new_handoff(
        self,
        referral: ReferralRecord,
        planned: lifecycle.Handoff,
        target: Target,
        actor: Actor,
        now: datetime,
        comment: str | None,
    ) -> HandoffRecord:
        days = target.response_days or self.settings.referrals_response_days
        return HandoffRecord(
            id=planned.id,
            referral_id=referral.id,
            position=planned.position,
            from_structure_id=planned.from_structure_id,
            to_structure_id=planned.to_structure_id,
            to_service_id=target.service_id,
            to_structure_name=target.structure_name,
            to_service_name=target.service_name,
            state=HandoffState.SENT.value,
            version=1,
            respond_by=now + timedelta(days=days),
            reminded_at=None,
            decline_reason=None,
            cancel_reason=None,
            comment_enc=self.seal(referral, comment, handoff_comment_context(planned.id)),
            relayed_to_id=None,
            created_by=actor.subject,
            created_at=now,
            updated_at=now,
        )

    # -- flows ---------------------------------------------------------------------------------

    async def create(self, actor: Actor, body: ReferralCreate, target: Target) -> Pending:
        """A new referral and its first handoff."""
        assert actor.structure_id is not None
        now = utcnow()
        referral_id, handoff_id = new_uuid(), new_uuid()
        try:
            _, plan = lifecycle.create(
                referral_id,
                actor.structure_id,
                target.structure_id,
                handoff_id,
                onward_relay_allowed=body.consent.onward_relay_allowed,
            )
        except Refusal as refusal:
            raise ProblemError(
                422,
                refusal.reason,
                errors=[FieldError(field="target.structure_id", reason=refusal.reason)],
            ) from None
        consent = body.consent
        if not consent_rules.names(consent.recipients, target.structure_id):
            # Never extended silently: the person agreed to a list, the target must be on it.
            raise ProblemError(
                422,
                f"consent.recipients : {consent_rules.TARGET_NOT_NAMED}",
                errors=[
                    FieldError(field="consent.recipients", reason=consent_rules.TARGET_NOT_NAMED)
                ],
            )
        recipients = list(dict.fromkeys(str(r) for r in consent.recipients))
        key, wrapped = self.new_key(referral_id)
        referent: dict[str, Any] = {"referent_subject": actor.subject, "referent_enc": None}
        if body.referent is not None:
            referent = self.referent_values(key, referral_id, body.referent)
        summary = body.need.summary or None
        referral = ReferralRecord(
            id=referral_id,
            structure_id=actor.structure_id,
            created_by=actor.subject,
            **referent,
            status=plan.status.value,
            version=1,
            thematiques=sorted(set(body.need.thematiques)),
            urgency=body.need.urgency.value,
            channel=body.need.channel.value,
            age_band=body.need.age_band,
            sex=body.need.sex.value,
            person_enc=key.seal(
                msgspec.json.encode(_person_dict(body.person)).decode(),
                person_context(referral_id),
            ),
            summary_enc=key.seal(summary, summary_context(referral_id)) if summary else None,
            consent_given_by=consent.given_by.value,
            consent_method=consent.method.value,
            consent_captured_by=actor.subject,
            # In UTC, as stored and read back: the response is built from these very values.
            consent_given_at=(consent.given_at or now).astimezone(UTC),
            consent_purpose_enc=(
                key.seal(consent.purpose, purpose_context(referral_id))
                if consent.purpose is not None
                else None
            ),
            consent_categories=sorted({c.value for c in consent.data_categories}),
            consent_recipients=recipients,
            consent_further_partners=consent.further_partners,
            onward_relay_allowed=consent.onward_relay_allowed,
            consent_expires_at=consent.expires_at.astimezone(UTC) if consent.expires_at else None,
            consent_withdrawn_at=None,
            outcome=None,
            evaluation_score=None,
            evaluation_comment_enc=None,
            closed_at=None,
            erased_at=None,
            created_at=now,
            updated_at=now,
            data_key_enc=wrapped,
        )
        assert plan.new_handoff is not None
        first = self.new_handoff(referral, plan.new_handoff, target, actor, now, None)
        change = Change(now=now, status=plan.status.value, created=referral, new_handoffs=[first])
        after = Snapshot(referral, (first,))
        for event in plan.events:
            self.record(after, change, event, actor)
        code = issue_follow_up_code(change, referral_id, actor)
        return Pending(None, change, after, follow_up_code=code)

    async def transition(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        handoff_id: uuid.UUID,
        action: Action,
        *,
        if_match: int | None,
        reason: str | None = None,
        comment: str | None = None,
        relay_target: Target | None = None,
    ) -> tuple[uuid.UUID, Pending]:
        """One handoff action; returns the handoff to show (the new one on relay) and the
        pending change."""
        now = utcnow()
        before = await self.take(referral_id, actor, now)
        handoff = before.handoff(handoff_id)
        if (
            handoff is not None
            and actor.kind is not ActorKind.SYSTEM
            and not before.view(actor.structure_id, now).sees_handoff(handoff.id)
        ):
            handoff = None
        if handoff is None:
            raise ProblemError(404, "Transmission introuvable.")
        if if_match is not None and if_match != handoff.version:
            raise stale(
                "La transmission", current_state=handoff.state, current_version=handoff.version
            )
        relay_id = new_uuid() if action is Action.RELAY else None
        try:
            plan = lifecycle.act(
                before.aggregate,
                handoff_id,
                action,
                actor,
                reason=reason,
                relay_handoff_id=relay_id,
                relay_target_id=relay_target.structure_id if relay_target else None,
            )
        except Refusal as refusal:
            raise refusal_problem(refusal, handoff) from None
        if relay_target is not None and not consent_rules.covers_relay(
            before.referral.consent_recipients,
            further_partners=before.referral.consent_further_partners,
            origin_structure_id=before.referral.structure_id,
            target=relay_target.structure_id,
        ):
            # A partner the consent leaves out would take the person over blind.
            raise ProblemError(
                422,
                f"target.structure_id : {consent_rules.RELAY_NOT_COVERED}",
                errors=[
                    FieldError(field="target.structure_id", reason=consent_rules.RELAY_NOT_COVERED)
                ],
            )
        values: dict[str, Any] = {}
        if action is Action.DECLINE:
            values["decline_reason"] = reason
        if action is Action.CANCEL:
            values["cancel_reason"] = reason
        if action is Action.RELAY:
            values["relayed_to_id"] = relay_id
        if comment:
            values["comment_enc"] = self.seal(
                before.referral, comment, handoff_comment_context(handoff.id)
            )
        new = None
        if plan.new_handoff is not None:
            assert relay_target is not None
            new = self.new_handoff(
                before.referral, plan.new_handoff, relay_target, actor, now, None
            )
        pending = self.apply(
            before, plan, actor, now, handoff_values=values, new_handoff=new, comment=comment
        )
        return relay_id or handoff_id, pending

    async def reorient(
        self,
        actor: Actor,
        referral_id: uuid.UUID,
        target: Target,
        *,
        add_recipient: bool,
        comment: str | None,
    ) -> tuple[uuid.UUID, Pending]:
        """Send the person to another partner; returns the new handoff and the pending change."""
        now = utcnow()
        before = await self.take(referral_id, actor, now)
        handoff_id = new_uuid()
        try:
            plan = lifecycle.reorient(before.aggregate, actor, handoff_id, target.structure_id)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        recipients = list(before.referral.consent_recipients)
        covered = before.referral.consent_further_partners or consent_rules.names(
            recipients, target.structure_id
        )
        if not covered and not add_recipient:
            # Never sent blind: the person's agreement to this partner is recorded, or no send.
            raise ProblemError(
                422,
                f"add_recipient : {consent_rules.REORIENT_NOT_COVERED}",
                errors=[
                    FieldError(field="add_recipient", reason=consent_rules.REORIENT_NOT_COVERED)
                ],
            )
        values: dict[str, Any] = {}
        if add_recipient and str(target.structure_id) not in recipients:
            values["consent_recipients"] = [*recipients, str(target.structure_id)]
        assert plan.new_handoff is not None
        new = self.new_handoff(before.referral, plan.new_handoff, target, actor, now, comment)
        pending = self.apply(
            before, plan, actor, now, referral_values=values, new_handoff=new, comment=comment
        )
        return handoff_id, pending

    async def close(
        self, actor: Actor, referral_id: uuid.UUID, body: CloseIn, *, if_match: int | None
    ) -> Pending:
        """Each side closes and evaluates its own part: the first closes the handoff, the
        second ends the referral."""
        now = utcnow()
        before = await self.take(referral_id, actor, now, if_match=if_match)
        try:
            plan = lifecycle.close(
                before.aggregate,
                actor,
                outcome=body.outcome.value,
                now=now,
                window=self.settings.referrals_closing_window,
            )
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        if before.referral.closed_at is not None:
            values: dict[str, Any] = {
                "second_outcome": body.outcome.value,
                "second_evaluation_score": body.evaluation_score,
                "second_evaluation_comment_enc": self.seal(
                    before.referral,
                    body.evaluation_comment,
                    second_evaluation_context(referral_id),
                ),
                "second_closed_at": now,
            }
        else:
            values = {
                "outcome": body.outcome.value,
                "evaluation_score": body.evaluation_score,
                "evaluation_comment_enc": self.seal(
                    before.referral, body.evaluation_comment, evaluation_context(referral_id)
                ),
                "closed_at": now,
                "closed_by": plan.part_closed.value if plan.part_closed else None,
            }
        return self.apply(before, plan, actor, now, referral_values=values)

    async def end_closing(self, referral_id: uuid.UUID) -> Pending:
        """The referral ends: the closing delay passed without the other side's part."""
        now = utcnow()
        actor = Actor.system()
        before = await self.take(referral_id, actor, now)
        try:
            plan = lifecycle.end_closing(
                before.aggregate,
                now=now,
                window=self.settings.referrals_closing_window,
            )
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        return self.apply(before, plan, actor, now)

    async def change_referent(
        self, actor: Actor, referral_id: uuid.UUID, referent: str, *, if_match: int | None
    ) -> Pending:
        now = utcnow()
        before = await self.take(referral_id, actor, now, if_match=if_match)
        try:
            plan = lifecycle.change_referent(before.aggregate, actor)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        values = self.referent_values(self.writing_key(before.referral), referral_id, referent)
        return self.apply(before, plan, actor, now, referral_values=values)

    async def withdraw(
        self, actor: Actor, referral_id: uuid.UUID, *, if_match: int | None
    ) -> Pending:
        """Consent withdrawn: every personal value of the referral goes in this transaction."""
        now = utcnow()
        before = await self.take(referral_id, actor, now, if_match=if_match)
        try:
            plan = lifecycle.withdraw(before.aggregate, actor)
        except Refusal as refusal:
            raise refusal_problem(refusal) from None
        pending = self.apply(
            before,
            plan,
            actor,
            now,
            handoff_values={"cancel_reason": "consent_withdrawn"},
            referral_values={"consent_withdrawn_at": now},
        )
        erase(pending, now)
        return pending


def erase(pending: Pending, now: datetime) -> None:
    """Make ``pending`` also erase every personal value of its referral (withdrawal, retention):
    in the snapshot it leads to, and everywhere else the store keeps one. The referral's data key
    goes in the same change: any copy of a value sealed with it, older or elsewhere, is then
    unreadable."""
    change, before = pending.change, pending.before
    assert before is not None
    change.referral.update(
        person_enc=None,
        summary_enc=None,
        evaluation_comment_enc=None,
        second_evaluation_comment_enc=None,
        consent_purpose_enc=None,
        referent_enc=None,
        person_feedback_comment_enc=None,
        data_key_enc=None,
        erased_at=now,
    )
    for handoff in before.handoffs:
        if handoff.comment_enc is not None:
            values = change.handoffs.setdefault(handoff.id, {})
            values["comment_enc"] = None
            change.expected.setdefault(handoff.id, handoff.version)
    change.erase = True
    pending.after = before.apply(change)


def _person_dict(person: PersonIn) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(person)
    return {k: v for k, v in data.items() if v is not None}
