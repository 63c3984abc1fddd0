"""
Scoring, forecast and simulation on the real datasets in ../shared/data.

These tests pin the figures quoted in docs/how-to/{scoring,forecasting,simulation}.md;
run them with ``uv run pytest tests/test_real_data_models.py``.
"""

from __future__ import annotations

import csv
import random
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from funnel.forecasting.forecast import Deal, stage_probabilities, weighted_pipeline
from funnel.forecasting.predictive import TrainingRow, brier_score, roc_auc, train_pls
from funnel.forecasting.simulation import (
    compare,
    estimate_chain,
    histories_from_replay,
    quantile,
    simulate,
)

MAVEN_STAGES = ("Prospecting", "Engaging")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def maven(shared: Path) -> tuple[list[dict[str, str]], list[TrainingRow]]:
    """Deals, and one training row per closed deal (product, sector, regional_office)."""
    base = shared / "maven_crm"
    accounts = {r["account"]: r["sector"] for r in read(base / "accounts.csv")}
    offices = {r["sales_agent"]: r["regional_office"] for r in read(base / "sales_teams.csv")}
    deals = read(base / "sales_pipeline.csv")
    rows = [
        TrainingRow(
            values={
                "product": d["product"],
                "sector": accounts.get(d["account"]),
                "regional_office": offices[d["sales_agent"]],
            },
            won=d["deal_stage"] == "Won",
            stage="Engaging",  # every closed deal has an engage_date
            id=d["opportunity_id"],
        )
        for d in deals
        if d["deal_stage"] in ("Won", "Lost")
    ]
    return deals, rows


