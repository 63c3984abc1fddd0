"""Cards and frames of analytics results that can be big (funnel.analytics._cards)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import polars as pl
import pytest

from funnel.analytics import time_to_convert
from funnel.analytics.report import Durations
from tests.model._html import parse_card


def test_a_durations_card_shows_count_median_mean_quantiles_and_groups(log_polars) -> None:
    d = time_to_convert(log_polars, "mql", "won", by="source")
    text = parse_card(d._repr_html_())
    assert "Durations" in text
    assert d.names is not None
    assert f"Durations {d.names[0]} → {d.names[1]}" in text
    assert f"leads{d.count}" in text
    assert "median" in text
    assert "p50" in text
    for key, group in d.groups.items():
        assert f"{key}{group.count}" in text
    assert ".to_frame()" in text


def test_durations_to_frame_in_polars_and_pandas(log_polars) -> None:
    d = time_to_convert(log_polars, "mql", "won", by="source")
    frame = d.to_frame()
    assert isinstance(frame, pl.DataFrame)
    assert frame["group"].to_list() == list(d.groups)
    assert frame["leads"].to_list() == [g.count for g in d.groups.values()]
    assert frame["median"].to_list() == [g.median for g in d.groups.values()]
    assert frame.schema["median"] == pl.Duration("us")
    assert [c for c in frame.columns if c.startswith("p")] == [
        f"p{q * 100:g}" for q in d.quantiles
    ]
    other = d.to_frame(backend="pandas")
    assert isinstance(other, pd.DataFrame)
    assert other["leads"].tolist() == frame["leads"].to_list()
    assert [v.to_pytimedelta() for v in other["median"]] == frame["median"].to_list()


def test_ungrouped_durations_are_one_row(log_polars) -> None:
    d = time_to_convert(log_polars, "mql", "won")
    frame = d.to_frame()
    assert frame.height == 1
    assert frame["group"].to_list() == [None]
    assert frame["leads"].to_list() == [d.count]
    assert frame["mean"].to_list() == [d.mean]


def test_many_groups_summarise_with_and_n_more() -> None:
    one = Durations(
        start=("mql",),
        end=("won",),
        count=3,
        median=timedelta(days=2),
        mean=timedelta(days=2),
        quantiles={0.5: timedelta(days=2)},
    )
    groups = {f"<b>g{i}</b>": one for i in range(500)}
    d = Durations(
        start=("mql",),
        end=("won",),
        count=1500,
        median=timedelta(days=2),
        mean=timedelta(days=2),
        quantiles={0.5: timedelta(days=2)},
        groups=groups,
    )
    card = d._repr_html_()
    assert len(card) < 10_000
    text = parse_card(card)
    assert "and 485 more groups" in text
    assert "<b>g0</b>" in text  # the key as text, escaped in the markup
    assert "<b>" not in card
    assert d.to_frame().height == 500


def test_nothing_measured_still_shows_a_card() -> None:
    d = Durations(start=("a",), end=("b",), count=0, median=None, mean=None, quantiles={})
    text = parse_card(d._repr_html_())
    assert "leads0" in text
    assert d.to_frame()["leads"].to_list() == [0]


@pytest.mark.parametrize("backend", ["spark", None, 3])
def test_an_unknown_backend_is_refused(log_polars, backend) -> None:
    from funnel import ValidationError

    d = time_to_convert(log_polars, "mql", "won")
    with pytest.raises(ValidationError, match="backend must be"):
        d.to_frame(backend=backend)
