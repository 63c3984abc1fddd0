"""
Touches and evidence: adding what happened, under the funnel's communication rules.

:func:`check_touch` returns the reasons the funnel's
:class:`~funnel.spec.communication.CommunicationPolicy` and the contact's
consent refuse a touch. :func:`add_touch` is the one way to add a touch: it applies
those rules and raises :class:`~funnel.exceptions.CommunicationRefused` when they refuse
it, and refuses a touch dated before the record's latest change
(:class:`~funnel.exceptions.ChronologyError`): the rules it applies are those of the
record's stage now, not of the stage the record was in then. Only ``imported=True``
(touches that already happened, brought in from another system) records a touch without
them, at any time. A record built or loaded with its touches (the constructors,
:func:`funnel.io.serialize.from_dict`, the CRM loaders) is an import too: its touches
may be of any time. :func:`add_evidence` records findings.
"""

from __future__ import annotations

from typing import TypeVar

import attrs

from funnel._base.privacy import is_name
from funnel.engine.transitions import require_record
from funnel.exceptions import CommunicationRefused, ValidationError
from funnel.model.evidence import Evidence
from funnel.model.records import Lead, Prospect
from funnel.model.touch import Direction, Reach, Touch
from funnel.spec.communication import sender_kind
from funnel.spec.definition import FunnelDefinition

R = TypeVar("R", bound=Lead | Prospect)


def add_touch(
    record: R,
    touch: Touch,
    *,
    funnel: FunnelDefinition | None = None,
    imported: bool = False,
) -> R:
    """
    Return *record* with *touch* added, if the funnel's rules and the consent allow it.

    A touch is added now: it must not be dated before the record's latest change (its
    creation, a touch, a finding, a stage change, a conversion, a close or a merge);
    one at the same time is fine. Inbound touches are otherwise always allowed. An
    outbound touch must pass :func:`check_touch`: the contact's consent
    (``do_not_contact`` refuses every outbound touch, ``opted_out`` every mass one)
    and the communication rules of *funnel* (default: :data:`funnel.DEFAULT_FUNNEL`)
    for the record's stage. Touches stay ordered by time.

    Args:
        record: The lead or prospect.
        touch: The touch.
        funnel: Whose communication rules apply.
        imported: ``True`` for a touch that already happened elsewhere (an import
            of past touches from a CRM or a mailbox): it is recorded as given, at
            its own time (before the record's latest change too), without the
            communication and consent rules, which govern what is sent from now on.
            Never use it to send.

    Raises:
        ChronologyError: without *imported*, the touch is dated before the record's
            latest change; the message names the record, the touch and its ``at``.
        CommunicationRefused: the rules refuse the touch; ``reasons`` says why.
        ValidationError: *touch* is no :class:`~funnel.Touch`, or it breaks the
            record's touches (a duplicate id, a reply to an unknown touch).

    >>> from datetime import datetime, timezone
    >>> from funnel import Consent, Contact, Lead, Touch
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> lead = Lead(id="L1", contact=Contact(name="Ada", consent=Consent(opted_out=True)),
    ...             source="list", created_at=at)
    >>> news = Touch(id="n1", at=at, direction="outbound", channel="email",
    ...              reach="mass", sender="marketing:newsletter")
    >>> add_touch(lead, news)
    Traceback (most recent call last):
    ...
    funnel.exceptions.CommunicationRefused: touch refused:
      - lead 'L1' opted out of mass communication (opted_out)
    >>> len(add_touch(lead, news, imported=True).touches)   # it was sent last year
    1

    A touch dated before the record's latest change is a past touch: record it with
    ``imported=True``.

    >>> from datetime import timedelta
    >>> form = Touch(id="f1", at=at, direction="inbound", channel="form")
    >>> add_touch(lead, attrs.evolve(form, at=at - timedelta(days=30)))
    Traceback (most recent call last):
    ...
    funnel.exceptions.ChronologyError: Lead 'L1' cannot add touch 'f1': touch.at
    (2026-01-30T00:00:00+00:00) precedes its latest change (2026-03-01T00:00:00+00:00);
    record a past touch with imported=True
      - touch.at must not precede 2026-03-01T00:00:00+00:00
    """
    require_record(record)
    if not isinstance(touch, Touch):
        raise ValidationError(
            f"add_touch() takes a Touch, got {type(touch).__name__}", field="touch"
        )
    if not isinstance(imported, bool):
        raise ValidationError(
            f"imported must be True or False, got {type(imported).__name__}", field="imported"
        )
    if not imported:
        _check_time(record, touch)
        reasons = check_touch(record, touch, funnel=_rules(funnel))
        if reasons:
            raise CommunicationRefused(record=record, touch=touch, reasons=reasons)
    return attrs.evolve(record, touches=(*record.touches, touch))


