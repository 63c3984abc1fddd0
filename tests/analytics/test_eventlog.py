"""Loading event logs: every row accepted or rejected with a row number and reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import narwhals as nw
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import FunnelError, LoadError
from funnel import analytics as fa
from funnel.analytics import LoadResult, load_csv, load_frame, load_parquet, load_path

CSV = """lead_id,at,stage,event,source,value
a,2026-01-01T09:00:00Z,acquired,,web,
a,2026-01-02 10:00:00+01:00,mql,,web,12.5
,2026-01-02T09:00Z,mql,,web,
b,yesterday,acquired,,ads,
c,2026-01-03,acquired,,ads,
d,2026-01-03T00:00Z,limbo,,ads,
e,2026-01-03T00:00Z,,teleport,ads,
f,2026-01-03T00:00Z,,,ads,
a,2026-01-01T08:00Z,sql,,web,
g,2026-01-04T00:00Z,acquired,,ads,lots
g,2026-01-05T00:00Z,,mark_mql,ads,3
"""


def _sizes(result: LoadResult) -> tuple[int, int]:
    return result.n_accepted, result.n_rejected


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text(CSV)
    return path


def test_every_row_is_accepted_or_rejected_with_a_reason(csv_file):
    result = load_csv(csv_file)
    assert result.rows_in == 11
    assert result.rows_in == result.n_accepted + result.n_rejected
    reasons = {r["row"]: (r["column"], r["reason"]) for r in result.rejections()}
    assert reasons == {
        3: ("lead_id", "missing-id"),
        4: ("at", "bad-timestamp"),
        5: ("at", "naive-timestamp"),
        6: ("stage", "unknown-stage"),
        7: ("event", "unknown-event"),
        8: ("stage", "no-stage-or-event"),
        10: ("value", "bad-value"),
    }
    accepted = result.accepted
    assert accepted["row"].to_list() == [1, 2, 9, 11]
    assert accepted.schema["at"] == pl.Datetime("us", "UTC")
    # the +01:00 offset is honoured: 10:00+01:00 is 09:00 UTC
    assert accepted["at"][1] == datetime(2026, 1, 2, 9, tzinfo=UTC)
    assert accepted["value"].to_list() == [None, 12.5, None, 3.0]
    # row 9 (sql at 08:00) is earlier than row 1 (acquired at 09:00): a lead
    # cannot be acquired after it was an SQL, so row 1 is flagged, not dropped
    assert result.warning_rows() == [
        {
            "row": 1,
            "lead_id": "a",
            "stage": "acquired",
            "at": "2026-01-01T09:00:00Z",
            "other_row": 9,
            "other_stage": "sql",
            "other_at": "2026-01-01T08:00:00Z",
            "reason": "time-conflict",
        }
    ]
    assert accepted["at"][0] is None  # left out of durations and cohorts


def test_timezone_makes_naive_text_acceptable(csv_file):
    result = load_csv(csv_file, timezone="Europe/Paris")
    assert 5 not in {r["row"] for r in result.rejections()}
    c = result.accepted.filter(pl.col("lead_id") == "c")
    assert c["at"][0] == datetime(2026, 1, 2, 23, tzinfo=UTC)


def test_pandas_in_pandas_out_same_verdicts(csv_file):
    frame = pl.read_csv(csv_file, infer_schema=False).to_pandas()
    result = load_frame(frame)
    assert isinstance(result.accepted, pd.DataFrame)
    assert isinstance(result.rejected, pd.DataFrame)
    assert list(result.accepted.index) == list(range(result.n_accepted))
    expected = load_csv(csv_file)
    assert result.rejections() == expected.rejections()
    assert result.accepted["row"].tolist() == expected.accepted["row"].to_list()


def test_naive_datetime_column_needs_a_timezone():
    frame = pl.DataFrame(
        {"lead_id": ["a"], "at": [datetime(2026, 1, 1)], "stage": ["acquired"]}  # noqa: DTZ001
    )
    with pytest.raises(LoadError, match="timezone"):
        load_frame(frame)
    result = load_frame(frame, timezone="UTC")
    assert result.n_accepted == 1


def test_missing_columns_and_unreadable_input_raise_load_error(tmp_path):
    with pytest.raises(LoadError, match="no 'stage' or 'event' column"):
        load_frame(pl.DataFrame({"lead_id": ["a"], "at": ["2026-01-01T00:00Z"]}))
    with pytest.raises(LoadError, match="cannot read"):
        load_csv(tmp_path / "absent.csv")
    with pytest.raises(LoadError):
        load_frame([1, 2, 3])
    with pytest.raises(LoadError, match="row"):
        load_frame(pl.DataFrame({"lead_id": ["a"], "at": ["x"], "stage": ["a"], "row": [1]}))


def test_columns_renames_a_foreign_schema():
    frame = pl.DataFrame({"id": ["a"], "when": ["2026-01-01T00:00Z"], "status": ["mql"]})
    result = load_frame(frame, columns={"id": "lead_id", "when": "at", "status": "stage"})
    assert result.n_accepted == 1


def test_parquet_and_lazy_inputs(tmp_path, csv_file):
    expected = load_csv(csv_file)
    frame = pl.read_csv(csv_file, infer_schema=False)
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    for result in (load_parquet(path), load_path(path), load_frame(frame.lazy())):
        assert result.rejections() == expected.rejections()
        assert isinstance(result.accepted, pl.DataFrame)


def test_repr_html_lists_rejections(csv_file):
    html = load_csv(csv_file)._repr_html_()
    assert "missing-id" in html
    assert "11 rows in: 4 accepted, 7 rejected; 1 accepted with a warning" in html
    assert "time-conflict" in html


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "", None]),
            st.one_of(
                st.datetimes(
                    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
                    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
                ).map(lambda d: d.isoformat() + "Z"),
                st.sampled_from(["", "nope", "2026-02-30T00:00:00Z"]),
            ),
            st.sampled_from(["acquired", "mql", "won", "limbo", None]),
        ),
        max_size=30,
    )
)
def test_rows_in_is_accepted_plus_rejected(rows):
    frame = pl.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "at": [r[1] for r in rows],
            "stage": [r[2] for r in rows],
        },
        schema={"lead_id": pl.String, "at": pl.String, "stage": pl.String},
    )
    result = load_frame(frame)
    assert result.rows_in == len(rows) == result.n_accepted + result.n_rejected
    seen = sorted(result.accepted["row"].to_list() + [r["row"] for r in result.rejections()])
    assert seen == list(range(1, len(rows) + 1))
    # warnings are about accepted rows
    acc = nw.from_native(result.accepted, eager_only=True)
    assert {w["row"] for w in result.warning_rows()} <= set(acc.get_column("row").to_list())


def test_html_of_rejections_is_escaped():
    """Values such as '<' in rejected values or hostile ids render as text."""
    import polars as pl

    from funnel.analytics import load_frame

    log = pl.DataFrame(
        {
            "lead_id": ["<img src=x onerror=alert(1)>"],
            "at": ["2026-01-01T00:00Z"],
            "stage": ["<script>x</script>"],
        }
    )
    html = load_frame(log)._repr_html_()
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


# -- boundaries (issue 13): every third-party error becomes a typed funnel error --------


def _one(**columns: object) -> pl.DataFrame:
    base: dict[str, object] = {
        "lead_id": ["a"],
        "at": ["2026-01-01T00:00Z"],
        "stage": ["acquired"],
    }
    base.update(columns)
    return pl.DataFrame(base)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: fa.load_frame(_one(), timezone="Mars/Olympus"), "unknown time zone"),
        (lambda: fa.load_frame(_one(), timezone=""), "IANA zone name"),
        (lambda: fa.load_frame(_one(), columns={"nope": "lead_id"}), "which the frame lacks"),
        (
            lambda: fa.load_frame(_one(id=["b"]), columns={"id": "lead_id"}),
            "which the frame already has",
        ),
        (lambda: fa.load_frame(_one(lead_id=[["a"]])), "lead ids must be text"),
        (lambda: fa.load_frame(_one(lead_id=[b"a"])), "lead ids must be text"),
        (lambda: fa.load_frame(_one(_reason=["mine"])), "start with '_'"),
    ],
    ids=[
        "unknown-zone",
        "empty-zone",
        "missing-column",
        "duplicate-column",
        "list-id",
        "binary-id",
        "reserved-column",
    ],
)
def test_bad_input_is_a_typed_error(make, error):
    with pytest.raises(FunnelError, match=error):
        make()


def test_pandas_naive_times_in_a_dst_gap_are_a_load_error():
    """An AttributeError/ValueError escaped for naive pandas datetimes in a DST gap."""
    import pandas as pd

    frame = pd.DataFrame(
        {"lead_id": ["a"], "at": [datetime(2026, 3, 8, 2, 30)], "stage": ["acquired"]}  # noqa: DTZ001
    )
    with pytest.raises(FunnelError):
        fa.load_frame(frame, timezone="America/New_York")


def test_whole_number_ids_with_a_gap_keep_their_text():
    """Integer ids in a pandas column with a gap became '1.0'."""
    import pandas as pd

    frame = pd.DataFrame(
        {"lead_id": [1, None, 3], "at": ["2026-01-01T00:00Z"] * 3, "stage": ["acquired"] * 3}
    )
    loaded = fa.load_frame(frame)
    assert sorted(loaded.accepted["lead_id"].tolist()) == ["1", "3"]
    assert loaded.n_rejected == 1


def test_a_time_that_cannot_be_expressed_in_utc_is_a_bad_timestamp():
    """0001-01-01T00:00+14:00 was accepted, then crashed replay_log."""
    loaded = fa.load_frame(_one(at=["0001-01-01T00:00+14:00"]))
    assert loaded.n_rejected == 1
    assert loaded.rejections()[0]["reason"] == "bad-timestamp"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"lead_id,at,stage\na,2026-01-01T00:00Z,acquired\nb\xe9,2026-01-01T00:00Z,acquired\n",
            r"line 3 is not UTF-8 \(byte 0xe9 at column 2\)",
        ),
        (
            b'lead_id,at,stage\n"a\nb",2026-01-01T00:00Z,acquired\nc,2026-01-01T00:00Z,mql,x\n',
            r"line 4 has 4 field\(s\), the header has 3",
        ),
    ],
    ids=["latin-1-byte", "ragged-line"],
)
def test_an_unreadable_csv_names_the_line(tmp_path, content, message):
    """A latin-1 byte or a ragged line refused the file without naming the line."""
    path = tmp_path / "log.csv"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        load_csv(path)


_WHOLE = {"lead_id": ["a"], "at": [datetime(2026, 1, 1, tzinfo=UTC)], "stage": ["acquired"]}


@pytest.mark.parametrize(
    ("drop", "said"),
    [
        (["at"], "event log has no 'at' column; has ['lead_id', 'stage']"),
        (["lead_id"], "event log has no 'lead_id' column; has ['at', 'stage']"),
        (["stage"], "event log has no 'stage' or 'event' column; has ['lead_id', 'at']"),
        (["lead_id", "at"], "event log has no 'lead_id' column and no 'at' column; has ['stage']"),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        fa.load_frame,
        fa.funnel_report,
        lambda f: fa.funnel_report(f.to_pandas()),
        lambda f: fa.funnel_report(f.lazy()),
        lambda f: fa.breakdown(f, "stage"),
        fa.replay_log,
        lambda f: fa.time_to_convert(f, "acquired", "won"),
    ],
    ids=["load_frame", "report", "report-pandas", "report-lazy", "breakdown", "replay", "ttc"],
)
def test_a_missing_column_is_named(drop, said, call) -> None:
    """It read 'lacks lead_id, at, or stage/event' whichever was missing."""
    with pytest.raises(LoadError) as err:
        call(pl.DataFrame(_WHOLE).drop(drop))
    assert str(err.value) == said


def test_blank_lead_ids_of_any_white_space_are_missing_and_others_are_kept():
    ids = ["a", " ", "\u00a0", "", None, " b", "Ökotech", "\t\n", "\u2003\x1c\u3000", "z"]
    frame = pl.DataFrame({"lead_id": ids, "at": ["2026-01-01T00:00:00Z"] * len(ids)})
    frame = frame.with_columns(stage=pl.lit("acquired"))
    for log in (frame, frame.lazy(), frame.to_pandas()):
        result = load_frame(log)
        missing = {r["row"] for r in result.rejections() if r["reason"] == "missing-id"}
        assert missing == {2, 3, 4, 5, 8, 9}
        assert list(result.accepted["lead_id"]) == ["a", " b", "Ökotech", "z"]


def test_contiguous_leads_out_of_sort_order_are_in_order_and_a_conflict_is_still_found():
    at = [f"2026-01-0{d}T00:00:00Z" for d in (1, 2, 1, 2)]
    frame = pl.DataFrame(
        {"lead_id": ["b", "b", "a", "a"], "at": at, "stage": ["acquired", "mql"] * 2}
    )
    assert load_frame(frame).warning_rows() == []
    conflict = frame.with_columns(pl.Series("stage", ["acquired", "mql", "sql", "acquired"]))
    assert [w["row"] for w in load_frame(conflict).warning_rows()] == [4]


def test_nan_and_boolean_lead_ids_get_the_same_verdict_on_every_engine():
    at = ["2026-01-01T00:00:00Z"] * 3
    floats = pl.DataFrame(
        {"lead_id": [3.0, float("nan"), None], "at": at, "stage": ["acquired"] * 3}
    )
    for log in (floats, floats.to_pandas()):
        result = load_frame(log)
        assert list(result.accepted["lead_id"]) == ["3"]
        assert {r["row"]: r["reason"] for r in result.rejections()} == {
            2: "missing-id",
            3: "missing-id",
        }
    booleans = floats.with_columns(pl.Series("lead_id", [True, False, True]))
    for log in (booleans, booleans.to_pandas()):
        with pytest.raises(FunnelError, match="lead ids must be text or whole numbers"):
            load_frame(log)
