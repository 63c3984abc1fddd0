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

import importlib
from typing import TYPE_CHECKING, Any

from funnel._version import __version__
from funnel.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
    check_touch,
    plan_touch,
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
    RecordNotFound,
    SerializationError,
    StaleWriteError,
    TransitionError,
    ValidationError,
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

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from funnel.config import (
        default_definition_path,
        dump_funnel,
        load_funnel,
        loads_funnel,
        save_funnel,
    )
    from funnel.dedupe import (
        DuplicateGroup,
        DuplicateMatch,
        MergeResult,
        find_duplicates,
        merge,
    )
    from funnel.forecast import (
        Deal,
        Forecast,
        ForecastError,
        InsufficientHistory,
        StageProbabilities,
        stage_probabilities,
        weighted_pipeline,
    )
    from funnel.hooks import (
        HookError,
        Hooks,
        HookVetoed,
        Transition,
        aadvance,
        advance_with_hooks,
        convert_with_hooks,
    )
    from funnel.predictive import (
        PLSModel,
        Prediction,
        PredictiveError,
        TrainingRow,
        roc_auc,
        train_pls,
    )
    from funnel.scoring import (
        EngagementRule,
        FitRule,
        Promotion,
        Score,
        ScoringError,
        ScoringModel,
        promote,
        score,
    )
    from funnel.simulation import (
        MarkovChain,
        SimulationError,
        SimulationResult,
        compare,
        estimate_chain,
        simulate,
    )

# Modules that `import funnel` does not load until one of their names is used.
_LAZY: dict[str, str] = {
    "Deal": "funnel.forecast",
    "DuplicateGroup": "funnel.dedupe",
    "DuplicateMatch": "funnel.dedupe",
    "EngagementRule": "funnel.scoring",
    "FitRule": "funnel.scoring",
    "Forecast": "funnel.forecast",
    "ForecastError": "funnel.forecast",
    "HookError": "funnel.hooks",
    "HookVetoed": "funnel.hooks",
    "Hooks": "funnel.hooks",
    "InsufficientHistory": "funnel.forecast",
    "MarkovChain": "funnel.simulation",
    "MergeResult": "funnel.dedupe",
    "PLSModel": "funnel.predictive",
    "Prediction": "funnel.predictive",
    "PredictiveError": "funnel.predictive",
    "Promotion": "funnel.scoring",
    "Score": "funnel.scoring",
    "ScoringError": "funnel.scoring",
    "ScoringModel": "funnel.scoring",
    "SimulationError": "funnel.simulation",
    "SimulationResult": "funnel.simulation",
    "StageProbabilities": "funnel.forecast",
    "TrainingRow": "funnel.predictive",
    "Transition": "funnel.hooks",
    "aadvance": "funnel.hooks",
    "advance_with_hooks": "funnel.hooks",
    "compare": "funnel.simulation",
    "convert_with_hooks": "funnel.hooks",
    "default_definition_path": "funnel.config",
    "dump_funnel": "funnel.config",
    "estimate_chain": "funnel.simulation",
    "find_duplicates": "funnel.dedupe",
    "load_funnel": "funnel.config",
    "loads_funnel": "funnel.config",
    "merge": "funnel.dedupe",
    "promote": "funnel.scoring",
    "roc_auc": "funnel.predictive",
    "save_funnel": "funnel.config",
    "score": "funnel.scoring",
    "simulate": "funnel.simulation",
    "stage_probabilities": "funnel.forecast",
    "train_pls": "funnel.predictive",
    "weighted_pipeline": "funnel.forecast",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'funnel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "Deal",
    "DefinitionError",
    "DiagramError",
    "Direction",
    "DuplicateGroup",
    "DuplicateMatch",
    "Edge",
    "Engagement",
    "EngagementFinding",
    "EngagementRule",
    "Evidence",
    "Explanation",
    "FitRule",
    "Forecast",
    "ForecastError",
    "Framework",
    "Funnel",
    "FunnelError",
    "FunnelStateMachine",
    "FunnelWarning",
    "GuardContext",
    "GuardFailed",
    "HookError",
    "HookVetoed",
    "Hooks",
    "IdealCustomerProfile",
    "IllegalEvent",
    "InsufficientHistory",
    "Lead",
    "Level",
    "LoadError",
    "MarkovChain",
    "MergeResult",
    "NotQualified",
    "PLSModel",
    "PassRule",
    "PersistenceError",
    "Prediction",
    "PredictiveError",
    "Promotion",
    "Prospect",
    "Qualification",
    "QualificationLevel",
    "Reach",
    "RecordNotFound",
    "SalesFunnel",
    "Score",
    "ScoringError",
    "ScoringModel",
    "SerializationError",
    "SimulationError",
    "SimulationResult",
    "StageChange",
    "StageProbabilities",
    "StaleWriteError",
    "Thresholds",
    "Touch",
    "TrainingRow",
    "Transition",
    "TransitionError",
    "TransitionTable",
    "ValidationError",
    "Verdict",
    "WrongLevel",
    "__version__",
    "aadvance",
    "add_evidence",
    "add_touch",
    "advance",
    "advance_with_hooks",
    "advance_with_machine",
    "allowed_events",
    "assess_engagement",
    "can",
    "check_touch",
    "compare",
    "convert",
    "convert_with_hooks",
    "default_definition_path",
    "derive_table",
    "dump_funnel",
    "enabled_events",
    "engagement",
    "estimate_chain",
    "explain",
    "find_duplicates",
    "fire",
    "load_funnel",
    "loads_funnel",
    "machine_for",
    "merge",
    "plan_touch",
    "promote",
    "qualify",
    "register_guard",
    "roc_auc",
    "save_funnel",
    "score",
    "simulate",
    "stage_probabilities",
    "train_pls",
    "weighted_pipeline",
)
