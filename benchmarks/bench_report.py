"""
The funnel report, breakdowns, cohorts and time to convert against the best peers (issue 14).

Every peer is checked equal to funnel's output before it is timed. The peers:

* ``polars`` (expert): a lazy query; each row's stage becomes a bitmask (a bit per
  step, one for won, one for lost: ``replace_strict`` to ``UInt32`` *before* the
  group-by), one ``bitwise_or`` aggregate per lead, then a count per mask;
  ``polars_enum`` (the faster form) casts the stages to an ``Enum`` and gathers each
  mask by its code. Over ``scan_parquet`` the peer is the ``Enum`` form.
* ``duckdb``: the same as SQL (``bit_or(CASE stage ...)``) over the same frame
  (Arrow, zero copy); ``duckdb_parquet`` over ``read_parquet`` of the cached file.
  From parquet, funnel's route is ``funnel_report(duckdb.read_parquet(file))``; its polars
  route (``pl.scan_parquet``) is raced beside it and compared with ``polars_scan_parquet``.
* ``pandas``: ``pd.factorize`` of the lead ids, ``np.bitwise_or.at`` of the masks
  (on a pandas copy of the frame, made outside the timing).
* breakdown by first touch: polars ``get(arg_min)`` and an Int64 ``(at, value
  code)`` key min (``polars_key``: stages and the five source names, written into the
  query, as ``Enum`` codes); DuckDB ``arg_min(source, "at") FILTER (...)``. Funnel on the
  same frame with ``source`` cast to an ``Enum`` is raced beside it (``also``).
* time to convert (``acquired`` -> ``won``): polars lazy, pre-filtered to the start
  and end rows, three joins; the same with the start rows semi-joined to the leads
  with an end row first (``polars_semi``), or the end rows collected first and the
  start rows filtered by ``is_in`` their leads (``polars_isin``); with a sort and
  ``forward_fill``; DuckDB SQL.

Ratios are funnel / best peer (lowest median), the median of per-round ratios
with their min and max (:meth:`benchmarks.common.Race.ratio`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Race, entry, log, race
from funnel import DEFAULT_FUNNEL
from funnel.model.eventlog import AT, LEAD_ID, STAGE

FUNNEL = DEFAULT_FUNNEL
STEPS = FUNNEL.main_path
START, END = ("acquired",), tuple(sorted(FUNNEL.won_stages))
QUANTILES = (0.25, 0.5, 0.75, 0.9)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SOURCES = ("event", "outbound", "partner", "referral", "web")
#: The rare sources of :func:`with_source` (``rare=True``).
RARE = tuple(f"rare-{k:02d}" for k in range(50))
N = len(STEPS)
WON_BIT, LOST_BIT = 1 << N, 1 << (N + 1)

#: Report outcome: (counts per step, won, lost-not-won).
Outcome = tuple[tuple[int, ...], int, int]


def bits() -> dict[str, int]:
    out = dict.fromkeys(FUNNEL.stages, 0)
    for i, s in enumerate(STEPS):
        out[s] |= 1 << i
    for s in FUNNEL.won_stages:
        out[s] |= WON_BIT
    for s in FUNNEL.lost_stages:
        out[s] |= LOST_BIT
    return out


def decode(rows: Iterable[tuple[Any, int, int]]) -> dict[Any, Outcome]:
    """``{key: outcome}`` from ``(key, mask, leads)`` rows (the peers' last, tiny step)."""
    acc: dict[Any, list[Any]] = {}
    for key, m, n in rows:
        m = int(m or 0)
        s = m & ((1 << N) - 1)
        if not s:
            continue
        a = acc.setdefault(key, [[0] * N, 0, 0])
        for k in range(s.bit_length()):
            a[0][k] += n
        a[1] += n if m & WON_BIT else 0
        a[2] += n if m & LOST_BIT and not m & WON_BIT else 0
    return {k: (tuple(c), w, lo) for k, (c, w, lo) in acc.items()}


def with_source(frame: Any, rare: bool = False) -> Any:
    """
    The log plus a ``source`` column varying by row (a fifth empty), for breakdowns;
    *rare*: one row in about 3,000 holds one of :data:`RARE` instead (values a sample of
    the column misses).
    """
    import polars as pl

    i = pl.int_range(pl.len(), dtype=pl.UInt64)
    pick = pl.lit(pl.Series(SOURCES)).gather(i.hash(2) % len(SOURCES))
    source = pl.when(i.hash(1) % 5 == 0).then(None).otherwise(pick)
    if rare:
        odd = pl.lit(pl.Series(RARE)).gather(i.hash(4) % len(RARE))
        source = pl.when(i.hash(3) % 3000 == 0).then(odd).otherwise(source)
    return frame.with_columns(source.alias("source"))


# --------------------------------------------------------------------------- peers


def _enum_mask() -> Any:
    """The stage's mask by its ``Enum`` code: a gather, not a lookup of the strings."""
    import polars as pl

    b = bits()
    stages = list(b)
    lookup = pl.Series([b[s] for s in stages], dtype=pl.UInt32)
    return pl.lit(lookup).gather(pl.col(STAGE).cast(pl.Enum(stages), strict=False).to_physical())


def polars_report(frame: Any, enum: bool = False) -> Outcome:
    """The report query; *enum*: the stages as ``Enum`` codes (the faster expert form)."""
    import polars as pl

    m = (
        _enum_mask()
        if enum
        else pl.col(STAGE).replace_strict(bits(), default=0, return_dtype=pl.UInt32)
    ).alias("m")
    out = (
        frame.lazy()
        .select(LEAD_ID, m)
        .group_by(LEAD_ID)
        .agg(pl.col("m").bitwise_or())
        .group_by("m")
        .len()
        .collect()
    )
    return decode((None, m, n) for m, n in out.iter_rows())[None]


def _case() -> str:
    return "CASE stage " + " ".join(f"WHEN '{s}' THEN {b}" for s, b in bits().items()) + " END"


def duckdb_report(con: Any, table: str) -> Outcome:
    sql = (
        f"SELECT m, count(*) FROM (SELECT bit_or({_case()}) AS m FROM {table} "
        "GROUP BY lead_id) GROUP BY m"
    )
    return decode((None, m, n) for m, n in con.sql(sql).fetchall())[None]


def pandas_report(pdf: Any) -> Outcome:
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(pdf[LEAD_ID])
    m = pdf[STAGE].map(bits()).fillna(0).to_numpy(dtype=np.uint32)
    mask = np.zeros(len(uniques), dtype=np.uint32)
    np.bitwise_or.at(mask, codes, m)
    vals, counts = np.unique(mask, return_counts=True)
    return decode((None, int(v), int(c)) for v, c in zip(vals, counts, strict=True))[None]


def polars_breakdown(
    frame: Any, keyed: bool, values: tuple[str, ...] = SOURCES
) -> dict[Any, Outcome]:
    """
    First-touch breakdown by ``source``. *keyed*: the expert form, (at, value code) in one
    Int64 minimum, stages and *values* (sorted, all the column has) as ``Enum`` codes, the
    step test on the mask.
    """
    import polars as pl

    width = 1 << len(values).bit_length()
    if keyed:  # (at, value code) in one Int64
        m = _enum_mask().alias("m")
        ok = ((pl.col("m") & ((1 << N) - 1)) != 0) & pl.col("source").is_not_null()
        code = pl.col("source").cast(pl.Enum(values), strict=False).to_physical().cast(pl.Int64)
        k = pl.when(ok).then(pl.col(AT).dt.epoch("us") * width + code).alias("k")
        per = (
            frame.lazy()
            .select(LEAD_ID, AT, "source", m)
            .select(LEAD_ID, "m", k)
            .group_by(LEAD_ID)
            .agg(pl.col("m").bitwise_or(), pl.col("k").min())
            .select((pl.col("k") % width).alias("key"), "m")
        )
    else:
        m = pl.col(STAGE).replace_strict(bits(), default=0, return_dtype=pl.UInt32).alias("m")
        ok = pl.col(STAGE).is_in(STEPS) & pl.col("source").is_not_null()
        k = pl.when(ok).then(pl.col(AT)).alias("k")
        per = (
            frame.lazy()
            .select(LEAD_ID, m, k, "source")
            .group_by(LEAD_ID)
            .agg(
                pl.col("m").bitwise_or(), pl.col("source").get(pl.col("k").arg_min()).alias("key")
            )
            .select("key", "m")
        )
    out = per.group_by("key", "m").len().collect()
    if keyed:
        return decode((None if c is None else values[c], m, n) for c, m, n in out.iter_rows())
    return decode(out.iter_rows())


def duckdb_breakdown(con: Any, table: str) -> dict[Any, Outcome]:
    steps = ", ".join(f"'{s}'" for s in STEPS)
    sql = (
        f'SELECT k, m, count(*) FROM (SELECT bit_or({_case()}) AS m, arg_min(source, "at") '
        f"FILTER (WHERE stage IN ({steps}) AND source IS NOT NULL AND source <> '') AS k "
        f"FROM {table} GROUP BY lead_id) GROUP BY k, m"
    )
    return decode(con.sql(sql).fetchall())


def polars_cohorts(frame: Any) -> dict[Any, Outcome]:
    import polars as pl

    t = pl.when((pl.col("m") & ((1 << N) - 1)) != 0).then(pl.col(AT)).alias("t")
    out = (
        frame.lazy()
        .select(LEAD_ID, AT, _enum_mask().alias("m"))
        .select(LEAD_ID, "m", t)
        .group_by(LEAD_ID)
        .agg(pl.col("m").bitwise_or(), pl.col("t").min())
        .select(pl.col("t").dt.truncate("1mo"), "m")
        .group_by("t", "m")
        .len()
        .collect()
    )
    return decode(out.iter_rows())


def duckdb_cohorts(con: Any, table: str) -> dict[Any, Outcome]:
    steps = ", ".join(f"'{s}'" for s in STEPS)
    sql = (
        "SELECT epoch_us(date_trunc('month', t)) AS p, m, count(*) FROM "
        f"(SELECT bit_or({_case()}) AS m, "
        f'min(CASE WHEN stage IN ({steps}) THEN "at" END) AS t FROM {table} GROUP BY lead_id) '
        "GROUP BY p, m"
    )
    return decode(
        (None if p is None else EPOCH + timedelta(microseconds=p), m, n)
        for p, m, n in con.sql(sql).fetchall()
    )


#: Time to convert: (count, median, mean, quantiles) in seconds.
Stats = tuple[int, float | None, float | None, tuple[float, ...]]


def _stats(x: Any) -> Stats:
    return (
        len(x),
        x.median(),
        x.mean(),
        tuple(x.quantile(q, interpolation="linear") for q in QUANTILES),
    )


def polars_ttc(frame: Any, sort: bool = False, semi: bool = False, isin: bool = False) -> Stats:
    import polars as pl

    at = pl.col(AT)
    lf = frame.lazy().filter(pl.col(STAGE).is_in([*START, *END])).select(LEAD_ID, AT, STAGE)
    if sort:
        is_end = pl.col(STAGE).is_in(END)
        r = (
            lf.with_columns(is_end.alias("e"))
            .sort(LEAD_ID, AT, "e")
            .with_columns(pl.when(~pl.col("e")).then(at).forward_fill().over(LEAD_ID).alias("b"))
            .filter(pl.col("e") & pl.col("b").is_not_null())
            .group_by(LEAD_ID)
            .agg(at.first().alias("e"), pl.col("b").first())
        )
    else:
        st = lf.filter(pl.col(STAGE).is_in(START))
        en = lf.filter(pl.col(STAGE).is_in(END))
        if semi:  # only leads with an end row can convert
            st = st.join(en.select(LEAD_ID), on=LEAD_ID, how="semi")
        if isin:  # the same, the end rows collected first and the start rows filtered in one pass
            found = frame.lazy().filter(pl.col(STAGE).is_in(END)).select(LEAD_ID, AT).collect()
            en = found.lazy()
            ids = found.get_column(LEAD_ID).implode()
            st = frame.lazy().filter(pl.col(STAGE).is_in(START) & pl.col(LEAD_ID).is_in(ids))
            st = st.select(LEAD_ID, AT)
        s0 = st.group_by(LEAD_ID).agg(at.min().alias("s0"))
        e = (
            en.join(s0, on=LEAD_ID)
            .filter(at >= pl.col("s0"))
            .group_by(LEAD_ID)
            .agg(at.min().alias("e"))
        )
        r = (
            st.join(e, on=LEAD_ID)
            .filter(at <= pl.col("e"))
            .group_by(LEAD_ID)
            .agg(at.max().alias("b"), pl.col("e").first())
        )
    secs = r.select((pl.col("e") - pl.col("b")).dt.total_seconds().cast(pl.Float64)).collect()
    return _stats(secs.to_series())


def duckdb_ttc(con: Any, table: str) -> Stats:
    s = ", ".join(f"'{x}'" for x in START)
    e = ", ".join(f"'{x}'" for x in END)
    sql = f"""
    WITH r AS (SELECT lead_id, "at", stage IN ({s}) AS is_s FROM {table}
               WHERE stage IN ({s}, {e})),
    s0 AS (SELECT lead_id, min("at") AS s0 FROM r WHERE is_s GROUP BY lead_id),
    en AS (SELECT r.lead_id, min(r."at") AS e FROM r JOIN s0 USING (lead_id)
           WHERE NOT is_s AND r."at" >= s0.s0 GROUP BY r.lead_id),
    b AS (SELECT r.lead_id, max(r."at") AS b, min(en.e) AS e FROM r JOIN en USING (lead_id)
          WHERE is_s AND r."at" <= en.e GROUP BY r.lead_id),
    d AS (SELECT epoch(e) - epoch(b) AS x FROM b)
    SELECT count(*), median(x), avg(x), quantile_cont(x, [{", ".join(map(str, QUANTILES))}])
    FROM d"""
    n, med, mean, qs = con.sql(sql).fetchall()[0]
    return int(n), med, mean, tuple(qs)


# --------------------------------------------------------------------------- funnel's side


def funnel_outcome(rep: Any) -> Outcome:
    return (tuple(rep.counts), rep.won, rep.lost)


def funnel_grouped(split: Any) -> dict[Any, Outcome]:
    return {k: funnel_outcome(r) for k, r in split.reports.items() if r.leads}


def funnel_stats(d: Any) -> Stats:
    secs = [None if v is None else v.total_seconds() for v in (d.median, d.mean)]
    return d.count, secs[0], secs[1], tuple(d.quantiles[q].total_seconds() for q in QUANTILES)


def same_stats(a: Stats, b: Stats) -> bool:
    return a[0] == b[0] and all(
        x is y or (x is not None and y is not None and math.isclose(x, y, abs_tol=1e-3))
        for x, y in zip((a[1], a[2], *a[3]), (b[1], b[2], *b[3]), strict=True)
    )


def all_values(call: Callable[[], Any]) -> dict[Any, Outcome]:
    """
    *call* (a breakdown) with its text column's values read from all rows, not guessed
    from a sample: funnel's route before the sample, raced against it. (A benchmark may
    set the private sample size; nothing else should.)
    """
    from unittest import mock

    from funnel.engine import replay

    with mock.patch.object(replay, "_SAMPLE", 1 << 62):
        return funnel_grouped(call())


def _check(name: str, mine: Any, peer: Any, same: Callable[[Any, Any], bool]) -> None:
    if not same(mine, peer):
        raise AssertionError(f"{name} disagrees with funnel: {peer!r} != {mine!r}")


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _summary(times: Race, mine: str, peers: list[str]) -> dict[str, Any]:
    best = min(peers, key=times.median)
    out: dict[str, Any] = {"funnel_s": round(times.median(mine), 4), "best_peer": best}
    out.update({f"{p}_s": round(times.median(p), 4) for p in peers})
    out.update({k: round(v, 3) for k, v in times.ratio(mine, best).items()})
    out["funnel_spread"] = round(times.spread(mine), 3)
    out["peer_spread"] = round(times.spread(best), 3)
    return out


def bench_report(frame: Any, repeat: int, parquet: Path | None = None) -> dict[str, Any]:
    """Races of each workload on *frame* (and *parquet*, the same rows on disk)."""
    import duckdb
    import polars as pl

    from funnel.analytics import breakdown, cohorts, funnel_report, time_to_convert

    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    framed = with_source(frame)
    con.register("log", frame)
    con.register("slog", framed)
    pdf = frame.select(LEAD_ID, STAGE).to_pandas()
    out: dict[str, Any] = {"rows": frame.height, "rounds": repeat}

    def run(
        what: str,
        mine: Callable[[], Any],
        peers: dict[str, Callable[[], Any]],
        same: Callable[[Any, Any], bool] = _eq,
        also: dict[str, Callable[[], Any]] | None = None,
        apart: dict[str, Callable[[], Any]] | None = None,
    ) -> None:
        """
        Race funnel (*mine*, and funnel's other routes *also*) with *peers*, checked equal.

        The *apart* peers (an order of magnitude slower) race funnel in a race of their own:
        in the main race whichever candidate ran right after one of them paid for the memory
        it freed (at 10M, pandas' factorize frees gigabytes). One of them is the best peer
        only if funnel's ratio to it, in its race, is higher than to the main race's best.
        """
        log(f"    {what} ...")
        ref = mine()
        for name, fn in {**peers, **(also or {}), **(apart or {})}.items():
            _check(f"{what}: {name}", ref, fn(), same)
        times = race({"funnel": mine, **peers, **(also or {})}, repeat)
        out[what] = _summary(times, "funnel", list(peers))
        for name, fn in (apart or {}).items():
            alone = race({"funnel": mine, name: fn}, repeat)
            ratio = {k: round(v, 3) for k, v in alone.ratio("funnel", name).items()}
            out[what][f"{name}_s"] = round(alone.median(name), 4)
            out[what].setdefault("apart", {})[name] = {
                "funnel_s": round(alone.median("funnel"), 4),
                **ratio,
            }
            if ratio["ratio"] > out[what]["ratio"]:
                out[what].update(best_peer=name, **ratio)
        if also:  # each other route against the peer of its own engine (the last peer)
            peer = list(peers)[-1]
            out[what]["also"] = {
                k: {
                    "funnel_s": round(times.median(k), 4),
                    "peer": peer,
                    **{m: round(v, 3) for m, v in times.ratio(k, peer).items()},
                }
                for k in also
            }
        log(f"      {out[what]}")

    run(
        "report",
        lambda: funnel_outcome(funnel_report(frame)),
        {
            "polars": lambda: polars_report(frame),
            "polars_enum": lambda: polars_report(frame, enum=True),
            "duckdb": lambda: duckdb_report(con, "log"),
        },
        apart={"pandas_factorize": lambda: pandas_report(pdf)},
    )
    if parquet is not None:
        # funnel's route for a parquet file is a DuckDB relation (docs/how-to/performance.md):
        # funnel builds the one aggregation and DuckDB reads the file. The polars route
        # (funnel_report(pl.scan_parquet(...))) runs in the same race, against the polars peer.
        src = f"read_parquet('{parquet}')"
        run(
            "report_parquet",
            lambda: funnel_outcome(
                funnel_report(duckdb.read_parquet(str(parquet), connection=con))
            ),
            {
                "duckdb_parquet": lambda: duckdb_report(con, src),
                "polars_scan_parquet": lambda: polars_report(pl.scan_parquet(parquet), enum=True),
            },
            also={
                "funnel_scan_parquet": lambda: funnel_outcome(
                    funnel_report(pl.scan_parquet(parquet))
                )
            },
        )
        r = out["report_parquet"]
        r["route"] = "funnel_report(duckdb.read_parquet(file))"
        r["polars_route"] = {
            "what": "funnel_report(pl.scan_parquet(file)) / polars_scan_parquet",
            **r.pop("also")["funnel_scan_parquet"],
        }
    # the peer writes the five source names into its query; funnel reads a text column's
    # values first, or takes them from an Enum column's categories (the "also" route)
    enum_framed = framed.with_columns(pl.col("source").cast(pl.Enum(SOURCES)))
    run(
        "breakdown",
        lambda: funnel_grouped(breakdown(framed, "source")),
        {
            "duckdb": lambda: duckdb_breakdown(con, "slog"),
            "polars_key": lambda: polars_breakdown(framed, keyed=True),
        },
        also={"funnel_enum_source": lambda: funnel_grouped(breakdown(enum_framed, "source"))},
        apart={"polars_arg_min": lambda: polars_breakdown(framed, keyed=False)},
    )
    # the same with rare values, which the sample funnel guesses a text column's values from
    # misses: funnel counts the leads holding them again (docs/how-to/performance.md)
    rare = with_source(frame, rare=True)
    rare_values = tuple(sorted((*SOURCES, *RARE)))
    run(
        "breakdown_rare",
        lambda: funnel_grouped(breakdown(rare, "source")),
        {"polars_key": lambda: polars_breakdown(rare, keyed=True, values=rare_values)},
        also={"funnel_all_values": lambda: all_values(lambda: breakdown(rare, "source"))},
    )
    run(
        "cohorts",
        lambda: funnel_grouped(cohorts(frame, "1mo")),
        {"polars": lambda: polars_cohorts(frame), "duckdb": lambda: duckdb_cohorts(con, "log")},
    )
    run(
        "time_to_convert",
        lambda: funnel_stats(time_to_convert(frame, START, END)),
        {
            "polars_lazy": lambda: polars_ttc(frame),
            "polars_semi": lambda: polars_ttc(frame, semi=True),
            "polars_isin": lambda: polars_ttc(frame, isin=True),
            "polars_sort": lambda: polars_ttc(frame, sort=True),
            "duckdb": lambda: duckdb_ttc(con, "log"),
        },
        same_stats,
    )
    # report and time to convert asked together: one call against the two calls and the peers
    best_report = out["report"]["best_peer"]
    best_ttc = out["time_to_convert"]["best_peer"]
    peer_report: Callable[[], Outcome] = {
        "polars": lambda: polars_report(frame),
        "polars_enum": lambda: polars_report(frame, enum=True),
        "duckdb": lambda: duckdb_report(con, "log"),
        "pandas_factorize": lambda: pandas_report(pdf),
    }[best_report]
    peer_ttc: Callable[[], Stats] = {
        "polars_lazy": lambda: polars_ttc(frame),
        "polars_semi": lambda: polars_ttc(frame, semi=True),
        "polars_isin": lambda: polars_ttc(frame, isin=True),
        "polars_sort": lambda: polars_ttc(frame, sort=True),
        "duckdb": lambda: duckdb_ttc(con, "log"),
    }[best_ttc]

    def together() -> tuple[Outcome, Stats]:
        rep = funnel_report(frame, durations=True)
        return funnel_outcome(rep), funnel_stats(rep.durations)

    def separate() -> tuple[Outcome, Stats]:
        return funnel_outcome(funnel_report(frame)), funnel_stats(time_to_convert(frame))

    a, b = together(), separate()
    assert a[0] == b[0], (a, b)
    assert same_stats(a[1], b[1]), (a, b)
    assert a[0] == peer_report()
    assert same_stats(a[1], peer_ttc())
    times = race(
        {
            "together": together,
            "separate": separate,
            "peers": lambda: (peer_report(), peer_ttc()),
        },
        repeat,
    )
    out["together"] = {
        "together_s": round(times.median("together"), 4),
        "separate_s": round(times.median("separate"), 4),
        "peers_s": round(times.median("peers"), 4),
        "peers": f"{best_report} + {best_ttc}",
        "vs_separate": {k: round(v, 3) for k, v in times.ratio("together", "separate").items()},
        **{k: round(v, 3) for k, v in times.ratio("together", "peers").items()},
    }
    log(f"      together: {out['together']}")
    con.close()
    return out


def bench_ttc_growth(frame: Any, repeat: int, small: Any = None) -> dict[str, Any]:
    """
    Time to convert alone (funnel and the polars peers) on one more size, for growth.

    With *small* (the smallest log) the same candidates on it run in the same race,
    alternating with the big ones, so the per-event growth is a per-round ratio of
    runs that saw the same load (``growth``: median, min, max), not a ratio of two
    races minutes apart.
    """
    from funnel.analytics import time_to_convert

    def cands(f: Any) -> dict[str, Callable[[], Stats]]:
        return {
            "funnel": lambda: funnel_stats(time_to_convert(f, START, END)),
            "polars_lazy": lambda: polars_ttc(f),
            "polars_semi": lambda: polars_ttc(f, semi=True),
            "polars_isin": lambda: polars_ttc(f, isin=True),
        }

    big = cands(frame)
    for f, group in ((frame, big), *(((small, cands(small)),) if small is not None else ())):
        ref = group["funnel"]()
        for name, fn in group.items():
            _check(f"time_to_convert: {name} on {f.height:,} rows", ref, fn(), same_stats)
    candidates = dict(big)
    if small is not None:
        candidates.update({f"{k}@small": v for k, v in cands(small).items()})
    times = race(candidates, repeat)
    out: dict[str, Any] = {
        "rows": frame.height,
        "time_to_convert": _summary(
            times, "funnel", ["polars_lazy", "polars_semi", "polars_isin"]
        ),
    }
    if small is not None:
        scale = small.height / frame.height
        out["growth"] = {"small_rows": small.height}
        for k in big:
            per_round = [b / a * scale for a, b in zip(times[f"{k}@small"], times[k], strict=True)]
            out["growth"][k] = {
                "ratio": round(statistics.median(per_round), 3),
                "ratio_min": round(min(per_round), 3),
                "ratio_max": round(max(per_round), 3),
                "small_s": round(times.median(f"{k}@small"), 4),
            }
    return out


WORKLOADS = {
    "report": ("funnel_report", 1.1),
    "breakdown": ("breakdown (first touch)", 1.1),
    "breakdown_rare": ("breakdown (first touch), 50 rare values", None),
    "cohorts": ("cohorts (1mo)", 1.1),
    "time_to_convert": ("time_to_convert", 1.2),
    "report_parquet": ("funnel_report from parquet (DuckDB route)", 1.1),
}


def report_entries(runs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The results entries of issue 14, goal 2: one per workload and size, plus growth."""
    results: list[dict[str, Any]] = []
    for size, run in runs.items():
        for key, (label, goal) in WORKLOADS.items():
            if key not in run:
                continue
            r = run[key]
            results.append(
                entry(
                    f"{label} vs best peer ({r['best_peer']}) on {size:,} events",
                    f"<= {goal} (funnel time / best peer time)" if goal else "reported (no goal)",
                    r["ratio"] <= goal if goal else None,
                    ratio=r["ratio"],
                    extra=r,
                )
            )
        if "together" in run:
            t = run["together"]
            results.append(
                entry(
                    f"report + time to convert in one call (durations=True) on {size:,} events",
                    "one pass: faster than the two calls (ratio to the peers recorded)",
                    t["vs_separate"]["ratio"] < 1,
                    ratio=t["ratio"],
                    extra=t,
                )
            )
    sizes = sorted(runs)
    if len(sizes) > 1 and "growth" in runs[sizes[-1]]:
        g = runs[sizes[-1]]["growth"]
        results.append(
            entry(
                f"growth of time_to_convert per event, {g['small_rows']:,} -> {sizes[-1]:,} "
                "events",
                "<= 1.15 (per-event cost ratio, per round: both sizes in one race)",
                g["funnel"]["ratio"] <= 1.15,
                ratio=g["funnel"]["ratio"],
                ratio_min=g["funnel"]["ratio_min"],
                ratio_max=g["funnel"]["ratio_max"],
                peer_growth={p: g[p] for p in g if p not in ("funnel", "small_rows")},
                funnel_s={
                    str(g["small_rows"]): g["funnel"]["small_s"],
                    str(sizes[-1]): runs[sizes[-1]]["time_to_convert"]["funnel_s"],
                },
            )
        )
    elif len(sizes) > 1:
        a, b = runs[sizes[0]], runs[sizes[-1]]

        def per_event(r: dict[str, Any], col: str) -> float:
            return float(r["time_to_convert"][col] / r["rows"])

        growth = per_event(b, "funnel_s") / per_event(a, "funnel_s")
        results.append(
            entry(
                f"growth of time_to_convert per event, {sizes[0]:,} -> {sizes[-1]:,} events",
                "<= 1.15 (per-event cost ratio)",
                growth <= 1.15,
                ratio=growth,
                peer_growth={
                    p: round(per_event(b, f"{p}_s") / per_event(a, f"{p}_s"), 3)
                    for p in ("polars_lazy", "polars_semi", "polars_isin")
                    if f"{p}_s" in a["time_to_convert"] and f"{p}_s" in b["time_to_convert"]
                },
            )
        )
    return results
