"""
Guards: the named conditions on transitions.

A machine declares guards by name (``cond="is_two_way"``); both the real
python-statemachine instance and the derived transition table call the same
:class:`Guard` from :data:`GUARDS`, so they cannot disagree. A guard returns
the reasons it refuses; no reasons means it passes. Guards are pure: they read
the record and the context and change nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from funnel.exceptions import ValidationError
from funnel.model.engagement import Engagement, assess_engagement
from funnel.model.evidence import Verdict
from funnel.model.qualification import Qualification, qualify
from funnel.model.touch import Direction

if TYPE_CHECKING:
    from funnel.model.records import FunnelRecord
    from funnel.spec.definition import Funnel


@attrs.frozen(kw_only=True)
class GuardContext:
    """
    What a guard may read besides the record.

    Attributes:
        funnel: The funnel definition in force.
        at: The moment of the transition.
        why: The reason given with the event, if any.
    """

    funnel: Funnel
    at: datetime
    why: str | None = None


GuardCheck = Callable[["FunnelRecord", GuardContext], tuple[str, ...]]


@attrs.frozen
class Guard:
    """
    A named, pure condition.

    Attributes:
        name: The name machines use in ``cond=``.
        description: What it requires, for docs and diagrams.
        check: Returns the reasons it refuses (empty tuple = passes).
    """

    name: str
    description: str
    check: GuardCheck

    def passes(self, record: FunnelRecord, ctx: GuardContext) -> bool:
        """Whether the guard lets the transition through."""
        return not self.check(record, ctx)


#: Every guard by name. Extend with :func:`register_guard`.
GUARDS: dict[str, Guard] = {}


def register_guard(
    name: str, description: str, *, replace: bool = False
) -> Callable[[GuardCheck], Guard]:
    """
    Register a guard under *name* (a decorator).

    The check receives the record and a :class:`GuardContext` and returns
    the reasons it refuses. ``GUARDS`` is one registry per process, so a name
    that is taken by another check is refused unless *replace* is true:
    silently replacing ``is_two_way`` would let leads with no dialogue become
    prospects. Registering the same function again (a re-run notebook cell,
    a reloaded module) is allowed.

    Raises:
        ValidationError: *name* is not an identifier, or is taken by another check.

    >>> from funnel import GUARDS, register_guard
    >>> @register_guard("has_phone", "a phone number is known")
    ... def _has_phone(record, ctx):
    ...     return () if record.contact.phone else ("no phone number",)
    >>> "has_phone" in GUARDS
    True
    >>> register_guard("is_two_way", "my own check")(lambda record, ctx: ())
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: guard 'is_two_way' is already registered ...
    """
    if not name.isidentifier() or name.startswith(("on_", "before_", "after_")):
        raise ValidationError(
            f"guard name {name!r} must be an identifier without a callback prefix"
        )

    def decorate(check: GuardCheck) -> Guard:
        taken = GUARDS.get(name)
        if taken is not None and not replace and _origin(taken.check) != _origin(check):
            raise ValidationError(
                f"guard {name!r} is already registered ({taken.description!r}, "
                f"{_origin(taken.check)}); pass replace=True to replace it"
            )
        guard = Guard(name, description, check)
        GUARDS[name] = guard
        # Give the machine base class a method for it; funnel.machine installs
        # every guard registered before it finished importing.
        machine = sys.modules.get("funnel.spec.machine")
        install = getattr(machine, "install_guard", None)
        if install is not None:
            install(name)
        return guard

    return decorate


def _origin(check: GuardCheck) -> str:
    """Where a check was defined: module and qualified name."""
    module = getattr(check, "__module__", "?")
    return f"{module}.{getattr(check, '__qualname__', type(check).__name__)}"


def touches_until(record: FunnelRecord, at: datetime) -> tuple[object, ...]:
    """The record's touches at or before *at*."""
    return tuple(t for t in record.touches if t.at <= at)


def qualification_of(record: FunnelRecord, ctx: GuardContext) -> Qualification:
    """Judge *record* with the funnel's framework and profile, as of ``ctx.at``."""
    funnel = ctx.funnel
    return qualify(
        record.evidence,
        framework=funnel.framework,
        company=record.contact.company,
        icp=funnel.icp,
        at=ctx.at,
        funnel_version=funnel.version,
    )


@register_guard("is_two_way", "two-way communication exists")
def _is_two_way(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    finding = assess_engagement(t for t in record.touches if t.at <= ctx.at)
    if finding.level is Engagement.TWO_WAY:
        return ()
    return (f"engagement is {finding.level.value}: {finding.reason}",)


@register_guard("is_qualified", "the qualification framework passes")
def _is_qualified(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    q = qualification_of(record, ctx)
    return () if q.passed else q.explain()


@register_guard("has_reason", "a reason is given")
def _has_reason(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    if ctx.why and ctx.why.strip():
        return ()
    return ("a reason is required (pass why=...)",)


@register_guard("fits_profile", "the company fits the ideal customer profile")
def _fits_profile(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    funnel = ctx.funnel
    key = funnel.icp.criterion if funnel.icp is not None else "fit"
    recorded = [e for e in record.evidence if e.criterion == key and e.at <= ctx.at]
    if recorded:
        latest = recorded[-1]
        if latest.verdict is Verdict.MET:
            return ()
        return (f"{key} is {latest.verdict.value} ({latest.source}: {latest.note or 'no note'})",)
    if funnel.icp is None:
        return (f"no {key!r} evidence and the funnel declares no ideal customer profile",)
    verdict, why = funnel.icp.assess(record.contact.company)
    if verdict is Verdict.MET:
        return ()
    return (f"ideal customer profile: {verdict.value} ({'; '.join(why)})",)


@register_guard("has_inbound_action", "the person acted on a call to action")
def _has_inbound_action(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    if any(t.direction is Direction.INBOUND and t.at <= ctx.at for t in record.touches):
        return ()
    return ("no inbound action yet (form fill, sign-up, quote request, email in)",)
