"""
``funnel import CRM EXPORT -o LOG.csv``: a CRM's stage-history export as an event log.

The written log is in the canonical schema (:mod:`funnel.model.eventlog`) plus
``crm_stage``; ``funnel report LOG.csv`` reads it. The adapters are those of
:mod:`funnel.analytics.adapters`; stages are mapped with ``--stage "CRM
stage=funnel stage"`` (repeat it; ``"CRM stage="`` leaves that stage out).

:func:`add_report_options` and :func:`load_for_report` let ``funnel report``
read an export directly (``funnel report --crm salesforce EXPORT.csv``).

This module's top level imports nothing heavy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

#: The CRMs ``--crm`` and ``funnel import`` accept (those of ``funnel.analytics.adapters``).
CRMS = ("hubspot", "odoo", "pipedrive", "salesforce")


def register(subparsers: Any) -> None:
    """Add the ``import`` sub-command."""
    parser = subparsers.add_parser(
        "import",
        help="turn a CRM's stage-history export into an event log (CSV)",
        description=(
            "Read a Salesforce, HubSpot, Odoo or Pipedrive stage-history export by its "
            "documented field names, map its stages to the funnel's and write an event "
            "log that `funnel report` reads."
        ),
    )
    parser.add_argument("crm", choices=CRMS, help="the CRM the export comes from")
    parser.add_argument("export", help="the export (CSV)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="LOG",
        help="the event log to write (CSV; Parquet if it ends in .parquet)",
    )
    _mapping_options(parser)
    parser.set_defaults(handler=run)


def _mapping_options(parser: Any) -> None:
    parser.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="CRM=FUNNEL",
        help='map a CRM stage to a funnel stage, e.g. "Closed Won=won" (repeatable; '
        '"Pilot=" leaves Pilot out)',
    )
    parser.add_argument(
        "--deals",
        metavar="FILE",
        help="Odoo crm.lead / Pipedrive deals export: dates the first stage, adds value and owner",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail on a CRM stage that is not mapped"
    )
    parser.add_argument(
        "--export-timezone",
        metavar="ZONE",
        help="zone of the export's times written without an offset (written as UTC)",
    )


def parse_stages(items: Sequence[str]) -> dict[str, str | None]:
    """
    ``["Closed Won=won", "Pilot="]`` as ``{"Closed Won": "won", "Pilot": None}``.

    >>> parse_stages(["Closed Won=won", "Pilot="])
    {'Closed Won': 'won', 'Pilot': None}

    Raises:
        ValidationError: an item has no ``=`` or no CRM stage.
    """
    from funnel.exceptions import ValidationError

    mapping: dict[str, str | None] = {}
    for item in items:
        crm, sep, funnel = item.rpartition("=")
        if not sep or not crm.strip():
            raise ValidationError(
                f"--stage takes 'CRM stage=funnel stage', got {item!r}", field="stage"
            )
        mapping[crm.strip()] = funnel.strip() or None
    return mapping


def add_report_options(parser: Any) -> None:
    """Add the ``--crm`` options (stage, deals, strict, export zone) to ``funnel report``."""
    parser.add_argument(
        "--crm", choices=CRMS, help="FILE is this CRM's stage-history export (see `funnel import`)"
    )
    _mapping_options(parser)


def load_for_report(args: argparse.Namespace) -> Any:
    """
    ``args.file`` loaded as ``args.crm``'s export; ``None`` without ``--crm``.

    Raises:
        LoadError, ValidationError: as :func:`funnel.analytics.adapters.load_export`.
    """
    crm = getattr(args, "crm", None)
    if not crm:
        return None
    from funnel.analytics.adapters import load_export

    return load_export(
        args.file,
        crm,
        parse_stages(args.stage),
        deals=args.deals,
        strict=args.strict,
        timezone=args.export_timezone,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``funnel import``; returns the exit code (0 ok, 1 error)."""
    from collections import Counter

    from rich.console import Console
    from rich.markup import escape

    from funnel.analytics.adapters import read_export
    from funnel.analytics.eventlog import load_frame
    from funnel.exceptions import FunnelError

    out = Console(file=sys.stdout, soft_wrap=True)
    err = Console(file=sys.stderr)
    try:
        log = read_export(
            args.export,
            args.crm,
            parse_stages(args.stage),
            deals=args.deals,
            strict=args.strict,
            timezone=args.export_timezone,
        )
        checked = load_frame(log)
    except (FunnelError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 1
    try:
        if args.output.endswith((".parquet", ".pq")):
            log.write_parquet(args.output)
        else:
            log.write_csv(args.output)
    except OSError as exc:
        err.print(
            f"[red]error:[/red] cannot write {escape(repr(args.output))}: {escape(str(exc))}",
            highlight=False,
        )
        return 1
    _say(
        out,
        f"{args.crm} export {args.export}: {log.height} stage entries written to {args.output}",
    )
    _say(out, f"checked: {checked}")
    problems = checked.rejections()
    for reason, count in sorted(Counter(r["reason"] for r in problems).items()):
        _say(out, f"  {count} rejected: {reason}")
    unknown = sorted({str(r["value"]) for r in problems if r["reason"] == "unknown-stage"})
    if unknown:
        _say(out, f"  unmapped CRM stages: {', '.join(unknown)} (map them with --stage)")
    return 0


def _say(console: Any, text: str) -> None:
    console.print(text, highlight=False, markup=False)
