"""
Odoo CRM: the stage tracking values of ``crm.lead``, optionally with the leads themselves.

**Tracking values** (``mail.tracking.value``, required) — one row per
tracked change: the lead id (``mail_message_id.res_id``; also ``res_id`` or
``lead_id``), the field (``field`` before Odoo 17, ``field_id`` or
``field_id.name`` since; rows of other fields are ignored, and a field
``active`` set to false is the lead being **lost**, since Odoo has no lost
stage), ``old_value_char`` and ``new_value_char`` (the stages' names) and
``create_date``. If the export has a model column (``mail_message_id.model``),
only ``crm.lead`` rows are read.

**Leads** (``crm.lead``, optional, ``deals=``) — ``id``, ``create_date``,
``stage_id`` (the name), ``date_last_stage_update``, ``active``,
``date_closed``, ``expected_revenue``, ``user_id``, ``source_id``,
``team_id``. With it, the stage a lead was created in (the first change's
old value) is dated by the lead's ``create_date``; a lead with no stage
change is in its current stage since ``date_last_stage_update`` (or
``create_date``); an archived lead (``active`` false) whose archiving is
not in the tracking export is lost at ``date_closed`` (no time if the
export lacks it). Without the leads, each lead's first stage has **no
time** and the loader rejects it as ``missing-timestamp``. The leads also give ``value``
(``expected_revenue``), ``owner`` (``user_id``), ``source`` (``source_id``)
and ``segment`` (``team_id``).

Timestamps: Odoo stores and exports ``create_date`` as naive
``YYYY-MM-DD HH:MM:SS`` **in UTC** (the database's datetime convention), so
a naive timestamp is read as UTC.
"""

from __future__ import annotations

from typing import Any

from funnel.analytics.adapters import _common as c
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, LEAD_ID, OWNER, SEGMENT, SOURCE, VALUE

NAME = "odoo"

#: Odoo's default pipeline (New, Qualified, Proposition, Won) and "Lost" (archived).
DEFAULT_STAGES: dict[str, str | None] = {
    "New": "opportunity",
    "Qualified": "opportunity",
    "Proposition": "stakeholder",
    "Won": "won",
    "Lost": "lost",
}

#: The CRM stage name given to a lead archived (``active`` set to false): lost.
LOST = "Lost"

_LEAD = ("mail_message_id.res_id", "mail_message_id/res_id", "res_id", "lead_id")
_FIELD = ("field_id.name", "field_id/name", "field", "field_id", "field_name")
_MODEL = ("mail_message_id.model", "mail_message_id/model", "model")
_FALSE = ("0", "false", "False", "no")


def kind(frame: Any) -> str | None:
    """``"tracking"`` or ``None``."""
    if c.find(frame, ("new_value_char",)) or c.find(frame, ("new_value_integer",)):
        return "tracking"
    return None


def entries(frame: Any, deals: Any = None) -> Any:
    """The stage entries of tracking values (and, if given, the leads export)."""
    import polars as pl

    if kind(frame) is None:
        raise LoadError(
            "not an Odoo mail.tracking.value export (mail_message_id.res_id, field, "
            f"old_value_char, new_value_char, create_date); has {frame.columns}"
        )
    model = c.find(frame, _MODEL)
    if model is not None:
        frame = frame.filter(c.text(frame, model) == "crm.lead")
    field = c.text(frame, c.find(frame, _FIELD)).str.to_lowercase()
    new_int = c.find(frame, ("new_value_integer",))
    rows = frame.select(
        c.text(frame, c.pick(frame, _LEAD, what="lead id", crm=NAME)).alias(LEAD_ID),
        c.timestamp(
            c.text(frame, c.pick(frame, ("create_date",), what="create_date", crm=NAME)),
            naive_utc=True,
        ).alias(AT),
        field.fill_null("stage_id").alias("_field"),
        c.text(frame, c.find(frame, ("old_value_char",))).alias("_old"),
        c.text(frame, c.find(frame, ("new_value_char",))).alias("_new"),
        c.text(frame, new_int).alias("_new_int"),
        pl.int_range(pl.len()).alias("_in"),
    )
    stage_rows = rows.filter(pl.col("_field").is_in(["stage_id", "stage"]))
    lost_rows = rows.filter(
        (pl.col("_field") == "active")
        & (pl.col("_new_int").is_in(_FALSE) | pl.col("_new").is_in(_FALSE))
    )
    later = pl.concat(
        [
            stage_rows.select(LEAD_ID, AT, pl.col("_new").alias(c.CRM_STAGE), "_in"),
            lost_rows.select(LEAD_ID, AT, pl.lit(LOST).alias(c.CRM_STAGE), "_in"),
        ]
    ).with_columns(pl.lit(1).alias("_order"))
    first, undated = c.first_stages(stage_rows)
    later = later.drop("_in")
    if deals is None:
        return pl.concat([undated, later])
    leads = _leads(deals)
    known = leads.get_column(LEAD_ID).to_list()
    dated = c.first_stage_rows(leads, first, created="_created", updated="_stage_update")
    # archived leads whose archiving the tracking export does not show: lost when closed
    archived = leads.filter(
        pl.col("_active").is_in(_FALSE)
        & ~pl.col(LEAD_ID).is_in(lost_rows.get_column(LEAD_ID).to_list())
    ).select(
        LEAD_ID,
        pl.col("_closed").alias(AT),
        pl.lit(LOST).alias(c.CRM_STAGE),
        pl.lit(1).alias("_order"),
    )
    attributes = leads.select(LEAD_ID, VALUE, OWNER, SOURCE, SEGMENT)
    return pl.concat([dated, undated.filter(~pl.col(LEAD_ID).is_in(known)), later, archived]).join(
        attributes, on=LEAD_ID, how="left", maintain_order="left"
    )


def _leads(deals: Any) -> Any:
    frame = c.read(deals)
    return frame.select(
        c.text(frame, c.pick(frame, ("id", "ID"), what="lead id", crm=NAME)).alias(LEAD_ID),
        c.timestamp(c.text(frame, c.find(frame, ("create_date",))), naive_utc=True).alias(
            "_created"
        ),
        c.timestamp(
            c.text(frame, c.find(frame, ("date_last_stage_update",))), naive_utc=True
        ).alias("_stage_update"),
        c.timestamp(c.text(frame, c.find(frame, ("date_closed",))), naive_utc=True).alias(
            "_closed"
        ),
        c.text(frame, c.find(frame, ("active", "Active"))).alias("_active"),
        c.text(frame, c.find(frame, ("stage_id", "stage_id/name", "Stage"))).alias("_current"),
        c.text(frame, c.find(frame, ("expected_revenue", "Expected Revenue"))).alias(VALUE),
        c.text(frame, c.find(frame, ("user_id", "Salesperson"))).alias(OWNER),
        c.text(frame, c.find(frame, ("source_id", "Source"))).alias(SOURCE),
        c.text(frame, c.find(frame, ("team_id", "Sales Team"))).alias(SEGMENT),
    ).unique(LEAD_ID, keep="first", maintain_order=True)
