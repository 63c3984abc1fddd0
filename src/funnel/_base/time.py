"""
Time helpers: funnel accepts only timezone-aware datetimes, passed in by the caller.

Every datetime a record stores is kept in UTC (:func:`to_utc`, the converter of
every datetime field): the same instant given in any zone, on either side of a
daylight-saving change (``fold``), makes the same record, sorts the same way and
dumps the same text. Python compares two datetimes that share a ``tzinfo`` by
their wall clock, ignoring ``fold``; in UTC the wall clock is the instant. The
``at=`` of every engine call is converted the same way (:func:`utc`) before it is
compared with stored times. The zone a time was given in is not kept: show times
in a zone with ``value.astimezone(zone)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from funnel._base.fields import record_label
from funnel.exceptions import ValidationError

#: Within these (naive) bounds every offset converts to UTC; outside, the full check runs.
MIN_SAFE = datetime(1, 1, 2)  # noqa: DTZ001 - compared with naive wall-clock values only
MAX_SAFE = datetime(9999, 12, 30)  # noqa: DTZ001


def require_aware(
    value: object, what: str, *, record: str | None = None, field: str | None = None
) -> datetime:
    """
    Return *value* if it is a timezone-aware datetime, else raise.

    Raises:
        ValidationError: *value* is not a datetime (named by its type only), or
            it is naive (no ``tzinfo``), naming *what* (and carrying *record*
            and *field*).
    """
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{what} must be a datetime, got {type(value).__name__}", record=record, field=field
        )
    try:
        offset = value.utcoffset() if value.tzinfo is not None else None
    except Exception:  # a tzinfo of your own whose utcoffset() raises or returns junk
        raise ValidationError(
            f"{what} has a tzinfo ({type(value.tzinfo).__name__}) whose utcoffset() fails; "
            "use datetime.timezone or zoneinfo.ZoneInfo",
            record=record,
            field=field,
        ) from None
    if offset is None:
        raise ValidationError(
            f"{what} must be timezone-aware, got naive {value.isoformat()}; "
            "pass e.g. datetime(..., tzinfo=timezone.utc)",
            record=record,
            field=field,
        )
    if offset.seconds % 60 or offset.microseconds:
        raise ValidationError(
            f"{what} has a UTC offset with seconds ({offset}); offsets are whole minutes "
            "(ISO 8601, databases)",
            record=record,
            field=field,
        )
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(
            f"{what} is outside the datetimes that can be expressed in UTC",
            record=record,
            field=field,
        ) from None
    return value


def to_utc(value: datetime) -> datetime:
    """
    *value* in UTC when it is an aware datetime (an attrs converter); anything else unchanged.

    A value the :func:`aware` validator refuses (not a datetime, naive, an offset
    with seconds, a ``tzinfo`` whose ``utcoffset()`` fails, a time outside what
    UTC can express) is passed through, so the validator refuses it with its
    message.

    >>> from zoneinfo import ZoneInfo
    >>> to_utc(datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")))
    datetime.datetime(2026, 10, 25, 1, 30, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, datetime):
        tz = value.tzinfo
        if tz is UTC or tz is None:
            return value
        try:
            offset = value.utcoffset()
            if offset is not None and not (offset.seconds % 60 or offset.microseconds):
                return value.astimezone(UTC)
        except Exception:  # refused by the validator, with the record's label
            return value
    return value


def optional_utc(value: datetime | None) -> datetime | None:
    """:func:`to_utc` for a field that may be ``None`` (an attrs converter)."""
    return None if value is None else to_utc(value)


def utc(
    value: object, what: str, *, record: str | None = None, field: str | None = None
) -> datetime:
    """
    :func:`require_aware`, then the value in UTC: ``at=`` arguments, compared with stored times.

    Raises:
        ValidationError: as :func:`require_aware`.
    """
    checked = require_aware(value, what, record=record, field=field)
    return checked if checked.tzinfo is UTC else checked.astimezone(UTC)


def aware(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: the field holds an aware datetime."""
    if isinstance(value, datetime):
        try:
            offset = value.utcoffset()
        except Exception:  # refused below, with the record's label
            offset = None
        if (
            offset is not None
            and not (offset.seconds % 60 or offset.microseconds)
            and MIN_SAFE < value.replace(tzinfo=None) < MAX_SAFE
        ):
            return  # only a refused value costs the record label
    require_aware(
        value,
        f"{type(instance).__name__}.{attribute.name}",
        record=record_label(instance),
        field=attribute.name,
    )


def optional_aware(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: the field is ``None`` or an aware datetime."""
    if value is not None:
        aware(instance, attribute, value)
