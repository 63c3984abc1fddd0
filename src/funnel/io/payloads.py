"""
API payloads: pydantic v2 models of funnel's records and definition files, and their JSON Schema.

Needs the ``api`` extra (``pip install "salesfunnel[api]"``: pydantic); importing this
module without pydantic raises :class:`~funnel.exceptions.MissingExtra`.

The models mirror the JSON that :mod:`funnel.io.serialize` writes, key for key, so a
request body, a stored document and a record all have one shape:

* :class:`LeadPayload`, :class:`ProspectPayload` and their parts
  (:class:`ContactPayload`, :class:`CompanyPayload`, :class:`TouchPayload`,
  :class:`EvidencePayload`, :class:`StageChangePayload`, :class:`QualificationPayload`,
  ...) for the ``data`` of a record document; :class:`LeadDocument`,
  :class:`ProspectDocument` and :class:`RecordDocument` for the whole envelope
  ``{"schema": "funnel/lead", "version": 1, "data": {...}}``;
* :class:`DefinitionPayload` for a funnel definition file (the TOML or JSON shape that
  :func:`funnel.load_funnel` reads).

Validation is funnel's own: scalars are not coerced (``"5"`` is no count, ``1`` is no
``true``), datetimes must carry a UTC offset and decimals are strings or integers,
exactly as the loader reads them; and every model then builds its record through the
loader's converter (:func:`funnel.io.serialize.structure`), so each record rule (a
reply names an earlier touch, a prospect has a passed qualification, ...) is checked
by the record's own constructor. A payload that validates gives, with
:meth:`LeadPayload.to_record`, exactly the record :func:`funnel.io.serialize.loads`
reads from the same JSON; a definition payload gives, with
:meth:`DefinitionPayload.to_funnel`, the funnel :func:`funnel.load_funnel` builds.

Errors are pydantic's :class:`pydantic.ValidationError` (their text never shows the
input: ``hide_input_in_errors``), whose record-level entries carry the funnel error in
``ctx["error"]``. :func:`problem_details` turns one into the same RFC 9457 body as
:meth:`funnel.FunnelError.to_dict` (status 422, the path of each problem), without
the input values pydantic keeps in ``errors()``.

>>> from funnel.io.payloads import LeadPayload
>>> payload = LeadPayload.model_validate({
...     "id": "L1", "contact": {"name": "Ada", "email": "ada@acme.example"},
...     "source": "web_form", "created_at": "2026-01-05T09:00:00+00:00"})
>>> lead = payload.to_record()
>>> lead.id, lead.stage, lead.created_at.isoformat()
('L1', 'acquired', '2026-01-05T09:00:00+00:00')
>>> LeadPayload.from_record(lead) == payload
True

:func:`json_schemas` gives the JSON Schema documents (draft 2020-12) published with the
package (``funnel/data/schemas/``) and the documentation (``_static/schemas/``); see
``docs/how-to/payloads.md`` for editors (taplo, VS Code).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Generic, Literal, Required, Self, TypeVar

from funnel.exceptions import (
    DefinitionError,
    FunnelError,
    MissingExtra,
    SerializationError,
    ValidationError,
)

try:
    import pydantic
    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        PlainSerializer,
        PlainValidator,
        PrivateAttr,
        RootModel,
        StrictBool,
        StrictFloat,
        StrictInt,
        StrictStr,
        TypeAdapter,
        WithJsonSchema,
        model_validator,
        with_config,
    )
    from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12
except ModuleNotFoundError as _exc:  # pragma: no cover - tested in a subprocess
    _missing = MissingExtra.of(_exc, "funnel.io.payloads")
    if _missing is None:
        raise
    raise _missing from None

from funnel._base.markup import mask_line
from funnel._base.privacy import (
    mask_email,
    mask_name,
    mask_phone,
    mask_text,
)
from funnel._base.time import require_aware
from funnel.engine.funnel import Funnel
from funnel.io import serialize
from funnel.model.contact import Company, Consent, Contact
from funnel.model.engagement import EngagementFinding
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.qualification import Criterion, CriterionResult, PassRule, Qualification
from funnel.model.records import Lead, MergedRecord, Prospect
from funnel.model.touch import Touch

__all__ = (
    "SCHEMA_BASE_URL",
    "CompanyPayload",
    "ConsentPayload",
    "ContactPayload",
    "CriterionPayload",
    "CriterionResultPayload",
    "DefinitionPayload",
    "EngagementPayload",
    "EvidencePayload",
    "LeadDocument",
    "LeadPayload",
    "MergedRecordPayload",
    "PassRulePayload",
    "ProspectDocument",
    "ProspectPayload",
    "QualificationPayload",
    "RecordDocument",
    "StageChangePayload",
    "TouchPayload",
    "json_schemas",
    "payload_of",
    "problem_details",
    "write_schemas",
)

#: Where the documentation publishes the schema files (their ``$id`` starts with it).
SCHEMA_BASE_URL: Final = "https://salesfunnel.readthedocs.io/en/latest/_static/schemas/"

# -- scalars, read as funnel's loader reads them -----------------------------------------


def _when(value: object) -> datetime:
    if isinstance(value, datetime):
        return require_aware(value, "datetime")
    return serialize._structure_datetime(value, datetime)


def _money(value: object) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError("decimal must be finite")
        return value
    return serialize._structure_decimal(value, Decimal)


#: A timezone-aware datetime: an ISO 8601 string with its UTC offset (as
#: ``datetime.fromisoformat`` reads it), written back with ``isoformat()``.
When = Annotated[
    datetime,
    PlainValidator(_when, json_schema_input_type=str),
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 with a UTC offset, e.g. 2026-01-05T09:00:00+00:00",
        }
    ),
]

#: A decimal amount: a string such as ``"1200.50"`` (or an integer), never a float.
Money = Annotated[
    Decimal,
    PlainValidator(_money, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"},
                {"type": "integer"},
            ],
            "description": "a decimal amount as a string ('1200.50') or an integer",
        }
    ),
]

#: A string that must not be empty (ids, stage and event names, sources).
Name = Annotated[StrictStr, Field(min_length=1)]

VerdictName = Literal["met", "not-met", "unknown"]
LevelName = Literal["raw", "mql", "sql"]

_CONFIG: Final = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

R = TypeVar("R")


class _Shown:
    """A field's value as a repr shows it (already masked)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


