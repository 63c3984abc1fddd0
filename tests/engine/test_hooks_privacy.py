"""The hooks logger masks record ids as every message does (review 9a)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

import funnel
from funnel import Contact, Hooks, Lead

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ident", "hidden", "shown"),
    [
        ("ada.lovelace@acme.example", "ada.lovelace", "a***@acme.example"),
        ("+44 20 7946 0958", "7946", "(id not shown)"),
        ("Ada Lovelace", "Lovelace", "(id not shown)"),
    ],
)
def test_debug_and_error_lines_mask_the_id(
    caplog: pytest.LogCaptureFixture, ident: str, hidden: str, shown: str
) -> None:
    hooks = Hooks(errors="log")

    @hooks.on_any
    def boom(transition: object) -> None:
        raise RuntimeError("boom")

    lead = Lead(id=ident, contact=Contact(name="Jo"), source="web", created_at=T0)
    with caplog.at_level(logging.DEBUG, logger="funnel.engine.hooks"):
        new = funnel.advance(lead, "nurture", at=T0 + timedelta(hours=1), hooks=hooks)
    assert new.stage == "nurturing"
    lines = [r.getMessage() for r in caplog.records if r.name == "funnel.engine.hooks"]
    assert any("1 hook call(s)" in line for line in lines)
    assert any("hook" in line and "failed on" in line for line in lines)
    for line in lines:
        assert hidden not in line
        assert shown in line
