"""The Django how-to's example project passes its tests under Django's own runner (SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "django_app"


def test_the_example_project_passes_django_s_test_runner():
    pytest.importorskip("django")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings", "PYTHONWARNINGS": "error"}
    run = subprocess.run(
        [sys.executable, "manage.py", "test", "--verbosity", "2", "--noinput"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Applying leads.0001_initial... OK" in run.stdout
    assert "Ran 13 tests" in run.stderr
    assert "\nOK\n" in run.stderr
    assert not (PROJECT / "db.sqlite3").exists()  # tests run in an in-memory database
