"""
Communication rules: who may reach a lead or a prospect, and how.

The sources draw a sharp line between the two levels. Leads get **mass,
automated** nurturing from a general source (marketing); prospects get
**personal** touches from an individual rep. A funnel declares this as a
:class:`CommunicationPolicy`: for each level (and, optionally, for single
lead levels or stages) the kinds of outbound touch that are allowed, each a
:class:`CommunicationRule` (a reach and the sender kinds that may use it).

The engine applies the policy: :func:`funnel.engine.touches.check_touch`
returns the reasons a planned touch is refused (an empty tuple means it is
allowed); :func:`funnel.engine.touches.plan_touch` raises
:class:`~funnel.exceptions.CommunicationRefused` or returns the record with
the touch added.

Rules read the touch's *sender kind*: the part of ``Touch.sender`` before the
first colon, so ``"rep:alice"`` is a ``rep`` and ``"marketing:spring-webinar"``
is ``marketing``, the same convention as evidence sources.

Consent always applies: a contact who ``opted_out`` gets no mass touch, and
``do_not_contact`` refuses every outbound touch. **Inbound** touches are never
refused: the person chose to write, and recording that is always allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from funnel._base.fields import check_text, member, shown, to_member
from funnel.exceptions import ValidationError
from funnel.model.records import Level, QualificationLevel
from funnel.model.touch import Reach, ReachName, Touch


def _kinds(value: Iterable[str]) -> frozenset[str]:
    where = "CommunicationRule"
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        kind = f"the string {shown(value)}" if isinstance(value, str) else type(value).__name__
        raise ValidationError(
            f"{where}: senders must be a collection of sender kinds, not {kind}",
            record=where,
            field="senders",
        )
    items = list(value)
    for i, item in enumerate(items):
        check_text(item, record=where, field=f"senders[{i}]")
    return frozenset(items)


def _reach(value: Reach | ReachName) -> Reach:
    return to_member(Reach, value)


@attrs.frozen(kw_only=True)
class CommunicationRule:
    """
    One allowed kind of outbound touch.

    Attributes:
        reach: Mass or personal.
        senders: Sender kinds that may send it (``"rep"``, ``"marketing"``,
            ``"automation"``, ...); empty means any sender.

    >>> rule = CommunicationRule(reach="personal", senders={"rep"})
    >>> str(rule)
    'personal from rep'
    """

    reach: Reach = attrs.field(converter=_reach, validator=member(Reach))
    senders: frozenset[str] = attrs.field(default=frozenset(), converter=_kinds)

    def allows(self, touch: Touch) -> bool:
        """Whether *touch* (outbound) matches this rule."""
        if touch.reach is not self.reach:
            return False
        return not self.senders or sender_kind(touch.sender) in self.senders

    def __str__(self) -> str:
        who = " or ".join(sorted(self.senders)) if self.senders else "anyone"
        return f"{self.reach.value} from {who}"


_POLICY = "CommunicationPolicy"


def _rules(
    value: Iterable[CommunicationRule], field: str = "rules"
) -> tuple[CommunicationRule, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{_POLICY}: {field} must be a list of CommunicationRule, got {type(value).__name__}",
            record=_POLICY,
            field=field,
        )
    rules = tuple(value)
    for i, rule in enumerate(rules):
        if not isinstance(rule, CommunicationRule):
            raise ValidationError(
                f"{_POLICY}: {field}[{i}] must be a CommunicationRule, got {type(rule).__name__}",
                record=_POLICY,
                field=field,
            )
    return rules


def _lead_rules(value: Iterable[CommunicationRule]) -> tuple[CommunicationRule, ...]:
    return _rules(value, "lead")


def _prospect_rules(value: Iterable[CommunicationRule]) -> tuple[CommunicationRule, ...]:
    return _rules(value, "prospect")


def _keyed_rules(
    value: Mapping[str, Iterable[CommunicationRule]], field: str
) -> Mapping[str, tuple[CommunicationRule, ...]]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{_POLICY}: {field} must be a mapping of names to rules, got {type(value).__name__}",
            record=_POLICY,
            field=field,
        )
    out: dict[str, tuple[CommunicationRule, ...]] = {}
    for key, rules in value.items():
        check_text(key, record=_POLICY, field=f"{field} key", blank=False)
        out[key] = _rules(rules, f"{field}.{key}")
    return MappingProxyType(out)


def _level_rules(
    value: Mapping[str, Iterable[CommunicationRule]],
) -> Mapping[str, tuple[CommunicationRule, ...]]:
    return _keyed_rules(value, "lead_levels")


def _stage_rules(
    value: Mapping[str, Iterable[CommunicationRule]],
) -> Mapping[str, tuple[CommunicationRule, ...]]:
    return _keyed_rules(value, "stages")


@attrs.frozen(kw_only=True)
class CommunicationPolicy:
    """
    The outbound touches a funnel allows, per level and per stage.

    An outbound touch is allowed when it matches one of the rules in force
    for the record, the first that applies of:

    1. the rules of the record's stage, if ``stages`` declares any;
    2. for a lead, the rules of its qualification level (``raw``, ``mql``,
       ``sql``), if ``lead_levels`` declares any;
    3. the rules of the stage's level (``lead`` or ``prospect``).

    An empty list of rules allows no outbound touch at all.

    Attributes:
        lead: Rules for lead stages.
        prospect: Rules for prospect stages.
        lead_levels: Rules replacing ``lead`` for leads of one qualification level.
        stages: Rules replacing the others for single stages.
    """

    lead: tuple[CommunicationRule, ...] = attrs.field(converter=_lead_rules)
    prospect: tuple[CommunicationRule, ...] = attrs.field(converter=_prospect_rules)
    lead_levels: Mapping[str, tuple[CommunicationRule, ...]] = attrs.field(
        factory=dict, converter=_level_rules
    )
    stages: Mapping[str, tuple[CommunicationRule, ...]] = attrs.field(
        factory=dict, converter=_stage_rules
    )

    def __attrs_post_init__(self) -> None:
        known = {q.value for q in QualificationLevel}
        for key in self.lead_levels:
            if key not in known:
                raise ValidationError(
                    f"CommunicationPolicy.lead_levels: unknown lead level {shown(key)}; "
                    f"use one of {sorted(known)}",
                    record=_POLICY,
                    field="lead_levels",
                    allowed=sorted(known),
                )

    def _key(self) -> tuple[object, ...]:
        return (
            self.lead,
            self.prospect,
            tuple(sorted(self.lead_levels.items())),
            tuple(sorted(self.stages.items())),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommunicationPolicy):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def rules_for(
        self, stage: str, level: Level, lead_level: QualificationLevel | None = None
    ) -> tuple[CommunicationRule, ...]:
        """The rules in force for *stage* of *level* (and a lead's *lead_level*)."""
        if stage in self.stages:
            return self.stages[stage]
        if level is Level.LEAD and lead_level is not None and lead_level in self.lead_levels:
            return self.lead_levels[lead_level]
        return self.lead if level is Level.LEAD else self.prospect


_MASS = CommunicationRule(reach=Reach.MASS, senders=frozenset({"automation", "marketing"}))
_PERSONAL = CommunicationRule(reach=Reach.PERSONAL, senders=frozenset({"rep"}))

#: The sources' rules: mass, automated nurturing from marketing for leads;
#: personal touches from a rep for prospects. A sales-qualified lead (level
#: ``sql``) is sales-ready, so a rep may also reach it personally.
DEFAULT_COMMUNICATION = CommunicationPolicy(
    lead=(_MASS,),
    prospect=(_PERSONAL,),
    lead_levels={"sql": (_MASS, _PERSONAL)},
)


def sender_kind(sender: str | None) -> str | None:
    """
    The kind of a sender: the part before the first colon, if any.

    >>> sender_kind("rep:alice"), sender_kind("marketing:newsletter"), sender_kind("alice")
    ('rep', 'marketing', None)
    """
    if sender is None or ":" not in sender:
        return None
    kind = sender.split(":", 1)[0].strip()
    return kind or None