class _Payload(BaseModel, Generic[R]):
    """A record's JSON shape; validating it builds the record (see :meth:`to_record`)."""

    model_config = _CONFIG
    #: The funnel record class this payload describes.
    record_type: ClassVar[type[Any]]
    #: Fields whose repr is masked, as the record's own repr masks them (personal data,
    #: free text): a request body shows up in debug logs and tracebacks' locals.
    _masked: ClassVar[Mapping[str, Callable[[Any], str]]] = {}
    _record: Any = PrivateAttr(default=None)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            mask = self._masked.get(name) if name is not None else None
            yield name, (_Shown(mask(value)) if mask is not None else value)

    @model_validator(mode="after")
    def _build_record(self) -> Self:
        # The loader's own converter builds the record: its constructor checks run, and
        # an error is the loader's (a SerializationError with the path of the problem).
        # Fields left out stay out (exclude_unset): the record's own defaults apply, and a
        # touch whose reach is not stated is judged as the record judges it.
        self._record = serialize.structure(
            self.model_dump(mode="json", exclude_unset=True), self.record_type
        )
        return self

    def to_record(self) -> R:
        """The funnel record, as :func:`funnel.io.serialize.structure` builds it."""
        record: R = self._record
        return record

    @classmethod
    def from_record(cls, record: R) -> Self:
        """The payload of *record*: the ``data`` :func:`funnel.io.serialize.to_dict` writes."""
        if not isinstance(record, cls.record_type):
            raise ValidationError(
                f"{cls.__name__}.from_record() takes a {cls.record_type.__name__}, "
                f"got {type(record).__name__}",
                field="record",
            )
        return cls.model_validate(serialize.unstructure(record))


