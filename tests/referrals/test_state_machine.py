"""The transition table and the referral aggregate, without I/O: unit tests and a hypothesis
rule-based state machine trying random sequences of actions by random actors."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.referrals.domain import lifecycle
from services.referrals.domain.lifecycle import Referral, ReferralStatus, Refusal
from services.referrals.domain.transitions import (
    OPEN_STATES,
    TABLE,
    TERMINAL_STATES,
    Action,
    Actor,
    ActorKind,
    Allowed,
    HandoffState,
    Parties,
    RefusalKind,
    Refused,
    Side,
    decide,
)

ORIGIN, PARTNER_A, PARTNER_B, PARTNER_C, STRANGER = (uuid.uuid4() for _ in range(5))
PARTIES = Parties(ORIGIN, ORIGIN, PARTNER_A)


def user(structure: uuid.UUID) -> Actor:
    return Actor(ActorKind.USER, structure, f"user-of-{structure}")


def test_happy_path_through_the_table() -> None:
    state = HandoffState.SENT
    for action in (Action.ACKNOWLEDGE, Action.ACCEPT, Action.TAKE_OVER):
        decision = decide(state, action, user(PARTNER_A), PARTIES)
        assert isinstance(decision, Allowed)
        state = decision.new_state
    assert state is HandoffState.TAKEN_OVER
    closed = decide(state, Action.CLOSE, user(ORIGIN), PARTIES)
    assert closed == Allowed(HandoffState.CLOSED)


@pytest.mark.parametrize("action", [Action.ACKNOWLEDGE, Action.ACCEPT, Action.DECLINE])
def test_only_the_receiver_answers(action: Action) -> None:
    for who in (ORIGIN, STRANGER):
        decision = decide(HandoffState.SENT, action, user(who), PARTIES)
        assert isinstance(decision, Refused)
        assert decision.kind is RefusalKind.NOT_ALLOWED
        assert "structure d'accueil" in decision.reason


def test_only_the_sender_cancels_and_the_system_expires() -> None:
    assert isinstance(decide(HandoffState.SENT, Action.CANCEL, user(PARTNER_A), PARTIES), Refused)
    assert decide(HandoffState.SENT, Action.CANCEL, user(ORIGIN), PARTIES) == Allowed(
        HandoffState.CANCELLED
    )
    assert isinstance(decide(HandoffState.SENT, Action.EXPIRE, user(ORIGIN), PARTIES), Refused)
    assert decide(HandoffState.ACKNOWLEDGED, Action.EXPIRE, Actor.system(), PARTIES) == Allowed(
        HandoffState.EXPIRED
    )
    # Once accepted, a handoff no longer expires: the partner has answered.
    assert isinstance(
        decide(HandoffState.ACCEPTED, Action.EXPIRE, Actor.system(), PARTIES), Refused
    )


def test_relay_needs_the_consent() -> None:
    refused = decide(HandoffState.ACCEPTED, Action.RELAY, user(PARTNER_A), PARTIES)
    assert isinstance(refused, Refused)
    assert "consentement" in refused.reason
    allowed = decide(
        HandoffState.ACCEPTED, Action.RELAY, user(PARTNER_A), PARTIES, onward_relay_allowed=True
    )
    assert allowed == Allowed(HandoffState.RELAYED)


def test_take_over_only_from_accepted() -> None:
    sources = {state for (state, action) in TABLE if action is Action.TAKE_OVER}
    assert sources == {HandoffState.ACCEPTED}


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("action", list(Action))
def test_nothing_leaves_a_terminal_state(state: HandoffState, action: Action) -> None:
    for actor in (user(ORIGIN), user(PARTNER_A), Actor.system()):
        decision = decide(state, action, actor, PARTIES, onward_relay_allowed=True)
        assert isinstance(decision, Refused)
        assert decision.kind is RefusalKind.WRONG_STATE


def test_refusals_explain_in_french() -> None:
    decision = decide(HandoffState.DECLINED, Action.ACCEPT, user(PARTNER_A), PARTIES)
    assert isinstance(decision, Refused)
    assert decision.reason == "Impossible d'accepter une transmission refusée."


STRUCTURES = [ORIGIN, PARTNER_A, PARTNER_B, PARTNER_C, STRANGER]
HANDOFF_ACTIONS = [a for a in Action if a not in (Action.CLOSE, Action.WITHDRAW)]


class ReferralMachine(RuleBasedStateMachine):
    """Random actors try random actions; the invariants must hold after every step."""

    referral: Referral
    history: dict[uuid.UUID, list[HandoffState]]
    events: int
    changes: int

    @initialize(relay=st.booleans())
    def start(self, relay: bool) -> None:
        self.referral, plan = lifecycle.create(
            uuid.uuid4(), ORIGIN, PARTNER_A, uuid.uuid4(), onward_relay_allowed=relay
        )
        self.history = {}
        self.events = 0
        self.changes = 0
        self._apply(plan)

    def _apply(self, plan: lifecycle.Plan) -> None:
        before = {h.id: h.state for h in self.referral.handoffs}
        status_before = self.referral.status
        plan.apply(self.referral)
        moved = sum(1 for h in self.referral.handoffs if before.get(h.id) not in (None, h.state))
        added = sum(1 for h in self.referral.handoffs if h.id not in before)
        changed = moved + added + int(self.referral.status is not status_before)
        for h in self.referral.handoffs:
            self.history.setdefault(h.id, [])
            if not self.history[h.id] or self.history[h.id][-1] is not h.state:
                self.history[h.id].append(h.state)
        # Every handoff change and every new handoff records its own event.
        assert len(plan.events) >= moved + added
        assert changed == 0 or plan.events
        self.events += len(plan.events)
        self.changes += changed

    def _try(self, make: object) -> None:
        snapshot = [(h.id, h.state, h.version) for h in self.referral.handoffs]
        status = self.referral.status
        try:
            plan = make()  # type: ignore[operator]
        except Refusal:
            # A refusal changes nothing.
            assert [(h.id, h.state, h.version) for h in self.referral.handoffs] == snapshot
            assert self.referral.status is status
            return
        self._apply(plan)

    @rule(
        action=st.sampled_from(HANDOFF_ACTIONS),
        who=st.sampled_from([*STRUCTURES, None]),
        index=st.integers(min_value=0, max_value=5),
        to=st.sampled_from(STRUCTURES),
    )
    def act(self, action: Action, who: uuid.UUID | None, index: int, to: uuid.UUID) -> None:
        handoff = self.referral.handoffs[index % len(self.referral.handoffs)]
        actor = Actor.system() if who is None else user(who)
        self._try(
            lambda: lifecycle.act(
                self.referral,
                handoff.id,
                action,
                actor,
                relay_handoff_id=uuid.uuid4(),
                relay_target_id=to,
            )
        )

    @rule(who=st.sampled_from(STRUCTURES), to=st.sampled_from(STRUCTURES))
    def reorient(self, who: uuid.UUID, to: uuid.UUID) -> None:
        self._try(lambda: lifecycle.reorient(self.referral, user(who), uuid.uuid4(), to))

    @rule(who=st.sampled_from(STRUCTURES))
    def close(self, who: uuid.UUID) -> None:
        self._try(lambda: lifecycle.close(self.referral, user(who), outcome="solution_found"))

    # Random actors rarely reach a takeover; the parties themselves make the later states
    # (takeover, each side's closing) common.
    @rule(action=st.sampled_from(HANDOFF_ACTIONS), to=st.sampled_from(STRUCTURES))
    def receiver_acts(self, action: Action, to: uuid.UUID) -> None:
        latest = self.referral.latest
        assert latest is not None
        self.act(action, latest.to_structure_id, latest.position - 1, to)

    @rule(origin=st.booleans())
    def party_closes(self, origin: bool) -> None:
        latest = self.referral.latest
        assert latest is not None
        self.close(ORIGIN if origin else latest.to_structure_id)

    @rule(who=st.sampled_from(STRUCTURES))
    def withdraw(self, who: uuid.UUID) -> None:
        self._try(lambda: lifecycle.withdraw(self.referral, user(who)))

    @invariant()
    def one_current_handoff_at_most(self) -> None:
        assert sum(1 for h in self.referral.handoffs if h.state in OPEN_STATES) <= 1

    @invariant()
    def terminal_states_are_final(self) -> None:
        for states in self.history.values():
            for earlier, later in itertools.pairwise(states):
                assert earlier not in TERMINAL_STATES, (earlier, later)

    @invariant()
    def takeover_only_through_accepted(self) -> None:
        for states in self.history.values():
            if HandoffState.TAKEN_OVER in states:
                index = states.index(HandoffState.TAKEN_OVER)
                assert states[index - 1] is HandoffState.ACCEPTED

    @invariant()
    def status_follows_handoffs(self) -> None:
        status = self.referral.status
        closed = any(h.state is HandoffState.CLOSED for h in self.referral.handoffs)
        if status is ReferralStatus.TAKEN_OVER:
            # Taken over, or one side has closed its part and the other has not yet.
            assert closed == (self.referral.closed_by is not None)
            assert closed or any(h.state is HandoffState.TAKEN_OVER for h in self.referral.handoffs)
        if status is ReferralStatus.CLOSED:
            # Both sides closed their part (the closing delay is not run here).
            assert closed
            assert self.referral.closed_by is not None
            assert self.referral.second_closed
        if status is ReferralStatus.WITHDRAWN:
            assert all(h.state not in OPEN_STATES for h in self.referral.handoffs)

    @invariant()
    def each_side_closes_its_own_part(self) -> None:
        if self.referral.second_closed:
            assert self.referral.closed_by is not None
        assert self.referral.closed_by in (None, Side.ORIGIN, Side.RECEIVER)

    @invariant()
    def every_change_has_an_event(self) -> None:
        assert self.events >= self.changes

    @invariant()
    def handoffs_are_numbered_in_order(self) -> None:
        positions = [h.position for h in self.referral.handoffs]
        assert positions == list(range(1, len(positions) + 1))


ReferralMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReferralMachine = ReferralMachine.TestCase
