"""Time helpers: funnel accepts only timezone-aware datetimes, passed in by the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from funnel._fields import record_label
from funnel.exceptions import ValidationError


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
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError(
            f"{what} must be timezone-aware, got naive {value.isoformat()}; "
            "pass e.g. datetime(..., tzinfo=timezone.utc)",
            record=record,
            field=field,
        )
    return value


def aware(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: the field holds an aware datetime."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
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