# -- record parts ----------------------------------------------------------------------------


class CompanyPayload(_Payload[Company]):
    """A company and its firmographics (:class:`funnel.Company`)."""

    record_type = Company

    name: Name
    industry: StrictStr | None = None
    employees: Annotated[StrictInt, Field(ge=0)] | None = None
    annual_revenue: Money | None = None
    region: StrictStr | None = None
    domain: StrictStr | None = None


class ConsentPayload(_Payload[Consent]):
    """What the contact agreed to (:class:`funnel.Consent`)."""

    record_type = Consent

    opted_out: StrictBool = False
    do_not_contact: StrictBool = False


class ContactPayload(_Payload[Contact]):
    """The person (:class:`funnel.Contact`): personal data, never shown in funnel's errors."""

    record_type = Contact
    _masked = {"name": mask_name, "email": mask_email, "phone": mask_phone, "title": mask_name}

    name: Name
    email: StrictStr | None = None
    phone: StrictStr | None = None
    title: StrictStr | None = None
    company: CompanyPayload | None = None
    consent: ConsentPayload = ConsentPayload()


class TouchPayload(_Payload[Touch]):
    """One contact in either direction (:class:`funnel.Touch`)."""

    record_type = Touch
    _masked = {"note": mask_text}

    id: Name
    at: When
    direction: Literal["inbound", "outbound"]
    channel: Literal["email", "call", "meeting", "form", "chat", "social", "event", "ad", "mail"]
    #: Left out: personal, except from an automated sender (``automation:``,
    #: ``marketing:``, ``campaign:``), which must state it.
    reach: Annotated[
        Literal["mass", "personal"] | None,
        WithJsonSchema(
            {
                "enum": ["mass", "personal"],
                "description": "mass (automated, bulk) or personal; left out: personal, "
                "but an automated sender's outbound touch must state it",
            }
        ),
    ] = None
    sender: StrictStr | None = None
    in_reply_to: Annotated[StrictStr, Field(min_length=1)] | None = None
    connected: StrictBool = False
    note: StrictStr | None = None


class EvidencePayload(_Payload[Evidence]):
    """A finding about one qualification criterion (:class:`funnel.Evidence`)."""

    record_type = Evidence
    _masked = {"note": mask_text}

    criterion: Name
    verdict: VerdictName
    source: Name
    at: When
    note: StrictStr | None = None


class StageChangePayload(_Payload[StageChange]):
    """One transition a record took (:class:`funnel.StageChange`)."""

    record_type = StageChange
    _masked = {"why": mask_text}

    from_stage: Name
    to_stage: Name
    event: Name
    at: When
    why: StrictStr | None = None


class CriterionPayload(_Payload[Criterion]):
    """A qualification criterion (:class:`funnel.model.qualification.Criterion`)."""

    record_type = Criterion

    key: Name  # a lower-case identifier (the record checks it, Unicode letters included)
    name: Name
    question: StrictStr = ""
    aliases: list[StrictStr] = []


class PassRulePayload(_Payload[PassRule]):
    """All criteria, or at least *k* (:class:`funnel.model.qualification.PassRule`)."""

    record_type = PassRule

    kind: Literal["all", "at-least"]
    k: Annotated[StrictInt, Field(ge=1)] | None = None


class CriterionResultPayload(_Payload[CriterionResult]):
    """The verdict on one criterion (:class:`funnel.model.qualification.CriterionResult`)."""

    record_type = CriterionResult

    criterion: CriterionPayload
    verdict: VerdictName
    evidence: EvidencePayload | None
    reason: StrictStr


class QualificationPayload(_Payload[Qualification]):
    """The verdict that admitted a prospect (:class:`funnel.Qualification`)."""

    record_type = Qualification

    framework: Name
    rule: PassRulePayload
    results: list[CriterionResultPayload]
    at: When
    funnel_version: StrictStr | None = None


