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


@pytest.mark.parametrize(
    "sequence",
    ["\x1b[2J\x1b[31m", "\x1b]8;;https://x.example\x07", "\u202e", "\r", "\x00", "\x9b"],
    ids=["ansi", "osc-link", "bidi-override", "carriage-return", "nul", "c1-csi"],
)
def test_control_characters_in_a_message_are_escaped(sequence: str) -> None:
    """A stage or id quoted raw put ESC sequences on the terminal of whoever read the log."""
    from funnel.exceptions import ValidationError

    err = IllegalEvent(
        f"cannot go from {sequence}", record="r", event="go", stage="a", reasons=(sequence,)
    )
    for text in (str(err), err.summary, repr(err.to_dict()), str(ValidationError(sequence))):
        assert sequence not in text
    assert str(err).count("\n") == 1  # the structure (one line per reason) is kept
    assert "\\" in str(err)


def test_unknown_name_is_a_validation_error_and_a_key_error() -> None:
    from funnel import DEFAULT_FUNNEL, ValidationError
    from funnel.exceptions import UnknownName
    from funnel.model.qualification import BANT

    for lookup in (
        lambda: DEFAULT_FUNNEL.level_of("limbo"),
        lambda: DEFAULT_FUNNEL.stage_name(["unhashable"]),  # type: ignore[arg-type]
        lambda: BANT.criterion("sponsor"),
    ):
        with pytest.raises(UnknownName) as info:
            lookup()
        assert isinstance(info.value, KeyError)
        assert isinstance(info.value, ValidationError)
        assert not str(info.value).startswith('"')  # not KeyError's quoted message
        assert info.value.allowed
    with pytest.raises(KeyError) as caught:
        BANT.criterion("sponsor")
    assert str(caught.value) == "framework 'BANT' has no criterion 'sponsor'"


def test_guard_error_names_guard_and_record() -> None:
    from funnel.exceptions import GuardError

    err = GuardError("guard 'g' failed", guard="g", record="L1")
    assert err.to_dict() == {
        "type": "urn:funnel:error:GuardError",
        "title": "GuardError",
        "status": 500,
        "detail": "guard 'g' failed",
        "guard": "g",
        "record": "L1",
    }
    assert issubclass(GuardError, FunnelError)


def test_to_dict_masks_every_text_it_holds() -> None:
    """Found in review: a stage that was an address came back raw from to_dict()."""
    from funnel.exceptions import InsufficientHistory

    body = InsufficientHistory("zed.quux@corp.example", 0, 30).to_dict()
    assert "zed.quux" not in repr(body)
    assert body["stage"] == "z***@corp.example"
