"""
funnel: a typed model of the B2B sales funnel.

Leads and prospects are different types; a state machine declared once with
python-statemachine moves them through the funnel; qualification frameworks
(the sources' criteria, BANT, CHAMP, ANUM, MEDDIC) are data; engagement is
derived from touches.

The top level holds what most code needs: the records, :class:`Funnel` and
:data:`DEFAULT_FUNNEL`, moving and explaining, loading a definition, and the
error families. Everything else lives in its layer's package:
:mod:`funnel.model`, :mod:`funnel.spec`, :mod:`funnel.engine`, :mod:`funnel.io`,
:mod:`funnel.analytics`, :mod:`funnel.forecasting`, :mod:`funnel.cli`.

>>> import funnel
>>> funnel.DEFAULT_FUNNEL.initial
'acquired'
"""

import importlib
from typing import TYPE_CHECKING, Any

from funnel._version import __version__
from funnel.engine.explain import Explanation
from funnel.engine.funnel import (
    Funnel,
    advance,
    can,
    check_touch,
    convert,
    enabled_events,
    explain,
    fire,
    plan_touch,
)
from funnel.engine.touches import add_evidence, add_touch
from funnel.exceptions import (
    CommunicationRefused,
    DefinitionError,
    FunnelError,
    FunnelWarning,
    LoadError,
    PersistenceError,
    SerializationError,
    TransitionError,
    ValidationError,
)
from funnel.model.contact import Company, Consent, Contact
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.qualification import (
    Criterion,
    Framework,
    IdealCustomerProfile,
    PassRule,
    Qualification,
)
from funnel.model.records import Lead, Level, Prospect, QualificationLevel
from funnel.model.touch import Touch
from funnel.spec.guards import register_guard

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from funnel.engine.funnel import DEFAULT_FUNNEL
    from funnel.engine.hooks import Hooks
    from funnel.io.definition import dump_funnel, load_funnel, loads_funnel, save_funnel
    from funnel.spec.machine import FunnelStateMachine

# Names that `import funnel` does not load until they are used. DEFAULT_FUNNEL and
# FunnelStateMachine need python-statemachine (with asyncio, most of the import time
# otherwise): it loads the first time a funnel is used.
_LAZY: dict[str, str] = {
    "DEFAULT_FUNNEL": "funnel.engine.funnel",
    "FunnelStateMachine": "funnel.spec.machine",
    "Hooks": "funnel.engine.hooks",
    "dump_funnel": "funnel.io.definition",
    "load_funnel": "funnel.io.definition",
    "loads_funnel": "funnel.io.definition",
    "save_funnel": "funnel.io.definition",
}

# Names the top level had before 0.2.0, and where they live now: asking for one
# says where to import it from (nothing is silently re-exported twice).
_MOVED: dict[str, str] = {
    **dict.fromkeys(
        ("ANUM", "BANT", "CHAMP", "DEFAULT", "FRAMEWORKS", "MEDDIC", "CriterionResult", "qualify"),
        "funnel.model.qualification",
    ),
    **dict.fromkeys(("Channel", "Direction", "Reach"), "funnel.model.touch"),
    **dict.fromkeys(
        ("Engagement", "EngagementFinding", "assess_engagement", "engagement"),
        "funnel.model.engagement",
    ),
    "Verdict": "funnel.model.evidence",
    **dict.fromkeys(("GUARDS", "GuardContext", "GuardRegistry"), "funnel.spec.guards"),
    "SalesFunnel": "funnel.spec.machine",
    **dict.fromkeys(("Edge", "TransitionTable", "derive_table"), "funnel.spec.table"),
    "Thresholds": "funnel.spec.definition",
    **dict.fromkeys(
        ("DEFAULT_COMMUNICATION", "CommunicationPolicy", "CommunicationRule"),
        "funnel.spec.communication",
    ),
    **dict.fromkeys(
        ("allowed_events", "advance_with_machine", "machine_for"), "funnel.engine.funnel"
    ),
    **dict.fromkeys(
        ("Transition", "advance_with_hooks", "convert_with_hooks", "aadvance"),
        "funnel.engine.hooks",
    ),
    **dict.fromkeys(
        ("DuplicateGroup", "DuplicateMatch", "MergeResult", "find_duplicates", "merge"),
        "funnel.engine.dedupe",
    ),
    "default_definition_path": "funnel.io.definition",
    **dict.fromkeys(
        ("Deal", "Forecast", "StageProbabilities", "stage_probabilities", "weighted_pipeline"),
        "funnel.forecasting.forecast",
    ),
    **dict.fromkeys(
        ("PLSModel", "Prediction", "TrainingRow", "roc_auc", "train_pls"),
        "funnel.forecasting.predictive",
    ),
    **dict.fromkeys(
        ("EngagementRule", "FitRule", "Promotion", "Score", "ScoringModel", "promote", "score"),
        "funnel.forecasting.scoring",
    ),
    **dict.fromkeys(
        ("MarkovChain", "SimulationResult", "compare", "estimate_chain", "simulate"),
        "funnel.forecasting.simulation",
    ),
    **dict.fromkeys(
        (
            "ChronologyError",
            "DiagramError",
            "ForecastError",
            "GuardFailed",
            "HookError",
            "HookVetoed",
            "IllegalEvent",
            "InsufficientHistory",
            "NotQualified",
            "PredictiveError",
            "RecordNotFound",
            "ScoringError",
            "SimulationError",
            "StaleWriteError",
            "WrongLevel",
        ),
        "funnel.exceptions",
    ),
}

_RENAMED: dict[str, str] = {
    "advance_with_machine": "Funnel.advance(..., listeners=[...])",
    "machine_for": "Funnel.machine_for(record, at=...)",
    "advance_with_hooks": "Funnel.fire(..., hooks=hooks)",
    "convert_with_hooks": "Funnel.convert(..., hooks=hooks)",
    "aadvance": "await Funnel.afire(..., hooks=hooks)",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _RENAMED:
        raise AttributeError(f"funnel.{name} was replaced by {_RENAMED[name]} in 0.2.0")
    if name in _MOVED:
        raise AttributeError(
            f"funnel.{name} moved in 0.2.0: use `from {_MOVED[name]} import {name}`"
        )
    raise AttributeError(f"module 'funnel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = (
    "DEFAULT_FUNNEL",
    "CommunicationRefused",
    "Company",
    "Consent",
    "Contact",
    "Criterion",
    "DefinitionError",
    "Evidence",
    "Explanation",
    "Framework",
    "Funnel",
    "FunnelError",
    "FunnelStateMachine",
    "FunnelWarning",
    "Hooks",
    "IdealCustomerProfile",
    "Lead",
    "Level",
    "LoadError",
    "PassRule",
    "PersistenceError",
    "Prospect",
    "Qualification",
    "QualificationLevel",
    "SerializationError",
    "StageChange",
    "Touch",
    "TransitionError",
    "ValidationError",
    "__version__",
    "add_evidence",
    "add_touch",
    "advance",
    "can",
    "check_touch",
    "convert",
    "dump_funnel",
    "enabled_events",
    "explain",
    "fire",
    "load_funnel",
    "loads_funnel",
    "plan_touch",
    "register_guard",
    "save_funnel",
)
