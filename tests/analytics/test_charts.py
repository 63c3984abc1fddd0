"""Charts: plotly figures, HTML and PNG export, and clear errors when PNG cannot be written."""

from __future__ import annotations

import importlib.util
import shutil
import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import FunnelError
from funnel.analytics import (
    breakdown,
    charts,
    cohorts,
    conversion_trend,
    conversion_trend_chart,
    funnel_chart,
    funnel_report,
    time_to_convert,
    time_to_convert_histogram,
    write_chart,
)


def test_funnel_chart_and_html(log_polars, tmp_path):
    fig = funnel_chart(funnel_report(log_polars))
    assert list(fig.data[0].x) == [5, 4, 3, 3, 2, 2, 2]
    assert fig.data[0].y[0] == "Acquired"  # display names
    out = write_chart(fig, tmp_path / "f.html")
    assert "plotly" in out.read_text()[:20000].lower()
    split = funnel_chart(breakdown(log_polars, "source"))
    assert [t.name for t in split.data] == ["ads", "web"]


def test_histogram(log_polars):
    fig = time_to_convert_histogram(time_to_convert(log_polars, "mql", "won"))
    assert sorted(fig.data[0].x) == [19.0, 60.0]
    assert fig.layout.title.text == "Time to convert: MQL → Won"  # display names


def test_histogram_unit_is_checked(log_polars):
    from funnel import ValidationError

    with pytest.raises(ValidationError) as e:
        time_to_convert_histogram(time_to_convert(log_polars, "mql", "won"), unit="weeks")
    assert e.value.field == "unit"


def test_breakdown_by_several_columns_names_its_traces(log_polars):
    fig = funnel_chart(breakdown(log_polars, ["source", "owner"]))
    assert [t.name for t in fig.data] == ["ads / ann", "ads / bob", "web / ann", "web / bob"]


BROWSER = shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")
CAN_PNG = importlib.util.find_spec("kaleido") is not None and BROWSER is not None


@pytest.mark.skipif(not CAN_PNG, reason="PNG export needs kaleido and Chrome or Chromium")
def test_png_is_a_real_image(log_polars, tmp_path):
    out = write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (700, 500)  # plotly's default size


