"""Shared test configuration: hypothesis profiles and paths to the shared datasets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The fuzz tests draw integers far beyond 4300 digits; without this, hypothesis cannot
# print a failing example (it raises ValueError on the int's repr and hides the failure).
sys.set_int_max_str_digits(0)

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fast", max_examples=25, deadline=None)
settings.load_profile("fast" if os.environ.get("FAST") else "ci")

#: ../shared/data beside the checkout, where the real datasets live (absent on a user's clone).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared datasets folder; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
