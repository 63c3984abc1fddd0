"""
JSON serialization of leads and prospects, with a schema name and version.

Every record type (:class:`~funnel.Lead`, :class:`~funnel.Prospect`,
:class:`~funnel.Contact`, :class:`~funnel.Touch`, :class:`~funnel.Evidence`,
:class:`~funnel.StageChange`, :class:`~funnel.Qualification`, ...) is turned
into plain JSON types by one `cattrs <https://catt.rs>`_ converter:

* datetimes as ISO 8601 strings **with** their UTC offset (a naive datetime
  is refused on input);
* :class:`~decimal.Decimal` as a string (``"1200.5"``), never a float, in one
  canonical form (trailing zeros dropped), so ``Decimal("1.0")`` and
  ``Decimal("1.00")``, which are equal, give the same text;
* enums by value (``"inbound"``), frozensets as sorted lists, tuples as lists.

A document is an envelope around the record::

    {"schema": "funnel/lead", "version": 1, "data": {...}}

Reading is strict: an unknown schema or version, an unknown key, a key given
twice in one object, a missing field, a value of the wrong type, or a record
that breaks its own rules (e.g. a reply to a touch that does not exist) raises
:class:`~funnel.SerializationError` whose ``path`` says where, e.g.
``"data.touches[2].at"``. Nothing here uses ``pickle`` or ``eval``.

>>> from datetime import datetime, timezone
>>> from funnel import Contact, Lead
>>> lead = Lead(id="L1", contact=Contact(name="Ada", email="ada@acme.example"),
...             source="web_form", created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
>>> text = dumps(lead)
>>> loads(text) == lead
True
>>> to_dict(lead)["schema"], to_dict(lead)["data"]["created_at"]
('funnel/lead', '2026-01-05T00:00:00+00:00')
"""

from __future__ import annotations

import enum
import json
import re
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)

from funnel._base.fields import record_label
from funnel._base.items import nesting_depth
from funnel._base.privacy import is_name
from funnel.engine.funnel import Funnel, resolve_funnel
from funnel.exceptions import SerializationError, ValidationError
from funnel.io._json import Twice, pairs_hook
from funnel.model.contact import Company, Consent, Contact
from funnel.model.engagement import EngagementFinding
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.qualification import Criterion, CriterionResult, PassRule, Qualification
from funnel.model.records import Lead, MergedRecord, Prospect
from funnel.model.touch import Touch

__all__ = (
    "SCHEMAS",
    "SCHEMA_VERSION",
    "dumps",
    "from_dict",
    "loads",
    "make_converter",
    "structure",
    "to_dict",
    "unstructure",
)

#: The version of the document layout this module writes and reads.
SCHEMA_VERSION: Final = 1

#: The schema name of each top-level record type.
SCHEMAS: Final[Mapping[str, type[Lead] | type[Prospect]]] = {
    "funnel/lead": Lead,
    "funnel/prospect": Prospect,
}
_SCHEMA_OF: Final[Mapping[type, str]] = {cls: name for name, cls in SCHEMAS.items()}

