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

from funnel._fields import member, to_member
from funnel.exceptions import ValidationError
from funnel.model.records import Level, QualificationLevel
from funnel.model.touch import Reach, ReachName, Touch


def _kinds(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise ValidationError(
            f"senders must be a collection of sender kinds, not the string {value!r}"
        )
    return frozenset(value)


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


def _rules(value: Iterable[CommunicationRule]) -> tuple[CommunicationRule, ...]:
    rules = tuple(value)
    for rule in rules:
        if not isinstance(rule, CommunicationRule):
            raise ValidationError(
                f"expected CommunicationRule, got {type(rule).__name__}: {rule!r}"
            )
    return rules


def _stage_rules(
    value: Mapping[str, Iterable[CommunicationRule]],
) -> Mapping[str, tuple[CommunicationRule, ...]]:
    return MappingProxyType({stage: _rules(rules) for stage, rules in value.items()})


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

    lead: tuple[CommunicationRule, ...] = attrs.field(converter=_rules)
    prospect: tuple[CommunicationRule, ...] = attrs.field(converter=_rules)
    lead_levels: Mapping[str, tuple[CommunicationRule, ...]] = attrs.field(
        factory=dict, converter=_stage_rules
    )
    stages: Mapping[str, tuple[CommunicationRule, ...]] = attrs.field(
        factory=dict, converter=_stage_rules
    )

    def __attrs_post_init__(self) -> None:
        known = {q.value for q in QualificationLevel}
        for key in self.lead_levels:
            if key not in known:
                raise ValidationError(
                    f"CommunicationPolicy.lead_levels: unknown lead level {key!r}; "
                    f"use one of {sorted(known)}"
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