class EngagementPayload(_Payload[EngagementFinding]):
    """The engagement level and the touch that shows it (:class:`EngagementFinding`)."""

    record_type = EngagementFinding

    level: Literal["none", "one-way", "two-way"]
    touch: TouchPayload | None
    reason: StrictStr


class MergedRecordPayload(_Payload[MergedRecord]):
    """A record merged into this one (:class:`funnel.model.records.MergedRecord`)."""

    record_type = MergedRecord

    id: Name
    at: When
    stage: Name


class LeadPayload(_Payload[Lead]):
    """A lead (:class:`funnel.Lead`): the ``data`` of a ``funnel/lead`` document."""

    record_type = Lead

    id: Name
    contact: ContactPayload
    source: StrictStr
    created_at: When
    stage: Name = "acquired"
    level: LevelName = "raw"
    touches: list[TouchPayload] = []
    evidence: list[EvidencePayload] = []
    history: list[StageChangePayload] = []
    owner: StrictStr | None = None
    segment: StrictStr | None = None
    merged_from: list[MergedRecordPayload] = []

    def to_record(self, *, funnel: Funnel | None = None) -> Lead:
        """
        The lead, exactly as :func:`funnel.io.serialize.from_dict` reads it.

        It must fit *funnel* (default: :data:`funnel.DEFAULT_FUNNEL`).

        Raises:
            SerializationError: the lead does not fit the funnel (``path`` says where).
        """
        record = serialize.from_dict(_envelope(self, "funnel/lead"), funnel=funnel)
        assert isinstance(record, Lead)  # the schema says so
        return record


class ProspectPayload(_Payload[Prospect]):
    """A prospect (:class:`funnel.Prospect`): the ``data`` of a ``funnel/prospect`` document."""

    record_type = Prospect

    id: Name
    contact: ContactPayload
    source: StrictStr
    created_at: When
    stage: Name
    qualification: QualificationPayload
    engagement: EngagementPayload
    converted_at: When
    lead_level: LevelName
    touches: list[TouchPayload] = []
    evidence: list[EvidencePayload] = []
    history: list[StageChangePayload] = []
    owner: StrictStr | None = None
    segment: StrictStr | None = None
    value: Money | None = None
    stakeholder: ContactPayload | None = None
    closed_at: When | None = None
    merged_from: list[MergedRecordPayload] = []

    def to_record(self, *, funnel: Funnel | None = None) -> Prospect:
        """The prospect, exactly as :func:`funnel.io.serialize.from_dict` reads it."""
        record = serialize.from_dict(_envelope(self, "funnel/prospect"), funnel=funnel)
        assert isinstance(record, Prospect)  # the schema says so
        return record


def _envelope(payload: BaseModel, schema: str) -> dict[str, Any]:
    return {
        "schema": schema,
        "version": serialize.SCHEMA_VERSION,
        "data": payload.model_dump(mode="json", exclude_unset=True),
    }


#: The payload class of each record type.
PAYLOADS: Final[Mapping[type, type[_Payload[Any]]]] = {
    cls.record_type: cls
    for cls in (
        CompanyPayload,
        ConsentPayload,
        ContactPayload,
        TouchPayload,
        EvidencePayload,
        StageChangePayload,
        CriterionPayload,
        PassRulePayload,
        CriterionResultPayload,
        QualificationPayload,
        EngagementPayload,
        MergedRecordPayload,
        LeadPayload,
        ProspectPayload,
    )
}


def payload_of(record: object) -> _Payload[Any]:
    """
    The payload model of any funnel record (a lead, a prospect, a touch, ...).

    >>> from datetime import datetime, timezone
    >>> from funnel import Touch
    >>> touch = Touch(id="t1", at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...               direction="inbound", channel="form")
    >>> payload_of(touch).model_dump(mode="json")["at"]
    '2026-01-05T00:00:00+00:00'
    """
    cls = PAYLOADS.get(type(record))
    if cls is None:
        raise ValidationError(
            f"payload_of() takes a funnel record, got {type(record).__name__}", field="record"
        )
    return cls.from_record(record)


# -- documents ---------------------------------------------------------------------------


