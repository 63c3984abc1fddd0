"""Stage history: checking and replaying."""

from __future__ import annotations

import pytest

from funnel import StageChange
from funnel.model.history import check_history, last_change_at, replay_history
from tests.helpers import day


def change(a: str, b: str, at: float) -> StageChange:
    return StageChange(from_stage=a, to_stage=b, event=f"{a}-{b}", at=day(at))


class TestReplay:
    def test_replays_to_last_stage(self):
        """Following the chain gives the final stage."""
        history = [change("acquired", "mql", 1), change("mql", "sql", 2)]
        assert replay_history(history, "acquired") == "sql"

    def test_empty_history_stays(self):
        """No change means the start stage."""
        assert replay_history([], "acquired") == "acquired"

    def test_broken_chain(self):
        """A change that does not start where the previous ended is refused."""
        with pytest.raises(ValueError, match=r"history\[1\] starts at 'won', expected 'mql'"):
            replay_history([change("acquired", "mql", 1), change("won", "lost", 2)], "acquired")


class TestCheck:
    def test_ok(self):
        """A chained, ordered history that ends in the stage passes."""
        history = (change("acquired", "mql", 1), change("mql", "sql", 1))
        check_history(history, "sql", "Lead 'x'")
        assert day(1) == last_change_at(history)

    def test_no_history(self):
        """last_change_at of nothing is None."""
        assert last_change_at(()) is None
