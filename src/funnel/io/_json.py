"""JSON parsing shared by record documents and definition files: repeated keys are found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ("Twice", "pairs_hook")


class Twice(dict[str, Any]):
    """A JSON object that gave a key more than once (the key is kept in ``twice``)."""

    twice: str = ""


def pairs_hook(found: list[Twice]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """
    An ``object_pairs_hook`` that builds dicts and notes each object with a repeated key.

    >>> import json
    >>> found: list[Twice] = []
    >>> json.loads('{"a": {"id": 1, "id": 2}}', object_pairs_hook=pairs_hook(found))
    {'a': {'id': 2}}
    >>> [t.twice for t in found]
    ['id']
    """

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) == len(pairs):
            return built
        seen: set[str] = set()
        marked = Twice(built)
        for key, _ in pairs:
            if key in seen:
                marked.twice = key
                break
            seen.add(key)
        found.append(marked)
        return marked

    return hook
