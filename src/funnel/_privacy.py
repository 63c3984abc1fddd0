"""Masking of personal data in reprs and log lines."""

from __future__ import annotations


def mask_email(email: str | None) -> str:
    """
    Keep the first character of the local part and the domain.

    >>> mask_email("ada.lovelace@acme.example")
    "'a***@acme.example'"
    >>> mask_email(None)
    'None'
    """
    if email is None:
        return "None"
    local, sep, domain = email.partition("@")
    if not sep:
        return repr("***")
    return repr(f"{local[:1]}***@{domain}")


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
