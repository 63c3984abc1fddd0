"""
HubSpot: a deal-stage property history, or the "Date entered" properties of a deals export.

**Property history** — one row per value the ``dealstage`` property took,
as the CRM API returns it (``GET /crm/v3/objects/deals?propertiesWithHistory=dealstage``)
flattened to a table, or as connectors export it: ``dealId``, ``property``
(rows whose property is not ``dealstage`` are ignored), ``value`` (the
stage's internal id, e.g. ``closedwon``) and ``timestamp``. The timestamp
is ISO 8601 (``2026-01-05T09:00:00.000Z``) or epoch **milliseconds**
(``1767603600000``, the legacy API's form); both are UTC.

**Deals export** — one row per deal with the stage calculated properties
``hs_date_entered_<stage id>`` (also ``hs_v2_date_entered_<stage id>``), or
their labels in an export from the app, ``Date entered "<stage label>
(<pipeline>)"`` (the pipeline in parentheses is dropped). Every filled cell
is a stage entry at that time; an empty one is a stage the deal did not enter
(or entered before the property existed): nothing is made up for it.
``value`` = ``amount``, ``owner`` = ``hubspot_owner_id``. A date written
without an offset is rejected as ``naive-timestamp`` by the loader (export
with UTC times, or pass ``timezone=`` to the loader on a CSV you rewrote).

Deal id columns recognised: ``dealId``, ``hs_object_id``, ``Record ID``, ``id``.
"""

from __future__ import annotations

import re
from typing import Any

from funnel.analytics.adapters import _common as c
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, LEAD_ID, OWNER, VALUE

NAME = "hubspot"

#: The stages of HubSpot's default "Sales Pipeline", by internal id and by label.
DEFAULT_STAGES: dict[str, str | None] = {
    "appointmentscheduled": "opportunity",
    "qualifiedtobuy": "opportunity",
    "presentationscheduled": "opportunity",
    "decisionmakerboughtin": "stakeholder",
    "contractsent": "stakeholder",
    "closedwon": "won",
    "closedlost": "lost",
    "Appointment Scheduled": "opportunity",
    "Qualified To Buy": "opportunity",
    "Presentation Scheduled": "opportunity",
    "Decision Maker Bought-In": "stakeholder",
    "Contract Sent": "stakeholder",
    "Closed Won": "won",
    "Closed Lost": "lost",
}

_ID = ("dealId", "deal_id", "hs_object_id", "Record ID", "objectId", "id")
_ENTERED = re.compile(r"^hs_(?:v2_)?date_entered_(.+)$")
_LABEL = re.compile(r'^Date entered "*(.+?)(?: \([^()]*\))?"*$')


def _entered_columns(frame: Any) -> dict[str, str]:
    """``{column: stage}`` of the "date entered" columns of a deals export."""
    out: dict[str, str] = {}
    for name in frame.columns:
        match = _ENTERED.match(name) or _LABEL.match(name)
        if match:
            out[name] = match.group(1)
    return out


def kind(frame: Any) -> str | None:
    """``"property-history"``, ``"deals"`` or ``None``."""
    if c.find(frame, ("timestamp",)) and c.find(frame, ("value",)):
        return "property-history"
    if _entered_columns(frame):
        return "deals"
    return None


def entries(frame: Any, deals: Any = None) -> Any:
    """The stage entries of a property history or a deals export."""
    import polars as pl

    del deals
    found = kind(frame)
    lead = c.text(frame, c.pick(frame, _ID, what="deal id", crm=NAME))
    if found == "property-history":
        prop = c.find(frame, ("property", "propertyName", "name"))
        rows = frame.select(
            lead.alias(LEAD_ID),
            c.timestamp(c.text(frame, c.find(frame, ("timestamp",))), naive_utc=False).alias(AT),
            c.text(frame, c.find(frame, ("value",))).alias(c.CRM_STAGE),
            c.text(frame, prop).alias("_property"),
            pl.lit(1).alias("_order"),
        )
        if prop is not None:
            rows = rows.filter(pl.col("_property") == "dealstage")
        return rows.drop("_property")
    if found != "deals":
        raise LoadError(
            "not a HubSpot deal-stage history (dealId, property, value, timestamp) nor a "
            "deals export with hs_date_entered_<stage> / 'Date entered \"<stage>\"' "
            f"columns; has {frame.columns}"
        )
    amount = c.find(frame, ("amount", "Amount"))
    owner = c.find(frame, ("hubspot_owner_id", "Deal owner"))
    parts = [
        frame.select(
            lead.alias(LEAD_ID),
            c.timestamp(c.text(frame, column), naive_utc=False).alias(AT),
            pl.lit(stage).alias(c.CRM_STAGE),
            c.text(frame, amount).alias(VALUE),
            c.text(frame, owner).alias(OWNER),
            pl.lit(i).alias("_order"),
        )
        for i, (column, stage) in enumerate(_entered_columns(frame).items())
    ]
    return pl.concat(parts).filter(pl.col(AT).is_not_null())