def _check_time(record: Lead | Prospect, touch: Touch) -> None:
    """Refuse *touch* if it is dated before *record*'s latest change."""
    from funnel.engine.dedupe import refuse_before_latest_change  # it imports this module

    shown = repr(touch.id) if is_name(touch.id) else "(id not shown: not a name)"
    refuse_before_latest_change(
        record,
        touch.at,
        event="add_touch",
        doing=f"add touch {shown}",
        field="touch.at",
        hint="; record a past touch with imported=True",
    )


def _rules(funnel: object) -> FunnelDefinition:
    """*funnel*, or the default funnel for ``None`` (imported here: it imports this module)."""
    if isinstance(funnel, FunnelDefinition):
        return funnel
    from funnel.engine.funnel import resolve_funnel

    return resolve_funnel(funnel)


def add_evidence(record: R, *evidence: Evidence) -> R:
    """Return *record* with *evidence* added (evidence stays ordered by time)."""
    require_record(record)
    return attrs.evolve(record, evidence=(*record.evidence, *evidence))


def _who(record: Lead | Prospect) -> str:
    return f"{type(record).__name__.lower()} {record.id!r}"


def check_touch(
    record: Lead | Prospect, touch: Touch, *, funnel: FunnelDefinition
) -> tuple[str, ...]:
    """
    The reasons the funnel's rules refuse *touch* to *record* (empty: allowed).

    Inbound touches are always allowed. For outbound touches, consent is
    checked first (``do_not_contact`` refuses everything, ``opted_out``
    refuses mass touches), then the rules in force for the record's stage.

    >>> from datetime import datetime, timezone
    >>> from funnel import DEFAULT_FUNNEL, Contact, Lead, Touch
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="list", created_at=at)
    >>> call = Touch(id="c1", at=at, direction="outbound", channel="call",
    ...              reach="personal", sender="rep:alice")
    >>> for reason in check_touch(lead, call, funnel=DEFAULT_FUNNEL):
    ...     print(reason.replace(", which", ",\\nwhich").replace("; ", ";\\n"))
    lead 'L1' is in lead stage 'acquired' (level raw),
    which allows only: mass from automation or marketing;
    this touch is personal from rep ('rep:alice')
    """
    require_record(record)
    if not isinstance(touch, Touch):
        raise ValidationError(f"touch must be a Touch, got {type(touch).__name__}", field="touch")
    if touch.direction is Direction.INBOUND:
        return ()
    reasons: list[str] = []
    consent = record.contact.consent
    if consent.do_not_contact:
        reasons.append(f"{_who(record)} asked not to be contacted (do_not_contact)")
    elif consent.opted_out and touch.reach is Reach.MASS:
        reasons.append(f"{_who(record)} opted out of mass communication (opted_out)")
    stage = record.stage
    try:
        level = funnel.level_of(stage)
    except KeyError:
        reasons.append(f"{_who(record)} is in stage {stage!r}, which funnel {funnel.name!r} lacks")
        return tuple(reasons)
    lead_level = record.level if isinstance(record, Lead) else None
    rules = funnel.communication.rules_for(stage, level, lead_level)
    if not any(rule.allows(touch) for rule in rules):
        kind = sender_kind(touch.sender)
        sent = f"{touch.reach.value} from {kind or 'a sender of unknown kind'}"
        if touch.sender is not None:
            sent += f" ({touch.sender!r})"
        allowed = "; ".join(str(r) for r in rules) or "no outbound touch"
        where = f"{level.value} stage {stage!r}"
        if lead_level is not None and stage not in funnel.communication.stages:
            where += f" (level {lead_level.value})"
        reasons.append(
            f"{_who(record)} is in {where}, which allows only: {allowed}; this touch is {sent}"
        )
    return tuple(reasons)


def plan_touch(record: R, touch: Touch, *, funnel: FunnelDefinition) -> R:
    """
    :func:`add_touch` with the rules of *funnel* (what :meth:`funnel.Funnel.plan_touch` runs).

    Raises:
        CommunicationRefused: with ``record``, ``touch`` and every reason.
    """
    return add_touch(record, touch, funnel=funnel)
