"""
Text made safe for the places it is shown: a notebook's markdown, a terminal, an HTML card.

The cards (``_repr_html_`` of records, qualifications, explanations and analytics
results) are built from the pieces here. Every value goes through :func:`esc`, which
masks e-mail addresses and phone numbers, escapes control characters, clips long text
and escapes HTML; the pieces take and return :data:`Markup`, so a value that skipped
:func:`esc` is a type error. Styles are inline (no CSS or script to load), and colours
are either inherited or carried with their own background, so a card reads the same in
a light and a dark theme.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NewType

import attrs

from funnel._base.privacy import ERASED, escape_controls, mask_addresses

#: Characters markdown gives a meaning (emphasis, links, images, code, headings, lists, tables).
_MARKDOWN = frozenset("\\`*_[]{}()#+-.!|~")

#: HTML that is safe to put in a page: every value in it went through :func:`esc`.
Markup = NewType("Markup", str)

#: How many characters of one value a card or a plain repr shows.
TEXT_LIMIT = 80
#: How many characters of one field a plain repr shows.
REPR_LIMIT = 320


def markdown_text(text: str) -> str:
    """
    *text* as literal markdown: HTML escaped, markdown punctuation backslash-escaped,
    control characters escaped, on one line.

    A record id, a reason or a note shown in a notebook then renders as the text it
    is, never as a link, an image (a remote URL loaded on display) or raw HTML.

    >>> print(markdown_text("![x](https://t.example/p.png) <img onerror=alert(1)>"))
    \\!\\[x\\]\\(https://t\\.example/p\\.png\\) &lt;img onerror=alert\\(1\\)&gt;
    """
    flat = " ".join(escape_controls(text).split())
    escaped = html.escape(flat, quote=False)
    return "".join(f"\\{c}" if c in _MARKDOWN else c for c in escaped)


# --------------------------------------------------------------------------- masking

#: What may stand between a phone number's digits: spaces (also no-break), dashes (also
#: Unicode hyphens and dashes), dots, slashes, middle dots and brackets, up to three.
_SEPARATORS = " ()./-\u00a0\u2010\u2011\u2012\u2013\u00b7"
_SEP = f"[{re.escape(_SEPARATORS)}]"
#: A phone number: seven digits or more with separators between, an opening bracket before
#: the first one included (``(555) 010-9999``), and an extension glued to it (``x123``).
_PHONE = re.compile(
    rf"(?<![\w+])\(?\+?\d(?:{_SEP}{{0,3}}\d){{6,}}(?P<ext>\s?(?:x|ext\.?|#)\s?\d{{1,6}})?"
    r"(?![\w.]\d)(?!\w)",
    re.IGNORECASE,
)
#: A date (``2026-09-01``): digits and dashes that are not a phone number.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A date written with dots, slashes or spaces (``01.09.2026``, ``2026/09/01``): a whole
#: match of this shape is a date, not a phone number.
_OTHER_DATE = re.compile(r"\d{1,2}([./ ])\d{1,2}\1\d{4}|\d{4}([./ ])\d{1,2}\2\d{1,2}")
#: A UUID: its digit groups are not a phone number.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
#: A separator (other than a dot) that makes a run of digits look like a phone number.
_PHONE_SEPARATORS = frozenset(_SEPARATORS) - {"."}


def mask_phones(text: str) -> str:
    """
    *text* with every phone number in it masked to its last two digits.

    A phone number is a run of seven digits or more that starts with ``+`` or has
    spaces, dashes, slashes, brackets or (two or more) dots between its digits, with
    an extension glued to it (``x123``, ``ext. 12``) masked too; dates, UUIDs and plain
    amounts stay, a decimal amount too. Its brackets go with it; only one whose partner
    is outside the number stays, so that the text around keeps its pairs.

    >>> mask_phones("call +44 20 7946 0958 or (555) 123-4567 on 2026-09-01, budget 5000000")
    'call ***58 or ***67 on 2026-09-01, budget 5000000'
    >>> mask_phones("Bo (mobile 555 123 4567) or x(555) 123-4567")
    'Bo (mobile ***67) or x(***67)'
    >>> mask_phones("555.010.9999, not 1234567.89 or 12500000.00.")
    '***99, not 1234567.89 or 12500000.00.'
    >>> mask_phones("555-010-9999x123, 030/1234567 on 01.09.2026")
    '***99, ***67 on 01.09.2026'
    """
    if not any(c.isdigit() for c in text):
        return text
    uuids = [m.span() for m in _UUID.finditer(text)] if "-" in text else []

    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        start, end = match.span()
        if any(a < end and start < b for a, b in uuids):
            return found
        number = found[: match.start("ext") - start] if match.group("ext") else found
        phone_like = found[0] in "+(" or any(c in _PHONE_SEPARATORS for c in number)
        if (
            _DATE.search(number)
            or _OTHER_DATE.fullmatch(number)
            or not (phone_like or number.count(".") >= 2)
        ):
            return found
        depth = closed_outside = 0
        for c in number:
            if c == "(":
                depth += 1
            elif c == ")":
                if depth:
                    depth -= 1
                else:
                    closed_outside += 1
        last = "".join(c for c in number if c.isdigit())[-2:]
        return "(" * depth + "***" + last + ")" * closed_outside

    return _PHONE.sub(one, text)


def mask_line(text: str) -> str:
    r"""
    *text* as messages, log lines and reprs show it: e-mail addresses and phone numbers
    masked, control characters escaped.

    >>> mask_line("Lead 'ada@acme.example' (+44 20 7946 0958)\x1b[2J")
    "Lead 'a***@acme.example' (***58)\\x1b[2J"
    """
    return escape_controls(mask_phones(mask_addresses(text)))


class Redactor:
    """
    Masks a contact's personal values wherever a text quotes them, then every e-mail
    address and phone number (:func:`redact`).

    It holds the values it hides, so it shows none of them: its repr is a count, and a
    JSON encoder refuses it (an explanation turned into a dict never carries them as text).
    """

    __slots__ = ("_pattern", "_secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # An erased name is no secret: it is the marker erase() wrote.
        self._secrets = tuple(s for s in secrets if s and s.strip() and s != ERASED)
        self._pattern: re.Pattern[str] | None = None

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._secrets:
            found: set[str] = set()
            for secret in self._secrets:
                found.add(secret.strip())
                digits = "".join(c for c in secret if c.isdigit())
                if len(digits) >= 6:
                    found.add(digits)
                elif "@" not in secret and not digits:
                    found.update(re.findall(r"[^\W\d_]{3,}", secret))
            alternatives = "|".join(re.escape(w) for w in sorted(found, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        return self._pattern

    def __call__(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(lambda m: _masked(m.group(0)), text)
        return mask_phones(mask_addresses(text))

    @classmethod
    def of(cls, record: object) -> Redactor:
        """
        Masks the personal values of *record*'s contact and (a prospect's) stakeholder:
        name, title, e-mail and phone. Anything without them masks addresses and phones.
        """
        secrets: list[str] = []
        for who in (getattr(record, "contact", None), getattr(record, "stakeholder", None)):
            for name in ("name", "title", "email", "phone"):
                value = getattr(who, name, None)
                if isinstance(value, str):
                    secrets.append(value)
        return cls(secrets)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} values>"

    def __getstate__(self) -> tuple[str, ...]:
        return self._secrets

    def __setstate__(self, state: tuple[str, ...]) -> None:
        self._secrets, self._pattern = state, None


#: Masks e-mail addresses and phone numbers only.
NO_SECRETS = Redactor()


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """
    *text* with each of *secrets* (a contact's name, title, e-mail, phone) masked, ignoring
    case, then every e-mail address and phone number masked.

    A secret is found as a whole word; a secret made of letters and spaces (a name)
    also by each word of three letters or more of it (a surname alone), and a phone
    number also by its digits alone.

    >>> redact("Lovelace (ada@acme.example) said yes on 2026-09-01", ["Ada Lovelace"])
    'L*** (a***@acme.example) said yes on 2026-09-01'
    """
    return Redactor(secrets)(text)


def _masked(secret: str) -> str:
    """A secret as the reprs mask it: ``a***@acme.example``, ``***58``, ``A***``."""
    if "@" in secret:
        masked = mask_addresses(secret)
        return masked if masked != secret else secret[:1] + "***"
    digits = [c for c in secret if c.isdigit()]
    if len(digits) >= 6:
        return "***" + "".join(digits[-2:])
    return secret[:1] + "***"


def moment(at: datetime) -> str:
    """
    A moment for people, in UTC to the minute: ``2026-09-01 09:30 UTC``.

    >>> from datetime import timezone
    >>> moment(datetime(2026, 9, 1, 9, 30, 12, tzinfo=timezone.utc))
    '2026-09-01 09:30 UTC'
    """
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """
    *text* cut to *limit* characters, the last one an ellipsis when it was longer.

    >>> clip("abcdef", 4), clip("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def plain(value: object, limit: int = TEXT_LIMIT, hide: Redactor = NO_SECRETS) -> str:
    """
    *value* as one line of text that is safe to show: personal data masked (*hide*:
    e-mail addresses and phone numbers, and a contact's values it was given), control
    characters escaped, whitespace collapsed, clipped.

    >>> plain("Ada\\x1b[31m\\n  ada@acme.example")
    'Ada\\\\x1b[31m a***@acme.example'
    """
    text = value if isinstance(value, str) else str(value)
    flat = " ".join(escape_controls(hide(text)).split())
    return clip(flat, limit)


def esc(value: object, limit: int = TEXT_LIMIT, hide: Redactor = NO_SECRETS) -> Markup:
    """
    *value* as HTML text: :func:`plain`, then HTML-escaped (quotes included).

    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return Markup(html.escape(plain(value, limit, hide), quote=True))


# --------------------------------------------------------------------------- plain reprs


def label_repr(value: object) -> str:
    """
    The repr of a free label (an id, a sender, an owner, a source, a segment): any
    e-mail address or phone number in it masked, control characters escaped.

    Such fields are meant for names and ids, but a CRM export or a mailbox sync puts
    an address or a number there often enough that a repr must not show one.

    >>> label_repr("rep:alice"), label_repr("ada@acme.example"), label_repr("+44 20 7946 0958")
    ("'rep:alice'", "'a***@acme.example'", "'***58'")
    >>> label_repr(None)
    'None'
    """
    if not isinstance(value, str):
        return repr(value)
    return repr(mask_line(value))


def short_repr(obj: Any) -> str:
    """
    An attrs instance's repr with every field bounded: ``Cls(a=..., b=...)``.

    Each field is shown as its ``repr=`` callable says (a count, a mask), or by its
    ``repr()``; either is clipped to :data:`REPR_LIMIT` characters, so a long id or
    note cannot make the repr long. Fields declared ``repr=False`` are left out.
    A class opts in with ``__repr__ = short_repr``.
    """
    parts = []
    for field in attrs.fields(type(obj)):
        if field.repr is False:
            continue
        value = getattr(obj, field.name)
        shown = field.repr(value) if callable(field.repr) else repr(value)
        parts.append(f"{field.alias or field.name}={clip(shown, REPR_LIMIT)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


# --------------------------------------------------------------------------- cards

_LINE = "rgba(128,128,128,.45)"
_CARD = (
    "display:inline-block;min-width:20em;max-width:48em;margin:4px 0;padding:8px 12px;"
    f"border:1px solid {_LINE};border-radius:6px;font-family:system-ui,sans-serif;"
    "font-size:13px;line-height:1.45;color:inherit;text-align:left"
)
_TITLE = "font-size:14px;font-weight:600;margin-bottom:6px"
_HEAD = "font-weight:600;margin:8px 0 2px"
_TABLE = "border-collapse:collapse;table-layout:auto;margin:0;font-size:13px;color:inherit"
_CELL = "text-align:left;padding:1px 10px 1px 0;vertical-align:top"
_TH = f"{_CELL};font-weight:600;border-bottom:1px solid {_LINE}"
_KEY = f"{_CELL};font-weight:600;white-space:nowrap"
_MUTED = "opacity:.72"
_PILL = "padding:0 6px;border-radius:8px;border:1px solid #3884ff99;background:#3884ff29"
#: A verdict's badge: its own background and white text, readable on any page.
_TONES = {"met": "#1a7f37", "not-met": "#c62828", "unknown": "#5f6b76"}
_SYMBOLS = {"met": "✓ met", "not-met": "✗ not met", "unknown": "? unknown"}


def pill(value: object) -> Markup:
    """A stage, a level or an event as a small outlined label."""
    return Markup(f'<span style="{_PILL}">{esc(value)}</span>')


def pills(values: Iterable[object], none: str = "none") -> Markup:
    """Several labels side by side, or *none* (muted) when there are none."""
    shown = " ".join(pill(v) for v in values)
    return Markup(shown) if shown else muted(none)


def badge(label: object, tone: str) -> Markup:
    """*label* on a coloured background (``met``, ``not-met`` or ``unknown``'s colour)."""
    colour = _TONES.get(tone, _TONES["unknown"])
    style = f"padding:0 6px;border-radius:8px;color:#fff;background:{colour};white-space:nowrap"
    return Markup(f'<span style="{style}">{esc(label)}</span>')


def verdict_badge(verdict: object) -> Markup:
    """A criterion's verdict (met, not met, unknown) as a coloured badge with a symbol."""
    key = str(getattr(verdict, "value", verdict))
    return badge(_SYMBOLS.get(key, key), key)


def muted(text: object, limit: int = TEXT_LIMIT, hide: Redactor = NO_SECRETS) -> Markup:
    """Text shown quieter (opacity, so it follows the theme's colour)."""
    return Markup(f'<span style="{_MUTED}">{esc(text, limit, hide)}</span>')


def facts(rows: Iterable[tuple[str, Markup]]) -> Markup:
    """A two-column table of names and values."""
    body = "".join(
        f'<tr><th style="{_KEY}">{esc(name)}</th><td style="{_CELL}">{value}</td></tr>'
        for name, value in rows
    )
    return Markup(f'<table style="{_TABLE}"><tbody>{body}</tbody></table>')


def table(
    head: Sequence[str], rows: Iterable[Sequence[Markup]], *, more: int = 0, noun: str = "more"
) -> Markup:
    """A table with a header row; *more* > 0 adds a last line "and N more"."""
    top = "".join(f'<th style="{_TH}">{esc(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    table_html = (
        f'<table style="{_TABLE}"><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>'
    )
    return Markup(table_html + (more_line(more, noun) if more > 0 else ""))


def more_line(n: int, noun: str = "more") -> Markup:
    """``and N more`` (muted), for what a card leaves out."""
    return Markup(f'<div style="{_MUTED}">{esc(f"and {n:,} {noun}")}</div>')


def section(title: str, body: Markup) -> Markup:
    """A titled part of a card."""
    return Markup(f'<div style="{_HEAD}">{esc(title)}</div>{body}')


def paragraph(body: Markup) -> Markup:
    """A line of a card."""
    return Markup(f'<div style="margin:2px 0">{body}</div>')


def card(title: Markup, *parts: Markup) -> Markup:
    """A framed card: a title line, then its parts, with inline styles only."""
    return Markup(
        f'<div style="{_CARD}"><div style="{_TITLE}">{title}</div>{"".join(parts)}</div>'
    )


def bullet_list(items: Iterable[Markup], *, more: int = 0, noun: str = "more") -> Markup:
    """A bulleted list; *more* > 0 adds a last line "and N more"."""
    body = "".join(f'<li style="margin:0">{item}</li>' for item in items)
    listed = f'<ul style="margin:0;padding-left:1.3em">{body}</ul>' if body else ""
    return Markup(listed + (more_line(more, noun) if more > 0 else ""))
