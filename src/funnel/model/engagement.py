"""
Engagement: none, one-way or two-way, derived from the touches alone.

The rules, applied to a record's touches:

* **none** – there is no touch at all.
* **two-way** – a dialogue exists: either the person answered the company
  (a *reply*, below), or a personal call or meeting actually took place
  (``connected=True``, ``reach="personal"``, in either direction). An
  automated call (a robo-dialer) or a mass meeting (a webinar) is one-way
  even when it connected: nobody talked with the person.
* **one-way** – anything else: mass mailings, outbound emails nobody
  answered, form fills, sign-ups, ad clicks and emails the person sent that
  the company has not yet turned into a conversation.

A touch is a **reply** when all of these hold:

1. it is *inbound* (``direction="inbound"``);
2. it is *personal* (``reach="personal"``): an automated inbound touch
   (``reach="mass"``: a tracked click, an auto-responder, a bot) is not a
   person answering;
3. it is on a *written, conversational* channel (:data:`REPLY_CHANNELS`):
   ``email``, ``chat``, ``social`` or ``mail``. A ``form`` fill, an ``ad``
   click or an ``event`` sign-up is a call to action, not an answer; a
   ``call`` or ``meeting`` counts only when it took place (above), so a
   missed call back is not a dialogue;
4. its ``in_reply_to`` names an *outbound* touch of the same record (mass or
   personal: answering a newsletter in person is a reply).

A form fill that names a campaign mail in ``in_reply_to``, or any number of
form fills and mass mailings, is therefore one-way.

The touches must be consistent as a record's are (see
:func:`~funnel.model.touch.check_touches`): unique ids, and every
``in_reply_to`` naming a touch of the list that is not later than the reply.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from funnel.model.touch import (
    LIVE_CHANNELS,
    REPLY_CHANNELS,
    Direction,
    Reach,
    Touch,
    check_touches,
    sort_touches,
)

__all__ = (
    "REPLY_CHANNELS",
    "Engagement",
    "EngagementFinding",
    "assess_engagement",
    "can_be_reply",
    "engagement",
    "is_dialogue",
)


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


def can_be_reply(touch: Touch) -> bool:
    """
    Whether *touch* is a person answering in their own words: inbound, personal and
    on a conversational channel (:data:`REPLY_CHANNELS`), whatever it links to.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> can_be_reply(Touch(id="f", at=at, direction="inbound", channel="form", in_reply_to="m"))
    False
    >>> can_be_reply(Touch(id="e", at=at, direction="inbound", channel="email", in_reply_to="m"))
    True
    """
    return (
        touch.direction is Direction.INBOUND
        and touch.reach is Reach.PERSONAL
        and touch.channel in REPLY_CHANNELS
    )


def is_dialogue(touch: Touch, by_id: dict[str, Touch]) -> bool:
    """Whether *touch* on its own proves two-way communication."""
    if touch.connected and touch.channel in LIVE_CHANNELS:
        return touch.reach is Reach.PERSONAL
    if can_be_reply(touch) and touch.in_reply_to is not None:
        original = by_id.get(touch.in_reply_to)
        return original is not None and original.direction is Direction.OUTBOUND
    return False


def assess_engagement(touches: Iterable[Touch]) -> EngagementFinding:
    """
    Derive the engagement level from touches, with the touch that shows it.

    Raises:
        ValidationError: the touches are not consistent (duplicate ids, a reply
            to an unknown touch or to a later one), as
            :func:`~funnel.model.touch.check_touches` says.

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> mail = Touch(id="m1", at=t0, direction="outbound", channel="email", reach="mass")
    >>> assess_engagement([mail]).level
    <Engagement.ONE_WAY: 'one-way'>
    >>> reply = Touch(id="r1", at=t0, direction="inbound", channel="email", in_reply_to="m1")
    >>> assess_engagement([mail, reply]).reason
    "inbound email 'r1' answered the company's touch 'm1'"
    """
    ordered = sort_touches(touches)
    check_touches(ordered)
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
    for touch in ordered:
        if touch.in_reply_to is None or touch.direction is not Direction.INBOUND:
            continue
        if by_id[touch.in_reply_to].direction is not Direction.OUTBOUND:
            continue
        why = (
            "it is automated (reach mass)"
            if touch.reach is Reach.MASS
            else f"{touch.channel.value} is not a conversational channel"
        )
        reason += f"; {touch.channel.value} {touch.id!r} names {touch.in_reply_to!r} but {why}"
    return EngagementFinding(Engagement.ONE_WAY, ordered[-1], reason)


def engagement(touches: Iterable[Touch]) -> Engagement:
    """Return only the engagement level of *touches* (see :func:`assess_engagement`)."""
    return assess_engagement(touches).level
