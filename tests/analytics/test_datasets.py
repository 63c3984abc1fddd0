"""The Maven and Olist adapters reproduce the ground truth of research/analytics.md §1."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl
import pytest

from funnel.analytics import breakdown, funnel_report, load_maven, load_olist, time_to_convert
from funnel.analytics.datasets import MAVEN_STEPS, OLIST_STEPS
from funnel.analytics.replay import replay_log

DAY = timedelta(days=1)


@pytest.fixture
def maven(shared_data):
    return load_maven(shared_data)


@pytest.fixture
def olist(shared_data):
    return load_olist(shared_data)


def test_maven_reached_counts_and_win_rate(maven):
    assert maven.rows_in == maven.n_accepted + maven.n_rejected
    assert maven.n_rejected == 0
    report = funnel_report(maven, steps=MAVEN_STEPS)
    assert report.counts == (8800, 8300, 4238)
    assert report.closed == 6711
    assert report.win_rate is not None
    assert report.overall_win_rate is not None
    assert round(100 * report.win_rate, 2) == 63.15
    assert round(100 * report.overall_win_rate, 2) == 48.16


@pytest.mark.parametrize("engine", ["polars", "pandas", "duckdb"])
def test_maven_by_regional_office(maven, engine):
    frame = maven.accepted
    native = {
        "polars": frame,
        "pandas": frame.to_pandas(),
        "duckdb": duckdb.from_arrow(frame.to_arrow()),
    }[engine]
    split = breakdown(native, "segment", steps=MAVEN_STEPS)
    got = {k: (*r.counts[:2], r.closed, r.won) for k, r in split.reports.items()}
    assert got == {
        "Central": (3512, 3012, 2604, 1629),
        "East": (2291, 2291, 1858, 1171),
        "West": (2997, 2997, 2249, 1438),
    }
    days = time_to_convert(native, "stakeholder", ("won", "lost"), by="segment")
    medians = {k: d.median for k, d in days.groups.items()}
    assert medians == {"Central": 48 * DAY, "East": 39 * DAY, "West": 47 * DAY}
    assert time_to_convert(native, "stakeholder", "won").median == 57 * DAY
    assert time_to_convert(native, "stakeholder", "lost").median == 14 * DAY


def test_maven_quirks(maven):
    acc = maven.accepted
    prospecting = acc.group_by("lead_id").agg(pl.len()).filter(pl.col("len") == 1)
    assert prospecting.height == 500
    offices = acc.filter(pl.col("lead_id").is_in(prospecting["lead_id"].implode()))
    assert offices["segment"].unique().to_list() == ["Central"]
    assert acc.filter(pl.col("stage") == "lost")["value"].unique().to_list() == [0.0]
    assert "GTXPro" in acc["product"].unique().to_list()


def test_maven_replays_without_problems(maven):
    result = replay_log(maven)
    assert result.problems == ()
    assert result.stage_counts() == {
        "opportunity": 500,
        "stakeholder": 1589,
        "won": 4238,
        "lost": 2473,
    }


def test_olist_backwards_deal_is_rejected_not_dropped(olist):
    assert olist.rows_in == 8000 + 842
    assert olist.rows_in == olist.n_accepted + olist.n_rejected
    [bad] = olist.rejections()
    assert bad["reason"] == "time-backwards"
    report = funnel_report(olist, steps=OLIST_STEPS)
    assert report.counts == (8000, 841)
    # with the rejected deal, the source's 842 / 8000 = 10.525%
    assert (report.counts[1] + olist.n_rejected) / report.counts[0] == 0.10525


def test_olist_by_origin(olist):
    truth = {
        "organic_search": (271, 2296),
        "paid_search": (195, 1586),
        "social": (75, 1350),
        "unknown": (179, 1099),
        "direct_traffic": (56, 499),
        "email": (15, 493),
        "referral": (24, 284),
        "other": (4, 150),
        "display": (6, 118),
        "other_publicities": (3, 65),
        None: (14, 60),
    }
    split = breakdown(olist, "source", steps=OLIST_STEPS)
    bad_lead = olist.rejections()[0]["lead_id"]
    first = olist.accepted.filter(pl.col("lead_id") == bad_lead)["source"][0]
    got = {k: (r.counts[1] + (k == first), r.counts[0]) for k, r in split.reports.items()}
    assert got == truth


def test_olist_time_to_convert(olist):
    d = time_to_convert(olist, "mql", "won", quantiles=(0.9, 1.0))
    assert d.count == 841
    assert d.median is not None
    assert d.median // DAY == 14
    assert d.quantiles[1.0] // DAY == 427
