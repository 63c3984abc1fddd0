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
from funnel.engine.transitions import (
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
from funnel.model.contact import Company, Consent, Contact
from funnel.model.engagement import Engagement, EngagementFinding, assess_engagement, engagement
from funnel.model.evidence import Evidence, Verdict
from funnel.model.history import StageChange
from funnel.model.qualification import (
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
from funnel.model.records import Lead, Level, Prospect, QualificationLevel
from funnel.model.touch import Channel, Direction, Reach, Touch
from funnel.spec.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
    check_touch,
    plan_touch,
)
from funnel.spec.definition import DEFAULT_FUNNEL, Funnel, Thresholds
from funnel.spec.guards import GUARDS, GuardContext, register_guard
from funnel.spec.machine import FunnelStateMachine, SalesFunnel
from funnel.spec.table import Edge, TransitionTable, derive_table

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from funnel.engine.dedupe import (
        DuplicateGroup,
        DuplicateMatch,
        MergeResult,
        find_duplicates,
        merge,
    )
    from funnel.engine.hooks import (
        Hooks,
        Transition,
        aadvance,
        advance_with_hooks,
        convert_with_hooks,
    )
    from funnel.forecasting.forecast import (
        Deal,
        Forecast,
        StageProbabilities,
        stage_probabilities,
        weighted_pipeline,
    )
    from funnel.forecasting.predictive import (
        PLSModel,
        Prediction,
        TrainingRow,
        roc_auc,
        train_pls,
    )
    from funnel.forecasting.scoring import (
        EngagementRule,
        FitRule,
        Promotion,
        Score,
        ScoringModel,
        promote,
        score,
    )
    from funnel.forecasting.simulation import (
        MarkovChain,
        SimulationResult,
        compare,
        estimate_chain,
        simulate,
    )
    from funnel.io.definition import (
        default_definition_path,
        dump_funnel,
        load_funnel,
        loads_funnel,
        save_funnel,
    )

# Modules that `import funnel` does not load until one of their names is used.
_LAZY: dict[str, str] = {
    "Deal": "funnel.forecasting.forecast",
    "DuplicateGroup": "funnel.engine.dedupe",
    "DuplicateMatch": "funnel.engine.dedupe",
    "EngagementRule": "funnel.forecasting.scoring",
    "FitRule": "funnel.forecasting.scoring",
    "Forecast": "funnel.forecasting.forecast",
    "ForecastError": "funnel.exceptions",
    "HookError": "funnel.exceptions",
    "HookVetoed": "funnel.exceptions",
    "Hooks": "funnel.engine.hooks",
    "InsufficientHistory": "funnel.exceptions",
    "MarkovChain": "funnel.forecasting.simulation",
    "MergeResult": "funnel.engine.dedupe",
    "PLSModel": "funnel.forecasting.predictive",
    "Prediction": "funnel.forecasting.predictive",
    "PredictiveError": "funnel.exceptions",
    "Promotion": "funnel.forecasting.scoring",
    "Score": "funnel.forecasting.scoring",
    "ScoringError": "funnel.exceptions",
    "ScoringModel": "funnel.forecasting.scoring",
    "SimulationError": "funnel.exceptions",
    "SimulationResult": "funnel.forecasting.simulation",
    "StageProbabilities": "funnel.forecasting.forecast",
    "TrainingRow": "funnel.forecasting.predictive",
    "Transition": "funnel.engine.hooks",
    "aadvance": "funnel.engine.hooks",
    "advance_with_hooks": "funnel.engine.hooks",
    "compare": "funnel.forecasting.simulation",
    "convert_with_hooks": "funnel.engine.hooks",
    "default_definition_path": "funnel.io.definition",
    "dump_funnel": "funnel.io.definition",
    "estimate_chain": "funnel.forecasting.simulation",
    "find_duplicates": "funnel.engine.dedupe",
    "load_funnel": "funnel.io.definition",
    "loads_funnel": "funnel.io.definition",
    "merge": "funnel.engine.dedupe",
    "promote": "funnel.forecasting.scoring",
    "roc_auc": "funnel.forecasting.predictive",
    "save_funnel": "funnel.io.definition",
    "score": "funnel.forecasting.scoring",
    "simulate": "funnel.forecasting.simulation",
    "stage_probabilities": "funnel.forecasting.forecast",
    "train_pls": "funnel.forecasting.predictive",
    "weighted_pipeline": "funnel.forecasting.forecast",
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
