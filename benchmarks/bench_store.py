"""
SqlStore writes against raw SQLAlchemy Core writing the same rows (issue 14, goal 4).

    uv run python benchmarks/bench_store.py              # SQLite file and, if found, PostgreSQL
    uv run python benchmarks/bench_store.py --records 500 --repeat 3   # a quick check

Candidates, each on fresh tables of the store's schema, alternating each round:

* ``add_many`` vs Core: ``to_dict`` of each record and one ``executemany`` for the records
  and one for their transitions, in one transaction;
* ``save_many`` vs Core: one ``executemany`` ``UPDATE ... WHERE id AND version`` and one
  ``INSERT`` of the new transitions, in one transaction;
* ``add`` (one transaction per record) vs Core inserting the same rows one transaction per
  record, and vs Core's ``executemany`` in one transaction (the issue's 21x).

Each pair's tables are read back and compared (records, versions, documents and
transition rows) before any time counts. PostgreSQL runs when its server binaries are on
the machine (a throw-away cluster, as in ``tests/postgres.py``) or ``FUNNEL_TEST_POSTGRES_URL``
names a server.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Race, entry, log, race

GOAL = 1.5


def make_records(n: int) -> list[Any]:
    """*n* leads as a CRM import makes them: a contact, two touches, two stage changes."""
    import funnel
    from funnel import Company, Contact, Lead, Touch

    t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    out = []
    for i in range(n):
        at = t0 + timedelta(minutes=i)
        lead = Lead(
            id=f"lead-{i:07d}",
            contact=Contact(
                name=f"Person {i}",
                email=f"p{i}@example.com",
                company=Company(name=f"Co {i % 97}", industry="software", employees=50 + i % 900),
            ),
            source="web_form",
            created_at=at,
            owner="rep:alice",
            touches=(
                Touch(id="f1", at=at, direction="inbound", channel="form", reach="mass"),
                Touch(id="o1", at=at + timedelta(hours=2), direction="outbound", channel="email"),
            ),
        )
        lead = funnel.advance(lead, "nurture", at=at + timedelta(hours=1))
        out.append(funnel.advance(lead, "mark_mql", at=at + timedelta(hours=3)))
    return out


def advanced(records: list[Any]) -> list[Any]:
    import funnel

    return [funnel.advance(r, "nurture", at=r.history[-1].at + timedelta(days=1)) for r in records]


class Tables:
    """Fresh store tables, one set per run, made before the clock starts."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.made = 0

    def fresh(self) -> Any:
        from funnel.io.sql import SqlStore

        self.made += 1
        store = SqlStore(self.engine, prefix=f"b{os.getpid()}_{self.made}_")
        store.create_schema()
        return store


