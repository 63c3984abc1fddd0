"""
Touches: single contacts between the company and a person, in either direction.

The record of touches is the only input to engagement (see
:mod:`funnel.model.engagement`); nobody sets "two-way" by hand.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, TypeAlias, cast

import attrs

from funnel._base.fields import boolean, member, record_label, text, to_member
from funnel._base.items import typed_tuple
from funnel._base.markup import label_repr, short_repr
from funnel._base.privacy import mask_text
from funnel._base.time import aware, to_utc
from funnel.exceptions import ValidationError

__all__ = (
    "AUTOMATED_SENDERS",
    "LIVE_CHANNELS",
    "REPLY_CHANNELS",
    "Channel",
    "ChannelName",
    "Direction",
    "DirectionName",
    "Reach",
    "ReachName",
    "Touch",
    "check_touches",
    "sort_touches",
)


class Direction(enum.StrEnum):
    """Who started the touch."""

    INBOUND = "inbound"
    """The person reached the company (form fill, email in, reply, call in)."""
    OUTBOUND = "outbound"
    """The company reached the person (campaign, email, call out)."""


class Channel(enum.StrEnum):
    """How the touch happened."""

    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    FORM = "form"
    CHAT = "chat"
    SOCIAL = "social"
    EVENT = "event"
    AD = "ad"
    MAIL = "mail"


class Reach(enum.StrEnum):
    """Whether the touch was sent to many or to one."""

    MASS = "mass"
    """Automated or bulk: newsletters, nurture sequences, ads, webinars."""
    PERSONAL = "personal"
    """Individual or small-group, from a named person."""


#: The values :class:`Direction` accepts, for type checkers.
DirectionName: TypeAlias = Literal["inbound", "outbound"]
#: The values :class:`Channel` accepts, for type checkers.
ChannelName: TypeAlias = Literal[
    "email", "call", "meeting", "form", "chat", "social", "event", "ad", "mail"
]
#: The values :class:`Reach` accepts, for type checkers.
ReachName: TypeAlias = Literal["mass", "personal"]

#: Channels on which a touch can be a live, two-way conversation.
LIVE_CHANNELS = frozenset({Channel.CALL, Channel.MEETING})

#: Conversational channels: an inbound, personal touch on one of them can be a
#: reply to the company (see :mod:`funnel.model.engagement`). Forms, ads and
#: events are not: they are calls to action, however they are linked.
REPLY_CHANNELS = frozenset({Channel.EMAIL, Channel.CHAT, Channel.SOCIAL, Channel.MAIL})


def _direction(value: Direction | DirectionName) -> Direction:
    return to_member(Direction, value)


def _channel(value: Channel | ChannelName) -> Channel:
    return to_member(Channel, value)


#: Sender kinds (the part of ``Touch.sender`` before the colon) of automated sends: an
#: outbound touch from one of them must state its reach, never default to personal.
AUTOMATED_SENDERS = frozenset({"automation", "marketing", "campaign"})


class _Unstated(enum.Enum):
    """The default of ``Touch.reach``: not stated (``__attrs_post_init__`` decides)."""

    UNSTATED = "unstated"


_UNSTATED = _Unstated.UNSTATED


def _reach(value: Reach | ReachName) -> Reach:
    return to_member(Reach, value)


def _stated_reach(instance: object, attribute: attrs.Attribute[Reach], value: object) -> None:
    if value is not _UNSTATED:
        member(Reach)(instance, attribute, value)


def _sender_kind(sender: str | None) -> str | None:
    """The part of *sender* before its first colon (as the communication rules read it)."""
    if sender is None or ":" not in sender:
        return None
    return sender.split(":", 1)[0].strip() or None


@attrs.frozen(kw_only=True)
class Touch:
    """
    One contact between the company and a person.

    Attributes:
        id: Unique within the record that holds the touch.
        at: When it happened (timezone-aware).
        direction: Inbound (from the person) or outbound (from the company).
        channel: Email, call, meeting, form, ...
        reach: Mass (automated, bulk) or personal (from one rep). Left out, it is
            personal, except for an outbound touch from an automated sender (a sender
            kind in :data:`AUTOMATED_SENDERS`: ``"automation:..."``,
            ``"marketing:..."``, ``"campaign:..."``), which must state it.
        sender: Who sent it: a rep's name, a campaign id, or the person.
        in_reply_to: The id of the touch this one answers, if any.
        connected: For calls and meetings: the conversation actually took
            place (the call was answered, the meeting was held).
        note: Free text.

    >>> from datetime import datetime, timezone
    >>> mail = Touch(id="t1", at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...              direction="outbound", channel="email", reach="mass", sender="newsletter")
    >>> mail.direction, mail.reach
    (<Direction.OUTBOUND: 'outbound'>, <Reach.MASS: 'mass'>)

    Every invalid value raises :class:`~funnel.exceptions.ValidationError` naming
    the touch and the field (text values by their type only):

    >>> Touch(id="t2", at=mail.at, direction="sideways", channel="email")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Touch 't2': direction must be one of 'inbound', \
