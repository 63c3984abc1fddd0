"""bulk_replay's run-by-run fast path agrees with the general replay (replay_rows)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from funnel import DEFAULT_FUNNEL
from funnel.engine.replay import bulk_replay

EVENTS = [*DEFAULT_FUNNEL.table.events, "teleport", None]
rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c", 7]), st.sampled_from(EVENTS)))


@given(rows, st.booleans(), st.dictionaries(st.sampled_from(["a", 7]), st.just("sql")))
def test_fast_path_agrees_with_the_general_replay(log, grouped, start):
    if grouped:  # leads in runs: the fast path; interleaved: it hands over to replay_rows
        order = {lead: k for k, (lead, _) in reversed(list(enumerate(log)))}
        log = sorted(log, key=lambda r: order[r[0]])
    leads = [lead for lead, _ in log]
    events = [e for _, e in log]
    rows_given = [10 * k for k in range(len(log))]
    fast = bulk_replay(leads, events, start=start, rows=rows_given)
    full = bulk_replay(leads, events, start=start, rows=rows_given, history=True)
    assert fast.final == full.final
    assert list(fast.final) == list(full.final)  # first-seen order
    assert fast.transitions == full.transitions
    assert fast.rejects == full.rejects
