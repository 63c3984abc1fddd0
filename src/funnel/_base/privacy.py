"""Masking of personal data in reprs and log lines, and text made safe for a terminal."""

from __future__ import annotations

import re

#: What replaces an erased name, and an erased stage-change reason, in a record and in the
#: store (:func:`funnel.engine.erase.erase`).
ERASED = "[erased]"
#: How a repr shows an erased value: a marker, never taken for (part of) a name.
ERASED_MARK = "<erased>"

#: A character an e-mail address may be made of (the separators around one excluded).
_TOKEN = r"[^\s@,;<>()\[\]\"']"
#: Anything shaped like an e-mail address (local part, @, domain). A match starts only
#: where a token starts (the look-behind), so a long run without an "@" is scanned once,
#: not once per character: masking stays linear in the length of the text.
_ADDRESS = re.compile(rf"(?<!{_TOKEN}){_TOKEN}+@{_TOKEN}+")


def mask_email(email: str | None) -> str:
    """
    Keep the first character of the local part (of three characters or more) and the domain.

    >>> mask_email("ada.lovelace@acme.example")
    "'a***@acme.example'"
    >>> mask_email(None)
    'None'

    A field holding several addresses has every one masked, and nothing else of
    the field is shown (a display name beside an address is personal data too). A
    local part of one or two characters shows none of them:

    >>> mask_email("Ada L. <ada@acme.example>, bo@beta.example")
    "'a***@acme.example, ***@beta.example'"
    """
    if email is None:
        return "None"
    found = _ADDRESS.findall(email)
    if not found:
        return repr("***")
    return repr(", ".join(mask_addresses(address) for address in found))


def mask_addresses(text: str) -> str:
    """
    *text* with every e-mail address in it masked (first character and domain kept).

    >>> mask_addresses("write to ada@acme.example or bo@beta.example")
    'write to a***@acme.example or ***@beta.example'
    """

    if "@" not in text:  # most messages: one scan in C, no pattern at all
        return text

    def one(match: re.Match[str]) -> str:
        local, _, domain = match.group(0).partition("@")
        if local in ("***", f"{local[:1]}***"):  # masked already: masking twice is once
            return match.group(0)
        return f"{local[:1] if len(local) >= 3 else ''}***@{domain}"

    return _ADDRESS.sub(one, text)


def mask_text(text: str | None) -> str:
    """
    Free text (a note, a reason) by its length only: it may quote anyone.

    Notes and reasons are written by people and often hold a name, an address or a
    phone number that no pattern finds, so a repr shows how long they are, not what
    they say; read the field itself to see it.

    >>> mask_text("called Ada Lovelace on +44 20 7946 0000"), mask_text(None)
    ('<text, 39 characters>', 'None')

    An erased reason shows as erased: ``mask_text(ERASED) == '<erased>'``.
    """
    if text is None:
        return "None"
    if text == ERASED:
        return ERASED_MARK
    return f"<text, {len(text)} characters>"


def mask_name(name: str | None) -> str:
    """
    Keep the first character only: names and job titles are personal data.

    >>> mask_name("Ada Lovelace"), mask_name(None), mask_name(ERASED)
    ("'A***'", 'None', '<erased>')
    """
    if name is None:
        return "None"
    if name == ERASED:
        return ERASED_MARK
    return repr(name[:1] + "***")


def mask_phone(phone: str | None) -> str:
    """
    Keep the last two digits only (of a number of six digits or more), nothing else:
    no bracket, no sign, no separator.

    >>> mask_phone("+44 20 7946 0958"), mask_phone("(555) 010-9999"), mask_phone("112")
    ("'***58'", "'***99'", "'***'")
    """
    if phone is None:
        return "None"
    digits = [c for c in phone if c.isdigit()]
    return repr("***" + ("".join(digits[-2:]) if len(digits) >= 6 else ""))


#: Characters a terminal or a log viewer acts on instead of showing: C0 and C1 controls
#: (ESC starts colour and cursor sequences), zero-width and bidirectional overrides
#: (which reorder what follows), and line and paragraph separators. Newline is kept:
#: messages use it for their structure.
_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """
    *text* with every control character written as an escape (``\\x1b``), newlines kept.

    >>> escape_controls("red \\x1b[31m alert\\nnext line")
    'red \\\\x1b[31m alert\\nnext line'
    """
    if text.isascii() and text.replace("\n", "").isprintable():
        return text
    return _CONTROLS.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


#: What a name looks like (a stage, an event, an enum value, a sender kind). Such a value
#: may be shown in a message; anything else may be personal data put into the wrong
#: field (a phone number, a person's full name, an address).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def is_name(value: object) -> bool:
    """
    Whether *value* looks like a name a message may show (``mark_mql``, ``rep:alice``).

    >>> is_name("mark_mql"), is_name("+44 20 7946 0958"), is_name("Ada Lovelace"), is_name(5)
    (True, False, False, False)
    """
    return isinstance(value, str) and _NAME.fullmatch(value) is not None