def split(rows: list[TrainingRow], seed: int = 0) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """A seeded 70/30 split."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(0.7 * len(order))
    return [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]


class TestMavenPLS:
    def test_calibrated_but_uninformative_fields(self, shared_data: Path) -> None:
        """
        Mean prediction matches the 63.15 % win rate; the fields carry no signal (AUC ≈ 0.5).

        Measured: held-out mean 0.6310 vs observed 0.6341, AUC 0.485, Brier 0.2332
        (predicting the base rate scores 0.2320).
        """
        _, rows = maven(shared_data)
        assert len(rows) == 6711
        assert sum(r.won for r in rows) == 4238  # 63.15 %
        model = train_pls(rows, stages=MAVEN_STAGES, won_stages={"Won"})
        preds = [model.predict(r.values, stage="Engaging").fraction for r in rows]
        assert statistics.mean(preds) == pytest.approx(4238 / 6711, abs=0.005)
        train, test = split(rows)
        held = train_pls(train, stages=MAVEN_STAGES)
        p = [held.predict(r.values, stage="Engaging").fraction for r in test]
        y = [r.won for r in test]
        assert statistics.mean(p) == pytest.approx(sum(y) / len(y), abs=0.01)
        assert roc_auc(p, y) == pytest.approx(0.485, abs=0.01)
        base = sum(r.won for r in train) / len(train)
        assert brier_score(p, y) == pytest.approx(brier_score([base] * len(y), y), abs=0.005)

    def test_open_deals_by_stage(self, shared_data: Path) -> None:
        """Every closed deal reached both stages, so both open stages score the prior 63.15."""
        _, rows = maven(shared_data)
        model = train_pls(rows, stages=MAVEN_STAGES)
        assert model.predict({}, stage="Prospecting").probability == 63.15
        assert model.predict({}, stage="Engaging").probability == 63.15


class TestOlistPLS:
    def test_origin_and_landing_page_beat_chance(self, shared_data: Path) -> None:
        """
        MQL -> won (842 of 8000). Held-out AUC: origin 0.597; with landing page (floor 30) 0.657.

        MQLs never won count as lost (the data set has no lost stage).
        """
        base = shared_data / "olist"
        won = {d["mql_id"] for d in read(base / "olist_closed_deals_dataset.csv")}
        mqls = read(base / "olist_marketing_qualified_leads_dataset.csv")
        rows = [
            TrainingRow(
                values={"origin": m["origin"] or None, "landing_page": m["landing_page_id"]},
                won=m["mql_id"] in won,
                id=m["mql_id"],
            )
            for m in mqls
        ]
        assert sum(r.won for r in rows) == 842
        train, test = split(rows)
        y = [r.won for r in test]
        origin = train_pls(train, fields=["origin"])
        both = train_pls(train, fields=["origin", "landing_page"], min_samples=30)
        auc_origin = roc_auc([origin.predict(r.values).fraction for r in test], y)
        auc_both = roc_auc([both.predict(r.values).fraction for r in test], y)
        assert auc_origin == pytest.approx(0.597, abs=0.01)
        assert auc_both == pytest.approx(0.657, abs=0.01)
        assert auc_both > auc_origin > 0.5


class TestMavenForecast:
    def test_weighted_open_pipeline(self, shared_data: Path) -> None:
        """
        Open deals valued at list price (products.csv; 'GTXPro' is 'GTX Pro').

        2089 open deals, 4,966,215 at list price; weighted at 4238/6711 each: 3,136,166.02.
        """
        deals, _ = maven(shared_data)
        prices = {
            r["product"].replace(" ", ""): r["sales_price"]
            for r in read(shared_data / "maven_crm" / "products.csv")
        }
        paths = []
        for d in deals:
            stage = d["deal_stage"]
            if stage in ("Won", "Lost"):
                paths.append(["Prospecting", "Engaging", stage])
            else:
                paths.append(["Prospecting"] if stage == "Prospecting" else [*MAVEN_STAGES])
        probs = stage_probabilities(
            paths, won_stages={"Won"}, lost_stages={"Lost"}, order=MAVEN_STAGES
        )
        assert probs.stages["Engaging"].reached == 6711
        assert probs.probability("Engaging") == Decimal(4238) / Decimal(6711)
        open_deals = [
            Deal(id=d["opportunity_id"], value=prices[d["product"].replace(" ", "")], stage=s)
            for d in deals
            if (s := d["deal_stage"]) in MAVEN_STAGES
        ]
        assert len(open_deals) == 2089
        assert sum(d.value for d in open_deals) == 4966215
        forecast = weighted_pipeline(open_deals, probs)
        assert forecast.total == Decimal("3136166.02")
        assert forecast.by_stage() == {
            "Engaging": Decimal("2457943.74"),
            "Prospecting": Decimal("678222.28"),
        }


class TestChains:
    def test_maven_chain_via_analytics_replay(self, shared_data: Path) -> None:
        """
        Engaging -> Won 63.15 %, median 57 days; -> Lost median 14 days.

        1589 open Engaging deals, next 91 days, 200 runs, seed 1: mean 784.1 wins
        (5-95 %: 754-819); raising Engaging -> Won by 10 %: +79.4 wins (66-94). With new
        deals arriving at the observed 20.1 a day: 1328.3 wins, +134.0 with the raise.
        """
        pytest.importorskip("polars")
        import polars as pl

        from funnel.analytics import load_frame
        from funnel.analytics.datasets import maven_log
        from funnel.analytics.replay import replay_log

        # The chain needs a time for every visit; the source has none for Prospecting
        # and the adapter leaves it missing. Assumption made here, for the model:
        # a deal entered Prospecting at its engage date, or, with none, on the
        # snapshot's last day (2017-12-31).
        log = maven_log(shared_data, as_of="2017-12-31").with_columns(
            pl.col("at").fill_null(pl.col("at").min().over("lead_id"))
        )
        replay = replay_log(load_frame(log, timezone="UTC"))
        chain = estimate_chain(histories_from_replay(replay))
        assert chain.rejected == ()
        assert chain.probability("stakeholder", "won") == pytest.approx(4238 / 6711)
        assert quantile(chain.durations[("stakeholder", "won")], 0.5) == 57
        assert quantile(chain.durations[("stakeholder", "lost")], 0.5) == 14
        assert chain.open_counts == {"stakeholder": 1589, "opportunity": 500}
        quarter = timedelta(days=91)
        start = {"stakeholder": 1589}
        result = simulate(chain, starting=start, horizon=quarter, runs=200, seed=1)
        assert result.mean_won == pytest.approx(784.075)
        up = chain.with_conversion("stakeholder", "won", 1.10)
        what_if = compare(chain, up, starting=start, horizon=quarter, runs=200, seed=1)
        assert what_if.baseline == result
        assert what_if.mean_difference == pytest.approx(79.445)
        # every deal starts in Prospecting: 8800 from 2016-10-20 to 2017-12-31 (437 days)
        assert chain.arrival_rates == {"opportunity": pytest.approx(8800 / 437)}
        arriving = compare(
            chain,
            up,
            starting=start,
            horizon=quarter,
            runs=200,
            seed=1,
            arrivals=chain.arrival_rates,
        )
        assert sum(arriving.baseline.arrived) / 200 == pytest.approx(1838.825)
        assert arriving.baseline.mean_won == pytest.approx(1328.255)
        assert arriving.mean_difference == pytest.approx(134.045)

    def test_olist_time_to_win_and_rejected_backwards_deal(self, shared_data: Path) -> None:
        """841 MQL -> won moves, median 14.7 days (p90 162.7); one backwards deal rejected."""
        base = shared_data / "olist"
        won = {d["mql_id"]: d["won_date"] for d in read(base / "olist_closed_deals_dataset.csv")}

        def at(text: str) -> datetime:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)

        histories = {
            m["mql_id"]: [("mql", at(m["first_contact_date"]))]
            + ([("won", at(won[m["mql_id"]]))] if m["mql_id"] in won else [])
            for m in read(base / "olist_marketing_qualified_leads_dataset.csv")
        }
        chain = estimate_chain(histories, won_stages={"won"}, lost_stages=set())
        assert chain.counts["mql"]["won"] == 841
        assert len(chain.rejected) == 1
        assert "earlier than the previous visit" in chain.rejected[0][1]
        assert chain.open_counts == {"mql": 7158}
        days = chain.durations[("mql", "won")]
        assert 14 <= quantile(days, 0.5) < 15
        assert quantile(days, 0.9) == pytest.approx(162.67, abs=0.01)
