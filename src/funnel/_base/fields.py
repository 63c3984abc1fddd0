"""
Field checks shared by every record: one implementation of each.

Every check raises :class:`~funnel.exceptions.ValidationError` whose message
and attributes name the record (class, and id where it has one), the field,
and for closed sets the allowed values. Text values are never echoed (they
may be personal data: a name, an email, a phone number, a note); only their
type is named.

Records identify themselves by their ``id`` attribute, or by the attribute a
class names in a ``_label_field`` class variable (``"name"`` for a company);
a class with ``_label_field = None`` (a contact: its name is personal data)
is named by its class only.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from funnel._base.markup import mask_phones
from funnel._base.privacy import is_name, mask_addresses, mask_email
from funnel.exceptions import ValidationError

E = TypeVar("E", bound=enum.Enum)

#: A validator as attrs calls it.
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


#: What an id looks like when a message may show it: a name (``L-001``, ``rep:alice``)
#: or a token of letters, digits and ``_.:-`` (``00Q5g000004XyZ``, a UUID, ``12345``).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
#: How many characters of a label value (a company's name) a message shows.
_LABEL_LIMIT = 80


def ident_shown(value: str) -> str | None:
    """
    How a message shows an id (or a key) that may be personal data, or ``None``: not at all.

    An id-like token is shown quoted, unless it holds a phone number; an id holding
    e-mail addresses is shown by them, masked (:func:`funnel._base.privacy.mask_email`);
    anything else (a person's name, a phone number, free text) is not shown.

    >>> ident_shown("L-001"), ident_shown("ada@acme.example"), ident_shown("Ada Lovelace")
    ("'L-001'", "'a***@acme.example'", None)
    >>> ident_shown("+44 20 7946 0958"), ident_shown("+442079460958")
    (None, None)
    """
    if _ID.fullmatch(value) is not None and mask_phones(value) == value:
        return repr(value)
    if "@" in value and text_problem(value) is None:
        masked = mask_email(value)
        return None if masked == repr("***") else masked
    return None


def record_label(instance: object) -> str:
    """
    How messages name *instance*: its class, and its id when a message may show it.

    An id that is not id-like (a person's name, a phone number) is not shown, and an
    e-mail address is masked (see :func:`ident_shown`). A class that labels itself by
    another field (a company by its name) has e-mail addresses and phone numbers in
    it masked and long values clipped.

    >>> class Touch:
    ...     id = "t1"
    >>> record_label(Touch())
    "Touch 't1'"
    >>> Touch.id = "+44 20 7946 0958"
    >>> record_label(Touch())
    'Touch (id not shown)'
    """
    cls = type(instance)
    attr = getattr(cls, "_label_field", "id")
    ident = getattr(instance, attr, None) if attr else None
    if not isinstance(ident, str) or not ident.strip() or text_problem(ident) is not None:
        return cls.__name__
    if attr == "id":
        shown_id = ident_shown(ident)
        return f"{cls.__name__} {shown_id or '(id not shown)'}"
    value = mask_phones(mask_addresses(ident))
    if len(value) > _LABEL_LIMIT:
        value = value[: _LABEL_LIMIT - 3] + "..."
    return f"{cls.__name__} {value!r}"


def type_name(value: object) -> str:
    """
    The name of *value*'s type, as messages show a value they must not echo.

    >>> type_name(5), type_name(None)
    ('int', 'None')
    """
    return "None" if value is None else type(value).__name__


#: The largest whole number a count or rule may hold: it fits a 64-bit integer column
#: and is written and read back exactly (a larger one is no head count, only a crash
#: waiting in a JSON writer or a database driver).
MAX_INT = 2**63 - 1


def shown(value: object) -> str:
    """
    How a message shows a value given where a name was expected.

    A name-like string (a misspelt stage or enum value) is shown quoted; any
    other string may be personal data put in the wrong field, so it is not
    shown; other values are named by their type.

    >>> shown("sideways"), shown("+44 20 7946 0958"), shown(5)
    ("'sideways'", 'a string that is not a name (not shown)', 'int')
    """
    if isinstance(value, str):
        if is_name(value):
            return repr(str(value))
        return "a string that is not a name (not shown)"
    return type_name(value)


def number_shown(value: int | float) -> str:
    """
    A number as a message shows it: in full unless it has too many digits to print.

    >>> number_shown(-5), number_shown(10**5000)
    ('-5', 'a number of 16610 bits')
    """
    if isinstance(value, int) and not -(10**18) < value < 10**18:
        return f"a number of {value.bit_length()} bits"
    return repr(value)


def text_problem(value: str) -> str | None:
    """
    What is wrong with a string that cannot be stored or sent, or ``None``.

    NUL characters truncate strings in C libraries and databases (PostgreSQL
    refuses them); lone surrogates cannot be encoded as UTF-8.

    >>> text_problem("ok"), text_problem("a\\x00b"), text_problem("\\ud800")
    (None, 'must not contain NUL characters', 'must not contain lone surrogates')
    """
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogates"
    return None


def check_text(
    value: object,
    *,
    record: str | None,
    field: str,
    optional: bool = False,
    blank: bool = True,
) -> None:
    """
    Refuse a value that is not a clean string, naming *record* and *field*.

    Args:
        value: The value to check; it is never echoed.
        record: The record label (``"Touch 't1'"``), if any.
        field: The field or argument name.
        optional: ``None`` is accepted.
        blank: An empty or all-whitespace string is accepted.

    >>> check_text(5, record="Contact", field="email")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Contact: email must be a string, got int
    """
    where = f"{record}: {field}" if record else field
    if value is None and optional:
        return
    if not isinstance(value, str):
        wanted = "a string or None" if optional else "a string"
        raise ValidationError(
            f"{where} must be {wanted}, got {type_name(value)}", record=record, field=field
        )
    problem = text_problem(value)
    if problem is not None:
        raise ValidationError(f"{where} {problem}", record=record, field=field)
    if not blank and is_blank(value):
        raise ValidationError(f"{where} must not be empty", record=record, field=field)


#: Characters that show nothing: format characters (zero-width space, joiners, marks).
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff")


def is_blank(value: str) -> bool:
    """
    Whether *value* shows nothing: empty, whitespace, or zero-width characters only.

    >>> is_blank(""), is_blank(" \u200b "), is_blank("x")
    (True, True, False)
    """
    return not value.strip() or all(c.isspace() or c in _INVISIBLE for c in value)


def text(*, optional: bool = False, blank: bool = True) -> Validator:
    """An attrs validator: the field holds a clean string (see :func:`check_text`)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            if optional:
                return
        elif (
            isinstance(value, str)
            and "\x00" not in value
            and (value.isascii() or text_problem(value) is None)
            and (blank or (value != "" and not value.isspace() and not is_blank(value)))
        ):
            return
        # Only a refused value costs the record label.
        check_text(
            value,
            record=record_label(instance),
            field=attribute.name,
            optional=optional,
            blank=blank,
        )

    return validate


def to_member(cls: type[E], value: object) -> E:
    """
    *value* as a member of the enum *cls*, or *value* unchanged for :func:`member` to refuse.

    Converters run before validators, and only validators know the whole record;
    so a converter hands an invalid value on and the field's :func:`member`
    validator refuses it, naming the record.
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls(value)
        except ValueError:
            pass
    return value  # type: ignore[return-value]  # refused by member()


def member(cls: type[enum.Enum]) -> Validator:
    """An attrs validator: the field holds a member of *cls*; the error lists the values."""
    allowed = tuple(str(m.value) for m in cls)

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, cls):
            return
        record = record_label(instance)
        choices = ", ".join(repr(a) for a in allowed)
        raise ValidationError(
            f"{record}: {attribute.name} must be one of {choices}, got {shown(value)}",
            record=record,
            field=attribute.name,
            allowed=allowed,
        )

    return validate


def require_int(value: object, *, record: str | None, field: str) -> int:
    """
    Return *value* if it is a whole number (an ``int``, not a ``bool``) up to :data:`MAX_INT`.

    >>> require_int(True, record="PassRule", field="k")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: PassRule: k must be a whole number (int), got bool
    >>> require_int(10**30, record="PassRule", field="k")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: PassRule: k must be at most 9223372036854775807, got ...
    """
    where = f"{record}: {field}" if record else field
    if isinstance(value, bool) or not isinstance(value, int):
        number = f" {value!r}" if isinstance(value, float) and math.isfinite(value) else ""
        raise ValidationError(
            f"{where} must be a whole number (int), got {type_name(value)}{number}",
            record=record,
            field=field,
        )
    if value > MAX_INT:
        raise ValidationError(
            f"{where} must be at most {MAX_INT}, got {number_shown(value)}",
            record=record,
            field=field,
        )
    return value


def check_count(value: object, *, record: str | None, field: str, optional: bool = False) -> None:
    """
    Refuse a value that is not a whole number >= 0 (bools are not counts).

    >>> check_count(-5, record="Company 'Acme'", field="employees")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Company 'Acme': employees must be >= 0, got -5
    """
    if value is None and optional:
        return
    number = require_int(value, record=record, field=field)
    if number < 0:
        where = f"{record}: {field}" if record else field
        raise ValidationError(
            f"{where} must be >= 0, got {number_shown(number)}", record=record, field=field
        )


def count(*, optional: bool = False) -> Validator:
    """An attrs validator: a whole number from 0 to :data:`MAX_INT` (see :func:`check_count`)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if (value is None and optional) or (
            type(value) is int and 0 <= value <= MAX_INT  # not a bool: type(True) is bool
        ):
            return
        check_count(value, record=record_label(instance), field=attribute.name, optional=optional)

    return validate


def boolean() -> Validator:
    """An attrs validator: the field holds ``True`` or ``False`` (not ``"no"``, not ``0``)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, bool):
            record = record_label(instance)
            raise ValidationError(
                f"{record}: {attribute.name} must be True or False, got {shown(value)}",
                record=record,
                field=attribute.name,
            )

    return validate


def instance(cls: type[Any], *, optional: bool = False) -> Validator:
    """An attrs validator: the field holds a *cls* (or ``None`` when *optional*)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, cls) or (optional and value is None):
            return
        record = record_label(instance)
        wanted = f"a {cls.__name__} or None" if optional else f"a {cls.__name__}"
        raise ValidationError(
            f"{record}: {attribute.name} must be {wanted}, got {type_name(value)}",
            record=record,
            field=attribute.name,
        )

    return validate


def non_negative_money() -> Validator:
    """An attrs validator: an optional money field (already a Decimal) is not negative."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Decimal | None) -> None:
        if value is not None and value < 0:
            record = record_label(instance)
            raise ValidationError(
                f"{record}: {attribute.name} must be >= 0, got {value}",
                record=record,
                field=attribute.name,
            )

    return validate