class LeadDocument(BaseModel):
    """A ``funnel/lead`` document, as :func:`funnel.io.serialize.dumps` writes it."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )

    schema_: Literal["funnel/lead"] = Field(alias="schema")
    version: Literal[1]
    data: LeadPayload

    def to_record(self, *, funnel: Funnel | None = None) -> Lead:
        """The lead, exactly as :func:`funnel.io.serialize.loads` reads it."""
        return self.data.to_record(funnel=funnel)


class ProspectDocument(BaseModel):
    """A ``funnel/prospect`` document, as :func:`funnel.io.serialize.dumps` writes it."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )

    schema_: Literal["funnel/prospect"] = Field(alias="schema")
    version: Literal[1]
    data: ProspectPayload

    def to_record(self, *, funnel: Funnel | None = None) -> Prospect:
        """The prospect, exactly as :func:`funnel.io.serialize.loads` reads it."""
        return self.data.to_record(funnel=funnel)


class RecordDocument(
    RootModel[Annotated[LeadDocument | ProspectDocument, Field(discriminator="schema_")]]
):
    """A lead or a prospect document, told apart by its ``schema`` key."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    def to_record(self, *, funnel: Funnel | None = None) -> Lead | Prospect:
        """The record, exactly as :func:`funnel.io.serialize.loads` reads it."""
        return self.root.to_record(funnel=funnel)


# -- definition files ----------------------------------------------------------------------

#: A string, or a list of strings (``from = "a"`` and ``from = ["a", "b"]`` both work).
Strings = StrictStr | list[StrictStr]
#: A score threshold on the 0-100 scale.
Score = Annotated[StrictInt, Field(ge=0, le=100)] | Annotated[StrictFloat, Field(ge=0, le=100)]


@with_config(ConfigDict(extra="forbid"))
class FunnelTable(TypedDict, total=False):
    """[funnel]: the funnel's name, version and description."""

    name: Required[StrictStr]
    version: Required[StrictStr | StrictInt]
    description: StrictStr


@with_config(ConfigDict(extra="forbid"))
class StageTable(TypedDict, total=False):
    """[stages.<id>]: one stage; the id is a Python identifier."""

    name: StrictStr
    level: Required[Literal["lead", "prospect"]]
    initial: StrictBool
    final: StrictBool
    outcome: Literal["won", "lost"]
    qualification_level: LevelName


#: [events.<id>] in the short form, or one transition of the long form ("from" is a
#: Python keyword: hence the functional form).
TransitionTable = TypedDict(
    "TransitionTable",
    {
        "from": Required[Strings],
        "to": Required[StrictStr],
        "guards": Strings,
        "unless": Strings,
    },
    total=False,
)
TransitionTable.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
TransitionTable.__doc__ = "A transition: source stages, the target stage and its guards."


@with_config(ConfigDict(extra="forbid"))
class LongEventTable(TypedDict):
    """[events.<id>] in the long form: transitions tried in order, the first that passes wins."""

    transitions: Annotated[list[TransitionTable], Field(min_length=1)]


@with_config(ConfigDict(extra="forbid"))
class QualificationTable(TypedDict, total=False):
    """[qualification]: the framework and its pass rule."""

    framework: StrictStr
    criteria: Strings
    rule: Literal["all", "at-least"]
    at_least: Annotated[StrictInt, Field(ge=1)]
    description: StrictStr


@with_config(ConfigDict(extra="forbid"))
class CriterionTable(TypedDict, total=False):
    """[criteria.<key>]: a criterion of your own; the key is a lower-case identifier."""

    name: StrictStr
    question: StrictStr
    aliases: Strings


@with_config(ConfigDict(extra="forbid"))
class IcpTable(TypedDict, total=False):
    """[icp]: the ideal customer profile, deciding the fits_profile guard and fit."""

    industries: Strings
    regions: Strings
    min_employees: Annotated[StrictInt, Field(ge=0)]
    max_employees: Annotated[StrictInt, Field(ge=0)]
    min_revenue: StrictInt | StrictFloat | StrictStr
    criterion: StrictStr


