"""plain_value: every engine's missing value is None (pandas NaT and NA, numpy NaT, NaN)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from funnel.engine.replay import plain_value


def test_nan_is_none_and_plain_values_are_kept() -> None:
    assert plain_value(float("nan")) is None
    assert plain_value(None) is None
    assert plain_value(1.5) == 1.5
    assert plain_value("web") == "web"


def test_pandas_missing_values_are_none() -> None:
    pd = pytest.importorskip("pandas")
    assert plain_value(pd.NaT) is None
    assert plain_value(pd.NA) is None
    when = plain_value(pd.Timestamp("2026-01-05T09:00", tz="UTC"))
    assert when == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert type(when) is datetime


def test_numpy_not_a_time_is_none() -> None:
    np = pytest.importorskip("numpy")
    assert plain_value(np.datetime64("NaT")) is None
    assert plain_value(np.timedelta64("NaT")) is None
    assert plain_value(np.datetime64("2026-01-05")) == np.datetime64("2026-01-05")