def test_png_without_kaleido_says_what_to_install(log_polars, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "_has_kaleido", lambda: False)
    with pytest.raises(FunnelError, match=r"salesfunnel\[png\]"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


def test_png_without_a_browser_says_so(tmp_path, monkeypatch):
    """kaleido's own error (here: no Chrome) is kept, on one line, with what to install."""

    class NoBrowser:
        def write_image(self, path: object) -> None:
            raise RuntimeError("\n\nKaleido requires Google Chrome to be installed.\n\n")

    monkeypatch.setattr(charts, "_has_kaleido", lambda: True)
    with pytest.raises(FunnelError) as info:
        write_chart(NoBrowser(), tmp_path / "f.png")
    message = str(info.value)
    assert "RuntimeError: Kaleido requires Google Chrome to be installed.)" in message
    assert "apt install chromium" in message
    assert "\n" not in message


def test_unknown_extension(log_polars, tmp_path):
    with pytest.raises(FunnelError, match=r"\.html or \.png"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.svg")


def test_missing_directory_is_a_funnel_error(log_polars, tmp_path):
    with pytest.raises(FunnelError, match="no directory"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "absent" / "f.html")


# -- grouped breakdowns, heatmaps, period labels, missing plotly ------------------------------


def test_breakdown_is_grouped_side_by_side_not_stacked(log_polars):
    """A breakdown was one funnel per group stacked into one funnel; now bars side by side."""
    split = breakdown(log_polars, "source")
    fig = funnel_chart(split)
    assert {t.type for t in fig.data} == {"bar"}
    assert fig.layout.barmode == "group"
    assert [t.name for t in fig.data] == ["ads", "web"]
    ads = split["ads"]
    # percent of the group's own first step, so groups of any size compare
    assert list(fig.data[0].x) == [
        pytest.approx(100 * v) for v in ads.conversion_from_first if v is not None
    ]
    assert [c for c, _ in fig.data[0].customdata] == list(ads.counts)
    assert list(fig.data[0].y) == list(split.total.display_names)
    counted = funnel_chart(split, measure="leads")
    assert list(counted.data[1].x) == list(split["web"].counts)


def test_small_multiples_draw_one_funnel_per_group(log_polars):
    fig = funnel_chart(breakdown(log_polars, ["source", "owner"]), layout="facets")
    assert [t.type for t in fig.data] == ["funnel"] * 4
    assert len({t.xaxis for t in fig.data}) == 4  # each in its own panel
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("ads / ann (")


def test_many_groups_become_small_multiples(log_polars):
    import polars as pl

    many = log_polars.with_columns(pl.col("lead_id").alias("each"))  # five groups
    assert charts.MAX_GROUPED == 6
    assert funnel_chart(breakdown(many, "each")).data[0].type == "bar"
    monkey = pytest.MonkeyPatch()
    monkey.setattr(charts, "MAX_GROUPED", 3)
    try:
        assert funnel_chart(breakdown(many, "each")).data[0].type == "funnel"
    finally:
        monkey.undo()


@pytest.mark.parametrize(("name", "value"), [("layout", "stacked"), ("measure", "share")])
def test_chart_options_are_checked(log_polars, name, value):
    from funnel import ValidationError

    with pytest.raises(ValidationError) as e:
        funnel_chart(breakdown(log_polars, "source"), **{name: value})
    assert e.value.field == name


def test_cohort_heatmap_is_period_by_step_in_percent(log_polars):
    split = cohorts(log_polars, "1mo")
    fig = charts.cohort_heatmap(split)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert list(heat.x) == list(split.total.display_names)
    reports = list(split.reports.values())
    assert list(heat.y) == [f"2026-01 ({reports[0].leads})", f"2026-02 ({reports[1].leads})"]
    assert [list(row) for row in heat.z] == [
        [pytest.approx(100 * v) if v is not None else None for v in r.conversion_from_first]
        for r in reports
    ]
    assert heat.text[0][0] == "100%"
    assert [list(row) for row in heat.customdata] == [list(r.counts) for r in reports]
    assert "00:00:00" not in str(fig.to_dict())  # no raw timestamps anywhere


def test_conversion_trend_chart_labels_periods(log_polars):
    fig = conversion_trend_chart(conversion_trend(log_polars, "1mo", steps=["acquired", "won"]))
    assert list(fig.data[0].x) == ["2026-01", "2026-02", "2026-04"]
    quarters = conversion_trend_chart(
        conversion_trend(log_polars, "3mo", steps=["acquired", "won"]), every="3mo"
    )
    assert list(quarters.data[0].x) == ["2026-Q1", "2026-Q2"]


def test_group_of_leads_without_a_value_is_labelled():
    assert charts.period_labels([datetime(2026, 1, 1, tzinfo=UTC), None]) == [
        "2026-01",
        "(none)",
    ]


def test_every_is_checked():
    from funnel import ValidationError

    with pytest.raises(ValidationError) as e:
        charts.period_labels([], every="monthly")
    assert e.value.field == "every"


@pytest.mark.parametrize("every", ["1w", "2w", " 1mo", "1 d", "0d", "1M", "monthly", ""])
def test_charts_and_cohorts_refuse_the_same_periods(log_polars, every):
    """charts accepted "1w" (and spaces) that cohorts refused: one definition now."""
    from funnel import ValidationError

    with pytest.raises(ValidationError) as by_chart:
        charts.period_labels([datetime(2026, 1, 5, tzinfo=UTC)], every=every)
    with pytest.raises(ValidationError) as by_cohorts:
        cohorts(log_polars, every)
    assert str(by_chart.value) == str(by_cohorts.value)
    assert by_chart.value.field == by_cohorts.value.field == "every"


@pytest.mark.parametrize("every", ["1d", "7d", "1mo", "3mo", "1q", "1y", "12h"])
def test_charts_label_every_period_cohorts_cut_by(log_polars, every):
    split = cohorts(log_polars, every)
    assert split.every == every
    labels = charts.period_labels(list(split.reports), every)
    assert labels == split.labels()
    assert all("00:00:00" not in label for label in labels)


months = st.builds(
    lambda y, m: datetime(y, m, 1, tzinfo=UTC), st.integers(1990, 2090), st.integers(1, 12)
)


@given(st.lists(months, min_size=1, max_size=20))
def test_month_starts_read_as_months_or_quarters(keys):
    labels = charts.period_labels(keys, every="1mo")
    assert labels == [f"{k.year}-{k.month:02d}" for k in keys]
    quarters = charts.period_labels(keys, every="3mo")
    assert quarters == [f"{k.year}-Q{(k.month + 2) // 3}" for k in keys]
    inferred = charts.period_labels(keys)
    if any(k.month not in (1, 4, 7, 10) for k in keys) or len(keys) == 1:
        assert inferred == labels  # a month that starts no quarter: months


@given(st.integers(0, 3000), st.integers(2, 10))
def test_mondays_read_as_iso_weeks(offset, n):
    first = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(weeks=offset)  # a Monday
    keys = [first + timedelta(weeks=i) for i in range(n)]
    labels = charts.period_labels(keys)
    if any(k.day == 1 for k in keys):
        return  # a first of the month among them: read as days, not weeks
    for key, label in zip(keys, labels, strict=True):
        year, week = label.split("-W")
        assert datetime.fromisocalendar(int(year), int(week), 1).date() == key.date()


def test_days_and_times():
    keys = [datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)]
    assert charts.period_labels(keys) == ["2026-03-03", "2026-03-04"]
    assert charts.period_labels([datetime(2026, 3, 3, 14, 30, tzinfo=UTC)]) == ["2026-03-03 14:30"]
    assert charts.period_labels(keys[:1], every="1y") == ["2026"]


def test_without_plotly_every_chart_says_what_to_install(tmp_path):
    """In a fresh interpreter with plotly unimportable: one FunnelError each, no chained import."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        from datetime import datetime, timezone
        import polars as pl
        sys.modules["plotly"] = None
        from funnel import FunnelError
        from funnel import analytics as fa
        from funnel.analytics import charts
        t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        log = pl.DataFrame({"lead_id": ["a", "a"], "at": [t, t], "stage": ["acquired", "won"],
                            "source": ["web", "web"]})
        calls = {
            "funnel_chart": lambda: fa.funnel_chart(fa.funnel_report(log)),
            "breakdown": lambda: fa.funnel_chart(fa.breakdown(log, "source")),
            "cohort_heatmap": lambda: charts.cohort_heatmap(fa.cohorts(log)),
            "trend": lambda: fa.conversion_trend_chart(fa.conversion_trend(log)),
            "histogram": lambda: fa.time_to_convert_histogram(
                fa.time_to_convert(log, "acquired", "won")),
        }
        for name, call in calls.items():
            try:
                call()
            except FunnelError as exc:
                assert exc.__cause__ is None and exc.__suppress_context__, name
                print(name, "|", exc)
            else:
                raise SystemExit(name + " did not raise")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        assert line.endswith('pip install "salesfunnel[plot]"'), line


@pytest.mark.slow
def test_a_notebook_shows_the_missing_extra_in_one_line():
    """In a real kernel: no traceback for a missing plotly, just the line saying what to do."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            'import sys\nsys.modules["plotly"] = None\n'
            "from funnel import analytics as fa\nimport polars as pl\n"
            "from datetime import datetime, timezone\n"
            "t = datetime(2026, 1, 5, tzinfo=timezone.utc)\n"
            'log = pl.DataFrame({"lead_id": ["a"], "at": [t], "stage": ["acquired"]})'
        ),
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            "fa.funnel_chart(fa.funnel_report(log))"
        ),
    ]
    client = NotebookClient(nb, kernel_name="python3", timeout=120)
    with pytest.raises(CellExecutionError):
        client.execute()
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "FunnelError"
    assert error.traceback == [
        'FunnelError: charts need plotly, which is not installed: pip install "salesfunnel[plot]"'
    ]