@with_config(ConfigDict(extra="forbid"))
class ThresholdsTable(TypedDict, total=False):
    """[thresholds]: MQL and SQL score thresholds, 0 <= mql <= sql <= 100."""

    mql: Score
    sql: Score


@with_config(ConfigDict(extra="forbid"))
class RuleTable(TypedDict, total=False):
    """One communication rule: a reach and the sender kinds allowed."""

    reach: Required[Literal["mass", "personal"]]
    senders: Strings


@with_config(ConfigDict(extra="forbid"))
class CommunicationTable(TypedDict, total=False):
    """[communication]: the outbound touches each level allows."""

    lead: Required[list[RuleTable]]
    prospect: Required[list[RuleTable]]
    lead_levels: dict[LevelName, list[RuleTable]]
    stages: dict[StrictStr, list[RuleTable]]


@with_config(ConfigDict(extra="forbid"))
class DefinitionFile(TypedDict, total=False):
    """A funnel definition file (TOML or JSON); every key: docs/reference/definition-file.md."""

    funnel: Required[FunnelTable]
    stages: Required[dict[StrictStr, StageTable]]
    events: Required[dict[StrictStr, TransitionTable | LongEventTable]]
    qualification: QualificationTable
    criteria: dict[StrictStr, CriterionTable]
    icp: IcpTable
    thresholds: ThresholdsTable
    communication: CommunicationTable


