"""
Adapters for the stage-history exports of CRMs: Salesforce, HubSpot, Odoo, Pipedrive.

Each adapter reads a CRM's own export, by its documented field names, and
returns an event log in the schema of :mod:`funnel.model.eventlog` (``lead_id``,
``at``, ``stage``, and ``value``/``owner``/``source``/``segment`` where the export
has them, plus ``crm_stage``, the CRM's own stage name), ready for
:func:`funnel.analytics.load_frame` and :func:`funnel.analytics.funnel_report`.

* **Stages** are mapped with ``stages={"CRM stage": "funnel stage"}``, over the
  adapter's ``DEFAULT_STAGES`` (the CRM's standard stage names); map a stage to
  ``None`` to leave it out on purpose. A stage in neither keeps its CRM name,
  so the loader rejects its rows as ``unknown-stage`` (``strict=True`` raises a
  :class:`~funnel.ValidationError` naming the stage and the mapping instead):
  nothing is dropped silently.
* **Times** are only what the export says: a stage entry whose time the export
  does not give is left without one (the loader rejects it as
  ``missing-timestamp``), never dated by a guess. Each module says how its
  CRM writes times (ISO 8601 with ``Z``, HubSpot epoch milliseconds, Odoo and
  Pipedrive naive UTC).
* Rows come sorted by lead and time; repeated entries of one stage collapse
  into the first.

>>> sorted(ADAPTERS)
['hubspot', 'odoo', 'pipedrive', 'salesforce']
>>> ADAPTERS["salesforce"].default_stages["Closed Won"]
'won'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import attrs

from funnel.analytics.adapters import _common, hubspot, odoo, pipedrive, salesforce
from funnel.analytics.adapters._common import CRM_STAGE
from funnel.analytics.eventlog import LoadResult
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import LoadError, ValidationError

__all__ = ("ADAPTERS", "CRM_STAGE", "CRM_STEPS", "Adapter", "load_export", "read_export")

#: Report steps for a CRM's deal pipeline: the deal stages of the default funnel.
CRM_STEPS = ("opportunity", "stakeholder", "won")


@attrs.frozen
class Adapter:
    """
    One CRM's adapter.

    Attributes:
        name: The CRM (``"salesforce"``, ...), as ``crm=`` takes it.
        kinds: The exports it reads, by the names :attr:`detect` returns.
        default_stages: Its standard stage names → funnel stages.
        detect: ``frame -> kind or None``, from the frame's columns.
        entries: ``(frame, deals) -> stage entries`` (see ``_common``).
    """

    name: str
    kinds: tuple[str, ...]
    default_stages: Mapping[str, str | None]
    detect: Callable[[Any], str | None] = attrs.field(repr=False)
    entries: Callable[[Any, Any], Any] = attrs.field(repr=False)


def _adapter(module: ModuleType, kinds: tuple[str, ...]) -> Adapter:
    return Adapter(
        name=module.NAME,
        kinds=kinds,
        default_stages=MappingProxyType(dict(module.DEFAULT_STAGES)),
        detect=module.kind,
        entries=module.entries,
    )


#: The adapters, by CRM name.
ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {
        a.name: a
        for a in (
            _adapter(hubspot, ("property-history", "deals")),
            _adapter(odoo, ("tracking",)),
            _adapter(pipedrive, ("flow", "deals")),
            _adapter(salesforce, ("opportunity-history", "field-history")),
        )
    }
)


def _get(crm: str) -> Adapter:
    adapter = ADAPTERS.get(crm.lower()) if isinstance(crm, str) else None
    if adapter is None:
        raise ValidationError(
            f"crm must be one of {', '.join(sorted(ADAPTERS))}, got {crm!r}",
            field="crm",
            allowed=sorted(ADAPTERS),
        )
    return adapter


def read_export(
    path_or_frame: str | Path | Any,
    crm: str,
    stages: Mapping[Any, str | None] | None = None,
    *,
    deals: str | Path | Any = None,
    columns: Mapping[str, str] | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
    strict: bool = False,
    timezone: str | None = None,
) -> Any:
    """
    A CRM export as a (not yet validated) polars event log.

    Args:
        path_or_frame: The export: a CSV path (read as text) or a dataframe.
        crm: ``"salesforce"``, ``"hubspot"``, ``"odoo"`` or ``"pipedrive"``.
        stages: ``{CRM stage: funnel stage or None}``, over the adapter's defaults.
        deals: Odoo and Pipedrive: the leads / deals export that dates a
            deal's first stage and gives its value and owner.
        columns: Renames ``{name in the export: documented name}`` first.
        funnel: The funnel whose stages the mapping targets.
        strict: Raise on a stage that is not mapped instead of passing it on.
        timezone: IANA zone of times the export writes without an offset
            (a Salesforce report or HubSpot app export in the user's zone);
            they are written as UTC. Odoo and Pipedrive naive times are UTC
            whatever this says. Without it such times are left as they are
            and the loader rejects them as ``naive-timestamp``.

    Raises:
        LoadError: the file cannot be read or is not an export of *crm*.
        ValidationError: *crm* is unknown, *stages* maps to a stage the
            funnel lacks, or (*strict*) a stage is not in the mapping.
    """
    adapter = _get(crm)
    mapping = _common.stage_mapping(adapter.default_stages, stages, funnel)
    frame = _common.read(path_or_frame)
    if columns:
        frame = frame.rename(dict(columns), strict=False)
    if adapter.detect(frame) is None:
        raise LoadError(
            f"not a {adapter.name} export this library reads ({', '.join(adapter.kinds)}); "
            f"has columns {frame.columns}"
        )
    entries = adapter.entries(frame, deals)
    return _common.finish(
        entries, mapping, funnel=funnel, strict=strict, timezone=timezone, crm=adapter.name
    )


def load_export(
    path_or_frame: str | Path | Any,
    crm: str,
    stages: Mapping[Any, str | None] | None = None,
    *,
    deals: str | Path | Any = None,
    columns: Mapping[str, str] | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
    strict: bool = False,
    timezone: str | None = None,
) -> LoadResult:
    """
    :func:`read_export`, then :func:`funnel.analytics.load_frame`: a validated event log.

    Times are read as the adapter says (UTC); rows the loader refuses are
    in ``result.rejected`` with their reason.
    """
    from funnel.analytics.eventlog import load_frame

    log = read_export(
        path_or_frame,
        crm,
        stages,
        deals=deals,
        columns=columns,
        funnel=funnel,
        strict=strict,
        timezone=timezone,
    )
    return load_frame(log, funnel=funnel)
