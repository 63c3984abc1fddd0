"""Fixtures for the analytics tests: a small synthetic log and the three engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    """T0 plus *n* days."""
    return T0 + timedelta(days=n)


#: A hand-made log. Counted by hand (order="reached", default steps):
#: a: acquired, mql, sql, organisation, opportunity, stakeholder, won (days 0..20)
#: b: acquired, mql, lost?  -> b enters acquired, mql, then disqualified (lost)
#: c: enters at sql (open funnel), then organisation, then lost
#: d: acquired only (open)
#: e: mql (day 40) then won at day 100 (skips steps; reached every step)
ROWS: list[tuple[str, float, str, str, str]] = [
    ("a", 0, "acquired", "web", "ann"),
    ("a", 1, "mql", "web", "ann"),
    ("a", 3, "sql", "web", "ann"),
    ("a", 5, "organisation", "web", "ann"),
    ("a", 8, "opportunity", "web", "ann"),
    ("a", 12, "stakeholder", "web", "ann"),
    ("a", 20, "won", "web", "ann"),
    ("b", 2, "acquired", "ads", "bob"),
    ("b", 4, "mql", "ads", "bob"),
    ("b", 6, "disqualified", "ads", "bob"),
    ("c", 3, "sql", "web", "bob"),
    ("c", 9, "organisation", "web", "bob"),
    ("c", 30, "lost", "web", "bob"),
    ("d", 35, "acquired", "ads", "ann"),
    ("e", 40, "mql", "ads", "ann"),
    ("e", 100, "won", "ads", "ann"),
]


@pytest.fixture
def log_polars() -> pl.DataFrame:
    """The synthetic log as a polars frame with a row column (as accepted by a loader)."""
    return pl.DataFrame(
        {
            "row": list(range(1, len(ROWS) + 1)),
            "lead_id": [r[0] for r in ROWS],
            "at": [day(r[1]) for r in ROWS],
            "stage": [r[2] for r in ROWS],
            "source": [r[3] for r in ROWS],
            "owner": [r[4] for r in ROWS],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )


def _duckdb(frame: pl.DataFrame) -> Any:
    import duckdb

    return duckdb.from_arrow(frame.to_arrow())


ENGINES: dict[str, Callable[[pl.DataFrame], Any]] = {
    "polars": lambda f: f,
    "polars-lazy": lambda f: f.lazy(),
    "pandas": lambda f: f.to_pandas(),
    "duckdb": _duckdb,
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Callable[[pl.DataFrame], Any]:
    """Converts a polars frame to each supported engine's native frame."""
    convert: Callable[[pl.DataFrame], Any] = ENGINES[request.param]
    return convert
