"""FunnelError.to_dict(): RFC 9457 problem details with the HTTP status of each error."""

from __future__ import annotations

import inspect
from http import HTTPStatus

import pytest

from funnel import exceptions as ex


def every_error() -> list[type[ex.FunnelError]]:
    return [
        cls
        for _, cls in inspect.getmembers(ex, inspect.isclass)
        if issubclass(cls, ex.FunnelError)
    ]


@pytest.mark.parametrize("cls", every_error(), ids=lambda c: c.__name__)
def test_every_error_has_an_http_status(cls):
    assert HTTPStatus(cls.status).value >= 400


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (ex.ValidationError, 422),
        (ex.UnknownName, 422),
        (ex.SerializationError, 422),
        (ex.DefinitionError, 422),
        (ex.LoadError, 422),
        (ex.IllegalEvent, 409),
        (ex.GuardFailed, 409),
        (ex.NotQualified, 409),
        (ex.ChronologyError, 409),
        (ex.WrongLevel, 409),
        (ex.HookVetoed, 409),
        (ex.StaleWriteError, 409),
        (ex.CommunicationRefused, 403),
        (ex.RecordNotFound, 404),
        (ex.RecordArchived, 410),
        (ex.InsufficientHistory, 422),
        (ex.HookError, 500),
        (ex.GuardError, 500),
        (ex.MissingExtra, 500),
        (ex.FunnelError, 500),
    ],
)
def test_the_status_says_whose_fault_it_is(cls, status):
    assert cls.status == status


def test_to_dict_has_the_members_of_rfc_9457_first():
    err = ex.StaleWriteError("L1", 1, 2)
    body = err.to_dict()
    assert list(body)[:4] == ["type", "title", "status", "detail"]
    assert body["status"] == 409
    assert body["record"] == "L1"


def test_a_communication_refusal_summary_names_its_first_reason():
    err = ex.CommunicationRefused(record="L1", touch="t1", reasons=["opted out", "no rep"])
    assert err.summary == "touch refused: opted out (and 1 more)"
    assert err.to_dict()["detail"] == err.summary
    assert ex.CommunicationRefused(record="L1", touch="t1", reasons=[]).summary == (
        "touch refused"
    )
    assert str(err) == "touch refused:\n  - opted out\n  - no rep"  # the message is unchanged


def test_pydantic_is_the_api_extra():
    err = ex.MissingExtra.of(ModuleNotFoundError(name="pydantic"), "funnel.io.payloads")
    assert err is not None
    assert err.extra == "api"


def test_a_definition_warning_names_source_line_kind_and_key():
    w = ex.DefinitionWarning("unused-criterion", "criterion 'x' is unused", key="criteria.x",
                             line=3, source="acme.toml")  # fmt: skip
    assert str(w) == "acme.toml:3: [unused-criterion] criteria.x: criterion 'x' is unused"
    assert isinstance(w, ex.FunnelWarning)
    assert str(ex.DefinitionWarning("k", "ada@acme.example here")) == "[k] a***@acme.example here"
