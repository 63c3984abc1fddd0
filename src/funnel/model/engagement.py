"""
Engagement: none, one-way or two-way, derived from the touches alone.

The rules, applied to a record's touches:

* **none** – there is no touch at all.
* **two-way** – a dialogue exists: either the person answered the company
  (an *inbound* touch whose ``in_reply_to`` names an *outbound* touch), or a
  call or meeting actually took place (``connected=True``).
* **one-way** – anything else: mass mailings, outbound emails nobody
  answered, form fills and emails the person sent that the company has not
  yet turned into a conversation.

A form fill or a mass mailing is therefore one-way however many there are.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from funnel.model.touch import LIVE_CHANNELS, Direction, Touch


class Engagement(enum.StrEnum):
    """The level of communication with a person."""

    NONE = "none"
    ONE_WAY = "one-way"
    TWO_WAY = "two-way"


@attrs.frozen
class EngagementFinding:
    """
    The engagement level and the touch that proves it.

    Attributes:
        level: none, one-way or two-way.
        touch: For two-way, the first touch that made it two-way; for
            one-way, the latest touch; ``None`` for none.
        reason: One sentence saying why.
    """

    level: Engagement
    touch: Touch | None
    reason: str


def is_dialogue(touch: Touch, by_id: dict[str, Touch]) -> bool:
    """Whether *touch* on its own proves two-way communication."""
    if touch.connected and touch.channel in LIVE_CHANNELS:
        return True
    if touch.direction is Direction.INBOUND and touch.in_reply_to is not None:
        original = by_id.get(touch.in_reply_to)
        return original is not None and original.direction is Direction.OUTBOUND
    return False


def assess_engagement(touches: Iterable[Touch]) -> EngagementFinding:
    """
    Derive the engagement level from touches, with the touch that shows it.

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> mail = Touch(id="m1", at=t0, direction="outbound", channel="email", reach="mass")
    >>> assess_engagement([mail]).level
    <Engagement.ONE_WAY: 'one-way'>
    >>> reply = Touch(id="r1", at=t0, direction="inbound", channel="email", in_reply_to="m1")
    >>> assess_engagement([mail, reply]).reason
    "inbound email 'r1' answered the company's touch 'm1'"
    """
    ordered = sorted(touches, key=lambda t: (t.at, t.id))
    if not ordered:
        return EngagementFinding(Engagement.NONE, None, "no touches yet")
    by_id = {t.id: t for t in ordered}
    for touch in ordered:
        if is_dialogue(touch, by_id):
            if touch.connected:
                reason = f"{touch.channel.value} {touch.id!r} took place ({touch.direction.value})"
            else:
                reason = (
                    f"inbound {touch.channel.value} {touch.id!r} answered the company's "
                    f"touch {touch.in_reply_to!r}"
                )
            return EngagementFinding(Engagement.TWO_WAY, touch, reason)
    inbound = sum(t.direction is Direction.INBOUND for t in ordered)
    outbound = len(ordered) - inbound
    reason = (
        f"{len(ordered)} touch(es), {outbound} outbound and {inbound} inbound, "
        "but no reply to the company and no call or meeting that took place"
    )
    return EngagementFinding(Engagement.ONE_WAY, ordered[-1], reason)


def engagement(touches: Iterable[Touch]) -> Engagement:
    """Return only the engagement level of *touches* (see :func:`assess_engagement`)."""
    return assess_engagement(touches).level
