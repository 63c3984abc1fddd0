"""``python -m funnel``: the ``funnel`` command line."""

from __future__ import annotations

from funnel.cli import run_program

if __name__ == "__main__":
    run_program()
