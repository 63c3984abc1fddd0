"""Result tables as polars or pandas frames (funnel._base.frames), for analytics, forecasts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import polars as pl
import pytest

from funnel import ValidationError
from funnel._base.frames import Kind, check_backend, to_frame
from funnel.exceptions import MissingExtra

T = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS: dict[str, list[object]] = {
    "n": [1, None],
    "when": [T, None],
    "took": [timedelta(days=1), None],
    "s": ["a", None],
}
KINDS: dict[str, Kind] = {"n": "int", "when": "datetime", "took": "duration", "s": "str"}


def test_polars_frames_take_the_declared_types() -> None:
    frame = to_frame(COLUMNS, kinds=KINDS)
    assert frame.schema == {
        "n": pl.Int64(),
        "when": pl.Datetime("us", "UTC"),
        "took": pl.Duration("us"),
        "s": pl.String(),
    }
    assert frame.row(0) == (1, T, timedelta(days=1), "a")


def test_pandas_frames_take_the_declared_types() -> None:
    frame = to_frame(COLUMNS, "pandas", kinds=KINDS)
    assert isinstance(frame, pd.DataFrame)
    assert str(frame["n"].dtype) == "Int64"
    assert str(frame["when"].dtype).endswith(", UTC]")
    assert frame["took"].dtype.kind == "m"
    assert frame["when"][0] == pd.Timestamp(T)
    assert frame["n"].isna().tolist() == [False, True]


def test_empty_columns_keep_their_types() -> None:
    empty: dict[str, list[object]] = {name: [] for name in COLUMNS}
    assert to_frame(empty, kinds=KINDS).schema["when"] == pl.Datetime("us", "UTC")
    assert str(to_frame(empty, "pandas", kinds=KINDS)["n"].dtype) == "Int64"


@pytest.mark.parametrize("backend", ["Polars", "spark", "", None])
def test_an_unknown_backend_is_a_validation_error(backend: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_backend(backend)
    assert info.value.field == "backend"
    assert info.value.allowed == ("polars", "pandas")


def test_a_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(
        MissingExtra, match=r'frames need pandas: pip install "salesfunnel\[pandas\]"'
    ):
        to_frame({"a": [1]}, "pandas")


def test_forecasting_builds_its_frames_with_the_same_helper() -> None:
    from funnel.forecasting import _frames

    assert _frames.to_frame is to_frame
