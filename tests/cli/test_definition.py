"""funnel check and funnel diagram (funnel.cli.definition)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from funnel.cli import main
from funnel.cli.definition import format_problem
from funnel.exceptions import DefinitionProblem
from funnel.io.definition import (
    default_definition_path,
    dump_funnel,
    loads_funnel,
)
from tests.helpers import ACME, line_of

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def test_cli_check_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "ok" in out
    assert "'acme' v2" in out
    assert "BANT (at least 3 of 4)" in out


def test_cli_check_invalid_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.toml"
    text = ACME.replace('to = "proposal"', 'to = "nowhere"').replace("sql = 70", "sql = 700")
    path.write_text(text)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    nowhere = line_of(text, "nowhere")
    assert any(line.startswith(f"{path}:{nowhere}: [unknown-stage]") for line in err)
    assert any(
        line.startswith(f"{path}:{line_of(text, 'sql = 700')}: [threshold-out-of-range]")
        for line in err
    )
    assert err[-1] == f"{path}: 2 problem(s)"


def test_cli_check_default_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(default_definition_path())]) == 0
    assert "'sources' v1" in capsys.readouterr().out


def test_cli_diagram_mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acme.json"
    path.write_text(dump_funnel(loads_funnel(ACME), format="json"))
    assert main(["diagram", str(path), "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    assert "ready --> discovery : convert [is_two_way, is_qualified]" in out
    out_file = tmp_path / "acme.mmd"
    assert main(["diagram", str(path), "-o", str(out_file)]) == 0
    assert out_file.read_text() == out


def test_cli_diagram_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[funnel\n")
    assert main(["diagram", str(path)]) == 1
    assert f"{path}:1: [syntax]" in capsys.readouterr().err


def test_every_command_module_exists() -> None:
    import importlib

    from funnel.cli import COMMAND_MODULES

    for name in COMMAND_MODULES:
        assert hasattr(importlib.import_module(name), "register"), name
    assert "funnel.cli.definition" in COMMAND_MODULES


def test_format_problem_names_file_line_kind_and_key() -> None:
    problem = DefinitionProblem(
        "unknown-stage", "no stage 'x' is declared", key="events.a.to", line=7
    )
    assert format_problem(problem, "acme.toml") == (
        "acme.toml:7: [unknown-stage] events.a.to: no stage 'x' is declared"
    )
    assert format_problem(DefinitionProblem("syntax", "bad"), None) == "<definition>: [syntax] bad"


@pytest.fixture
def acme_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    return path


@pytest.mark.parametrize(
    ("suffix", "start"),
    [(".mmd", "stateDiagram-v2"), (".md", "stateDiagram-v2"), (".dot", "digraph funnel {")],
)
def test_cli_diagram_format_follows_the_suffix(
    acme_file: Path, tmp_path: Path, suffix: str, start: str
) -> None:
    out = tmp_path / f"acme{suffix}"
    assert main(["diagram", str(acme_file), "-o", str(out)]) == 0
    assert out.read_text().startswith(start)


@needs_dot
def test_cli_diagram_svg_suffix_draws_svg(acme_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "acme.svg"
    assert main(["diagram", str(acme_file), "-o", str(out)]) == 0
    assert ET.fromstring(out.read_text()).tag.endswith("svg")


def test_cli_diagram_dot_to_stdout(acme_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(acme_file), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digraph funnel {")
    # convert reaches discovery from several stages: one junction, one labelled edge
    assert "ready -> __join_" in out
    assert '-> discovery [label="convert\\n[is_two_way, is_qualified]"]' in out


@pytest.mark.parametrize("name", ["acme.png", "acme.pdf", "acme"])
def test_cli_diagram_refuses_a_suffix_it_cannot_write(
    acme_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = tmp_path / name
    assert main(["diagram", str(acme_file), "-o", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot tell the diagram format" in err
    assert ".mmd" in err
    assert "Traceback" not in err


def test_cli_diagram_png_is_refused_even_with_a_format(
    acme_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "acme.png"
    assert main(["diagram", str(acme_file), "--format", "mermaid", "-o", str(out)]) == 2
    assert not out.exists()


def test_cli_diagram_format_and_suffix_must_agree(
    acme_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "acme.mmd"
    assert main(["diagram", str(acme_file), "--format", "svg", "-o", str(out)]) == 2
    assert "does not match" in capsys.readouterr().err
    assert not out.exists()


def test_cli_diagram_explicit_format_with_a_text_suffix(acme_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "acme.txt"
    assert main(["diagram", str(acme_file), "--format", "mermaid", "-o", str(out)]) == 0
    assert out.read_text().startswith("stateDiagram-v2")


def test_cli_diagram_missing_folder_is_a_clear_error(
    acme_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "acme.mmd"
    assert main(["diagram", str(acme_file), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert str(out.parent) in err
    assert "Traceback" not in err


def test_cli_diagram_unwritable_output_is_a_clear_error(
    acme_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken.mmd"
    out.mkdir()  # a folder where the file should go
    assert main(["diagram", str(acme_file), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"funnel diagram: cannot write {str(out)!r}")


def test_cli_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read funnel definition" in capsys.readouterr().err


def test_python_dash_m_funnel_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "funnel", "check", str(default_definition_path())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ok - funnel 'sources' v1" in done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "funnel", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("funnel ")


def test_python_dash_m_funnel_diagram_png_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "funnel",
            "diagram",
            str(default_definition_path()),
            "-o",
            str(tmp_path / "f.png"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
