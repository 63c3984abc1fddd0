"""
funnel: a typed model of the B2B sales funnel.

Leads and prospects are different types; a state machine declared once with
python-statemachine moves them through the funnel; qualification frameworks
(the sources' criteria, BANT, CHAMP, ANUM, MEDDIC) are data; engagement is
derived from touches.

>>> import funnel
>>> funnel.DEFAULT_FUNNEL.initial
'acquired'
"""

from funnel._version import __version__
from funnel.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
    check_touch,
    plan_touch,
)
from funnel.config import (
    default_definition_path,
    dump_funnel,
    load_funnel,
    loads_funnel,
    save_funnel,
)
from funnel.contact import Company, Consent, Contact
from funnel.definition import DEFAULT_FUNNEL, Funnel, Thresholds
from funnel.engagement import Engagement, EngagementFinding, assess_engagement, engagement
from funnel.evidence import Evidence, Verdict
from funnel.exceptions import (
    ChronologyError,
    CommunicationRefused,
    DefinitionError,
    DiagramError,
    FunnelError,
    FunnelWarning,
    GuardFailed,
    IllegalEvent,
    LoadError,
    NotQualified,
    PersistenceError,
    SerializationError,
    StaleWriteError,
    TransitionError,
    WrongLevel,
)
from funnel.guards import GUARDS, GuardContext, register_guard
from funnel.history import StageChange
from funnel.lifecycle import (
    Explanation,
    add_evidence,
    add_touch,
    advance,
    advance_with_machine,
    allowed_events,
    can,
    convert,
    enabled_events,
    explain,
    fire,
    machine_for,
)
from funnel.machine import FunnelStateMachine, SalesFunnel
from funnel.qualification import (
    ANUM,
    BANT,
    CHAMP,
    DEFAULT,
    FRAMEWORKS,
    MEDDIC,
    Criterion,
    CriterionResult,
    Framework,
    IdealCustomerProfile,
    PassRule,
    Qualification,
    qualify,
)
from funnel.records import Lead, Level, Prospect, QualificationLevel
from funnel.table import Edge, TransitionTable, derive_table
from funnel.touch import Channel, Direction, Reach, Touch

__all__ = (
    "ANUM",
    "BANT",
    "CHAMP",
    "DEFAULT",
    "DEFAULT_COMMUNICATION",
    "DEFAULT_FUNNEL",
    "FRAMEWORKS",
    "GUARDS",
    "MEDDIC",
    "Channel",
    "ChronologyError",
    "CommunicationPolicy",
    "CommunicationRefused",
    "CommunicationRule",
    "Company",
    "Consent",
    "Contact",
    "Criterion",
    "CriterionResult",
    "DefinitionError",
    "DiagramError",
    "Direction",
    "Edge",
    "Engagement",
    "EngagementFinding",
    "Evidence",
    "Explanation",
    "Framework",
    "Funnel",
    "FunnelError",
    "FunnelStateMachine",
    "FunnelWarning",
    "GuardContext",
    "GuardFailed",
    "IdealCustomerProfile",
    "IllegalEvent",
    "Lead",
    "Level",
    "LoadError",
    "NotQualified",
    "PassRule",
    "PersistenceError",
    "Prospect",
    "Qualification",
    "QualificationLevel",
    "Reach",
    "SalesFunnel",
    "SerializationError",
    "StageChange",
    "StaleWriteError",
    "Thresholds",
    "Touch",
    "TransitionError",
    "TransitionTable",
    "Verdict",
    "WrongLevel",
    "__version__",
    "add_evidence",
    "add_touch",
    "advance",
    "advance_with_machine",
    "allowed_events",
    "assess_engagement",
    "can",
    "check_touch",
    "convert",
    "default_definition_path",
    "derive_table",
    "dump_funnel",
    "enabled_events",
    "engagement",
    "explain",
    "fire",
    "load_funnel",
    "loads_funnel",
    "machine_for",
    "plan_touch",
    "qualify",
    "register_guard",
    "save_funnel",
)
