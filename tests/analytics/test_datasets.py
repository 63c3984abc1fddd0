"""The Maven and Olist adapters reproduce the ground truth of research/analytics.md §1."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl
import pytest

from funnel.analytics import (
    breakdown,
    cohorts,
    funnel_report,
    load_frame,
    load_maven,
    load_olist,
    time_to_convert,
)
from funnel.analytics.datasets import MAVEN_STEPS, OLIST_STEPS, maven_log
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
    # first touch needs a dated row: the 500 undated Prospecting deals (all of
    # the Central office) have none, so they fall in the None group
    assert got == {
        "Central": (3012, 3012, 2604, 1629),
        "East": (2291, 2291, 1858, 1171),
        "West": (2997, 2997, 2249, 1438),
        None: (500, 0, 0, 0),
    }
    assert split.total.counts == (8800, 8300, 4238)
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


def test_olist_deal_won_before_first_contact_is_kept_with_a_warning(olist):
    """Issue 12.2: the deal won two days before its first contact is a win, flagged."""
    assert olist.rows_in == 8000 + 842
    assert olist.rows_in == olist.n_accepted + olist.n_rejected
    assert olist.n_rejected == 0
    [warning] = olist.warning_rows()
    assert warning["reason"] == "time-conflict"
    assert (warning["stage"], warning["other_stage"]) == ("mql", "won")
    assert warning["at"] == "2018-03-08T00:00:00Z"
    assert warning["other_at"] == "2018-03-06T19:38:55Z"
    assert "1 accepted with a warning" in str(olist)
    report = funnel_report(olist, steps=OLIST_STEPS)
    assert report.counts == (8000, 842)
    assert report.won == 842
    # the source's 842 / 8000 = 10.525%
    assert report.counts[1] / report.counts[0] == 0.10525


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
    got = {k: (r.counts[1], r.counts[0]) for k, r in split.reports.items()}
    assert got == truth


def test_olist_time_to_convert(olist):
    # the flagged deal has no trusted MQL time: left out of durations (842 - 1)
    d = time_to_convert(olist, "mql", "won", quantiles=(0.9, 1.0))
    assert d.count == 841
    assert d.median is not None
    assert d.median // DAY == 14
    assert d.quantiles[1.0] // DAY == 427


def test_maven_invents_no_dates(maven):
    """Issue 12.4: undated deals keep no time; engaged deals are not dated twice."""
    acc = maven.accepted
    opportunity = acc.filter(pl.col("stage") == "opportunity")
    assert opportunity.height == 8800
    assert opportunity["at"].null_count() == 8800
    assert acc.filter(pl.col("stage") != "opportunity")["at"].null_count() == 0
    report = funnel_report(maven, steps=MAVEN_STEPS)
    assert report.counts == (8800, 8300, 4238)
    split = cohorts(maven, "1q", steps=MAVEN_STEPS)
    q4 = {k.date().isoformat(): r.leads for k, r in split.reports.items() if k is not None}
    assert q4["2017-10-01"] == 1165  # not 1665: no false Q4-17 cohort
    assert split.reports[None].leads == 500  # the undated deals: no cohort


def test_maven_newest_first_gives_the_same_result(shared_data):
    """Issue 12.1: the pipeline written newest-first loses nothing."""
    log = maven_log(shared_data)
    forward = load_frame(log, timezone="UTC", allow_missing_time=True)
    backward = load_frame(log.reverse(), timezone="UTC", allow_missing_time=True)
    assert (backward.n_accepted, backward.n_rejected) == (23811, 0)
    a = funnel_report(forward, steps=MAVEN_STEPS)
    b = funnel_report(backward, steps=MAVEN_STEPS)
    assert (a.counts, a.won, a.lost) == (b.counts, b.won, b.lost)
    assert b.win_rate is not None
    assert round(100 * b.win_rate, 2) == 63.15
