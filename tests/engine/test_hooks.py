"""Hooks: listeners on transitions, sync and async, and what a failing hook leaves behind."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import funnel
from funnel import (
    DEFAULT_FUNNEL,
    Contact,
    Evidence,
    Hooks,
    Lead,
    Prospect,
    Touch,
    TransitionError,
    convert,
    fire,
)
from funnel.engine.hooks import Transition
from funnel.exceptions import HookError, HookVetoed
from funnel.io.sql import SqlStore

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _lead(owner: str = "alice") -> Lead:
    at = T0
    touches = [
        Touch(id="f1", at=at, direction="inbound", channel="form", reach="mass"),
        Touch(id="o1", at=at, direction="outbound", channel="email", sender="rep:alice"),
        Touch(id="r1", at=at, direction="inbound", channel="email", in_reply_to="o1"),
    ]
    evidence = [
        Evidence(criterion=k, verdict="met", source="rep:alice", at=at)
        for k in funnel.model.qualification.DEFAULT.keys
    ]
    return Lead(
        id="L1",
        contact=Contact(name="Ada", email="ada@acme.example"),
        source="web_form",
        created_at=at,
        touches=touches,
        evidence=evidence,
        owner=owner,
    )


def test_listeners_by_kind_are_called_with_the_transition() -> None:
    hooks = Hooks()
    calls: list[tuple[str, str, str]] = []
    hooks.on_any(lambda t: calls.append(("any", t.change.event, t.new.stage)))
    hooks.on_event("mark_mql")(lambda t: calls.append(("event", t.change.event, t.new.stage)))
    hooks.on_enter("organisation")(lambda t: calls.append(("enter", t.change.event, t.new.stage)))
    hooks.on_conversion(lambda t: calls.append(("conversion", t.change.event, t.new.stage)))

    lead = _lead()
    mql = fire(lead, "mark_mql", at=T0 + timedelta(hours=1), hooks=hooks)
    assert calls == [("any", "mark_mql", "mql"), ("event", "mark_mql", "mql")]
    calls.clear()
    prospect = fire(mql, "convert", at=T0 + timedelta(hours=2), hooks=hooks)
    assert isinstance(prospect, Prospect)
    assert calls == [
        ("any", "convert", "organisation"),
        ("enter", "convert", "organisation"),
        ("conversion", "convert", "organisation"),
    ]


def test_notify_the_owner_when_a_lead_becomes_a_prospect() -> None:
    hooks = Hooks()
    outbox: list[str] = []

    @hooks.on_conversion
    def notify(t: Transition) -> None:
        assert isinstance(t.old, Lead)
        assert isinstance(t.new, Prospect)
        outbox.append(f"to {t.new.owner}: {t.record_id} is now a prospect ({t.change.to_stage})")

    prospect = convert(_lead(), at=T0 + timedelta(hours=1), hooks=hooks, owner="bob")
    assert prospect.owner == "bob"
    assert outbox == ["to bob: L1 is now a prospect (organisation)"]


def test_refused_event_calls_no_hook() -> None:
    hooks = Hooks()
    called: list[Transition] = []
    hooks.on_any(called.append)
    hooks.before(called.append)
    with pytest.raises(TransitionError):
        fire(_lead(), "win", at=T0, hooks=hooks)
    assert called == []


def test_failing_after_hook_leaves_the_transition_standing_and_runs_the_others() -> None:
    hooks = Hooks()
    ran: list[str] = []

    @hooks.on_any
    def broken(t: Transition) -> None:
        raise RuntimeError("mail server down")

    hooks.on_any(lambda t: ran.append("second"))
    lead = _lead()
    with pytest.raises(HookError) as info:
        fire(lead, "nurture", at=T0 + timedelta(hours=1), hooks=hooks)
    error = info.value
    assert ran == ["second"]  # the failure did not stop the next listener
    # The transition stands, fully: the record is consistent and complete.
    assert error.record.stage == "nurturing"
    assert error.record.history[-1].event == "nurture"
    assert error.record == funnel.advance(lead, "nurture", at=T0 + timedelta(hours=1))
    assert lead.stage == "acquired"  # the input is untouched
    assert [f.listener for f in error.failures] == [broken.__qualname__]
    assert isinstance(error.exceptions[0], RuntimeError)
    assert "mail server down" in str(error.exceptions[0])
    assert "mail server down" not in str(error)  # a hook's message may hold personal data
    assert "RuntimeError" in str(error)
    assert isinstance(error, funnel.FunnelError)


def test_errors_log_mode_returns_the_record_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    hooks = Hooks(errors="log")
    hooks.on_any(lambda t: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="funnel.engine.hooks"):
        new = fire(_lead(), "nurture", at=T0 + timedelta(hours=1), hooks=hooks)
    assert new.stage == "nurturing"
    assert "ZeroDivisionError" in caplog.text
    assert "'L1'" in caplog.text


def test_before_hook_vetoes_and_leaves_the_input_unchanged() -> None:
    hooks = Hooks()
    after: list[Transition] = []
    hooks.on_any(after.append)

    @hooks.before
    def no_disqualify_on_fridays(t: Transition) -> None:
        if t.change.event == "disqualify":
            raise PermissionError("ask your manager")

    lead = _lead()
    with pytest.raises(HookVetoed) as info:
        fire(lead, "disqualify", at=T0, why="spam", hooks=hooks)
    assert info.value.record is lead
    assert info.value.event == "disqualify"
    assert "ask your manager" not in str(info.value)  # the hook's text stays in __cause__
    assert "PermissionError" in str(info.value)
    assert "ask your manager" in str(info.value.__cause__)
    assert isinstance(info.value.__cause__, PermissionError)
    assert isinstance(info.value, TransitionError)
    assert after == []
    # Other events pass the veto hook.
    assert fire(lead, "nurture", at=T0, hooks=hooks).stage == "nurturing"
    assert len(after) == 1


def test_registering_unknown_names_is_refused() -> None:
    hooks = Hooks()
    with pytest.raises(ValueError, match="no stage 'customer'"):
        hooks.on_enter("customer")
    with pytest.raises(ValueError, match="no event 'close'"):
        hooks.on_event("close")
    with pytest.raises(ValueError, match="errors must be"):
        Hooks(errors="ignore")  # type: ignore[arg-type]


def test_dispatch_covers_every_change_between_two_versions() -> None:
    hooks = Hooks()
    seen: list[str] = []
    hooks.on_any(lambda t: seen.append(t.change.event))
    old = _lead()
    new = funnel.advance(old, "mark_mql", at=T0)
    new = funnel.advance(new, "nurture", at=T0)
    hooks.dispatch(old, new)
    assert seen == ["mark_mql", "nurture"]
    with pytest.raises(ValueError, match="does not extend"):
        hooks.dispatch(new, old)


def test_sync_dispatch_refuses_async_listeners_without_leaking_coroutines() -> None:
    hooks = Hooks()

    @hooks.on_any
    async def slow(t: Transition) -> None:  # pragma: no cover - never awaited
        await asyncio.sleep(0)

    with pytest.raises(HookError, match=r"use Funnel\.afire"):
        fire(_lead(), "nurture", at=T0, hooks=hooks)


def test_async_listeners_are_awaited() -> None:
    hooks = Hooks()
    seen: list[str] = []

    @hooks.on_enter("mql")
    async def notify(t: Transition) -> None:
        await asyncio.sleep(0)
        seen.append(f"async {t.new.stage}")

    hooks.on_any(lambda t: seen.append(f"sync {t.new.stage}"))
    new = asyncio.run(DEFAULT_FUNNEL.afire(_lead(), "mark_mql", at=T0, hooks=hooks))
    assert new.stage == "mql"
    assert sorted(seen) == ["async mql", "sync mql"]


def test_async_failure_is_collected_after_all_ran() -> None:
    hooks = Hooks()
    done: list[str] = []

    @hooks.on_any
    async def fails(t: Transition) -> None:
        raise RuntimeError("webhook 500")

    @hooks.on_any
    async def succeeds(t: Transition) -> None:
        await asyncio.sleep(0)
        done.append("ok")

    with pytest.raises(HookError) as info:
        asyncio.run(DEFAULT_FUNNEL.afire(_lead(), "nurture", at=T0, hooks=hooks))
    assert done == ["ok"]
    assert info.value.record.stage == "nurturing"
    assert [type(e) for e in info.value.exceptions] == [RuntimeError]


def test_async_veto() -> None:
    hooks = Hooks()

    @hooks.before
    async def refuse(t: Transition) -> None:
        raise ValueError("frozen account")

    with pytest.raises(HookVetoed, match="ValueError") as info:
        asyncio.run(DEFAULT_FUNNEL.afire(_lead(), "nurture", at=T0, hooks=hooks))
    assert "frozen account" in str(info.value.__cause__)


def test_after_commit_hooks_with_the_store_see_the_stored_record() -> None:
    store = SqlStore(sa.create_engine("sqlite://"))
    store.create_schema()
    store.add(_lead())
    hooks = Hooks()
    stored_versions: list[int] = []
    hooks.on_conversion(lambda t: stored_versions.append(store.get(t.record_id).version))

    def failing(t: Transition) -> None:
        raise RuntimeError("crm webhook down")

    hooks.on_any(failing)
    with pytest.raises(HookError) as info:
        store.transact(
            "L1",
            lambda r: funnel.fire(r, "convert", at=T0 + timedelta(hours=1)),
            after=hooks.dispatch,
        )
    # The hook ran after the commit, and its failure did not undo the write.
    assert stored_versions == [2]
    assert store.get("L1") == (info.value.record, 2)
    assert isinstance(store.get("L1").record, Prospect)
