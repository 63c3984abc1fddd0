"""Checking collections handed to records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from funnel.exceptions import ValidationError

T = TypeVar("T")


def typed_tuple(items: Iterable[object], cls: type[T]) -> tuple[T, ...]:
    """
    Return *items* as a tuple, refusing any item that is not a *cls*.

    >>> typed_tuple([1, 2], int)
    (1, 2)
    """
    if isinstance(items, str | bytes):
        raise ValidationError(f"expected a collection of {cls.__name__}, got {items!r}")
    out = tuple(items)
    for item in out:
        if not isinstance(item, cls):
            raise ValidationError(f"expected {cls.__name__}, got {type(item).__name__}: {item!r}")
    return out  # type: ignore[return-value]  # every item was checked above
