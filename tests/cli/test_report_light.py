"""``funnel report`` loads only what it uses (the CLI benchmark is in benchmarks/bench_load.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import sys
from funnel.cli import main
code = main(["report", sys.argv[1]])
print(code, *(m in sys.modules for m in ("rich.progress", "funnel.io.definition")))
"""


def test_report_on_a_pipe_imports_no_spinner_and_no_definition_reader(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "lead_id,at,stage\na,2026-01-01T00:00:00Z,acquired\na,2026-01-02T00:00:00Z,mql\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(log)], check=True, capture_output=True, text=True
    ).stdout
    assert out.splitlines()[-1] == "0 False False"
    assert "Acquired" in out