class DefinitionPayload(RootModel[DefinitionFile]):
    """
    A funnel definition, validated by pydantic and then by funnel's own reader.

    >>> import tomllib
    >>> from funnel.io.definition import default_definition_path
    >>> data = tomllib.loads(default_definition_path().read_text())
    >>> DefinitionPayload.model_validate(data).to_funnel() == funnel.DEFAULT_FUNNEL
    True
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)
    _funnel: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_funnel(self) -> Self:
        from funnel.io.definition.build import funnel_from_data

        # Every problem the reader finds at once, as a DefinitionError.
        self._funnel = funnel_from_data(self.root, source="payload", format="json")
        return self

    def to_funnel(self) -> Funnel:
        """The funnel, as :func:`funnel.load_funnel` builds it from the same data."""
        built: Funnel = self._funnel
        return built


# -- errors --------------------------------------------------------------------------------

_DEFINITION_MODELS: Final = frozenset({"DefinitionPayload", "DefinitionFile"})


def _path(loc: Iterable[object]) -> str:
    out = ""
    for step in loc:
        if step in serialize.SCHEMAS:  # the tag pydantic puts in the path of RecordDocument
            continue
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def _safe(text: object) -> str:
    return mask_line(str(text))


def problem_details(
    error: pydantic.ValidationError | Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
) -> dict[str, Any]:
    """
    An RFC 9457 problem-details body for a payload pydantic refused, without its input.

    The body has the keys of :meth:`funnel.FunnelError.to_dict` (``type``, ``title``,
    ``status`` 422, ``detail``), the ``path`` of the first problem, and ``errors``: one
    ``{"path", "message", "kind"}`` per problem. The input values that pydantic keeps
    in ``errors()`` (personal data, often) are left out; a problem funnel's own checks
    found keeps the path into the record (``touches[1]``) and funnel's message.

    *error* is a :class:`pydantic.ValidationError` or the ``errors()`` of one (for
    FastAPI: ``RequestValidationError.errors()``, whose paths start with ``body``).

    >>> try:
    ...     TouchPayload.model_validate({"id": "t1", "at": "2026-01-05", "direction": "in",
    ...                                  "channel": "email"})
    ... except pydantic.ValidationError as exc:
    ...     body = problem_details(exc)
    >>> body["status"], body["path"], [e["path"] for e in body["errors"]]
    (422, 'at', ['at', 'direction'])
    """
    if isinstance(error, pydantic.ValidationError):
        kind = title or (
            "DefinitionError" if error.title in _DEFINITION_MODELS else "SerializationError"
        )
        items: Sequence[Mapping[str, Any]] = error.errors(include_input=False)
    else:
        kind = title or "SerializationError"
        items = error
    problems: list[dict[str, Any]] = []
    for item in items:
        loc = list(item.get("loc", ()))
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, DefinitionError):
            kind = title or "DefinitionError"
            base = _path(loc)
            for p in cause.problems:
                where = ".".join(part for part in (base, p.key) if part)
                problems.append({"path": where, "message": _safe(p.message), "kind": p.kind})
            continue
        if isinstance(cause, SerializationError):
            where = ".".join(part for part in (_path(loc), cause.path) if part)
            message = (
                cause.summary.removeprefix(f"{cause.path}: ") if cause.path else cause.summary
            )
            problems.append({"path": where, "message": _safe(message), "kind": "invalid-record"})
            continue
        message = cause.summary if isinstance(cause, FunnelError) else str(item.get("msg", ""))
        problems.append({"path": _path(loc), "message": _safe(message), "kind": item.get("type")})
    first = problems[0] if problems else {"path": "", "message": "invalid payload"}
    where = f"{first['path']}: " if first["path"] else ""
    return {
        "type": f"urn:funnel:error:{kind}",
        "title": kind,
        "status": 422,
        "detail": f"{len(problems)} problem(s) in the payload; {where}{first['message']}",
        "path": first["path"] or None,
        "errors": problems,
    }


# -- JSON Schema ---------------------------------------------------------------------------

_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """
    The JSON Schema documents funnel publishes, by file name.

    * ``funnel-lead.schema.json``, ``funnel-prospect.schema.json``: a record document
      (``{"schema": ..., "version": 1, "data": ...}``);
    * ``funnel-record.schema.json``: either;
    * ``funnel-definition.schema.json``: a definition file (TOML or JSON).

    The schemas check shapes and types. Rules across fields (a reply names an earlier
    touch, a stage that events name is declared, ...) are checked by funnel's loaders
    and by the payload models.

    >>> sorted(json_schemas())[0]
    'funnel-definition.schema.json'
    """
    sources: dict[str, tuple[str, dict[str, Any]]] = {
        "funnel-lead.schema.json": (
            "A funnel lead document",
            LeadDocument.model_json_schema(by_alias=True),
        ),
        "funnel-prospect.schema.json": (
            "A funnel prospect document",
            ProspectDocument.model_json_schema(by_alias=True),
        ),
        "funnel-record.schema.json": (
            "A funnel lead or prospect document",
            RecordDocument.model_json_schema(by_alias=True),
        ),
        "funnel-definition.schema.json": (
            "A funnel definition file (TOML or JSON)",
            TypeAdapter(DefinitionFile).json_schema(by_alias=True),
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (title, schema) in sources.items():
        out[name] = {
            "$schema": _DRAFT,
            "$id": SCHEMA_BASE_URL + name,
            **schema,
            "title": title,
        }
    return out


def schema_text(schema: Mapping[str, Any]) -> str:
    """A schema as the published files hold it: sorted keys, two-space indent, a newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: str | Path) -> list[Path]:
    """
    Write every schema of :func:`json_schemas` into *directory*; the paths written.

    The committed copies are regenerated with::

        uv run python -m funnel.io.payloads src/funnel/data/schemas docs/_static/schemas
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = folder / name
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written


def schema_path(name: str) -> Path:
    """
    The schema file shipped with the package, by file name (for taplo or VS Code offline).

    >>> schema_path("funnel-definition.schema.json").name
    'funnel-definition.schema.json'
    """
    if name not in json_schemas():
        raise ValidationError(
            f"no schema {name!r}", field="name", allowed=tuple(sorted(json_schemas()))
        )
    return Path(__file__).resolve().parent.parent / "data" / "schemas" / name


if __name__ == "__main__":  # pragma: no cover - the command in write_schemas' docstring
    import sys

    for target in sys.argv[1:]:
        for written_path in write_schemas(target):
            sys.stdout.write(f"{written_path}\n")
