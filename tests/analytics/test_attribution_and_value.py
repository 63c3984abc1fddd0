"""Breakdown attribution (first, last, a step; several columns), deal values, trends, names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from funnel import ValidationError
from funnel.analytics import (
    breakdown,
    conversion_trend,
    conversion_trend_chart,
    format_duration,
    funnel_report,
    present_steps,
    time_to_convert,
)
from tests.analytics.conftest import T0

DAY = timedelta(days=1)
STEPS = ["acquired", "mql", "won"]


def log_of(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    data["at"] = [T0 + d * DAY for d in data["at"]]
    data["row"] = list(range(1, len(rows) + 1))
    return pl.DataFrame(
        data,
        schema_overrides={
            "at": pl.Datetime("us", "UTC"),
            "source": pl.String,
            "owner": pl.String,
            "value": pl.Float64,
        },
    )


#: a: no source on its first row, then ads, then web; b: two rows at the same time.
TOUCHES = log_of(
    [
        ("a", 0.0, "acquired", None, "ann", None),
        ("a", 1.0, "mql", "ads", "ann", 100.0),
        ("a", 2.0, "won", "web", "bob", 120.0),
        ("b", 0.0, "acquired", "zeta", "bob", 50.0),
        ("b", 0.0, "mql", "alpha", "bob", None),
        ("c", 3.0, "acquired", "", "ann", None),
    ],
    ("lead_id", "at", "stage", "source", "owner", "value"),
)


def keyed(split: Any) -> dict[Any, tuple[int, ...]]:
    return {k: r.counts for k, r in split.reports.items()}


def test_first_touch_is_the_first_non_empty_value_ties_by_row(engine):
    """Fails before the fix: a was attributed None (empty first row), b 'alpha' (by value)."""
    split = breakdown(engine(TOUCHES), "source", steps=STEPS)
    assert keyed(split) == {"ads": (1, 1, 1), "zeta": (1, 1, 0), None: (1, 0, 0)}


def test_last_touch_and_a_chosen_step(engine):
    last = breakdown(engine(TOUCHES), "source", steps=STEPS, attribution="last")
    assert keyed(last) == {"alpha": (1, 1, 0), "web": (1, 1, 1), None: (1, 0, 0)}
    at_mql = breakdown(engine(TOUCHES), "source", steps=STEPS, attribution=("step", "mql"))
    assert keyed(at_mql) == {"ads": (1, 1, 1), "alpha": (1, 1, 0), None: (1, 0, 0)}


def test_breakdown_by_several_columns(engine):
    split = breakdown(engine(TOUCHES), ["source", "owner"], steps=STEPS)
    assert keyed(split) == {
        ("ads", "ann"): (1, 1, 1),
        ("zeta", "bob"): (1, 1, 0),
        (None, "ann"): (1, 0, 0),
    }
    assert split.columns == ("source", "owner")
    assert "ads / ann" in str(split)
    assert split.total.counts == (3, 2, 1)


def test_attribution_is_checked(engine):
    for bad in ("middle", ("step", "sql"), ("touch", "mql"), 3):
        with pytest.raises(ValidationError) as e:
            breakdown(engine(TOUCHES), "source", steps=STEPS, attribution=bad)  # type: ignore[arg-type]
        assert e.value.field == "attribution"
    with pytest.raises(ValidationError) as e:
        breakdown(engine(TOUCHES), ["source", "source"], steps=STEPS)
    assert e.value.field == "by"


def test_value_reaching_each_step_and_won(engine):
    """A lead's deal value is its last non-empty value: a 120, b 50, c none."""
    report = funnel_report(engine(TOUCHES), steps=STEPS)
    assert report.values == (170.0, 170.0, 120.0)
    assert report.valued == (2, 2, 1)
    assert report.average_values == (85.0, 85.0, 120.0)
    assert (report.won_value, report.won_average_value) == (120.0, 120.0)
    text = str(report)
    assert "170.00" in text
    assert "won value 120.00" in text
    assert "average_value" in list(report.to_frame().columns)
    no_values = funnel_report(engine(TOUCHES.drop("value")), steps=STEPS)
    assert not no_values.has_values
    assert "value" not in str(no_values)


def test_conversion_trend_and_chart(engine):
    trend = pl.DataFrame(conversion_trend(engine(TOUCHES), "1mo", steps=STEPS))
    assert trend["leads"].to_list() == [3]
    assert trend["converted"].to_list() == [1]
    assert trend["conversion"].to_list() == [pytest.approx(1 / 3)]
    fig = conversion_trend_chart(conversion_trend(TOUCHES, "1mo", steps=STEPS))
    assert list(fig.data[0].y) == [pytest.approx(100 / 3)]


def test_default_steps_are_the_stages_present_in_funnel_order(engine):
    assert present_steps(TOUCHES) == ("acquired", "mql", "won")
    assert funnel_report(engine(TOUCHES)).steps == ("acquired", "mql", "won")


def test_reports_and_durations_print_display_names_and_days():
    report = funnel_report(TOUCHES, steps=STEPS)
    assert [r["name"] for r in report.rows()] == ["Acquired", "MQL", "Won"]
    assert "<td>MQL</td>" in report._repr_html_()
    d = time_to_convert(TOUCHES, "acquired", "won")
    assert str(d).startswith("Acquired → Won: 1 leads, median 2 d, mean 2 d")
    assert format_duration(timedelta(hours=36)) == "1 d 12 h"
    assert format_duration(timedelta(minutes=90)) == "1 h 30 min"
