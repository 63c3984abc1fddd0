"""
A funnel definition: the machine plus everything a company decides about it.

A :class:`FunnelDefinition` bundles a machine class (stages, events, guards),
the guard registry it resolves guard names in, each stage's level, the
qualification framework and ideal customer profile, the communication
policy, and a name and version. Building one validates it; the records it
qualifies remember its version.

This is the specification only: it says what the funnel *is*. The class
users work with, :class:`funnel.Funnel`, adds the methods that move records
(:mod:`funnel.engine.funnel`); :data:`funnel.DEFAULT_FUNNEL` is the sources'
funnel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import attrs

from funnel._base.fields import instance, number_shown, shown, text, type_name
from funnel._base.markup import markdown_text
from funnel.exceptions import DefinitionError, DefinitionProblem, UnknownName, ValidationError
from funnel.model.qualification import (
    DEFAULT,
    Framework,
    IdealCustomerProfile,
    Qualification,
    qualify,
)
from funnel.model.records import Level, QualificationLevel
from funnel.spec.communication import DEFAULT_COMMUNICATION, CommunicationPolicy
from funnel.spec.guards import CONVERSION_RULE, GUARDS, GuardRegistry
from funnel.spec.table import Edge, TransitionTable, derive_table

if TYPE_CHECKING:
    from funnel.model.records import FunnelRecord
    from funnel.spec.machine import FunnelStateMachine  # python-statemachine: loaded on use

#: Guards every lead -> prospect edge must carry.
CONVERSION_GUARDS = frozenset((name, True) for name in CONVERSION_RULE)


def _levels(machine: type[FunnelStateMachine]) -> Mapping[str, Level]:
    return MappingProxyType({k: Level(v) for k, v in machine.levels.items()})


def machine_signature(
    machine: type[FunnelStateMachine], registry: GuardRegistry = GUARDS
) -> tuple[object, ...]:
    """
    Everything about a machine class that a funnel depends on, as a comparable value.

    Two classes with the same signature (stages and their names, initial and
    final stages, events, edges with guards, levels, outcomes, qualification
    levels) define the same funnel, even when one was built from a file. Guard
    names resolve in *registry* (the funnel's own, when it has one).
    """
    return (derive_table(machine, registry), *_machine_facts(machine))


def _machine_facts(machine: type[FunnelStateMachine]) -> tuple[object, ...]:
    """What a machine class declares beside its table: levels, outcomes, qualification levels."""
    return (
        tuple(sorted(machine.levels.items())),
        tuple(sorted(machine.outcomes.items())),
        tuple(sorted(machine.qualification_levels.items())),
    )


def _same_machine(a: type[FunnelStateMachine], b: type[FunnelStateMachine]) -> bool:
    # The tables (derived with each funnel's own registry) are compared as a field of
    # their own; deriving here would resolve guards in the default registry only.
    return a is b or _machine_facts(a) == _machine_facts(b)


@attrs.frozen
class Thresholds:
    """
    Score thresholds for the lead levels, on a 0-100 scale.

    A lead scoring at least ``mql`` is marketing-qualified, at least ``sql``
    sales-qualified; ``0 <= mql <= sql <= 100``. The sources give no numbers:
    the defaults (50 and 75) are placeholders for a team to calibrate.

    >>> Thresholds(mql=40, sql=70)
    Thresholds(mql=40, sql=70)
    >>> Thresholds(mql=80, sql=70)
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: thresholds must satisfy 0 <= mql <= sql <= 100, got ...
    """

    mql: float = 50
    sql: float = 75

    def __attrs_post_init__(self) -> None:
        for name in ("mql", "sql"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(
                    f"Thresholds.{name} must be a number, got {type_name(value)}",
                    record="Thresholds",
                    field=name,
                )
            if not (isinstance(value, int) or math.isfinite(value)):
                raise ValidationError(
                    f"Thresholds.{name} must be a finite number, got {value!r}",
                    record="Thresholds",
                    field=name,
                )
        if not 0 <= self.mql <= self.sql <= 100:
            field = "mql" if not 0 <= self.mql <= 100 or self.mql > self.sql else "sql"
            raise ValidationError(
                "thresholds must satisfy 0 <= mql <= sql <= 100, "
                f"got mql={number_shown(self.mql)}, sql={number_shown(self.sql)}",
                record="Thresholds",
                field=field,
            )


@attrs.frozen(kw_only=True)
class FunnelDefinition:
    """
    A validated funnel definition (use :class:`funnel.Funnel`, which adds the moving methods).

    Attributes:
        machine: The python-statemachine class declaring stages and events.
        guards: The registry guard names resolve in (default: :data:`~funnel.spec.guards.GUARDS`).
        name: The funnel's name.
        version: The definition's version; qualifications record it.
        framework: The qualification framework and its pass rule.
        icp: The ideal customer profile deciding *fit*, if any.
        description: Free text.
        thresholds: MQL/SQL score thresholds (0-100).
        communication: Which outbound touches each level (or stage) allows.
        table: The derived transition table (computed).

    Two funnels are equal when they define the same thing, even if their
    machine classes are distinct objects (e.g. one was loaded from a file).

    Raises:
        DefinitionError: on building, with every problem found.

    >>> from funnel import DEFAULT_FUNNEL
    >>> DEFAULT_FUNNEL.lead_stages
    ('acquired', 'mql', 'sql', 'nurturing', 'disqualified')
    >>> DEFAULT_FUNNEL.conversion_events
    ('convert',)
    """

    #: Errors name a funnel by its name.
    _label_field: ClassVar[str] = "name"

    machine: type[FunnelStateMachine] = attrs.field(
        eq=attrs.cmp_using(eq=_same_machine), hash=False
    )
    name: str = attrs.field(default="funnel", validator=text())
    version: str = attrs.field(default="1", validator=text())
    framework: Framework = attrs.field(default=DEFAULT, validator=instance(Framework))
    icp: IdealCustomerProfile | None = attrs.field(
        default=None, validator=instance(IdealCustomerProfile, optional=True)
    )
    description: str = attrs.field(default="", validator=text())
    thresholds: Thresholds = attrs.field(default=Thresholds(), validator=instance(Thresholds))
    communication: CommunicationPolicy = attrs.field(
        default=DEFAULT_COMMUNICATION, validator=instance(CommunicationPolicy)
    )
    guards: GuardRegistry = attrs.field(default=GUARDS, eq=False, repr=False)
    # Compared: two funnels with the same table and machine facts are equal.
    table: TransitionTable = attrs.field(init=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        from funnel.spec.machine import FunnelStateMachine  # a machine class loaded it already

        if not (isinstance(self.machine, type) and issubclass(self.machine, FunnelStateMachine)):
            raise ValidationError(
                f"funnel {self.name!r}: machine must be a FunnelStateMachine subclass, "
                f"got {type(self.machine).__name__}",
                record=f"funnel {self.name!r}",
                field="machine",
            )
        if not isinstance(self.guards, GuardRegistry):
            raise ValidationError(
                f"funnel {self.name!r}: guards must be a GuardRegistry, "
                f"got {type(self.guards).__name__}",
                record=f"funnel {self.name!r}",
                field="guards",
            )
        table = derive_table(self.machine, self.guards)
        object.__setattr__(self, "table", table)
        problems = validate_machine(self.machine, table)
        for stage in self.communication.stages:
            if stage not in table.stages:
                problems.append(
                    DefinitionProblem(
                        "unknown-stage",
                        f"communication rules name stage {stage!r}, which the machine lacks",
                        key=f"communication.stages.{stage}",
                    )
                )
        if problems:
            raise DefinitionError(problems, source=f"funnel {self.name!r}")

    @property
    def stages(self) -> tuple[str, ...]:
        """Every stage, in declaration order."""
        return self.table.stages

    @property
    def initial(self) -> str:
        """The stage new leads start in."""
        return self.table.initial

    @property
    def levels(self) -> Mapping[str, Level]:
        """Each stage's level."""
        return _levels(self.machine)

    def level_of(self, stage: str) -> Level:
        """
        The level of *stage*.

        Raises:
            UnknownName: the funnel has no such stage (also a ``KeyError``).
        """
        try:
            return Level(self.machine.levels[stage])
        except Exception:  # not a stage; or unhashable, or a value whose hash fails
            raise self._unknown_stage(stage) from None

    def _unknown_stage(self, stage: object) -> UnknownName:
        return UnknownName(
            f"funnel {self.name!r} has no stage {shown(stage)}",
            record=f"funnel {self.name!r}",
            field="stage",
            allowed=self.stages,
        )

    @property
    def lead_stages(self) -> tuple[str, ...]:
        """Lead-level stages, in order."""
        return tuple(s for s in self.stages if self.level_of(s) is Level.LEAD)

    @property
    def prospect_stages(self) -> tuple[str, ...]:
        """Prospect-level stages, in order."""
        return tuple(s for s in self.stages if self.level_of(s) is Level.PROSPECT)

    @property
    def finals(self) -> frozenset[str]:
        """Terminal stages: they accept no event."""
        return self.table.finals

    @property
    def won_stages(self) -> frozenset[str]:
        """Final stages that mean a customer was won."""
        return frozenset(s for s, o in self.machine.outcomes.items() if o == "won")

    @property
    def lost_stages(self) -> frozenset[str]:
        """Final stages that mean the record was lost or disqualified."""
        return frozenset(s for s, o in self.machine.outcomes.items() if o == "lost")

    @property
    def conversion_edges(self) -> tuple[Edge, ...]:
        """Edges from a lead stage to a prospect stage."""
        return tuple(
            e
            for e in self.table.edges
            if self.level_of(e.source) is Level.LEAD and self.level_of(e.target) is Level.PROSPECT
        )

    @property
    def conversion_events(self) -> tuple[str, ...]:
        """Events that turn a lead into a prospect."""
        return tuple(dict.fromkeys(e.event for e in self.conversion_edges))

    @property
    def main_path(self) -> tuple[str, ...]:
        """
        The road a winning lead takes: the initial stage, the stages that set a
        qualification level, the open prospect stages, then the won stages.

        Reports count "reached" along this path by default.

        >>> from funnel import DEFAULT_FUNNEL
        >>> DEFAULT_FUNNEL.main_path
        ('acquired', 'mql', 'sql', 'organisation', 'opportunity', 'stakeholder', 'won')
        """
        steps = [self.initial]
        for stage in self.stages:
            if stage in steps:
                continue
            if self.qualification_level(stage) is not None or (
                self.level_of(stage) is Level.PROSPECT and stage not in self.finals
            ):
                steps.append(stage)
        steps.extend(s for s in self.stages if s in self.won_stages)
        return tuple(steps)

    def qualification_level(self, stage: str) -> QualificationLevel | None:
        """The lead level entering *stage* confers, if any."""
        if not isinstance(stage, str):
            raise self._unknown_stage(stage)
        value = self.machine.qualification_levels.get(stage)
        return QualificationLevel(value) if value is not None else None

    def stage_name(self, stage: str) -> str:
        """
        The display name of *stage*.

        Raises:
            UnknownName: the funnel has no such stage (also a ``KeyError``).
        """
        try:
            return self.table.names[stage]
        except Exception:  # not a stage; or unhashable, or a value whose hash fails
            raise self._unknown_stage(stage) from None

    def record_problems(self, record: FunnelRecord) -> tuple[tuple[str, str], ...]:
        """
        Where *record* disagrees with this funnel, as ``(field, problem)`` pairs.

        Its stage must be a stage of the funnel at the level of its type (a
        :class:`~funnel.Lead` in a lead stage, a :class:`~funnel.Prospect` in a
        prospect stage), and every change in its history an edge of the
        funnel: a lead's history stays among lead stages, a prospect's crosses
        to the prospect level once, through a conversion edge, and never back.
        No problems means the record could have been made by this funnel.
        """
        problems: list[tuple[str, str]] = []
        levels = self.machine.levels
        kind = record.record_level
        if record.stage not in levels:
            problems.append(
                (
                    "stage",
                    f"stage {shown(record.stage)} is not a stage of funnel {self.name!r} "
                    f"v{self.version} (stages: {', '.join(self.stages)})",
                )
            )
        elif Level(levels[record.stage]) is not kind:
            problems.append(
                (
                    "stage",
                    f"{record.stage!r} is a {levels[record.stage]} stage of funnel "
                    f"{self.name!r}, but the record is a {kind.value}"
                    + ("; a prospect is never a lead again" if kind is Level.LEAD else ""),
                )
            )
        edges = {(e.source, e.event, e.target) for e in self.table.edges}
        crossed = False
        conversion: int | None = None
        for i, change in enumerate(record.history):
            where = f"history[{i}]"
            step = (change.from_stage, change.event, change.to_stage)
            if step not in edges:
                problems.append(
                    (
                        where,
                        f"{shown(change.event)} from {shown(change.from_stage)} to "
                        f"{shown(change.to_stage)} is not a transition of funnel {self.name!r}",
                    )
                )
                continue
            src, dst = Level(levels[change.from_stage]), Level(levels[change.to_stage])
            if src is Level.LEAD and dst is Level.PROSPECT:
                if kind is Level.LEAD:
                    problems.append((where, "a lead's history cannot contain a conversion"))
                if conversion is None:
                    conversion = i
                crossed = True
        if problems:
            return tuple(problems)  # the fields below are read along a valid history
        if kind is Level.PROSPECT:
            if not crossed:
                problems.append(("history", "a prospect's history must contain its conversion"))
            else:
                problems.extend(self._prospect_problems(record, conversion or 0))
            problems.extend(self._qualification_problems(record))
        else:
            problems.extend(self._level_problems("level", record, len(record.history)))
        return tuple(problems)

    def _conferred_level(
        self, record: FunnelRecord, upto: int
    ) -> tuple[QualificationLevel, str] | None:
        """
        The level a lead has after the first *upto* changes of its history, and the stage
        that set it: the last stage on that road that confers a level (entering ``mql``
        makes an MQL); raw if none does and the road starts at the initial stage (every
        new lead is raw); ``None`` otherwise (the lead's own level: it was imported there).
        """
        history = record.history
        if history:
            road = [history[0].from_stage, *(c.to_stage for c in history[:upto])]
        else:
            road = [record.stage]
        for stage in reversed(road):
            level = self.machine.qualification_levels.get(stage)
            if level is not None:
                return QualificationLevel(level), stage
        if road[0] == self.initial:
            return QualificationLevel.RAW, road[0]
        return None

    def _level_problems(
        self, field: str, record: FunnelRecord, upto: int
    ) -> list[tuple[str, str]]:
        """The lead level in *field* agrees with the stages of the history (up to *upto*)."""
        conferred = self._conferred_level(record, upto)
        held = getattr(record, field, None)
        if conferred is None or held == conferred[0]:
            return []
        level, stage = conferred
        shown_held = held.value if isinstance(held, QualificationLevel) else held
        return [
            (
                field,
                f"{field} is {shown(shown_held)} but the road through stage {stage!r} of "
                f"funnel {self.name!r} makes the lead {level.value!r}",
            )
        ]

    def _prospect_problems(self, record: FunnelRecord, conversion: int) -> list[tuple[str, str]]:
        """converted_at, closed_at and lead_level agree with the prospect's history."""
        problems: list[tuple[str, str]] = []
        change = record.history[conversion]
        converted_at: datetime | None = getattr(record, "converted_at", None)
        if converted_at != change.at:
            problems.append(
                (
                    "converted_at",
                    f"converted_at is not the time of the conversion (history[{conversion}] "
                    f"{change.event!r} at {change.at.isoformat()})",
                )
            )
        problems.extend(self._level_problems("lead_level", record, conversion))
        closed_at: datetime | None = getattr(record, "closed_at", None)
        closed = record.stage in self.finals
        if closed and closed_at is None:
            problems.append(
                ("closed_at", f"stage {record.stage!r} is closed, but closed_at is not set")
            )
        elif not closed and closed_at is not None:
            problems.append(("closed_at", f"closed_at is set, but stage {record.stage!r} is open"))
        elif closed_at is not None and closed_at != record.history[-1].at:
            problems.append(
                ("closed_at", "closed_at is not the time of the change that closed the record")
            )
        return problems

    def _qualification_problems(self, record: FunnelRecord) -> list[tuple[str, str]]:
        """
        A prospect judged by this funnel's version passes its framework again, on the
        evidence its stored qualification saw.

        The verdict that admitted a prospect is the one it stores: a finding recorded
        later (a late note dated before the conversion, a merged twin's evidence) stays
        in the record's evidence but does not unmake the conversion. Only the deciding
        findings the record still holds count (and the profile's own finding,
        ``source="rule:icp"``), so a qualification that cites evidence the record
        lacks does not pass.
        """
        judged: Qualification | None = getattr(record, "qualification", None)
        converted_at: datetime | None = getattr(record, "converted_at", None)
        if judged is None or converted_at is None:
            return [("qualification", "a prospect carries its qualification")]
        if judged.funnel_version not in (None, self.version):
            return []  # judged by another version of the funnel: its rules then applied
        held = set(record.evidence)
        seen = [
            r.evidence
            for r in judged.results
            if r.evidence is not None and (r.evidence in held or r.evidence.source == "rule:icp")
        ]
        again = qualify(
            seen,
            framework=self.framework,
            company=record.contact.company,
            icp=self.icp,
            at=converted_at,
            funnel_version=self.version,
        )
        if again.passed:
            return []
        return [
            (
                "qualification",
                f"the evidence up to the conversion does not pass framework "
                f"{self.framework.name!r} of funnel {self.name!r} v{self.version}",
            )
        ]

    def mermaid(self) -> str:
        """
        The funnel as a mermaid ``stateDiagram-v2``: stages grouped by level, guards shown.

        Needs no dependency; see :func:`funnel.spec.diagrams.mermaid`.
        """
        from funnel.spec.diagrams import mermaid

        return mermaid(self)

    def svg(self) -> str:
        """
        The funnel as an SVG image (needs ``salesfunnel[diagrams]`` and Graphviz ``dot``).

        Raises:
            DiagramError: pydot or ``dot`` is missing; the message says what to install.
        """
        from funnel.spec.diagrams import svg

        return svg(self)

    def _repr_markdown_(self) -> str:
        md = markdown_text
        return f"**{md(self.name)}** v{md(self.version)}\n\n```mermaid\n{self.mermaid()}\n```\n"

    def _repr_svg_(self) -> str | None:
        from funnel.spec.diagrams import try_svg

        return try_svg(self)

    def _repr_html_(self) -> str:
        from funnel.spec.diagrams import html

        return html(self)


def validate_machine(
    machine: type[FunnelStateMachine], table: TransitionTable
) -> list[DefinitionProblem]:
    """
    Check a machine against the funnel's rules; return every problem found.

    Rules: every stage has a level; the initial stage is a lead stage; no edge
    leads from a prospect stage to a lead stage; every lead -> prospect edge
    requires two-way communication and qualification; outcomes and
    qualification levels name real final / lead stages.
    """
    problems: list[DefinitionProblem] = []
    levels = machine.levels
    stages = set(table.stages)
    for stage in table.stages:
        if stage not in levels:
            problems.append(
                DefinitionProblem(
                    "missing-level", f"stage {stage!r} has no level", key=f"levels.{stage}"
                )
            )
        elif levels[stage] not in ("lead", "prospect"):
            problems.append(
                DefinitionProblem(
                    "bad-level",
                    f"level must be 'lead' or 'prospect', got {levels[stage]!r}",
                    key=f"levels.{stage}",
                )
            )
    for stage in levels:
        if stage not in stages:
            problems.append(
                DefinitionProblem(
                    "unknown-stage", f"no stage {stage!r} in the machine", key=f"levels.{stage}"
                )
            )
    if problems:
        return problems
    if levels[table.initial] != "lead":
        problems.append(
            DefinitionProblem(
                "initial-not-lead",
                f"initial stage {table.initial!r} must be a lead stage",
                key="initial",
            )
        )
    for edge in table.edges:
        src, dst = levels[edge.source], levels[edge.target]
        where = f"{edge.event}: {edge.source} -> {edge.target}"
        if src == "prospect" and dst == "lead":
            problems.append(
                DefinitionProblem(
                    "prospect-to-lead", "a prospect can never become a lead again", key=where
                )
            )
        if src == "lead" and dst == "prospect" and not set(edge.guards) >= CONVERSION_GUARDS:
            problems.append(
                DefinitionProblem(
                    "unguarded-conversion",
                    "becoming a prospect requires guards is_two_way and is_qualified",
                    key=where,
                )
            )
    for stage, outcome in machine.outcomes.items():
        if stage not in table.finals:
            problems.append(
                DefinitionProblem(
                    "outcome-not-final", f"{stage!r} is not a final stage", key=f"outcomes.{stage}"
                )
            )
        if outcome not in ("won", "lost"):
            problems.append(
                DefinitionProblem(
                    "bad-outcome",
                    f"outcome must be 'won' or 'lost', got {outcome!r}",
                    key=f"outcomes.{stage}",
                )
            )
    for stage, qlevel in machine.qualification_levels.items():
        if stage not in stages or levels.get(stage) != "lead":
            problems.append(
                DefinitionProblem(
                    "bad-qualification-level",
                    f"{stage!r} is not a lead stage",
                    key=f"qualification_levels.{stage}",
                )
            )
        elif qlevel not in {q.value for q in QualificationLevel}:
            problems.append(
                DefinitionProblem(
                    "bad-qualification-level",
                    f"unknown level {qlevel!r}",
                    key=f"qualification_levels.{stage}",
                )
            )
    return problems
