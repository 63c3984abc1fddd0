"""Explanation: each reason said once, in text and in a notebook."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import funnel
from tests.helpers import lead, ready_lead


def _criterion_lines(lines: list[str]) -> Counter[str]:
    keys = ("fit:", "means:", "authority:", "intention:")
    return Counter(line.strip(" -") for line in lines if line.strip(" -").startswith(keys))


def test_an_unmet_criterion_is_listed_once_not_twice() -> None:
    """Each unmet criterion was listed under qualification and again as a blocker."""
    record = lead()
    explanation = funnel.explain(record, at=record.created_at)
    assert not explanation.ready
    for lines in (list(explanation.lines()), explanation._repr_markdown_().splitlines()):
        counts = _criterion_lines(lines)
        assert len(counts) == 4, lines
        assert set(counts.values()) == {1}, counts


def test_a_ready_lead_still_shows_what_was_met() -> None:
    record = ready_lead()
    explanation = funnel.explain(record, at=record.created_at + timedelta(days=3))
    assert explanation.ready
    assert len(_criterion_lines(list(explanation.lines()))) == 4
