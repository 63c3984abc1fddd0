"""
Salesforce: the ``OpportunityHistory`` and ``OpportunityFieldHistory`` objects.

Export either object with its API field names (Data Loader, Bulk API,
``sf data export``); the adapter tells them apart by their columns.

**OpportunityHistory** — one row each time an opportunity's stage, amount,
probability or close date changed: ``OpportunityId``, ``StageName``,
``CreatedDate`` (when the row was written), ``Amount``, ``CloseDate``,
``Probability``, ... A row whose ``StageName`` repeats the previous row's
(only the amount or close date changed) is not a new stage entry and
collapses into the first. ``at`` = ``CreatedDate``, ``value`` = ``Amount``.
``CloseDate`` is the *expected* close date, never used as a time.

**OpportunityFieldHistory** — one row per tracked field change:
``OpportunityId``, ``Field``, ``OldValue``, ``NewValue``, ``CreatedDate``.
Rows with ``Field = 'StageName'`` give a stage entry (``NewValue`` at
``CreatedDate``); the first change's ``OldValue`` is the stage the
opportunity was created in, dated by its ``Field = 'created'`` row when the
export has one, and **left without a time** otherwise (the loader then
rejects it as ``missing-timestamp``: it is shown, not invented). This
object has no amount.

Timestamps are the API's ISO 8601 in UTC (``2026-01-05T09:00:00.000Z`` or
``...+0000``).
"""

from __future__ import annotations

from typing import Any

from funnel.analytics.adapters import _common as c
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, LEAD_ID, VALUE

NAME = "salesforce"

#: The standard opportunity stages of a new org (``OpportunityStage``).
DEFAULT_STAGES: dict[str, str | None] = {
    "Prospecting": "opportunity",
    "Qualification": "opportunity",
    "Needs Analysis": "opportunity",
    "Value Proposition": "opportunity",
    "Id. Decision Makers": "stakeholder",
    "Perception Analysis": "stakeholder",
    "Proposal/Price Quote": "stakeholder",
    "Negotiation/Review": "stakeholder",
    "Closed Won": "won",
    "Closed Lost": "lost",
}

_ID = ("OpportunityId", "Opportunity.Id", "Opportunity ID")
_TIME = ("CreatedDate", "Created Date", "Edit Date")


def kind(frame: Any) -> str | None:
    """``"field-history"``, ``"opportunity-history"`` or ``None`` (not a Salesforce export)."""
    if c.find(frame, ("NewValue",)) and c.find(frame, ("Field",)):
        return "field-history"
    if c.find(frame, ("StageName", "Stage")):
        return "opportunity-history"
    return None


def entries(frame: Any, deals: Any = None) -> Any:
    """The stage entries of an OpportunityHistory or OpportunityFieldHistory frame."""
    import polars as pl

    del deals  # Salesforce's history objects carry the opportunity id and times
    found = kind(frame)
    lead = c.text(frame, c.pick(frame, _ID, what="opportunity id", crm=NAME))
    at = c.timestamp(
        c.text(frame, c.pick(frame, _TIME, what="created date", crm=NAME)), naive_utc=False
    )
    if found == "opportunity-history":
        stage = c.pick(frame, ("StageName", "Stage"), what="stage", crm=NAME)
        amount = c.find(frame, ("Amount",))
        return frame.select(
            lead.alias(LEAD_ID),
            at.alias(AT),
            c.text(frame, stage).alias(c.CRM_STAGE),
            c.text(frame, amount).alias(VALUE),
            pl.lit(1).alias("_order"),
        )
    if found != "field-history":
        raise LoadError(
            "not a Salesforce OpportunityHistory (OpportunityId, StageName, CreatedDate) "
            "or OpportunityFieldHistory (OpportunityId, Field, OldValue, NewValue, "
            f"CreatedDate) export; has {frame.columns}"
        )
    field = c.text(frame, c.pick(frame, ("Field",), what="field", crm=NAME))
    old = c.text(frame, c.pick(frame, ("OldValue",), what="old value", crm=NAME))
    new = c.text(frame, c.pick(frame, ("NewValue",), what="new value", crm=NAME))
    rows = frame.select(
        lead.alias(LEAD_ID),
        at.alias(AT),
        field.str.to_lowercase().alias("_field"),
        old.alias("_old"),
        new.alias("_new"),
        pl.int_range(pl.len()).alias("_in"),
    )
    changes = rows.filter(pl.col("_field") == "stagename")
    created = (
        rows.filter(pl.col("_field") == "created")
        .group_by(LEAD_ID, maintain_order=True)
        .agg(pl.col(AT).first().alias("_created"))
    )
    from funnel.analytics.eventlog import _parse_text_timestamps

    parsed, _ = _parse_text_timestamps(changes.get_column(AT), None)
    first = (
        changes.with_columns(parsed.alias("_t"))
        .sort([LEAD_ID, "_t", "_in"], nulls_last=True, maintain_order=True)
        .group_by(LEAD_ID, maintain_order=True)
        .agg(pl.col("_old").first())
        .join(created, on=LEAD_ID, how="left", maintain_order="left")
        .filter(pl.col("_old").is_not_null())
        .select(
            pl.col(LEAD_ID),
            pl.col("_created").alias(AT),
            pl.col("_old").alias(c.CRM_STAGE),
            pl.lit(0).alias("_order"),
        )
    )
    later = changes.select(
        pl.col(LEAD_ID), pl.col(AT), pl.col("_new").alias(c.CRM_STAGE), pl.lit(1).alias("_order")
    )
    return pl.concat([first, later])
