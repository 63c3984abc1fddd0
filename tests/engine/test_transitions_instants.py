"""
Times are instants: the zone a time is given in, and the order records are given in,
never change a record, its order, its text or what the funnel accepts (review items 1, 6).

Python compares two datetimes that share a ``tzinfo`` by their wall clock and ignores
``fold``: at the autumn change in Berlin, 02:50 (fold 0, 00:50Z) sorted after 02:10
(fold 1, 01:10Z). Records now store every time in UTC and the engine converts ``at=``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnel
from funnel import Contact, Evidence, Lead, StageChange, Touch
from funnel.exceptions import ChronologyError, TransitionError
from funnel.io.serialize import dumps, loads
from funnel.model.qualification import qualify
from tests.helpers import ALL_MET, T0, day, lead, met, outbound, reply

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = (UTC, BERLIN, NEW_YORK)

#: Around each daylight-saving change of 2026 (UTC): spring forward and fall back.
CHANGES = (
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin back
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York back
)

# Berlin's fall back: 02:00-03:00 happens twice.
EARLY = datetime(2026, 10, 25, 2, 50, tzinfo=BERLIN)  # fold 0: 00:50Z
LATE = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)  # fold 1: 01:10Z


def instants(n: int) -> st.SearchStrategy[list[datetime]]:
    """*n* distinct UTC instants within three hours of one DST change."""
    return st.sampled_from(CHANGES).flatmap(
        lambda base: st.lists(
            st.integers(min_value=-180, max_value=180).map(lambda m: base + timedelta(minutes=m)),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )


def rendered(at: datetime, zone: object) -> datetime:
    """*at* as a wall clock in *zone*, with the fold that says which of two it is."""
    shown = at.astimezone(zone)  # type: ignore[arg-type]
    # Not ``shown == at``: Python calls a time of the repeated hour unequal to every
    # time in another zone (PEP 495), one more reason records keep UTC.
    assert shown.astimezone(UTC) == at
    return shown


def test_the_fall_back_hour_is_ordered_by_instant():
    assert EARLY.replace(tzinfo=None) > LATE.replace(tzinfo=None)  # the wall clock says later
    start = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=day(-200))
    moved = funnel.advance(start, "nurture", at=LATE)
    with pytest.raises(ChronologyError, match="its last change was at"):
        funnel.advance(moved, "disqualify", at=EARLY, why="x")
    forward = funnel.advance(
        funnel.advance(start, "nurture", at=EARLY), "disqualify", at=LATE, why="x"
    )
    assert [c.at for c in forward.history] == [EARLY.astimezone(UTC), LATE.astimezone(UTC)]
    assert all(c.at.tzinfo is UTC for c in forward.history)
    assert loads(dumps(forward)) == forward


def test_a_reply_that_is_really_later_is_accepted():
    sent = Touch(id="o", at=EARLY, direction="outbound", channel="email", sender="rep")
    answer = Touch(id="r", at=LATE, direction="inbound", channel="email", in_reply_to="o")
    record = lead(created_at=day(-200), touches=(answer, sent))
    assert [t.id for t in record.touches] == ["o", "r"]


def test_stored_times_are_utc_and_refusals_keep_their_messages():
    given_at = datetime(2026, 3, 1, 9, 30, tzinfo=BERLIN)
    record = lead(created_at=given_at)
    assert record.created_at == given_at
    assert record.created_at.tzinfo is UTC
    with pytest.raises(funnel.ValidationError, match="timezone-aware") as err:
        lead(created_at=datetime(2026, 3, 1))  # noqa: DTZ001 - the point of the test
    assert err.value.field == "created_at"
    with pytest.raises(funnel.ValidationError, match="must be a datetime"):
        lead(created_at="2026-03-01")


@settings(max_examples=60, deadline=None)
@given(
    times=instants(4),
    zones=st.lists(st.sampled_from(ZONES), min_size=4, max_size=4),
    order=st.permutations(range(4)),
)
def test_zones_folds_and_input_order_never_change_a_record(times, zones, order):
    created = min(times) - timedelta(days=1)

    def build(zone_of: list[object], order_of: list[int]) -> Lead:
        touches = [
            Touch(
                id=f"t{i}",
                at=rendered(at, zone_of[i]),
                direction="outbound" if i % 2 == 0 else "inbound",
                channel="email",
                sender="rep",
            )
            for i, at in enumerate(times)
        ]
        evidence = [
            Evidence(
                criterion=ALL_MET[i], verdict="met", source="rep:x", at=rendered(at, zone_of[i])
            )
            for i, at in enumerate(times)
        ]
        return lead(
            created_at=rendered(created, zone_of[0]),
            touches=[touches[i] for i in order_of],
            evidence=[evidence[i] for i in order_of],
        )

    in_utc = build([UTC] * 4, [0, 1, 2, 3])
    zoned = build(list(zones), list(order))
    assert zoned == in_utc
    assert dumps(zoned) == dumps(in_utc)
    assert loads(dumps(zoned)) == zoned
    by_instant = sorted(range(4), key=lambda i: times[i])
    assert [t.id for t in zoned.touches] == [f"t{i}" for i in by_instant]
    assert [e.at for e in zoned.evidence] == sorted(times)


#: Events a lead takes in turn; some refused depending on the times.
SCRIPT = (("nurture", None), ("mark_mql", None), ("mark_sql", None), ("disqualify", "gone"))


@settings(max_examples=80, deadline=None)
@given(times=instants(4), zones=st.lists(st.sampled_from(ZONES), min_size=4, max_size=4))
def test_transitions_are_accepted_and_refused_by_instant(times, zones):
    start = lead(created_at=min(times) - timedelta(days=1), evidence=met("fit", at=-400))

    def run(zone_of: list[object]) -> tuple[list[str], Lead]:
        record, outcome = start, []
        for (event, why), at, zone in zip(SCRIPT, times, zone_of, strict=True):
            try:
                record = funnel.fire(record, event, at=rendered(at, zone), why=why)  # type: ignore[assignment]
                outcome.append("ok")
            except TransitionError as exc:
                outcome.append(type(exc).__name__)
        return outcome, record

    outcome, record = run([UTC] * 4)
    zoned_outcome, zoned = run(list(zones))
    assert zoned_outcome == outcome
    assert zoned == record
    assert loads(dumps(zoned)) == zoned
    # Refused for its time exactly when it goes back in time.
    last = start.created_at
    for result, at in zip(outcome, times, strict=True):
        assert (result == "ChronologyError") == (at < last)
        if result == "ok":
            last = at


def test_qualify_and_guards_read_at_as_an_instant():
    """Evidence at 01:10Z is after 00:50Z, however the two are written."""
    finding = Evidence(criterion="fit", verdict="met", source="rep:x", at=LATE)
    assert qualify([finding], at=EARLY).met == ()
    assert qualify([finding], at=LATE).met == ("fit",)
    record = lead(created_at=day(-200), evidence=(finding,))
    assert not funnel.can(record, "mark_sql", at=EARLY)
    inbound = Touch(id="f", at=LATE, direction="inbound", channel="form", reach="mass")
    sent = attrs.evolve(lead(created_at=day(-200)), touches=(inbound,))
    assert not funnel.can(sent, "mark_mql", at=EARLY)
    assert funnel.can(sent, "mark_mql", at=LATE)


# -- Same-time findings (item 6) -----------------------------------------------------------


def _tied(*verdicts: str, criterion: str = "fit") -> list[Evidence]:
    return [
        Evidence(criterion=criterion, verdict=v, source=f"rep:{i}", at=day(1))  # type: ignore[arg-type]
        for i, v in enumerate(verdicts)
    ]


def test_same_time_findings_in_any_order_make_one_record_and_one_verdict():
    findings = [*_tied("met", "not-met", "unknown"), *_tied("met", criterion="means")]
    made = [lead(evidence=list(p)) for p in itertools.permutations(findings)]
    assert all(m == made[0] for m in made)
    assert len({dumps(m) for m in made}) == 1
    verdicts = {
        qualify(list(p), at=day(2)).results[0].verdict for p in itertools.permutations(findings)
    }
    assert verdicts == {"not-met"}  # at one instant the cautious finding decides
    can = {funnel.can(m, "mark_sql", at=day(2)) for m in made}
    assert can == {False}
    added = {funnel.add_evidence(lead(), *p) for p in itertools.permutations(findings)}
    assert len(added) == 1


def test_fits_profile_reads_a_tie_as_qualify_does():
    met_first = lead(evidence=_tied("met", "not-met"))
    no_first = lead(evidence=list(reversed(_tied("met", "not-met"))))
    assert met_first == no_first
    assert not funnel.can(met_first, "mark_sql", at=day(2))
    assert not funnel.can(no_first, "mark_sql", at=day(2))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.builds(
            Evidence,
            criterion=st.sampled_from(["fit", "means", "need", "intention"]),
            verdict=st.sampled_from(["met", "not-met", "unknown"]),
            source=st.sampled_from(["rep:a", "rep:b"]),
            at=st.sampled_from([day(1), day(1).astimezone(BERLIN), day(2)]),
            note=st.none() | st.sampled_from(["x", "y"]),
        ),
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_evidence_order_never_depends_on_input_order(findings, rnd):
    shuffled = list(findings)
    rnd.shuffle(shuffled)
    assert lead(evidence=findings) == lead(evidence=shuffled)
    assert qualify(findings, at=day(3)) == qualify(shuffled, at=day(3))


def test_history_ties_keep_the_chain_order():
    """Changes at one instant are ordered by the chain itself: nothing to sort."""
    at = day(1)
    history = (
        StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=at),
        StageChange(from_stage="mql", to_stage="sql", event="mark_sql", at=at.astimezone(BERLIN)),
    )
    record = lead(stage="sql", level="sql", history=history)
    assert [c.to_stage for c in record.history] == ["mql", "sql"]
    assert record.history[0].at >= T0
    assert outbound("o", 1).at == reply("r", 1, "o").at
