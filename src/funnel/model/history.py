"""Stage history: every change a record went through, and its replay."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from funnel._base.fields import shown, text
from funnel._base.markup import short_repr
from funnel._base.privacy import mask_text
from funnel._base.time import aware, to_utc
from funnel.exceptions import ValidationError


@attrs.frozen(kw_only=True)
class StageChange:
    """
    One transition a record took.

    Attributes:
        from_stage: The stage before.
        to_stage: The stage after.
        event: The event that caused it.
        at: When (timezone-aware).
        why: The reason given, if any (required to lose a deal).
    """

    from_stage: str = attrs.field(validator=text(blank=False))
    to_stage: str = attrs.field(validator=text(blank=False))
    event: str = attrs.field(validator=text(blank=False))
    at: datetime = attrs.field(converter=to_utc, validator=aware)
    why: str | None = attrs.field(default=None, repr=mask_text, validator=text(optional=True))

    # Bounded: a stage or event name cannot make it long.
    __repr__ = short_repr


def check_history(history: tuple[StageChange, ...], stage: str, owner: str) -> None:
    """
    Check that *history* is a chain in time order that ends in *stage*.

    Raises:
        ValidationError: naming *owner* and the first broken link (``field="history"``).
    """
    previous: StageChange | None = None
    for i, change in enumerate(history):
        if previous is not None:
            if change.from_stage != previous.to_stage:
                raise ValidationError(
                    f"{owner}: history[{i}] starts at {shown(change.from_stage)} but "
                    f"history[{i - 1}] ended at {shown(previous.to_stage)}",
                    record=owner,
                    field="history",
                )
            if change.at < previous.at:
                raise ValidationError(
                    f"{owner}: history[{i}] at {change.at.isoformat()} is earlier than "
                    f"history[{i - 1}] at {previous.at.isoformat()}",
                    record=owner,
                    field="history",
                )
        previous = change
    if previous is not None and previous.to_stage != stage:
        raise ValidationError(
            f"{owner}: stage is {shown(stage)} but history ends at {shown(previous.to_stage)}",
            record=owner,
            field="stage",
        )


def replay_history(history: Iterable[StageChange], start: str) -> str:
    """
    Follow *history* from *start* and return the final stage.

    Raises:
        ValidationError: a change does not start where the previous one ended.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> change = StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=at)
    >>> replay_history([change], "acquired")
    'mql'
    """
    stage = start
    for i, change in enumerate(history):
        if change.from_stage != stage:
            raise ValidationError(
                f"history[{i}] starts at {shown(change.from_stage)}, expected {shown(stage)}",
                field="history",
            )
        stage = change.to_stage
    return stage


def last_change_at(history: tuple[StageChange, ...]) -> datetime | None:
    """The time of the latest change, or ``None``."""
    return history[-1].at if history else None
