"""``funnel report`` loads only what it uses (the CLI benchmark is in benchmarks/bench_load.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CODE = """
import sys
from funnel.cli import main
code = main(["report", sys.argv[1]])
print(code, *(m in sys.modules for m in ("rich.progress", "funnel.io.definition", "narwhals")))
"""


def test_report_on_a_pipe_imports_no_spinner_no_definition_reader_no_narwhals(
    tmp_path: Path,
) -> None:
    """The report of a CSV runs on polars alone (narwhals cost ~30 ms of the CLI's start)."""
    log = tmp_path / "log.csv"
    log.write_text(
        "lead_id,at,stage\na,2026-01-01T00:00:00Z,acquired\na,2026-01-02T00:00:00Z,mql\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(log)], check=True, capture_output=True, text=True
    ).stdout
    assert out.splitlines()[-1] == "0 False False False"
    assert "Acquired" in out


MISSING = """
import sys
sys.modules[sys.argv[2]] = None  # import raises ModuleNotFoundError
from funnel.cli import main
raise SystemExit(main(["report", sys.argv[1]]))
"""


@pytest.mark.parametrize(("module", "extra"), [("rich", "cli"), ("polars", "analytics")])
def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path, module: str, extra: str) -> None:
    """Without rich, `funnel report` printed a raw ModuleNotFoundError traceback."""
    csv = tmp_path / "log.csv"
    csv.write_text("lead_id,stage,at\nL1,acquired,2026-01-01T09:00:00Z\n")
    done = subprocess.run(
        [sys.executable, "-c", MISSING, str(csv), module],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f'pip install "salesfunnel[{extra}]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_analytics_without_narwhals_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['narwhals'] = None\n"
        "import funnel.analytics as fa\n"
        "from funnel.exceptions import MissingExtra\n"
        "try:\n    fa.funnel_report\nexcept MissingExtra as e:\n    print(e.extra, e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("analytics funnel.analytics.funnel_report needs narwhals")
    assert done.stdout.strip().endswith('pip install "salesfunnel[analytics]"')


AHEAD = """
import sys, threading
import funnel._base.frames as frames
seen = []
read = frames.read_csv_text
def spy(*args):
    seen.append((threading.current_thread().name, "statemachine" in sys.modules,
                 "funnel.analytics.eventlog" in sys.modules))
    return read(*args)
frames.read_csv_text = spy
from funnel.cli import main
code = main(["report", sys.argv[1]])
print(code, *seen[0], len(seen))
"""


def test_the_file_is_read_while_the_command_imports_the_rest(tmp_path: Path) -> None:
    """
    The CSV is read in a thread started before funnel's loaders, python-statemachine
    and rich are imported (polars reads without the GIL): ~0.1 s off a 1M-row report.
    """
    log = tmp_path / "log.csv"
    log.write_text("lead_id,at,stage\na,2026-01-01T00:00:00Z,acquired\n")
    out = subprocess.run(
        [sys.executable, "-c", AHEAD, str(log)], check=True, capture_output=True, text=True
    ).stdout
    assert out.splitlines()[-1] == "0 funnel-read False False 1"


def test_a_parquet_file_read_ahead_reports_as_load_parquet(tmp_path: Path, capsys) -> None:
    import polars as pl

    from funnel.analytics import funnel_report, load_parquet
    from funnel.cli import main

    path = tmp_path / "log.parquet"
    pl.DataFrame(
        {
            "lead_id": ["a", "a", "b", "b"],
            "at": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"] * 2,
            "stage": ["acquired", "mql", "acquired", "won"],
        }
    ).write_parquet(path)
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    expected = funnel_report(load_parquet(path))
    assert f"won {expected.won}, lost {expected.lost}, open {expected.open}" in out
    assert "4 rows in: 4 accepted, 0 rejected" in out


def test_an_unreadable_file_read_ahead_is_the_loaders_error(tmp_path: Path, capsys) -> None:
    """The read's LoadError, raised in the thread, is the command's one-line error."""
    from funnel.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"lead_id,at,stage\na,2026-01-01T00:00:00Z,acquired,extra\n")
    assert main(["report", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 2 has 4 field(s), the header has 3" in err
    assert "Traceback" not in err


def test_a_map_file_that_is_not_utf8_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    """Checked before the read starts, it still ends in the command's error (a traceback)."""
    from funnel.cli import main

    log = tmp_path / "log.csv"
    log.write_text("lead_id,at,stage\na,2026-01-01T00:00:00Z,acquired\n")
    mapping = tmp_path / "map.toml"
    mapping.write_bytes(b'Won = "w\xe9"\n')
    assert main(["report", str(log), "--map-file", str(mapping)]) == 1
    assert "can't decode byte 0xe9" in capsys.readouterr().err


def test_a_bad_definition_file_fails_before_the_file_is_read(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """Its error is not held back until a large file has been read."""
    import funnel._base.frames as frames
    from funnel.cli import main

    reads: list[object] = []
    monkeypatch.setattr(frames, "read_csv_text", lambda *a: reads.append(a))
    bad = tmp_path / "funnel.toml"
    bad.write_text("not = [valid")
    assert main(["report", str(tmp_path / "log.csv"), "--funnel", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("error:")
    assert reads == []


def test_a_directory_is_the_loaders_error(tmp_path: Path, capsys) -> None:
    """It was an IsADirectoryError traceback (from the ragged-line finder)."""
    from funnel.cli import main

    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cannot read CSV" in err
    assert "directory" in err
    assert "Traceback" not in err


def test_the_program_flushes_its_output_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """`python -m funnel` exits without freeing its objects (os._exit), output flushed first."""
    rows = "".join(f"L{i},2026-01-01T00:00:00Z,acquired\n" for i in range(3000))
    log = tmp_path / "log.csv"
    log.write_text("lead_id,at,stage\n" + rows + ",2026-01-01T00:00:00Z,nowhere\n" * 30)
    out = tmp_path / "out.txt"
    with out.open("w") as sink:  # a file: block-buffered, lost without the flush
        done = subprocess.run(
            [sys.executable, "-m", "funnel", "report", str(log)], stdout=sink, check=False
        )
    assert done.returncode == 0
    text = out.read_text()
    assert "3030 rows in: 3000 accepted, 30 rejected" in text
    assert text.rstrip().endswith("┘")  # the last table (rejected rows) is whole
    failed = subprocess.run(
        [sys.executable, "-m", "funnel", "report", str(tmp_path / "absent.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: cannot read CSV")