'outbound', got 'sideways'

    An automated send never passes for a personal one by default:

    >>> Touch(id="t3", at=mail.at, direction="outbound", channel="email",
    ...       sender="automation:nurture")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Touch 't3': an outbound touch from an automated \
sender (kind 'automation') must state its reach: reach='mass' or reach='personal'
    """

    id: str = attrs.field(repr=label_repr, validator=text(blank=False))
    at: datetime = attrs.field(converter=to_utc, validator=aware)
    direction: Direction = attrs.field(converter=_direction, validator=member(Direction))
    channel: Channel = attrs.field(converter=_channel, validator=member(Channel))
    reach: Reach = attrs.field(
        converter=_reach,
        validator=_stated_reach,
        default=cast(Reach, _UNSTATED),
    )
    sender: str | None = attrs.field(default=None, repr=label_repr, validator=text(optional=True))
    in_reply_to: str | None = attrs.field(
        default=None, repr=label_repr, validator=text(optional=True, blank=False)
    )
    connected: bool = attrs.field(default=False, validator=boolean())
    note: str | None = attrs.field(default=None, repr=mask_text, validator=text(optional=True))

    # Bounded, with addresses and phone numbers in the labels masked.
    __repr__ = short_repr

    def __attrs_post_init__(self) -> None:
        if cast(object, self.reach) is _UNSTATED:  # not stated
            kind = _sender_kind(self.sender)
            if self.direction is Direction.OUTBOUND and kind in AUTOMATED_SENDERS:
                label = record_label(self)
                raise ValidationError(
                    f"{label}: an outbound touch from an automated sender (kind {kind!r}) "
                    "must state its reach: reach='mass' or reach='personal'",
                    record=label,
                    field="reach",
                    allowed=tuple(r.value for r in Reach),
                )
            object.__setattr__(self, "reach", Reach.PERSONAL)
        if self.connected and self.channel not in LIVE_CHANNELS:
            label = record_label(self)
            raise ValidationError(
                f"{label}: connected=True only applies to calls and meetings, "
                f"not {self.channel.value}",
                record=label,
                field="connected",
            )
        if self.in_reply_to == self.id:
            label = record_label(self)
            raise ValidationError(
                f"{label} cannot reply to itself", record=label, field="in_reply_to"
            )


def check_touches(touches: tuple[Touch, ...], owner: str | None = None) -> None:
    """
    Check touches as a whole: unique ids, and replies that point back in time.

    This is the one check for a set of touches: records run it when they are
    made, and :func:`~funnel.model.engagement.assess_engagement` runs it on
    what it is given. Messages name touch ids and times, never personal data.

    Args:
        touches: The touches, in any order.
        owner: The record that holds them (``"Lead 'L1'"``), if any.

    Raises:
        ValidationError: naming *owner*, the offending touch ids, with
            ``field="touches"``.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> check_touches((Touch(id="r", at=at, direction="inbound", channel="email",
    ...                      in_reply_to="m9"),))
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: touch 'r' replies to unknown touch 'm9'
    """
    prefix = f"{owner}: " if owner else ""

    def fail(message: str) -> ValidationError:
        return ValidationError(prefix + message, record=owner, field="touches")

    by_id: dict[str, Touch] = {}
    for touch in touches:
        if touch.id in by_id:
            raise fail(f"duplicate touch id {touch.id!r}")
        by_id[touch.id] = touch
    for touch in touches:
        if touch.in_reply_to is None:
            continue
        original = by_id.get(touch.in_reply_to)
        if original is None:
            raise fail(f"touch {touch.id!r} replies to unknown touch {touch.in_reply_to!r}")
        if original.at > touch.at:
            raise fail(
                f"touch {touch.id!r} at {touch.at.isoformat()} replies to "
                f"{original.id!r}, which is later ({original.at.isoformat()})"
            )


def sort_touches(touches: Iterable[Touch]) -> tuple[Touch, ...]:
    """Return touches as a tuple ordered by time, then id (an attrs converter)."""
    return tuple(sorted(typed_tuple(touches, Touch, field="touches"), key=lambda t: (t.at, t.id)))
