"""
A hypothesis stateful test: random event sequences against the funnel's invariants.

Rules add touches and evidence, move the clock (sometimes backwards) and
send any event of the funnel with or without a reason. After every step:

* a prospect never becomes a lead again (type and stage level);
* the history replays from the initial stage to the current stage;
* terminal stages accept no event;
* history timestamps never go backwards;
* a refused event leaves the record unchanged and raises a typed error;
* the real python-statemachine path gives the same record as the table path.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from funnel import (
    DEFAULT_FUNNEL,
    Evidence,
    Lead,
    Level,
    Prospect,
    Touch,
    TransitionError,
    add_evidence,
    add_touch,
    can,
    fire,
)
from funnel.exceptions import ChronologyError, IllegalEvent
from funnel.model.evidence import VerdictName
from funnel.model.history import replay_history
from funnel.model.touch import ReachName
from tests.helpers import T0, lead


class _Quiet:
    """A python-statemachine listener: makes fire() go through a real machine instance."""

    def after_transition(self) -> None:
        pass


EVENTS = DEFAULT_FUNNEL.table.events
CRITERIA = ("fit", "means", "authority", "intention")
#: Events on the prospect's road, drawn more often so that walks get there.
PROSPECT_ROAD = (
    "convert",
    "open_opportunity",
    "engage_stakeholder",
    "stakeholder_declined",
    "win",
)


class FunnelJourney(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.record: Lead | Prospect = lead("H1")
        self.now = T0
        self.touch_ids: list[str] = []
        self.was_prospect = False

    @rule(minutes=st.integers(min_value=0, max_value=60 * 24 * 5))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(
        kind=st.sampled_from(["mass", "outbound", "reply", "call", "form"]),
    )
    def touch(self, kind: str) -> None:
        tid = f"t{len(self.touch_ids)}"
        if kind == "reply" and self.touch_ids:
            t = Touch(
                id=tid,
                at=self.now,
                direction="inbound",
                channel="email",
                in_reply_to=self.touch_ids[-1],
            )
        elif kind == "call":
            t = Touch(id=tid, at=self.now, direction="outbound", channel="call", connected=True)
        elif kind == "form":
            t = Touch(id=tid, at=self.now, direction="inbound", channel="form", reach="mass")
        else:
            reach: ReachName = "mass" if kind == "mass" else "personal"
            t = Touch(id=tid, at=self.now, direction="outbound", channel="email", reach=reach)
        self.record = add_touch(self.record, t, imported=True)
        self.touch_ids.append(tid)

    @rule(criterion=st.sampled_from(CRITERIA), verdict=st.sampled_from(["met", "not-met"]))
    def evidence(self, criterion: str, verdict: VerdictName) -> None:
        ev = Evidence(criterion=criterion, verdict=verdict, source="rep:h", at=self.now)
        self.record = add_evidence(self.record, ev)

    @rule()
    def qualify_fully(self) -> None:
        """A dialogue and every criterion met, so conversions happen often enough."""
        out, back = f"t{len(self.touch_ids)}", f"t{len(self.touch_ids) + 1}"
        self.record = add_touch(
            self.record,
            Touch(id=out, at=self.now, direction="outbound", channel="email"),
            imported=True,
        )
        self.record = add_touch(
            self.record,
            Touch(id=back, at=self.now, direction="inbound", channel="email", in_reply_to=out),
        )
        self.touch_ids += [out, back]
        for criterion in CRITERIA:
            self.evidence(criterion, "met")

    @rule()
    def follow_road(self) -> None:
        """Take the next step on the main road when it is allowed (reaches won and lost)."""
        for event in ("open_opportunity", "engage_stakeholder", "win", "convert"):
            if can(self.record, event, at=self.now):
                self.send(event, None, back=False)
                return

    @rule(
        event=st.one_of(st.sampled_from(EVENTS), st.sampled_from(PROSPECT_ROAD)),
        why=st.sampled_from([None, "a reason"]),
        back=st.booleans(),
    )
    def send(self, event: str, why: str | None, back: bool) -> None:
        before = self.record
        at = self.now - timedelta(days=30) if back else self.now
        allowed = can(before, event, at=at, why=why)
        try:
            after = fire(before, event, at=at, why=why)
        except TransitionError as exc:
            assert not allowed
            assert exc.record == before  # noqa: PT017
            assert before == self.record  # unchanged
            if before.stage in DEFAULT_FUNNEL.finals and not back:
                assert isinstance(exc, IllegalEvent)  # noqa: PT017
            if back and before.history and at < before.history[-1].at:
                assert isinstance(exc, ChronologyError | IllegalEvent)  # noqa: PT017
            return
        assert allowed
        if isinstance(before, Prospect) or not isinstance(after, Prospect):
            # The table path and a real machine agree on every non-conversion event.
            assert after == fire(before, event, at=at, why=why, listeners=[_Quiet()])
        self.record = after

    @invariant()
    def never_back_to_lead(self) -> None:
        if isinstance(self.record, Prospect):
            self.was_prospect = True
        if self.was_prospect:
            assert isinstance(self.record, Prospect)
            assert Level.PROSPECT is DEFAULT_FUNNEL.level_of(self.record.stage)

    @invariant()
    def history_replays(self) -> None:
        assert self.record.stage == replay_history(self.record.history, DEFAULT_FUNNEL.initial)

    @invariant()
    def time_moves_forward(self) -> None:
        times = [c.at for c in self.record.history]
        assert times == sorted(times)

    @invariant()
    def terminal_accepts_nothing(self) -> None:
        if self.record.stage in DEFAULT_FUNNEL.finals:
            for event in EVENTS:
                assert not can(self.record, event, at=self.now, why="x")


FunnelJourney.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestFunnelJourney = FunnelJourney.TestCase
