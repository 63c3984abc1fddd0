"""Masking of personal data in reprs and log lines."""

from __future__ import annotations

import re

#: Anything shaped like an e-mail address (local part, @, domain).
_ADDRESS = re.compile(r"[^\s@,;<>()\[\]\"']+@[^\s@,;<>()\[\]\"']+")


def mask_email(email: str | None) -> str:
    """
    Keep the first character of the local part and the domain.

    >>> mask_email("ada.lovelace@acme.example")
    "'a***@acme.example'"
    >>> mask_email(None)
    'None'

    A field holding several addresses has every one masked, and nothing else of
    the field is shown (a display name beside an address is personal data too):

    >>> mask_email("Ada L. <ada@acme.example>, bo@beta.example")
    "'a***@acme.example, b***@beta.example'"
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
    'write to a***@acme.example or b***@beta.example'
    """

    def one(match: re.Match[str]) -> str:
        local, _, domain = match.group(0).partition("@")
        return f"{local[:1]}***@{domain}"

    return _ADDRESS.sub(one, text)


def mask_phone(phone: str | None) -> str:
    """
    Keep the last two digits only.

    >>> mask_phone("+44 20 7946 0958")
    "'***58'"
    """
    if phone is None:
        return "None"
    digits = [c for c in phone if c.isdigit()]
    return repr("***" + "".join(digits[-2:]))
