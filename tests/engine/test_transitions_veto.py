"""A move a before hook vetoes is a refusal everywhere: the log, listeners, the span (item 9b)."""

from __future__ import annotations

import asyncio
import logging

import pytest

import funnel
from funnel import DEFAULT_FUNNEL, Hooks
from funnel.exceptions import HookVetoed
from tests.helpers import day, lead

LOGGER = "funnel.engine.transitions"


class Spy:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_exit_state(self, event: str) -> None:
        self.calls.append(f"exit {event}")

    def on_enter_state(self, event: str) -> None:
        self.calls.append(f"enter {event}")

    def after_transition(self, event: str) -> None:
        self.calls.append(f"after {event}")


def _vetoing() -> Hooks:
    hooks = Hooks(funnel=DEFAULT_FUNNEL)

    @hooks.before
    def veto(transition: object) -> None:
        raise RuntimeError("not today")

    return hooks


def test_a_vetoed_move_is_logged_as_a_refusal_and_reaches_no_listener(caplog):
    spy = Spy()
    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.raises(HookVetoed):
        funnel.advance(lead(), "nurture", at=day(1), hooks=_vetoing(), listeners=[spy])
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert not any("acquired -> nurturing" in line for line in lines), lines
    assert any("refused nurture from acquired: HookVetoed" in line for line in lines), lines
    assert spy.calls == []


def test_an_allowed_move_still_reaches_listeners_and_the_log(caplog):
    spy = Spy()
    caplog.set_level(logging.INFO, logger=LOGGER)
    moved = funnel.advance(lead(), "nurture", at=day(1), hooks=Hooks(), listeners=[spy])
    assert moved.stage == "nurturing"
    assert "after nurture" in spy.calls
    assert any("acquired -> nurturing" in r.getMessage() for r in caplog.records)


def test_an_async_veto_is_logged_as_a_refusal(caplog):
    hooks = Hooks(funnel=DEFAULT_FUNNEL)

    @hooks.before
    async def veto(transition: object) -> None:
        raise RuntimeError("not today")

    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.raises(HookVetoed):
        asyncio.run(DEFAULT_FUNNEL.afire(lead(), "nurture", at=day(1), hooks=hooks))
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert not any("acquired -> nurturing" in line for line in lines), lines
    assert any("HookVetoed" in line for line in lines), lines


def test_a_vetoed_span_ends_with_the_error():
    trace = pytest.importorskip("opentelemetry.trace")
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    from funnel._base import log as _log

    exporter = memory.InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    original = _log.tracer
    _log.tracer = lambda: tracer
    try:
        with pytest.raises(HookVetoed):
            funnel.advance(lead(), "nurture", at=day(1), hooks=_vetoing())
    finally:
        _log.tracer = original
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert "funnel.to_stage" not in span.attributes
