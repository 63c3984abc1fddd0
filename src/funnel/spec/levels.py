"""
The stage levels of the sources' funnel, known to the records from ``import funnel`` on.

:class:`~funnel.spec.machine.SalesFunnel` takes its ``levels`` from
:data:`SALES_LEVELS`, and this module declares them to the model
(:func:`funnel.model.records.declare_stage_levels`) when it is imported, so a
:class:`~funnel.Lead` in a prospect stage of the default funnel is refused at
construction before the machine class (and python-statemachine) is loaded:
``import funnel`` builds neither, :data:`funnel.DEFAULT_FUNNEL` builds both
the first time it is used. The test-suite checks that these are exactly the
machine's stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from funnel.model.records import declare_stage_levels

#: Each stage of :class:`~funnel.spec.machine.SalesFunnel` and its level.
SALES_LEVELS: Mapping[str, str] = MappingProxyType(
    {
        "acquired": "lead",
        "mql": "lead",
        "sql": "lead",
        "nurturing": "lead",
        "disqualified": "lead",
        "organisation": "prospect",
        "opportunity": "prospect",
        "stakeholder": "prospect",
        "won": "prospect",
        "lost": "prospect",
    }
)

declare_stage_levels(SALES_LEVELS)
