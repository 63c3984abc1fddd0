"""
Line numbers of keys in a definition's source text (TOML or JSON).

:mod:`tomllib` and :mod:`json` report lines only for syntax errors, so for
every other problem the line is found by scanning the text: for TOML the
table header (``[stages.mql]``) and then the key inside it (``level =``),
for JSON the quoted keys in order. It is best effort: keys inside inline
tables point at the line of the enclosing key, and a key that cannot be
found has no line.

>>> text = '[funnel]\\nname = "acme"\\n\\n[stages.new]\\nlevel = "lead"\\n'
>>> loc = Locator(text, "toml")
>>> loc.line(("stages", "new", "level")), loc.line(("funnel",)), loc.line(("nowhere",))
(5, 1, None)
>>> dotted(("events", "qualify", "from", 1))
'events.qualify.from[1]'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from funnel._base.fields import shown, text_problem
from funnel.exceptions import ValidationError

__all__ = [
    "FORMATS",
    "Format",
    "KeyPath",
    "Locator",
    "check_format",
    "check_path",
    "dotted",
    "format_of",
]

#: A definition file's format.
Format = Literal["toml", "json"]
FORMATS: tuple[Format, ...] = ("toml", "json")

#: Where a value sits in the definition: table keys and list indices.
KeyPath = tuple[str | int, ...]


def check_format(format: object) -> None:
    """
    Refuse a format other than ``"toml"`` or ``"json"``.

    Raises:
        ValidationError: naming the format only when it is one of a few letters.
    """
    if not (isinstance(format, str) and format in FORMATS):
        raise ValidationError(
            f"unknown format {shown(format)}; use 'toml' or 'json'",
            field="format",
            allowed=FORMATS,
        )


def check_path(path: object, what: str) -> None:
    """
    Refuse a path that is no file name: not a str or Path, empty, or with NUL or lone surrogates.

    Raises:
        ValidationError: naming *what* (``"load_funnel()"``) and the problem.
    """
    if not isinstance(path, str | Path) or not str(path):
        raise ValidationError(
            f"{what} takes a file path (str or Path), got "
            f"{'an empty string' if isinstance(path, str) else type(path).__name__}",
            field="path",
        )
    problem = text_problem(str(path))
    if problem is not None:
        raise ValidationError(f"{what}: the path {problem}", field="path")


def format_of(path: str | Path) -> Format:
    """The format a file name implies: ``.json`` is JSON, anything else TOML."""
    return "json" if Path(path).suffix.lower() == ".json" else "toml"


def dotted(path: KeyPath) -> str:
    """A key path as users write it: ``events.qualify.from[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _split_dotted(name: str) -> tuple[str, ...]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', name)
    return tuple(a or b or c for a, b, c in parts)


class Locator:
    """Best-effort line numbers (1-based) for key paths in the source *text*."""

    def __init__(self, text: str | None, fmt: Format) -> None:
        self.lines = text.splitlines() if text is not None else []
        self.fmt = fmt
        self.headers: list[tuple[int, KeyPath]] = []
        if fmt == "toml":
            counts: dict[tuple[str, ...], int] = {}
            for i, raw in enumerate(self.lines):
                line = raw.strip()
                if line.startswith("[["):
                    name = _split_dotted(line[2 : line.find("]]")])
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    self.headers.append((i, (*name, index)))
                elif line.startswith("["):
                    self.headers.append((i, _split_dotted(line[1 : line.find("]")])))

    def line(self, path: KeyPath) -> int | None:
        """The line of *path*, of its nearest enclosing table, or ``None``."""
        if not self.lines:
            return None
        return self._toml(path) if self.fmt == "toml" else self._json(path)

    def _key_line(self, key: str, start: int, stop: int) -> int | None:
        pattern = re.compile(
            rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*[=.]"""
        )
        for i in range(start, stop):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def _toml(self, path: KeyPath) -> int | None:
        best: tuple[int, int] | None = None  # (prefix length, header index)
        for h, (_, hpath) in enumerate(self.headers):
            n = len(hpath)
            if n <= len(path) and tuple(path[:n]) == hpath and (best is None or n > best[0]):
                best = (n, h)
        if best is None:
            start, stop, rest = 0, self.headers[0][0] if self.headers else len(self.lines), path
            header_line = None
        else:
            n, h = best
            start = self.headers[h][0] + 1
            stop = self.headers[h + 1][0] if h + 1 < len(self.headers) else len(self.lines)
            rest = path[n:]
            header_line = self.headers[h][0] + 1
        if not rest:
            return header_line
        if isinstance(rest[0], str):
            found = self._key_line(rest[0], start, stop)
            if found is not None:
                return found
        return header_line

    def _json(self, path: KeyPath) -> int | None:
        text = "\n".join(self.lines)
        pos, found = 0, None
        for part in path:
            if isinstance(part, int):
                continue
            match = re.compile(rf'"{re.escape(part)}"\s*:').search(text, pos)
            if match is None:
                break
            pos, found = match.end(), match.start()
        return None if found is None else text.count("\n", 0, found) + 1
