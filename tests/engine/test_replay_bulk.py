"""The bulk replay agrees with real machines, the analytics replay and the report."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from statemachine.exceptions import TransitionNotAllowed

from funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import (
    BulkReject,
    ReachedCounts,
    bulk_replay,
    bulk_replay_columns,
    bulk_replay_frame,
    reached_polars,
    replay_rows,
    report_steps,
    step_table,
)
from funnel.spec.guards import GUARDS, Guard, GuardContext, GuardRegistry
from funnel.spec.machine import Cursor, GuardListener, SalesFunnel
from tests.helpers import T0

TABLE = DEFAULT_FUNNEL.table
EVENTS = list(TABLE.events)


def random_log(n_leads: int, seed: int) -> tuple[list[str], list[str]]:
    """Rows grouped by lead; mostly legal events, some illegal ones."""
    rng = random.Random(seed)
    leads: list[str] = []
    events: list[str] = []
    for i in range(n_leads):
        stage = TABLE.initial
        for _ in range(rng.randint(0, 8)):
            allowed = sorted(TABLE.allowed(stage))
            if allowed and rng.random() < 0.85:
                event = rng.choice(allowed)
                stage = TABLE.options(stage, event)[0].target
            else:
                event = rng.choice(EVENTS)
            leads.append(f"L{i}")
            events.append(event)
    return leads, events


def machine_replay(leads: list[str], events: list[str]) -> tuple[dict[str, str], list[int]]:
    """One python-statemachine instance per lead; refused events are collected by row."""
    ctx = GuardContext(funnel=ACCEPTING, at=T0)
    machines: dict[str, tuple[Cursor, SalesFunnel]] = {}
    rejects: list[int] = []
    for row, (lead, event) in enumerate(zip(leads, events, strict=True), start=1):
        if lead not in machines:
            cursor = Cursor(record=None, stage=TABLE.initial, ctx=ctx)
            machine = SalesFunnel(
                model=cursor, state_field="stage", listeners=[GuardListener(cursor)]
            )
            machines[lead] = (cursor, machine)
        try:
            machines[lead][1].send(event)
        except TransitionNotAllowed:
            rejects.append(row)
    return {lead: cursor.stage for lead, (cursor, _) in machines.items()}, rejects


def stage_log(n_leads: int, seed: int) -> dict[str, list[object]]:
    """Columns lead_id, at, event, stage: a created row per lead, then each event's stage."""
    leads, events = random_log(n_leads, seed)
    steps = bulk_replay(leads, events, history=True).history or {}
    cols: dict[str, list[object]] = {"lead_id": [], "at": [], "event": [], "stage": []}
    for lead in dict.fromkeys(leads):
        rows = [(None, TABLE.initial)] + [(e, b) for _, _, b, e in steps.get(lead, [])]
        for i, (event, stage) in enumerate(rows):
            cols["lead_id"].append(lead)
            cols["at"].append(T0 + timedelta(hours=i))
            cols["event"].append(event)
            cols["stage"].append(stage)
    return cols


#: The default machine with every guard passing, as the bulk replay assumes for a log
#: of accepted events.
ACCEPTING = Funnel(
    machine=SalesFunnel,
    guards=GuardRegistry(Guard(name, "always", lambda r, c: ()) for name in GUARDS),
)


class TestAgreement:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_equals_one_machine_per_lead(self, seed: int):
        """Final stages and rejected rows equal python-statemachine's, guards passing."""
        leads, events = random_log(150, seed)
        result = bulk_replay(leads, events)
        final, rejects = machine_replay(leads, events)
        assert result.final == final
        assert [r.row for r in result.rejects] == rejects
        assert rejects, "the log should contain illegal events"

    def test_equals_analytics_replay(self):
        """Current stages and illegal-event rows equal funnel.analytics.replay's."""
        pl = pytest.importorskip("polars")
        from funnel.analytics import replay_log as replay

        leads, events = random_log(200, 4)
        frame = pl.DataFrame(
            {
                "lead_id": leads,
                "at": [T0 + timedelta(minutes=i) for i in range(len(leads))],
                "event": events,
            }
        )
        expected = replay(frame)
        result = bulk_replay_frame(frame)
        assert result.final == dict(expected.current)
        assert [r.row for r in result.rejects] == [p.row for p in expected.problems]
        for lead in list(result.final)[:20]:
            steps = bulk_replay_frame(frame, history=True).history or {}
            got = [(a, b, e) for _, a, b, e in steps.get(lead, [])]
            want = [(c.from_stage, c.to_stage, c.event) for c in expected.history(lead)]
            assert got == want


