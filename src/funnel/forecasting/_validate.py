"""
Argument checks shared by the public forecasting functions.

A wrong-typed argument (``score(5, ...)``, ``estimate_chain(5)``) is a
:class:`~funnel.exceptions.ValidationError` naming the argument, never a bare
``TypeError`` or ``AttributeError`` from deep inside. Values are named by their
type only, so no personal data reaches a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from funnel._base.time import require_aware
from funnel.exceptions import ValidationError


def type_name(value: object) -> str:
    """The type of *value*, for a message (never the value itself)."""
    return type(value).__name__


def check_datetime(value: object, name: str) -> datetime:
    """*value* as an aware datetime, or a ValidationError naming *name*."""
    return require_aware(value, name, field=name)


def check_optional_datetime(value: object, name: str) -> datetime | None:
    """None, or an aware datetime."""
    return None if value is None else check_datetime(value, name)


def check_timedelta(value: object, name: str) -> timedelta:
    """*value* if it is a timedelta (sign not checked), else a ValidationError."""
    if not isinstance(value, timedelta):
        raise ValidationError(
            f"{name} must be a datetime.timedelta, got {type_name(value)}", field=name
        )
    return value


def check_optional_timedelta(value: object, name: str) -> timedelta | None:
    """None, or a timedelta."""
    return None if value is None else check_timedelta(value, name)


#: The largest count (runs, draws, samples) or seed an argument may hold.
LARGEST = 2**63 - 1


def check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """
    *value* if it is an int (not a bool) of at least *minimum* and at most :data:`LARGEST`
    in size, else a ValidationError (which never prints a huge value).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an int, got {type_name(value)}", field=name)
    if abs(value) > LARGEST:
        raise ValidationError(f"{name} is out of range (more than 2**63)", field=name)
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {value}", field=name)
    return value


def check_number(value: object, name: str) -> float:
    """*value* as a float if it is a real number (not a bool), else a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number, got {type_name(value)}", field=name)
    try:
        return float(value)
    except OverflowError:
        raise ValidationError(f"{name} is too large for a float", field=name) from None


def check_mapping(value: object, name: str) -> Mapping[Any, Any]:
    """*value* if it is a mapping, else a ValidationError."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be a mapping, got {type_name(value)}", field=name)
    return value


def check_optional_mapping(value: object, name: str) -> Mapping[Any, Any] | None:
    """None, or a mapping."""
    return None if value is None else check_mapping(value, name)


def check_iterable(value: object, name: str) -> Iterable[Any]:
    """*value* if it is iterable and not a string, else a ValidationError."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{name} must be an iterable (a list or similar), got {type_name(value)}",
            field=name,
        )
    return value


def check_collection(value: object, name: str) -> frozenset[str] | None:
    """None, or a collection of stage names as a frozenset."""
    if value is None:
        return None
    items = list(check_iterable(value, name))
    bad = [type_name(s) for s in items if not isinstance(s, str)]
    if bad:
        raise ValidationError(f"{name} must hold stage names (str), got {bad[0]}", field=name)
    return frozenset(items)


def check_histories(value: object, name: str = "histories") -> Mapping[str, Any]:
    """
    *value* if it is a mapping of lead id -> a list of ``(stage, datetime | None)`` visits.

    Raises:
        ValidationError: naming the argument and, for a bad visit, the lead.
    """
    histories = check_mapping(value, name)
    for lead, visits in histories.items():
        if isinstance(visits, str | bytes) or not isinstance(visits, Iterable):
            raise ValidationError(
                f"{name}[{lead!r}] must be a list of (stage, entered_at) pairs, "
                f"got {type_name(visits)}",
                record=f"lead {lead!r}",
                field=name,
            )
        for visit in visits:
            if (
                not isinstance(visit, tuple | list)
                or len(visit) != 2
                or not isinstance(visit[0], str)
                or not (visit[1] is None or isinstance(visit[1], datetime))
            ):
                raise ValidationError(
                    f"{name}[{lead!r}]: a visit must be a (stage, datetime or None) pair, "
                    f"got {type_name(visit)}",
                    record=f"lead {lead!r}",
                    field=name,
                )
    return histories


def check_choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """*value* if it is one of *allowed*, else a ValidationError listing them."""
    if not isinstance(value, str) or value not in allowed:
        # echo a short identifier-like value only: anything else may be personal data
        plain = isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,31}", value)
        shown = repr(value) if plain else f"a {type_name(value)} that is none of them"
        raise ValidationError(
            f"{name} must be one of {', '.join(map(repr, allowed))}, got {shown}",
            field=name,
            allowed=allowed,
        )
    return value
