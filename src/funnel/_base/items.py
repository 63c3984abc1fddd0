"""Checking collections handed to records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from funnel.exceptions import ValidationError

T = TypeVar("T")


def typed_tuple(
    items: Iterable[object], cls: type[T], *, record: str | None = None, field: str | None = None
) -> tuple[T, ...]:
    """
    Return *items* as a tuple, refusing any item that is not a *cls*.

    Items are named by type and position only: they may hold personal data.

    >>> typed_tuple([1, 2], int)
    (1, 2)
    >>> typed_tuple([1, "two"], int)
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: expected int, got str at position 1
    """
    prefix = f"{record}: {field}: " if record and field else f"{field}: " if field else ""
    if isinstance(items, str | bytes):
        raise ValidationError(
            f"{prefix}expected a collection of {cls.__name__}, got {type(items).__name__}",
            record=record,
            field=field,
        )
    try:
        out = tuple(items)
    except TypeError:
        raise ValidationError(
            f"{prefix}expected a collection of {cls.__name__}, got {type(items).__name__}",
            record=record,
            field=field,
        ) from None
    for i, item in enumerate(out):
        if not isinstance(item, cls):
            raise ValidationError(
                f"{prefix}expected {cls.__name__}, got {type(item).__name__} at position {i}",
                record=record,
                field=field,
            )
    return out  # type: ignore[return-value]  # every item was checked above


def nesting_depth(data: object) -> int:
    """
    How deeply *data* nests in dicts and lists, walked without recursion.

    >>> nesting_depth({"a": [1, {"b": []}]}), nesting_depth(3)
    (4, 0)
    """
    deepest = 0
    todo: list[tuple[object, int]] = [(data, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            values = item.values() if isinstance(item, dict) else item
            todo.extend((v, depth + 1) for v in values)
    return deepest
