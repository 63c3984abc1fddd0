"""
``funnel report FILE``: print a funnel report, optionally write the chart.

Registered by :mod:`funnel.cli`; this module's top level imports nothing
heavy (narwhals, polars, rich and plotly load when the command runs).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="report a funnel from an event log (CSV or Parquet)",
        description=(
            "Load an event log (lead_id, at, stage or event, optional source/owner/"
            "segment/value), print the funnel report and the rejected rows."
        ),
    )
    parser.add_argument("file", help="the event log")
    parser.add_argument("--format", choices=("csv", "parquet"), help="default: by extension")
    parser.add_argument("--by", metavar="COLUMN", help="break the report down by a column")
    parser.add_argument(
        "--steps", metavar="S1,S2,...", help="comma-separated steps (default: main path)"
    )
    parser.add_argument(
        "--timezone", metavar="ZONE", help="time zone of timestamps without an offset"
    )
    parser.add_argument("--html", metavar="OUT", help="write the funnel chart as HTML")
    parser.add_argument(
        "--png",
        metavar="OUT",
        help="write the funnel chart as PNG (salesfunnel[png]: kaleido and Chromium)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``funnel report``; returns the exit code (0 ok, 1 error)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from funnel.analytics import eventlog, report
    from funnel.exceptions import FunnelError
    from funnel.model.eventlog import REJECTED_COLUMNS

    out = Console(file=sys.stdout, soft_wrap=True)
    err = Console(file=sys.stderr)
    steps = [s.strip() for s in args.steps.split(",")] if args.steps else None
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task(f"loading {args.file}", total=None)
            fmt = args.format or ("parquet" if args.file.endswith((".parquet", ".pq")) else "csv")
            loader = eventlog.load_parquet if fmt == "parquet" else eventlog.load_csv
            loaded = loader(args.file, timezone=args.timezone)
            progress.update(task, description="computing the report")
            rep = report.funnel_report(loaded, steps=steps)
            split = report.breakdown(loaded, args.by, steps=steps) if args.by else None
    except (FunnelError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1

    out.print(str(loaded))
    table = Table(title=f"Funnel: {args.file}")
    for name in ("step", "leads", "from previous", "from first", "drop-off"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for row in rep.rows():
        table.add_row(
            row["step"],
            str(row["leads"]),
            report._pct(row["from_previous"]),
            report._pct(row["from_first"]),
            str(row["drop_off"]),
        )
    out.print(table)
    out.print(rep.summary())
    if split is not None:
        by_table = Table(title=f"By {args.by} (first touch)")
        by_table.add_column(args.by)
        for step in rep.steps:
            by_table.add_column(step, justify="right")
        for name in ("won", "lost", "open", "win rate"):
            by_table.add_column(name, justify="right")
        for key, sub in [*split.reports.items(), ("(all)", split.total)]:
            by_table.add_row(
                str(key),
                *(str(c) for c in sub.counts),
                str(sub.won),
                str(sub.lost),
                str(sub.open),
                report._pct(sub.win_rate),
            )
        out.print(by_table)
    if loaded.n_rejected:
        rejected = Table(title=f"Rejected rows ({loaded.n_rejected}; first 20)")
        for name in REJECTED_COLUMNS:
            rejected.add_column(name)
        for r in loaded.rejections()[:20]:
            rejected.add_row(*(str(r[k]) for k in REJECTED_COLUMNS))
        out.print(rejected)
    return _charts(args, split or rep, out, err)


def _charts(args: argparse.Namespace, rep: Any, out: Any, err: Any) -> int:
    if not (args.html or args.png):
        return 0
    from funnel.analytics.charts import funnel_chart, write_chart
    from funnel.exceptions import FunnelError

    fig = funnel_chart(rep, title=f"Funnel: {args.file}")
    code = 0
    for target in (args.html, args.png):
        if not target:
            continue
        try:
            written = write_chart(fig, target)
        except FunnelError as exc:
            err.print(f"[red]error:[/red] {exc}")
            code = 1
        else:
            out.print(f"chart written to {written}")
    return code