class TestBulkReplay:
    def test_rejects_keep_the_stage(self):
        """An illegal event is reported with its row and the lead stays."""
        result = bulk_replay(["a", "a", "a"], ["win", "mark_mql", "mark_sql"])
        assert result.final == {"a": "sql"}
        assert result.rejects == (BulkReject(1, "a", "acquired", "win"),)
        assert result.transitions == {"a": 2}

    def test_interleaved_leads_and_start(self):
        """Leads may interleave; start stages are honoured; row numbers can be given."""
        result = bulk_replay(
            ["a", "b", "a", "b"],
            ["mark_mql", "win", "mark_sql", "lose"],
            start={"b": "stakeholder"},
            rows=[10, 11, 12, 13],
            history=True,
        )
        assert result.final == {"a": "sql", "b": "won"}
        assert result.transitions == {"a": 2, "b": 1}
        assert [r.row for r in result.rejects] == [13]
        assert result.history == {
            "a": [(10, "acquired", "mql", "mark_mql"), (12, "mql", "sql", "mark_sql")],
            "b": [(11, "stakeholder", "won", "win")],
        }
        assert result.stage_counts() == {"sql": 1, "won": 1}
        plain = bulk_replay(
            ["a", "b", "a", "b"],
            ["mark_mql", "win", "mark_sql", "lose"],
            start={"b": "stakeholder"},
        )
        assert (plain.final, plain.transitions) == (result.final, result.transitions)

    def test_generators_are_accepted(self):
        result = bulk_replay(iter(["a", "b"]), (e for e in ["nurture", "convert"]))
        assert result.final == {"a": "nurturing", "b": "organisation"}

    def test_length_mismatch(self):
        with pytest.raises(ValueError, match="differ in length"):
            bulk_replay(["a", "b"], ["nurture"])
        with pytest.raises(ValueError, match="differ in length"):
            bulk_replay(["a"], ["nurture"], rows=[1, 2])

    def test_empty(self):
        result = bulk_replay([], [])
        assert (result.final, result.transitions, result.rejects) == ({}, {}, ())

    def test_step_table_follows_guard_outcomes(self):
        """Fixing a guard's outcome removes (or keeps) exactly the edges that need it."""
        every = step_table()
        assert every == {k: v[0].target for k, v in TABLE._by_key.items()}
        no_reason = step_table(passes=lambda name: name != "has_reason")
        needing = {(e.source, e.event) for e in TABLE.edges if ("has_reason", True) in e.guards}
        assert set(every) - set(no_reason) == needing
        result = bulk_replay(["a", "a"], ["disqualify", "nurture"], table=no_reason)
        assert result.final == {"a": "nurturing"}
        assert [r.event for r in result.rejects] == ["disqualify"]

    def test_frame_rows_are_positions_in_the_input(self):
        """bulk_replay_frame sorts by lead and time but reports input positions."""
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(
            {
                "lead_id": ["b", "a", "b", "a"],
                "at": [T0 + timedelta(hours=h) for h in (2, 1, 1, 3)],
                "event": ["win", None, "nurture", "win"],
            }
        )
        result = bulk_replay_frame(frame)
        assert result.final == {"a": "acquired", "b": "nurturing"}
        assert [(r.row, r.lead_id) for r in result.rejects] == [(1, "b"), (4, "a")]


class TestReplayRows:
    """replay_rows is the one stepping loop: events, observed stages, any row order."""

    def test_stage_rows_events_and_interleaving(self):
        leads = ["a", "b", "a", "b", "a", "c"]
        events = [None, "mark_mql", "mark_mql", None, "win", None]
        stages = ["sql", None, "opportunity", "mql", None, None]
        walk = replay_rows(leads, events, stages, history=True)
        assert walk.leads == ["a", "b", "c"]
        assert walk.first == [0, 1, 5]
        assert walk.begin == ["sql", "acquired", "acquired"]
        assert walk.final == ["sql", "mql", "acquired"]
        assert walk.transitions == [0, 1, 0]
        # a: mark_mql has no edge from sql, win neither; b: "mql" repeats its stage (a no-op)
        assert walk.rejects == [(2, "sql"), (4, "sql")]
        assert walk.steps == [(1, "acquired", "mql")]

    def test_the_same_loop_for_grouped_and_interleaved_rows(self):
        leads, events = random_log(120, 9)
        nth = [leads[:i].count(lead) for i, lead in enumerate(leads)]
        order = sorted(range(len(leads)), key=lambda i: (nth[i], i))  # round robin over leads
        mixed = replay_rows([leads[i] for i in order], [events[i] for i in order])
        grouped = replay_rows(leads, events)
        assert dict(zip(mixed.leads, mixed.final, strict=True)) == dict(
            zip(grouped.leads, grouped.final, strict=True)
        )
        assert sorted(order[p] for p, _ in mixed.rejects) == [p for p, _ in grouped.rejects]

    def test_start_stages(self):
        walk = replay_rows(["a", "b"], ["win", "win"], start={"a": "stakeholder"})
        assert walk.begin == ["stakeholder", "acquired"]
        assert walk.final == ["won", "acquired"]


