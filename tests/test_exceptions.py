"""Errors carry data and read well."""

from __future__ import annotations

import pytest

from funnel import DefinitionError, FunnelError, TransitionError
from funnel.exceptions import (
    DefinitionProblem,
    GuardFailed,
    IllegalEvent,
    NotQualified,
    RecordNotFound,
    StaleWriteError,
)


def test_transition_error_message_lists_reasons():
    """The message has the headline and one line per reason."""
    err = IllegalEvent("cannot win", record="r", event="win", stage="acquired", reasons=("a", "b"))
    assert str(err) == "cannot win\n  - a\n  - b"
    assert (err.record, err.event, err.stage, err.reasons) == ("r", "win", "acquired", ("a", "b"))


def test_hierarchy():
    """Runtime errors are TransitionErrors and ValueErrors; all are FunnelErrors."""
    assert issubclass(NotQualified, GuardFailed)
    assert issubclass(GuardFailed, TransitionError)
    assert issubclass(IllegalEvent, ValueError)
    for cls in (TransitionError, DefinitionError, StaleWriteError, RecordNotFound):
        assert issubclass(cls, FunnelError)


def test_definition_error_lists_problems():
    """Every problem shows with its kind, key and line."""
    problems = [
        DefinitionProblem("unknown-stage", "no stage 'x'", key="transitions[0].target", line=12),
        DefinitionProblem("syntax", "bad TOML", line=3),
    ]
    err = DefinitionError(problems, source="acme.toml")
    text = str(err)
    assert "invalid funnel definition in acme.toml: 2 problem(s)" in text
    assert "[unknown-stage] transitions[0].target (line 12): no stage 'x'" in text
    assert "[syntax] line 3: bad TOML" in text
    assert problems[0] == DefinitionProblem(
        "unknown-stage", "no stage 'x'", key="transitions[0].target", line=12
    )


def test_stale_write_names_versions():
    """A stale write says which versions clashed."""
    err = StaleWriteError("L1", expected=3, actual=4)
    assert "based on version 3, but the stored version is 4" in str(err)


def test_record_not_found_is_key_error():
    """RecordNotFound can be caught as KeyError and reads well."""
    with pytest.raises(KeyError):
        raise RecordNotFound("L9")
    assert str(RecordNotFound("L9")) == "no record with id 'L9'"
