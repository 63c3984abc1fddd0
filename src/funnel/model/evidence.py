"""Evidence: what is known about one qualification criterion, from whom, and when."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from funnel._time import aware


class Verdict(enum.StrEnum):
    """The state of one criterion: three-valued, because "not asked yet" is not "no"."""

    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


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
    """

    criterion: str = attrs.field(validator=attrs.validators.min_len(1))
    verdict: Verdict = attrs.field(converter=Verdict)
    source: str = attrs.field(validator=attrs.validators.min_len(1))
    at: datetime = attrs.field(validator=aware)
    note: str | None = None
