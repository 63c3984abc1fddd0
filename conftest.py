"""Root conftest: names available to the doctests in README.md, docs/ and docstrings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict[str, Any]) -> None:
    import funnel

    doctest_namespace.update(
        funnel=funnel,
        datetime=datetime,
        timedelta=timedelta,
        timezone=timezone,
    )
