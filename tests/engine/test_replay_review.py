"""Replay: observed stages never take a prospect back; unhashable values name their row."""

from __future__ import annotations

import pytest

from funnel import ValidationError
from funnel.engine.replay import bulk_replay, replay_rows


class TestObservedStages:
    def test_a_prospect_is_never_moved_back_to_a_lead_stage(self) -> None:
        """The reviewer's case: the stage row is refused, naming it, as the event path does."""
        walk = replay_rows(
            ["a", "a", "a"], ["convert", None, "mark_mql"], [None, "mql", None], history=True
        )
        assert walk.steps == [(0, "acquired", "organisation")]
        assert walk.final == ["organisation"]
        assert walk.rejects == [(1, "organisation"), (2, "organisation")]

    def test_observed_moves_within_a_level_and_forward_still_count(self) -> None:
        walk = replay_rows(
            ["a", "a", "a", "a"],
            [None, None, None, None],
            ["mql", "acquired", "organisation", "won"],
            history=True,
        )
        # the first row starts the lead at mql; lead -> lead, lead -> prospect and
        # prospect -> prospect are observed moves, edge or not
        assert walk.steps == [
            (1, "mql", "acquired"),
            (2, "acquired", "organisation"),
            (3, "organisation", "won"),
        ]
        assert walk.rejects == []

    def test_naming_the_current_stage_is_still_a_no_op(self) -> None:
        walk = replay_rows(["a", "a"], ["convert", None], [None, "organisation"])
        assert (walk.final, walk.rejects, walk.transitions) == (["organisation"], [], [1])


class TestUnhashable:
    @pytest.mark.parametrize("history", [False, True])
    def test_an_unhashable_event_names_its_row(self, history: bool) -> None:
        with pytest.raises(ValidationError, match="row 12: the event") as info:
            bulk_replay(["a", "a"], ["nurture", ["x"]], rows=[11, 12], history=history)
        assert info.value.field == "events"

    def test_an_unhashable_lead_id_names_its_row(self) -> None:
        with pytest.raises(ValidationError, match="row 3: the lead id") as info:
            bulk_replay(["a", "b", ["a"]], ["nurture"] * 3)
        assert info.value.field == "lead_ids"

    def test_an_unhashable_stage(self) -> None:
        with pytest.raises(ValidationError, match="row 2: the stage"):
            replay_rows(["a", "a"], ["nurture", None], [None, {}])
