"""Money values: Decimal, with floats taken by their shortest repr (0.1 stays 0.1)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from funnel._base.fields import record_label, shown
from funnel.exceptions import ValidationError


def to_decimal(
    value: object, what: str, *, record: str | None = None, field: str | None = None
) -> Decimal:
    """
    *value* as a finite Decimal; floats go through ``repr`` so ``0.1`` stays ``0.1``.

    Raises:
        ValidationError: not a number, a bool, or not finite (NaN, infinity), naming *what*
            (and carrying *record* and *field*).
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValidationError(
            f"{what} must be a number, got {type(value).__name__}", record=record, field=field
        )
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        # Only a string fails here, and it may be personal data in the wrong field.
        raise ValidationError(
            f"{what} must be a number, got {shown(value)}", record=record, field=field
        ) from None
    if not result.is_finite():
        raise ValidationError(
            f"{what} must be a finite number, got {result}", record=record, field=field
        )
    return result


def _convert(value: object, instance: Any, field: attrs.Attribute[Any]) -> Decimal | None:
    if value is None:
        return None
    label = record_label(instance)
    return to_decimal(value, f"{label}: {field.name}", record=label, field=field.name)


#: An attrs converter for optional money fields that names the record and field.
optional_money = attrs.Converter(_convert, takes_self=True, takes_field=True)
