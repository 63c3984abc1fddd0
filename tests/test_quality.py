"""Lint, types and docs are part of the test suite: `uv run pytest` checks them all."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check():
    """ruff finds nothing."""
    result = run(
        sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "conftest.py"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    """The code is ruff-formatted."""
    result = run(
        sys.executable,
        "-m",
        "ruff",
        "format",
        "--check",
        "src",
        "tests",
        "benchmarks",
        "conftest.py",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict():
    """mypy --strict passes on the package, the tests and the benchmarks."""
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path):
    """sphinx-build -W builds the documentation with no warning."""
    if (
        shutil.which("sphinx-build") is None
        and not (Path(sys.executable).parent / "sphinx-build").exists()
    ):
        pytest.fail("sphinx-build is missing; it is part of the dev dependency group")
    result = run(
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "docs",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