def core_rows(records: list[Any], version: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """What a competent hand-written writer sends: the documents and the transition rows."""
    from funnel.io.serialize import to_dict
    from funnel.io.sql._core import history_digests

    rows = [
        {
            "id": r.id,
            "kind": "lead",
            "stage": r.stage,
            "version": version,
            "document": to_dict(r),
            "changes": len(r.history),
            "history_digest": history_digests(r.history)[-1],
        }
        for r in records
    ]
    return rows, records


def core_changes(records: list[Any], start: int | None) -> list[dict[str, Any]]:
    out = []
    for r in records:
        first = len(r.history) - 1 if start is None else start
        for seq in range(first, len(r.history)):
            ch = r.history[seq]
            offset = ch.at.utcoffset()
            out.append(
                {
                    "record_id": r.id,
                    "seq": seq,
                    "from_stage": ch.from_stage,
                    "to_stage": ch.to_stage,
                    "event": ch.event,
                    "at": ch.at,
                    "at_offset": offset.days * 86400 + offset.seconds,
                    "why": ch.why,
                }
            )
    return out


def core_add_many(store: Any, records: list[Any]) -> None:
    rows, _ = core_rows(records, 1)
    changes = core_changes(records, 0)
    with store.engine.begin() as conn:
        conn.execute(store.records.insert(), rows)
        conn.execute(store.transitions.insert(), changes)


def core_add_each(store: Any, records: list[Any]) -> None:
    for record in records:
        rows, _ = core_rows([record], 1)
        with store.engine.begin() as conn:
            conn.execute(store.records.insert(), rows[0])
            conn.execute(store.transitions.insert(), core_changes([record], 0))


def core_save_many(store: Any, records: list[Any]) -> None:
    import sqlalchemy as sa

    rows, _ = core_rows(records, 2)
    params = [{f"b_{k}": v for k, v in row.items()} | {"b_expected": 1} for row in rows]
    c = store.records.c
    update = (
        sa.update(store.records)
        .where(c.id == sa.bindparam("b_id"), c.version == sa.bindparam("b_expected"))
        .values(
            {
                k: sa.bindparam(f"b_{k}")
                for k in ("kind", "stage", "version", "document", "changes", "history_digest")
            }
            | {"updated_at": sa.func.current_timestamp()}
        )
    )
    with store.engine.begin() as conn:
        result = conn.execute(update, params)
        assert result.rowcount == len(rows)
        conn.execute(store.transitions.insert(), core_changes(records, None))


def contents(store: Any) -> tuple[list[Any], list[Any]]:
    import sqlalchemy as sa

    r, t = store.records.c, store.transitions.c
    with store.engine.connect() as conn:
        records = conn.execute(
            sa.select(r.id, r.kind, r.stage, r.version, r.document).order_by(r.id)
        ).all()
        changes = conn.execute(
            sa.select(
                t.record_id, t.seq, t.from_stage, t.to_stage, t.event, t.at, t.at_offset, t.why
            ).order_by(t.record_id, t.seq)
        ).all()
    return [tuple(x) for x in records], [tuple(x) for x in changes]


def _pair(
    tables: Tables,
    mine: Callable[[Any], object],
    peer: Callable[[Any], object],
    repeat: int,
    setup: Callable[[Any], object] = lambda store: None,
) -> Race:
    """Race *mine* against *peer*, each on fresh tables prepared (by *setup*) off the clock."""
    stores: dict[str, list[Any]] = {"funnel": [], "core": []}
    for name in stores:
        for _ in range(repeat + 1):
            store = tables.fresh()
            setup(store)
            stores[name].append(store)
    a, b = stores["funnel"].pop(), stores["core"].pop()
    mine(a)
    peer(b)
    assert contents(a) == contents(b), "funnel and raw Core wrote different rows"
    return race(
        {
            "funnel": lambda: mine(stores["funnel"].pop()),
            "core": lambda: peer(stores["core"].pop()),
        },
        repeat,
    )


def bench_engine(
    engine: Any, label: str, n: int, single: int, repeat: int
) -> list[dict[str, Any]]:
    records = make_records(n)
    later = advanced(records)
    few = records[:single]
    tables = Tables(engine)
    out: list[dict[str, Any]] = []

    def goal(name: str, times: Race, note: str, limit: float | None = GOAL) -> None:
        r = times.ratio("funnel", "core")
        out.append(
            entry(
                f"SqlStore.{name} on {label}",
                f"<= {limit} (funnel time / Core time)" if limit else "reported (no goal)",
                r["ratio"] <= limit if limit else None,
                ratio=r["ratio"],
                extra={
                    "ratio_min": round(r["ratio_min"], 3),
                    "ratio_max": round(r["ratio_max"], 3),
                    "funnel_s": round(times.median("funnel"), 4),
                    "core_s": round(times.median("core"), 4),
                    "funnel_spread": round(times.spread("funnel"), 3),
                    "core_spread": round(times.spread("core"), 3),
                    "rounds": len(times["funnel"]),
                    "note": note,
                },
            )
        )
        log(f"  {out[-1]['name']}: {out[-1]['ratio']} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f})")

    log(f"  {label}: add_many of {n} records ...")
    goal(
        "add_many vs raw SQLAlchemy Core executemany, one transaction",
        _pair(tables, lambda s: s.add_many(records), lambda s: core_add_many(s, records), repeat),
        f"{n} leads (2 touches, 2 stage changes each), one transaction, executemany; Core "
        "serialises with to_dict",
    )
    log(f"  {label}: save_many of {n} records ...")
    goal(
        "save_many vs raw SQLAlchemy Core executemany, one transaction",
        _pair(
            tables,
            lambda s: s.save_many([(r, 1) for r in later]),
            lambda s: core_save_many(s, later),
            repeat,
            setup=lambda s: core_add_many(s, records),
        ),
        f"{n} leads, one new stage change each, one transaction; Core: executemany "
        "UPDATE ... WHERE id AND version, INSERT of the new transitions",
    )
    log(f"  {label}: add of {single} records, one transaction each ...")
    goal(
        "add vs raw SQLAlchemy Core single inserts, one transaction a record",
        _pair(
            tables,
            lambda s: [s.add(r) for r in few],
            lambda s: core_add_each(s, few),
            repeat,
        ),
        f"{single} records, each its own transaction (as add does), both sides",
        limit=None,
    )
    goal(
        "add (a transaction a record) vs raw Core executemany in one transaction",
        _pair(
            tables,
            lambda s: [s.add(r) for r in few],
            lambda s: core_add_many(s, few),
            repeat,
        ),
        f"{single} records: the issue's comparison (add measured 21x); add_many is the bulk path",
        limit=None,
    )
    return out


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """A throw-away PostgreSQL server's URL (as tests/postgres.py starts one), else None."""
    from tests import postgres as pg

    from_env = os.environ.get(pg.ENV_URL)
    if from_env:
        yield from_env
        return
    initdb, pg_ctl = pg._binary("initdb"), pg._binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        yield None
        return
    prefix = pg._run_as()
    root = Path(tempfile.mkdtemp(prefix="funnel-bench-pg-"))
    pg._chown_for(prefix, root)
    data, logfile, port = root / "data", root / "server.log", pg._free_port()
    logfile.touch()
    pg._chown_for(prefix, logfile)
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        pg._call(prefix, [initdb, "-D", str(data), "-U", "funnel", "-A", "trust", "-E", "UTF8",
                          "--no-locale"], logfile)  # fmt: skip
        pg._call(prefix, [pg_ctl, "-D", str(data), "-l", str(logfile), "-w", "-t", "30", "-o",
                          options, "start"], logfile)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        shutil.rmtree(root, ignore_errors=True)
        yield None
        return
    try:
        yield f"postgresql+psycopg://funnel@127.0.0.1:{port}/postgres"
    finally:
        try:
            pg._call(prefix, [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], logfile)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def bench_store(repeat: int, n: int = 2000, single: int = 200) -> list[dict[str, Any]]:
    """The store's entries for results.json: SQLite file, and PostgreSQL when available."""
    import sqlalchemy as sa

    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = sa.create_engine(f"sqlite:///{folder}/bench.db")
        out += bench_engine(engine, "a SQLite file", n, single, repeat)
        engine.dispose()
    with postgres() as url:
        if url is None:
            log("  no PostgreSQL server: PostgreSQL skipped")
        else:
            engine = sa.create_engine(url)
            out += bench_engine(engine, "PostgreSQL", n, single, repeat)
            engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    for res in bench_store(args.repeat, args.records, args.single):
        log(f"{'MET ' if res['met'] else 'MISS' if res['met'] is False else '    '} "
            f"{res['name']}: {res['ratio']} (goal {res['goal']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
