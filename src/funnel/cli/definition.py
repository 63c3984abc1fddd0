"""
``funnel check FILE`` and ``funnel diagram FILE``: definition files on the command line.

``check`` lists every problem of a definition file, one line each
(``FILE:LINE: [kind] key: message``, see :func:`format_problem`), and exits
1 when there is one. ``diagram`` draws the funnel as mermaid text, SVG
(pydot and Graphviz) or Graphviz ``dot`` source (pydot); with ``-o OUT`` the
format follows OUT's suffix (``.mmd``/``.md`` mermaid, ``.svg``, ``.dot``/``.gv``)
unless ``--format`` says it, and a suffix it cannot write is refused.

Exit codes: 0 done, 1 the definition or the output failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnel.exceptions import DefinitionError, DefinitionProblem, DiagramError, LoadError

if TYPE_CHECKING:
    from funnel.io.definition.build import Funnel

__all__ = ["DIAGRAM_FORMATS", "SUFFIX_FORMATS", "format_problem", "register"]

#: What ``funnel diagram --format`` can draw.
DIAGRAM_FORMATS = ("mermaid", "svg", "dot")

#: The diagram format each output suffix implies.
SUFFIX_FORMATS = {".mmd": "mermaid", ".md": "mermaid", ".svg": "svg", ".dot": "dot", ".gv": "dot"}


def format_problem(problem: DefinitionProblem, source: str | None) -> str:
    """One line per problem: ``FILE:LINE: [kind] key: message``."""
    where = source or "<definition>"
    if problem.line is not None:
        where += f":{problem.line}"
    key = f" {problem.key}:" if problem.key else ""
    return f"{where}: [{problem.kind}]{key} {problem.message}"


def _load_for_cli(path: str) -> Funnel | None:
    from funnel.io.definition import load_funnel  # when the command runs: keeps the CLI light

    try:
        return load_funnel(path)
    except DefinitionError as exc:
        for problem in exc.problems:
            sys.stderr.write(format_problem(problem, exc.source or path) + "\n")
        sys.stderr.write(f"{path}: {len(exc.problems)} problem(s)\n")
    except LoadError as exc:
        sys.stderr.write(f"funnel: {exc}\n")
    return None


def _check(args: argparse.Namespace) -> int:
    funnel = _load_for_cli(args.file)
    if funnel is None:
        return 1
    sys.stdout.write(
        f"{args.file}: ok - funnel {funnel.name!r} v{funnel.version}: "
        f"{len(funnel.lead_stages)} lead and {len(funnel.prospect_stages)} prospect stages, "
        f"{len(funnel.table.events)} events, framework {funnel.framework.name} "
        f"({funnel.framework.rule} of {len(funnel.framework.criteria)})\n"
    )
    return 0


def _diagram_format(format: str | None, output: str | None) -> str:
    """The format to draw, from ``--format`` and the suffix of ``-o``."""
    if output is None:
        return format or "mermaid"
    suffix = Path(output).suffix.lower()
    implied = SUFFIX_FORMATS.get(suffix)
    known = ", ".join(SUFFIX_FORMATS)
    if implied is None:
        if format is None or not suffix or suffix in (".png", ".jpg", ".jpeg", ".gif", ".pdf"):
            raise ValueError(
                f"cannot tell the diagram format from {output!r} (suffix {suffix or 'none'!r}); "
                f"use one of {known}, or --format with a text suffix"
            )
        return format
    if format is not None and format != implied:
        raise ValueError(f"--format {format} does not match {output!r}, which implies {implied}")
    return implied


def _render(funnel: Funnel, format: str) -> str:
    from funnel.spec import diagrams

    renderers: dict[str, Callable[[Funnel], str]] = {
        "mermaid": diagrams.mermaid,
        "svg": diagrams.svg,
        "dot": lambda f: str(diagrams.dot_graph(f).to_string()),
    }
    return renderers[format](funnel)


def _diagram(args: argparse.Namespace) -> int:
    try:
        fmt = _diagram_format(args.format, args.output)
    except ValueError as exc:
        sys.stderr.write(f"funnel diagram: {exc}\n")
        return 2
    if args.output is not None and not Path(args.output).parent.is_dir():
        sys.stderr.write(
            f"funnel diagram: cannot write {args.output!r}: the folder "
            f"{str(Path(args.output).parent)!r} does not exist\n"
        )
        return 1
    funnel = _load_for_cli(args.file)
    if funnel is None:
        return 1
    try:
        text = _render(funnel, fmt)
    except DiagramError as exc:
        sys.stderr.write(f"funnel: {exc}\n")
        return 1
    text = text if text.endswith("\n") else text + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"funnel diagram: cannot write {args.output!r}: {exc.strerror or exc}\n")
        return 1
    return 0


def register(subparsers: Any) -> None:
    """Add ``check`` and ``diagram`` to the ``funnel`` command line."""
    check = subparsers.add_parser(
        "check",
        help="validate a funnel definition file",
        description="Validate a funnel definition file (TOML or JSON); list every problem.",
    )
    check.add_argument("file", help="the definition file (.toml or .json)")
    check.set_defaults(handler=_check)
    diagram = subparsers.add_parser(
        "diagram",
        help="draw a funnel definition",
        description=(
            "Draw a funnel definition as mermaid text, SVG (needs pydot and Graphviz) or "
            "Graphviz dot source (needs pydot). With -o the format follows the suffix: "
            ".mmd or .md mermaid, .svg SVG, .dot or .gv dot."
        ),
    )
    diagram.add_argument("file", help="the definition file (.toml or .json)")
    diagram.add_argument(
        "--format", choices=DIAGRAM_FORMATS, help="default: from -o's suffix, else mermaid"
    )
    diagram.add_argument("-o", "--output", help="write here instead of standard output")
    diagram.set_defaults(handler=_diagram)