#: Every attrs class the converter knows; anything else is refused.
RECORD_TYPES: Final = (
    Lead,
    Prospect,
    Contact,
    Company,
    Consent,
    Touch,
    Evidence,
    StageChange,
    Qualification,
    CriterionResult,
    Criterion,
    PassRule,
    EngagementFinding,
    MergedRecord,
)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(f"expected an ISO 8601 string, got {_type_name(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("not an ISO 8601 datetime (value not shown)") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationError("the datetime has no UTC offset; naive datetimes are refused")
    return parsed


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(
            f"expected a decimal string such as '1200.50', got {_type_name(value)}"
        )
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValidationError("not a decimal number (value not shown)") from None
    if not result.is_finite():
        raise ValidationError("decimal must be finite")
    return result


#: Decimals whose exponent lies beyond this are written in scientific notation
#: (``"1E+50"``) rather than with every zero spelt out.
_PLAIN_EXPONENT = 40


def _unstructure_decimal(value: Decimal) -> str:
    """
    *value* in its one canonical text: equal decimals give equal text.

    >>> [_unstructure_decimal(Decimal(v)) for v in ("1.0", "1.00", "-0.0", "1200.50", "1E+2")]
    ['1', '1', '0', '1200.5', '100']
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or not any(digits):  # zero (a non-finite value is refused)
        return "0" if isinstance(exponent, int) else str(value)
    end = len(digits)
    while digits[end - 1] == 0:
        end -= 1
    exponent += len(digits) - end
    exact = Decimal((sign, digits[:end], exponent))
    if -_PLAIN_EXPONENT <= exponent <= _PLAIN_EXPONENT:
        return format(exact, "f")
    return str(exact)


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"expected a string, got {_type_name(value)}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"expected an integer, got {_type_name(value)}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"expected true or false, got {_type_name(value)}")
    return value


def _structure_enum(value: object, cls: type[enum.Enum]) -> enum.Enum:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValidationError(f"expected a {cls.__name__} value, got {_type_name(value)}")
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValidationError(
            f"not a {cls.__name__} (value not shown); expected one of {allowed}"
        ) from None


def _structure_str_set(value: object, _: type) -> frozenset[str]:
    if not isinstance(value, list):
        raise ValidationError(f"expected a list of strings, got {_type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ValidationError(f"item {i}: expected a string, got {_type_name(item)}")
    return frozenset(value)


def _is_str_set(tp: object) -> bool:
    return tp == frozenset[str]


def _is_tuple(tp: object) -> bool:
    return typing.get_origin(tp) is tuple


def _list_only_tuples(conv: cattrs.Converter) -> None:
    def factory(tp: Any) -> Callable[[object, Any], tuple[Any, ...]]:
        inner = homogenous_tuple_structure_factory(tp, conv)

        def structure_tuple(value: object, cls: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise ValidationError(f"expected a list, got {_type_name(value)}")
            result: tuple[Any, ...] = inner(value, cls)
            return result

        return structure_tuple

    conv.register_structure_hook_factory(_is_tuple, factory)


def make_converter() -> cattrs.Converter:
    """
    Build the strict converter used by this module.

    Extra keys are forbidden, scalars are not coerced (``"5"`` is not an
    int, ``1`` is not ``true``), and errors are collected with their path
    (cattrs' detailed validation). Use it to (un)structure single parts
    such as a :class:`~funnel.Touch`; use :func:`to_dict` for whole records.
    """
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(Decimal, _unstructure_decimal)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    # StrEnum subclasses str: register it explicitly so that the strict str hook
    # does not catch enum fields (funnel's enums are all StrEnums).
    for base in (enum.Enum, enum.StrEnum, enum.IntEnum):
        conv.register_structure_hook(base, _structure_enum)
    _list_only_tuples(conv)
    conv.register_unstructure_hook_func(_is_str_set, lambda s: sorted(s))
    conv.register_structure_hook_func(_is_str_set, _structure_str_set)
    return conv


_CONVERTER: Final = make_converter()

T = TypeVar("T")


def unstructure(obj: object) -> Any:
    """Turn any funnel record (or part of one) into JSON-compatible data."""
    return _CONVERTER.unstructure(obj)


def structure(data: object, cls: type[T], *, path: str = "") -> T:
    """
    Build a *cls* from JSON-compatible *data*, strictly.

    Raises:
        SerializationError: with the path of the first problem below *path*.
    """
    if cls not in RECORD_TYPES:
        raise SerializationError(f"{cls.__name__} is not a funnel record type", path=path)
    try:
        return _CONVERTER.structure(data, cls)
    except Exception as exc:  # cattrs groups and the records' own ValueErrors
        raise _translate(exc, path, cls) from exc


def to_dict(record: Lead | Prospect) -> dict[str, Any]:
    """
    The envelope ``{"schema": ..., "version": ..., "data": ...}`` of *record*.

    Raises:
        TypeError: *record* is neither a lead nor a prospect.
    """
    schema = _SCHEMA_OF.get(type(record))
    if schema is None:
        raise ValidationError(
            f"to_dict() takes a Lead or a Prospect, got {type(record).__name__}", field="record"
        )
    return {"schema": schema, "version": SCHEMA_VERSION, "data": _CONVERTER.unstructure(record)}


def from_dict(document: object, *, funnel: Funnel | None = None) -> Lead | Prospect:
    """
    Read a record back from its envelope (see :func:`to_dict`).

    The record must fit *funnel* (default: :data:`funnel.DEFAULT_FUNNEL`): its
    type and its stage's level agree and its history is made of the funnel's
    edges, so a lead document in a prospect stage is refused (a prospect is
    never a lead again, on load too).

    Raises:
        SerializationError: unknown schema or version, unknown or missing
            keys, wrong types, or a record that breaks its rules or does not
            fit the funnel; ``path`` says where (``"data.touches[2].at"``,
            ``"data.stage"``).
    """
    if not isinstance(document, dict):
        raise SerializationError(
            f"expected a JSON object with schema, version and data, got {_type_name(document)}"
        )
    extra = sorted(set(document) - {"schema", "version", "data"})
    if extra:
        raise SerializationError(f"unknown key(s) {extra}", path=str(extra[0]))
    for key in ("schema", "version", "data"):
        if key not in document:
            raise SerializationError("required key is missing", path=key)
    schema = document["schema"]
    cls = SCHEMAS.get(schema) if isinstance(schema, str) else None
    if cls is None:
        raise SerializationError(
            f"unknown schema ({_type_name(schema)}, value not shown); expected one of "
            f"{sorted(SCHEMAS)}",
            path="schema",
        )
    version = document["version"]
    if type(version) is not int or version != SCHEMA_VERSION:  # not 1.0, not true
        raise SerializationError(
            f"unsupported version ({_type_name(version)}, value not shown) of {schema}; "
            "this funnel reads version "
            f"{SCHEMA_VERSION}",
            path="version",
        )
    record = structure(document["data"], cls, path="data")
    problems = resolve_funnel(funnel).record_problems(record)
    if problems:
        field, text = problems[0]
        raise SerializationError(
            f"{record_label(record)} does not fit the funnel: {text}",
            path=f"data.{field}",
        )
    return record


def dumps(record: Lead | Prospect, *, indent: int | None = None) -> str:
    """*record* as a JSON document (keys sorted, so equal records give equal text)."""
    if indent is not None and (
        isinstance(indent, bool) or not isinstance(indent, int) or not 0 <= indent <= 64
    ):
        raise ValidationError(
            f"indent must be None or a whole number from 0 to 64, got {type(indent).__name__}",
            field="indent",
        )
    return json.dumps(to_dict(record), indent=indent, sort_keys=True, ensure_ascii=False)


def loads(text: str | bytes, *, funnel: Funnel | None = None) -> Lead | Prospect:
    """
    Read a record from a JSON document written by :func:`dumps`.

    Raises:
        SerializationError: the text is not JSON, or see :func:`from_dict`.
    """
    if not isinstance(text, str | bytes | bytearray):
        raise ValidationError(
            f"loads() takes a JSON document as str or bytes, got {type(text).__name__}",
            field="text",
        )
    resolve_funnel(funnel)
    if len(text) > MAX_DOCUMENT_SIZE:
        raise SerializationError(
            f"the document has {len(text):,} characters; at most {MAX_DOCUMENT_SIZE:,} are read"
        )
    twice: list[Twice] = []
    try:
        document = json.loads(
            text, parse_constant=_no_constant, object_pairs_hook=pairs_hook(twice)
        )
    except json.JSONDecodeError as exc:
        raise SerializationError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise SerializationError("the document nests too deeply to read") from None
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise SerializationError(str(exc)) from None
        raise SerializationError(
            f"a value cannot be read ({type(exc).__name__}, e.g. an integer over 4,300 digits)"
        ) from None
    if nesting_depth(document) > MAX_DOCUMENT_DEPTH:
        raise SerializationError(f"the document nests deeper than {MAX_DOCUMENT_DEPTH} levels")
    if twice:
        key, path = _first_twice(document, twice[0])
        raise SerializationError(f"key {key_shown(key)} appears twice in one object", path=path)
    return from_dict(document, funnel=funnel)


def _first_twice(document: object, target: Twice) -> tuple[str, str]:
    """The repeated key of *target* and its path in *document* (``data.contact.name``)."""
    todo: list[tuple[object, str]] = [(document, "")]
    while todo:
        node, path = todo.pop()
        if node is target:
            return target.twice, _join(path, key_path(target.twice))
        if isinstance(node, dict):
            todo.extend((v, _join(path, key_path(k))) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, _join(path, i)) for i, v in enumerate(node))
    return target.twice, key_path(target.twice)  # pragma: no cover - target is in the document


def key_shown(key: str) -> str:
    """
    A document key as a message shows it: quoted if it is a name, else not at all.

    A key that is not a field name may be personal data put where a key goes.

    >>> key_shown("opted_out"), key_shown("Ada Lovelace")
    ("'opted_out'", 'a key that is not a name (not shown)')
    """
    return repr(key) if is_name(key) else "a key that is not a name (not shown)"


def key_path(key: str) -> str:
    """A document key as a path shows it (``<key not shown>`` unless it is a name)."""
    return key if is_name(key) else "<key not shown>"


#: Caps on a record document: its size in characters and how deeply it nests.
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024
MAX_DOCUMENT_DEPTH = 32


def _no_constant(name: str) -> None:
    raise ValidationError(f"{name} is not allowed in funnel documents")


# -- error paths ---------------------------------------------------------------------


def _join(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def _leaf(exc: BaseException, path: str) -> tuple[BaseException, str]:
    """Follow the first sub-exception of cattrs' groups down to the failing value."""
    while isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without_notes = exc.group_exceptions()
        if with_notes:
            inner, note = with_notes[0]
        elif without_notes:
            inner, note = without_notes[0], None
        else:
            break
        if isinstance(note, AttributeValidationNote):
            path = _join(path, note.name)
        elif isinstance(note, IterableValidationNote):
            path = _join(path, int(note.index))
        exc = inner
    return exc, path


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClassValidationError | IterableValidationError):
        # No sub-exception: cattrs' own message ("While structuring Lead").
        return str(exc)
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown key(s): {', '.join(key_shown(k) for k in sorted(exc.extra_fields))}"
    return str(exc) or type(exc).__name__


def _translate(exc: BaseException, path: str, cls: type) -> SerializationError:
    leaf, where = _leaf(exc, path)
    if isinstance(leaf, cattrs.ForbiddenExtraKeysError) and leaf.extra_fields:
        where = _join(where, key_path(sorted(leaf.extra_fields)[0]))
    elif (
        isinstance(leaf, ValidationError) and isinstance(leaf.field, str) and _is_field(leaf.field)
    ):
        # A record's own validator names the field it refuses: the path goes down to it.
        where = f"{where}.{leaf.field}" if where else leaf.field
    message = _describe(leaf)
    if not isinstance(exc, ClassValidationError | IterableValidationError):
        # Raised by the record itself (validators, __attrs_post_init__).
        message = f"invalid {cls.__name__}: {message}"
    return SerializationError(message, path=where or path)


#: A field as a record's validator names it: ``created_at``, ``touches[2]``, ``contact.email``.
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*")


def _is_field(field: object) -> bool:
    return isinstance(field, str) and _FIELD.fullmatch(field) is not None
