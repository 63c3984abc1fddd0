"""
``funnel report FILE``: print a funnel report, optionally write the chart.

Registered by :mod:`funnel.cli`; this module's top level imports nothing
heavy (narwhals, polars, rich and plotly load when the command runs).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
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
        "--steps",
        metavar="S1,S2,...",
        help="comma-separated steps (default: the main-path stages present in the data)",
    )
    parser.add_argument(
        "--timezone", metavar="ZONE", help="time zone of timestamps without an offset"
    )
    parser.add_argument(
        "--map",
        metavar="NAME=STAGE",
        action="append",
        default=[],
        help="map a stage name of the file to a funnel stage (repeat for each)",
    )
    parser.add_argument(
        "--map-file",
        metavar="FILE",
        help="stage mapping from a TOML or JSON file ({name = stage}, or a [stages] table)",
    )
    parser.add_argument(
        "--funnel", metavar="FILE", help="funnel definition file (TOML, JSON or YAML)"
    )
    parser.add_argument(
        "--date-format",
        metavar="FMT",
        help="strptime format of the times, e.g. %%d/%%m/%%Y (default: ISO 8601)",
    )
    parser.add_argument(
        "--separator", metavar="CHAR", default=",", help="CSV field separator ('\\t' for tab)"
    )
    parser.add_argument(
        "--allow-missing-time",
        action="store_true",
        help="accept stage rows with no time: they count for the stages reached, "
        "not for durations or cohorts",
    )
    parser.add_argument(
        "--min-accepted",
        metavar="FRACTION",
        type=_fraction,
        default=0.0,
        help="fail (exit 1) when fewer rows than this fraction are accepted "
        "(default 0: fail only when none is)",
    )
    parser.add_argument("--html", metavar="OUT", help="write the funnel chart as HTML")
    parser.add_argument(
        "--png",
        metavar="OUT",
        help="write the funnel chart as PNG (salesfunnel[png]: kaleido and Chromium)",
    )
    from funnel.cli import crm  # the --crm options: FILE is a CRM's stage-history export

    crm.add_report_options(parser)
    parser.set_defaults(handler=run)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def _separator(text: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text, text)


def stage_map(pairs: list[str], path: str | None) -> dict[str, str]:
    """
    The ``--map NAME=STAGE`` pairs and the ``--map-file`` mapping, pairs last (they win).

    Raises:
        ValidationError: a pair without ``=``, or a file that is not a mapping
            of names to names.
        LoadError: the file cannot be read or parsed.
    """
    from funnel.exceptions import LoadError, ValidationError

    mapping: dict[str, str] = {}
    if path is not None:
        mapping.update(_read_map_file(path))
    for pair in pairs:
        name, sep, stage = pair.partition("=")
        if not sep or not name.strip() or not stage.strip():
            raise ValidationError(
                f"--map takes NAME=STAGE (e.g. --map Won=won), got {pair!r}", field="map"
            )
        mapping[name.strip()] = stage.strip()
    if path is not None and not mapping:
        raise LoadError(f"stage mapping file {path!r} maps nothing")
    return mapping


def _read_map_file(path: str) -> dict[str, str]:
    import json
    import tomllib
    from pathlib import Path

    from funnel.exceptions import LoadError, ValidationError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(f"cannot read stage mapping file {path!r}: {exc.strerror}") from exc
    data: object
    try:
        data = json.loads(text) if path.lower().endswith(".json") else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise LoadError(f"stage mapping file {path!r} is not valid TOML or JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("stages"), dict):
        data = data["stages"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValidationError(
            f"stage mapping file {path!r} must map names to stage names "
            '(e.g. Won = "won", or the same under [stages])',
            field="map-file",
        )
    return dict(data)


#: What to suggest for each kind of rejection, when every row (or too many) fails.
_HINTS = {
    "naive-timestamp": "times have no UTC offset: pass --timezone ZONE (e.g. --timezone UTC)",
    "bad-timestamp": "times are not ISO 8601: pass --date-format FMT (e.g. %d/%m/%Y)",
    "unknown-stage": "stages are not the funnel's: pass --map NAME=STAGE, --map-file or --funnel",
    "unknown-event": "events are not the funnel's: pass --funnel FILE",
    "missing-id": "lead_id is empty: check --separator and the header",
}


def accepted_enough(loaded: Any, minimum: float) -> tuple[bool, str]:
    """
    Whether enough rows were accepted, and if not, why (reasons counted, with hints).

    Not enough: no row accepted, or fewer than *minimum* of the rows.
    """
    from collections import Counter

    if loaded.rows_in == 0:
        return False, "the file has no data rows"
    share = loaded.n_accepted / loaded.rows_in
    if loaded.n_accepted > 0 and share >= minimum:
        return True, ""
    counts = Counter(r["reason"] for r in loaded.rejections())
    reasons = ", ".join(f"{reason} {n}" for reason, n in counts.most_common())
    hints = [f"hint: {_HINTS[r]}" for r, _ in counts.most_common() if r in _HINTS]
    head = (
        "no row was accepted"
        if loaded.n_accepted == 0
        else f"only {100 * share:.1f}% of the rows were accepted (--min-accepted {minimum:g})"
    )
    return False, "\n".join([f"{head}; rejected: {reasons}", *hints])


class ReadAhead:
    """
    A file read in a thread while the command imports the rest of itself.

    polars reads without the GIL, so the file is read while Python imports funnel's
    modules, python-statemachine (for the funnel's transition table) and rich.
    :meth:`result` waits for the read and raises what it raised.
    """

    def __init__(self, read: Callable[..., Any], *args: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(read, args), name="funnel-read")
        self._thread.start()

    def _run(self, read: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._value = read(*args)
        except BaseException as exc:  # handed to result(), in the main thread
            self._error = exc

    def wait(self) -> None:
        """Wait for the read to end (its result or error kept for :meth:`result`)."""
        self._thread.join()

    def result(self) -> Any:
        """The frame read; the read's own error (e.g. a ``LoadError``) is raised here."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value


def _file_format(args: argparse.Namespace) -> str:
    return args.format or ("parquet" if args.file.endswith((".parquet", ".pq")) else "csv")


def read_ahead(args: argparse.Namespace) -> ReadAhead | None:
    """
    Start reading ``args.file`` (CSV or Parquet) in a thread; ``None`` for a CRM export
    (its loader reads the file) or without polars (the loader then names the extra).
    """
    from importlib.util import find_spec

    if getattr(args, "crm", None) or find_spec("polars") is None:
        return None
    import polars  # noqa: F401 - imported here, not in the thread: one importer at a time

    from funnel._base.frames import read_csv_text, read_parquet_file

    if _file_format(args) == "parquet":
        return ReadAhead(read_parquet_file, args.file)
    return ReadAhead(read_csv_text, args.file, _separator(args.separator))


def run(args: argparse.Namespace) -> int:
    """Run ``funnel report``; returns the exit code (0 ok, 1 error)."""
    from funnel.exceptions import FunnelError

    try:
        stages = stage_map(args.map, args.map_file)
        # a definition file is checked first: its error is not held back by the read
        funnel = _funnel(args.funnel)
    except (FunnelError, ValueError) as exc:
        return _fail(exc)
    pending = read_ahead(args)
    try:
        return _run(args, stages, funnel, pending)
    finally:
        if pending is not None:  # an early error: the read is still waited for, not leaked
            pending.wait()


def _fail(exc: Exception) -> int:
    from rich.console import Console

    Console(file=sys.stderr, soft_wrap=True).print(_error(str(exc)), highlight=False)
    return 1


def _run(
    args: argparse.Namespace, stages: dict[str, str], funnel: Any, pending: ReadAhead | None
) -> int:
    from rich.console import Console
    from rich.table import Table

    from funnel.analytics import eventlog, report
    from funnel.exceptions import FunnelError

    out = Console(file=sys.stdout, soft_wrap=True)
    err = Console(file=sys.stderr, soft_wrap=True)
    steps = [s.strip() for s in args.steps.split(",")] if args.steps else None
    try:
        options: dict[str, Any] = {
            "timezone": args.timezone,
            "stages": stages or None,
            "date_format": args.date_format,
            "allow_missing_time": args.allow_missing_time,
        }
        if funnel is not None:
            options["funnel"] = funnel
        with _progress(err) as progress:
            task = progress.add_task(f"loading {args.file}", total=None)
            from funnel.cli import crm

            from_crm = crm.load_for_report(args)
            if from_crm is not None:
                loaded = from_crm
            elif pending is not None:  # as load_csv / load_parquet, the file read ahead
                loaded = eventlog.load_frame(pending.result(), **options)
            elif _file_format(args) == "parquet":
                loaded = eventlog.load_parquet(args.file, **options)
            else:
                separator = _separator(args.separator)
                loaded = eventlog.load_csv(args.file, separator=separator, **options)
            enough, why = accepted_enough(loaded, args.min_accepted)
            if enough:
                progress.update(task, description="computing the report")
                # Without --steps the report finds the steps present in the log in its own
                # pass over the rows (no separate present_steps pass); --by then uses them.
                rep = report.funnel_report(loaded, steps=steps)
                by = args.by
                split = report.breakdown(loaded, by, steps=list(rep.steps)) if by else None
    except (FunnelError, ValueError) as exc:
        err.print(_error(str(exc)), highlight=False)
        return 1

    out.print(str(loaded))
    if not enough:
        _rejections(loaded, out)
        err.print(_error(why), highlight=False)
        return 1
    table = Table(title=plain(f"Funnel: {args.file}"))
    for name in ("step", "leads", "from previous", "from first", "drop-off"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for row in rep.rows():
        table.add_row(
            plain(row["name"]),
            str(row["leads"]),
            report._pct(row["from_previous"]),
            report._pct(row["from_first"]),
            str(row["drop_off"]),
        )
    out.print(table)
    out.print(plain(rep.summary()))
    if split is not None:
        by_table = Table(title=plain(f"By {args.by}"))
        by_table.add_column(plain(args.by))
        for name in rep.display_names:
            by_table.add_column(plain(name), justify="right")
        for name in ("won", "lost", "open", "win rate"):
            by_table.add_column(name, justify="right")
        labels = [*report.period_labels(list(split.reports)), "(all)"]  # masked, as in a notebook
        for label, sub in zip(labels, [*split.reports.values(), split.total], strict=True):
            by_table.add_row(
                plain(label),
                *(str(c) for c in sub.counts),
                str(sub.won),
                str(sub.lost),
                str(sub.open),
                report._pct(sub.win_rate),
            )
        out.print(by_table)
    _rejections(loaded, out)
    return _charts(args, split or rep, out, err)


class _Quiet:
    """The spinner's stand-in when stderr is not a terminal (nobody would see it)."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def update(self, task: int, description: str) -> None:
        return None


def _progress(err: Any) -> Any:
    """A transient spinner on a terminal's stderr (rich.progress imported only then)."""
    if not err.is_terminal:
        return _Quiet()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def plain(value: object) -> Any:
    r"""
    *value* as literal terminal text: no rich markup, no control or escape sequences.

    Values come from the user's file (stage names, ids, sources): ``[bold]`` must print
    as typed, ``[/]`` must not crash, and an ESC byte must not reach the terminal.

    >>> plain("[bold]x[/] \x1b[31m").plain
    '[bold]x[/] \\x1b[31m'
    """
    from rich.text import Text

    text = "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in str(value)
    )
    return Text(text)


def _error(message: str) -> Any:
    """``error: message`` in red, the message as literal text (its own lines kept)."""
    from rich.text import Text

    lines = [plain(line) for line in message.split("\n")]
    parts: list[Any] = [("error: ", "red")]
    for i, line in enumerate(lines):
        parts += ["\n", line] if i else [line]
    return Text.assemble(*parts)


def _funnel(path: str | None) -> Any:
    """The funnel of ``--funnel FILE``, or ``None``."""
    if path is None:
        return None
    from funnel.io.definition import load_funnel

    return load_funnel(path)


def _rejections(loaded: Any, out: Any) -> None:
    """Print the rejected rows and the warnings (first 20 of each)."""
    from rich.table import Table

    from funnel.analytics.eventlog import WARNING_COLUMNS
    from funnel.model.eventlog import REJECTED_COLUMNS

    for title, count, rows, names in (
        ("Rejected rows", loaded.n_rejected, loaded.rejections(), REJECTED_COLUMNS),
        ("Accepted with a warning", loaded.n_warnings, loaded.warning_rows(), WARNING_COLUMNS),
    ):
        if not count:
            continue
        table = Table(title=plain(f"{title} ({count}; first 20)"))
        for name in names:
            table.add_column(name)
        for r in rows[:20]:
            table.add_row(*(plain(r[k]) for k in names))
        out.print(table)


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
            err.print(_error(str(exc)), highlight=False)
            code = 1
        else:
            out.print(plain(f"chart written to {written}"), highlight=False)
    return code
