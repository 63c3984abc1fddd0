"""
The two kinds of people in the funnel: :class:`Lead` and :class:`Prospect`.

They are separate types on purpose. A lead is anyone not yet qualified or in
a dialogue; a prospect is a lead that reached two-way communication *and*
met the qualification criteria. A prospect carries everything the lead had
(contact, touches, evidence, history) plus the :class:`~funnel.Qualification`
that admitted it. Nothing turns a prospect back into a lead.

Records are frozen: every change returns a new record (see
:func:`funnel.advance`, :func:`funnel.convert`, :func:`funnel.add_touch`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

import attrs

from funnel._base.fields import instance, member, non_negative_money, text, to_member
from funnel._base.items import typed_tuple
from funnel._base.markup import label_repr, short_repr
from funnel._base.money import optional_money
from funnel._base.time import aware, optional_aware, optional_utc, to_utc
from funnel.exceptions import ValidationError
from funnel.model._cards import record_card
from funnel.model.contact import Contact
from funnel.model.engagement import Engagement, EngagementFinding, assess_engagement
from funnel.model.evidence import Evidence, sort_evidence
from funnel.model.history import StageChange, check_history
from funnel.model.qualification import Qualification
from funnel.model.touch import Touch, check_touches, sort_touches


class Level(enum.StrEnum):
    """The two levels of the funnel. Every stage belongs to exactly one."""

    LEAD = "lead"
    PROSPECT = "prospect"


class QualificationLevel(enum.StrEnum):
    """How far a lead has been qualified."""

    RAW = "raw"
    """Acquired from a list, an import, cold outreach, a referral..."""
    MQL = "mql"
    """Marketing-qualified: acted on a call to action."""
    SQL = "sql"
    """Sales-qualified: profiled by sales, fits, ready for a rep."""


#: Every stage name a funnel machine declared, with the levels it was declared at.
_DECLARED_LEVELS: dict[str, set[Level]] = {}


def declare_stage_levels(levels: Mapping[str, str]) -> None:
    """
    Make the stage levels of a funnel machine known to the records.

    Every :class:`~funnel.spec.machine.FunnelStateMachine` subclass declares
    its levels here when the class is created (the sources' funnel at import,
    a company's when its class is declared or its definition file loaded).
    A :class:`Lead` is then refused in a stage that every known funnel puts at
    the prospect level, and a :class:`Prospect` in a lead-only stage. A stage
    name two funnels use at different levels is left to the funnel's own
    checks (:meth:`funnel.Funnel.check`), which every door of the library
    applies.
    """
    for stage, level in levels.items():
        if level in ("lead", "prospect"):
            _DECLARED_LEVELS.setdefault(stage, set()).add(Level(level))


def _only_level(stage: str) -> Level | None:
    """The one level every known funnel gives *stage*, or ``None`` (unknown or ambiguous)."""
    declared = _DECLARED_LEVELS.get(stage)
    if declared is not None and len(declared) == 1:
        return next(iter(declared))
    return None


def _check_level(record: Lead | Prospect) -> None:
    """A record's type, its stage's level and its history agree."""
    owner = f"{type(record).__name__} {record.id!r}"
    if isinstance(record, Lead):
        for where, stage in (
            ("stage", record.stage),
            *(("history", c.to_stage) for c in record.history),
            *(("history", c.from_stage) for c in record.history),
        ):
            if _only_level(stage) is Level.PROSPECT:
                raise ValidationError(
                    f"{owner}: {where} names prospect stage {stage!r}; a prospect is never a "
                    "lead again (a prospect record is made by funnel.convert())",
                    record=owner,
                    field=where,
                )
        return
    if not record.qualification.passed or not record.qualification.results:
        raise ValidationError(
            f"{owner}: a prospect needs a passed qualification",
            record=owner,
            field="qualification",
        )
    # Engagement is derived from the touches, never taken on trust: the touches up
    # to the conversion must show the dialogue.
    derived = assess_engagement(t for t in record.touches if t.at <= record.converted_at)
    if (
        record.engagement.level is not Engagement.TWO_WAY
        or derived.level is not Engagement.TWO_WAY
    ):
        raise ValidationError(
            f"{owner}: a prospect needs two-way communication", record=owner, field="engagement"
        )
    if _only_level(record.stage) is Level.LEAD:
        raise ValidationError(
            f"{owner}: stage {record.stage!r} is a lead stage; a prospect never returns to one",
            record=owner,
            field="stage",
        )
    if not record.history:
        raise ValidationError(
            f"{owner}: a prospect's history must contain its conversion (a prospect record "
            "is made by funnel.convert())",
            record=owner,
            field="history",
        )
    crossed = False
    conversion: StageChange | None = None
    for change in record.history:
        if crossed and _only_level(change.to_stage) is Level.LEAD:
            raise ValidationError(
                f"{owner}: history returns to lead stage {change.to_stage!r} after the "
                "conversion; a prospect is never a lead again",
                record=owner,
                field="history",
            )
        if not crossed and _only_level(change.to_stage) is Level.PROSPECT:
            crossed = True
            if _only_level(change.from_stage) is Level.LEAD:
                conversion = change
    if not crossed and _only_level(record.stage) is Level.PROSPECT:
        raise ValidationError(
            f"{owner}: history has no conversion into a prospect stage",
            record=owner,
            field="history",
        )
    # The conversion is a change of the history: converted_at is its time (exactly, when the
    # stages' levels are known here; the funnel's check names the change in every case).
    if conversion is not None and conversion.at != record.converted_at:
        raise ValidationError(
            f"{owner}: converted_at {record.converted_at.isoformat()} is not the time of the "
            f"conversion {conversion.event!r} at {conversion.at.isoformat()}",
            record=owner,
            field="converted_at",
        )
    if conversion is None and all(c.at != record.converted_at for c in record.history):
        raise ValidationError(
            f"{owner}: converted_at {record.converted_at.isoformat()} is the time of no change "
            "in the history (the conversion is one)",
            record=owner,
            field="converted_at",
        )
    # A closed prospect took no event since it closed: closed_at is its last change.
    if record.closed_at is not None and record.closed_at != record.history[-1].at:
        raise ValidationError(
            f"{owner}: closed_at {record.closed_at.isoformat()} is not the time of the last "
            f"change ({record.history[-1].at.isoformat()}), the one that closed it",
            record=owner,
            field="closed_at",
        )
    if record.converted_at < record.created_at:
        raise ValidationError(
            f"{owner}: converted_at precedes created_at", record=owner, field="converted_at"
        )
    if record.closed_at is not None and record.closed_at < record.converted_at:
        raise ValidationError(
            f"{owner}: closed_at precedes converted_at", record=owner, field="closed_at"
        )


def _sorted_evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    return sort_evidence(typed_tuple(items, Evidence, field="evidence"))


def _history(items: Iterable[StageChange]) -> tuple[StageChange, ...]:
    return typed_tuple(items, StageChange, field="history")


@attrs.frozen(kw_only=True)
class MergedRecord:
    """
    A record merged into this one by :func:`funnel.engine.dedupe.merge`.

    Attributes:
        id: The absorbed record's id.
        at: When it was merged (timezone-aware): into the record that holds the
            entry, or into a record merged into that one later, whose entries
            :func:`~funnel.engine.dedupe.merge` keeps with their dates.
        stage: Where the absorbed record stood then.
    """

    id: str = attrs.field(repr=label_repr, validator=text(blank=False))
    at: datetime = attrs.field(converter=to_utc, validator=aware)
    stage: str = attrs.field(validator=text(blank=False))

    __repr__ = short_repr


def _merged(items: Iterable[MergedRecord]) -> tuple[MergedRecord, ...]:
    merged = typed_tuple(items, MergedRecord, field="merged_from")
    return tuple(sorted(merged, key=lambda m: (m.at, m.id)))


def _check_merged(record: Lead | Prospect, owner: str) -> None:
    """
    Each absorbed id once, never the record's own; the latest merge after the record was created.

    An entry dates when its record was merged: into this record, or into a record that
    was merged into this one later (merge() keeps those entries). So an entry may
    precede ``created_at``; the latest one, a merge into this very record, may not.
    """
    seen: set[str] = set()
    for i, entry in enumerate(record.merged_from):
        problem = (
            "names the record itself"
            if entry.id == record.id
            else f"names {entry.id!r} a second time"
            if entry.id in seen
            else None
        )
        if problem is not None:
            raise ValidationError(
                f"{owner}: merged_from[{i}] {problem}", record=owner, field="merged_from"
            )
        seen.add(entry.id)
    if record.merged_from and record.merged_from[-1].at < record.created_at:
        last = record.merged_from[-1]
        raise ValidationError(
            f"{owner}: merged_from[{len(record.merged_from) - 1}] at {last.at.isoformat()} "
            f"precedes created_at {record.created_at.isoformat()}: the latest merge is into "
            "this record, after it was created",
            record=owner,
            field="merged_from",
        )


#: The names of the qualification levels, for type checkers.
QualificationLevelName = Literal["raw", "mql", "sql"]


def _level(value: QualificationLevel | QualificationLevelName) -> QualificationLevel:
    return to_member(QualificationLevel, value)


class FunnelRecord(Protocol):
    """What leads and prospects share; the state machine works on either."""

    @property
    def id(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def contact(self) -> Contact: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def touches(self) -> tuple[Touch, ...]: ...
    @property
    def evidence(self) -> tuple[Evidence, ...]: ...
    @property
    def history(self) -> tuple[StageChange, ...]: ...
    @property
    def record_level(self) -> Level: ...


def _check_record(record: Lead | Prospect) -> None:
    owner = f"{type(record).__name__} {record.id!r}"
    check_touches(record.touches, owner)
    check_history(record.history, record.stage, owner)
    _check_level(record)
    _check_merged(record, owner)
    if record.history and record.history[0].at < record.created_at:
        raise ValidationError(
            f"{owner}: first change at {record.history[0].at.isoformat()} precedes "
            f"created_at {record.created_at.isoformat()}"
        )


def _count(noun: str) -> Callable[[tuple[object, ...]], str]:
    """A repr of a tuple field by its length only: ``<3 touches>`` instead of every item."""

    def shown(items: tuple[object, ...]) -> str:
        return f"<{len(items)} {noun}>"

    return shown


def _qualification_repr(q: Qualification) -> str:
    met = sum(1 for r in q.results if r.verdict == "met")
    return f"<{q.framework}: {met}/{len(q.results)} met, {'passed' if q.passed else 'not passed'}>"


def _engagement_repr(e: EngagementFinding) -> str:
    return f"<{e.level}>"


@attrs.frozen(kw_only=True)
class Lead:
    """
    A contact not yet qualified or not yet in a dialogue (top of funnel).

    Attributes:
        id: Unique id.
        contact: The person (and their company).
        source: Where the lead came from: ``"list"``, ``"referral"``,
            ``"web_form"``, ``"crm_import"``, ...
        created_at: When the lead entered the funnel (timezone-aware; stored in
            UTC, as every time a record holds: see :mod:`funnel._base.time`).
        stage: The current stage; a lead-level stage of the funnel.
        level: Raw, MQL or SQL: the level the last stage on its road that confers
            one set (raw for a road from the initial stage that met none), checked
            by :meth:`funnel.Funnel.check`.
        touches: Every contact so far, ordered by time.
        evidence: Every finding about qualification criteria, in one total order
            (:func:`~funnel.model.evidence.evidence_order`: time, then verdict, ...).
        history: Every stage change, oldest first.
        owner: The rep or team that owns the lead.
        segment: A free label for breakdowns (e.g. ``"mid-market"``).
        merged_from: The records merged into this one, oldest merge first.

    >>> from datetime import datetime, timezone
    >>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web_form",
    ...             created_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    >>> lead.stage, lead.level
    ('acquired', <QualificationLevel.RAW: 'raw'>)
    """

    id: str = attrs.field(repr=label_repr, validator=text(blank=False))
    contact: Contact = attrs.field(validator=instance(Contact))
    source: str = attrs.field(repr=label_repr, validator=text())
    created_at: datetime = attrs.field(converter=to_utc, validator=aware)
    stage: str = attrs.field(default="acquired", validator=text(blank=False))
    level: QualificationLevel = attrs.field(
        default=QualificationLevel.RAW, converter=_level, validator=member(QualificationLevel)
    )
    touches: tuple[Touch, ...] = attrs.field(
        default=(), converter=sort_touches, repr=_count("touches")
    )
    evidence: tuple[Evidence, ...] = attrs.field(
        default=(), converter=_sorted_evidence, repr=_count("evidence")
    )
    history: tuple[StageChange, ...] = attrs.field(
        default=(), converter=_history, repr=_count("changes")
    )
    owner: str | None = attrs.field(default=None, repr=label_repr, validator=text(optional=True))
    segment: str | None = attrs.field(default=None, repr=label_repr, validator=text(optional=True))
    merged_from: tuple[MergedRecord, ...] = attrs.field(
        default=(), converter=_merged, repr=_count("merged")
    )

    def __attrs_post_init__(self) -> None:
        _check_record(self)

    @property
    def record_level(self) -> Level:
        """Always :attr:`Level.LEAD`."""
        return Level.LEAD

    # A repr bounded field by field, and a notebook card (funnel.model._cards).
    __repr__ = short_repr

    def _repr_html_(self) -> str:
        return record_card(self)


@attrs.frozen(kw_only=True)
class Prospect:
    """
    A qualified lead in a two-way dialogue (middle of the funnel and beyond).

    Created only by :func:`funnel.convert`. Its road runs organisation ->
    opportunity -> stakeholder -> won or lost in the default funnel.

    Attributes:
        id: The lead's id (a prospect keeps it).
        contact: The person, with their consent carried over.
        source: The lead's source.
        created_at: When the lead entered the funnel.
        stage: The current stage; a prospect-level stage.
        touches: The lead's touches and every later one.
        evidence: The lead's evidence and every later finding.
        history: The lead's history, the conversion, and every later change.
        qualification: The verdict that admitted the lead; it stands, whatever
            evidence is recorded later (the funnel checks it against the findings it
            cites).
        engagement: The two-way communication that admitted the lead.
        converted_at: When the lead became a prospect: the time of the conversion
            change in the history.
        lead_level: The lead's qualification level at conversion.
        owner: The rep who owns the prospect.
        segment: A free label for breakdowns.
        value: The expected deal value, once known.
        stakeholder: The person who makes the final purchase decision, once known.
        closed_at: When the prospect was won or lost: set exactly when its stage
            is closed, to the time of the change that closed it.
        merged_from: The records merged into this one, oldest merge first: each
            dated when it was merged, into this record or into one merged into it
            later (so an entry may predate ``created_at``; the latest may not).
    """

    id: str = attrs.field(repr=label_repr, validator=text(blank=False))
    contact: Contact = attrs.field(validator=instance(Contact))
    source: str = attrs.field(repr=label_repr, validator=text())
    created_at: datetime = attrs.field(converter=to_utc, validator=aware)
    stage: str = attrs.field(validator=text(blank=False))
    qualification: Qualification = attrs.field(
        validator=instance(Qualification), repr=_qualification_repr
    )
    engagement: EngagementFinding = attrs.field(
        validator=instance(EngagementFinding), repr=_engagement_repr
    )
    converted_at: datetime = attrs.field(converter=to_utc, validator=aware)
    lead_level: QualificationLevel = attrs.field(
        converter=_level, validator=member(QualificationLevel)
    )
    touches: tuple[Touch, ...] = attrs.field(
        default=(), converter=sort_touches, repr=_count("touches")
    )
    evidence: tuple[Evidence, ...] = attrs.field(
        default=(), converter=_sorted_evidence, repr=_count("evidence")
    )
    history: tuple[StageChange, ...] = attrs.field(
        default=(), converter=_history, repr=_count("changes")
    )
    owner: str | None = attrs.field(default=None, repr=label_repr, validator=text(optional=True))
    segment: str | None = attrs.field(default=None, repr=label_repr, validator=text(optional=True))
    value: Decimal | None = attrs.field(
        default=None,
        converter=optional_money,  # type: ignore[misc]  # mypy plugin: attrs.Converter
        validator=non_negative_money(),
    )
    stakeholder: Contact | None = attrs.field(
        default=None, validator=instance(Contact, optional=True)
    )
    closed_at: datetime | None = attrs.field(
        default=None, converter=optional_utc, validator=optional_aware
    )
    merged_from: tuple[MergedRecord, ...] = attrs.field(
        default=(), converter=_merged, repr=_count("merged")
    )

    def __attrs_post_init__(self) -> None:
        _check_record(self)

    @property
    def record_level(self) -> Level:
        """Always :attr:`Level.PROSPECT`."""
        return Level.PROSPECT

    # A repr bounded field by field, and a notebook card (funnel.model._cards).
    __repr__ = short_repr

    def _repr_html_(self) -> str:
        return record_card(self)