class TestColumns:
    """bulk_replay_columns gives bulk_replay's figures, as frames."""

    @staticmethod
    def frame(leads: Sequence[object], events: Sequence[object]) -> Any:
        pl = pytest.importorskip("polars")
        ats = [T0 + timedelta(minutes=i) for i in range(len(leads))]
        return pl.DataFrame({"lead_id": leads, "at": ats, "event": events})

    @pytest.mark.parametrize("seed", [5, 6, 7])
    def test_equals_bulk_replay(self, seed: int):
        leads, events = random_log(300, seed)
        want = bulk_replay(leads, events)
        got = bulk_replay_columns(self.frame(leads, events), sort=False)
        assert got.to_result() == want
        assert got.final.columns == ["lead_id", "stage", "transitions"]
        assert got.final.height == len(want.final)
        assert got.rejects.height == len(want.rejects) > 0

    def test_interleaved_rows_equal_the_frame_replay(self):
        """Shuffled leads (time order kept per lead) give bulk_replay_frame's result."""
        leads, events = random_log(200, 8)
        order = list(range(len(leads)))
        random.Random(1).shuffle(order)
        order.sort(key=lambda i: (i % 7, i))  # interleaves leads, keeps each lead's order
        frame = self.frame([leads[i] for i in order], [events[i] for i in order])
        want = bulk_replay_frame(frame)
        assert bulk_replay_columns(frame).to_result() == want
        unsorted = bulk_replay_columns(frame, sort=False).to_result()
        assert unsorted.final == want.final
        assert unsorted.rejects == want.rejects

    def test_rows_are_input_positions_and_nulls_count(self):
        """Row numbers are positions in the frame; null events are skipped, null ids kept."""
        frame = self.frame(
            ["b", None, "b", "a", None, "a"],
            [None, "nurture", "convert", "teleport", "win", "mark_mql"],
        )
        got = bulk_replay_columns(frame)
        assert got.final.rows() == [
            ("a", "mql", 1),
            ("b", "organisation", 1),
            (None, "nurturing", 1),
        ]
        assert got.rejects.rows() == [
            (4, "a", "acquired", "teleport"),
            (5, None, "nurturing", "win"),
        ]
        assert got.to_result() == bulk_replay_frame(frame)

    def test_table_pandas_and_empty(self):
        pd = pytest.importorskip("pandas")
        strict = step_table(passes=lambda name: name != "has_reason")
        frame = pd.DataFrame(
            {
                "lead_id": ["a", "a"],
                "at": [T0, T0 + timedelta(1)],
                "event": ["disqualify", "nurture"],
            }
        )
        got = bulk_replay_columns(frame, table=strict)
        assert got.final.rows() == [("a", "nurturing", 1)]
        assert got.rejects.rows() == [(1, "a", "acquired", "disqualify")]
        empty = bulk_replay_columns(frame.iloc[0:0])
        assert (empty.final.height, empty.rejects.height) == (0, 0)
        assert empty.to_result() == bulk_replay([], [])


class TestReport:
    def test_reached_equals_analytics_report(self):
        """The columnar reached report gives funnel_report's figures."""
        pl = pytest.importorskip("polars")
        from funnel.analytics import default_steps, funnel_report

        log = pl.DataFrame(stage_log(800, 3))
        ours = reached_polars(log)
        theirs = funnel_report(log)
        assert report_steps() == default_steps()
        assert (ours.counts, ours.won, ours.lost, ours.open) == (
            theirs.counts,
            theirs.won,
            theirs.lost,
            theirs.open,
        )
        custom = ["acquired", "sql", "won"]
        assert reached_polars(log.lazy(), steps=custom).counts == (
            funnel_report(log, steps=custom).counts
        )
        assert ours.counts[0] == log.filter(pl.col("stage").is_not_null())["lead_id"].n_unique()

    def test_from_tally_and_conversion(self):
        report = ReachedCounts.from_tally(("a", "b", "c"), {0: 2, 2: 2}, won=1, lost=1)
        assert report.counts == (4, 2, 2)
        assert report.conversion == (None, 0.5, 1.0)
        assert report.open == 2

    def test_bad_steps(self):
        pytest.importorskip("polars")
        with pytest.raises(ValueError, match="distinct stages"):
            reached_polars(__import__("polars").DataFrame(), steps=["acquired", "nowhere"])


def test_importing_bulk_loads_no_dataframe_library():
    code = (
        "import sys, funnel, funnel.engine.replay; "
        "print([m for m in ('polars', 'narwhals', 'pandas', 'dask') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
