"""Evidence: what is known about one qualification criterion, from whom, and when."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar, Literal, TypeAlias

import attrs

from funnel._base.fields import member, text, to_member
from funnel._base.markup import label_repr, short_repr
from funnel._base.privacy import mask_text
from funnel._base.time import aware, to_utc

__all__ = ("Evidence", "Verdict", "VerdictName", "evidence_order", "sort_evidence")


class Verdict(enum.StrEnum):
    """The state of one criterion: three-valued, because "not asked yet" is not "no"."""

    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


#: The values :class:`Verdict` accepts, for type checkers.
VerdictName: TypeAlias = Literal["met", "not-met", "unknown"]


def _verdict(value: Verdict | VerdictName) -> Verdict:
    return to_member(Verdict, value)


@attrs.frozen(kw_only=True)
class Evidence:
    """
    A finding about one criterion.

    Attributes:
        criterion: The criterion key (e.g. ``"budget"``) or one of its aliases.
        verdict: Met, not met, or unknown.
        source: Who or what found it: ``"rep:alice"``, ``"rule:icp"``,
            ``"call:t7"``, ``"form:pricing"``.
        at: When it was found (timezone-aware).
        note: What was said or seen, e.g. ``"budget approved for Q3"``.

    >>> from datetime import datetime, timezone
    >>> Evidence(criterion="budget", verdict="met", source="rep:alice",
    ...          at=datetime(2026, 2, 1, tzinfo=timezone.utc)).verdict
    <Verdict.MET: 'met'>

    Errors name the evidence by its criterion, and the field:

    >>> Evidence(criterion="budget", verdict="maybe", source="rep:alice",
    ...          at=datetime(2026, 2, 1, tzinfo=timezone.utc))
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Evidence 'budget': verdict must be one of 'met', \
'not-met', 'unknown', got 'maybe'
    """

    _label_field: ClassVar[str] = "criterion"

    criterion: str = attrs.field(validator=text(blank=False))
    verdict: Verdict = attrs.field(converter=_verdict, validator=member(Verdict))
    source: str = attrs.field(repr=label_repr, validator=text(blank=False))
    at: datetime = attrs.field(converter=to_utc, validator=aware)
    note: str | None = attrs.field(default=None, repr=mask_text, validator=text(optional=True))

    # Bounded, with addresses and phone numbers in the source masked.
    __repr__ = short_repr


#: Among findings at the same instant, the order they count in: the last one decides, so
#: a not-met finding outweighs a met one and both outweigh unknown (the cautious reading).
_VERDICT_RANK = {Verdict.UNKNOWN: 0, Verdict.MET: 1, Verdict.NOT_MET: 2}


def evidence_order(ev: Evidence) -> tuple[object, ...]:
    """
    The total order of findings: by time, then verdict (unknown, met, not-met), criterion,
    source and note, so that no order of input decides which finding counts.

    The latest finding on a criterion decides it (:func:`funnel.qualify`); at the same
    instant the not-met one is the latest.
    """
    note = ev.note
    return (
        ev.at,
        _VERDICT_RANK.get(ev.verdict, 3),
        ev.criterion,
        ev.source,
        note is not None,
        note or "",
    )


def sort_evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """*items* as a tuple in :func:`evidence_order`."""
    return tuple(sorted(items, key=evidence_order))
