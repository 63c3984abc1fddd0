"""funnel check and funnel diagram (funnel.cli.definition)."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel.cli import main
from funnel.io.definition import (
    default_definition_path,
    dump_funnel,
    loads_funnel,
)
from tests.helpers import ACME, line_of


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
