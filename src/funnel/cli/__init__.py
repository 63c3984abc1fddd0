"""
The ``funnel`` command line.

Sub-commands live in the modules that implement them; each such module
defines ``register(subparsers)``, which adds its parser and sets
``handler=callable(args) -> int``. Modules are imported only when the
command line runs, so ``import funnel`` stays light.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from funnel._version import __version__
from funnel.exceptions import MissingExtra

#: Modules that contribute sub-commands, in help order.
COMMAND_MODULES = (
    "funnel.cli.demo",
    "funnel.cli.definition",
    "funnel.cli.report",
    "funnel.cli.crm",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="funnel", description="Model, check, draw and analyse a B2B sales funnel."
    )
    parser.add_argument("--version", action="version", version=f"funnel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # this command is not part of this build

            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code: int = handler(args)
    except ModuleNotFoundError as exc:
        error = MissingExtra.of(exc, f"funnel {args.command}")
        if error is None:
            raise
        sys.stderr.write(
            f"funnel {args.command}: {exc.name} is not installed: "
            f'pip install "salesfunnel[{error.extra}]"\n'
        )
        return 1
    except MissingExtra as exc:
        sys.stderr.write(f"funnel {args.command}: {exc}\n")
        return 1
    return code


#: Modules whose clean-up at exit matters (a browser for PNG charts, database pools,
#: worker processes): with one of them loaded, the command exits the usual way.
_CLEAN_EXIT = ("kaleido", "choreographer", "sqlalchemy", "multiprocessing")


def run_program(argv: Sequence[str] | None = None) -> NoReturn:
    """
    The ``funnel`` program: :func:`main`, then exit without freeing every object.

    Freeing a process's objects one by one at exit (the modules, the frames a report
    read) took about 0.1 s of a 1M-row ``funnel report``; the operating system frees
    them at once. Output is flushed first and logging shut down; with a module loaded
    whose clean-up matters (:data:`_CLEAN_EXIT`), or another thread running, it exits
    the usual way. (mypy exits the same way, for the same reason.)
    """
    import os
    import threading

    code = main(argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports it
        sys.exit(code)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    loaded = any(name.partition(".")[0] in _CLEAN_EXIT for name in list(sys.modules))
    if loaded or threading.active_count() > 1:
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run_program()
