"""
Pipedrive: a deal's flow (its stage and status changes), or the deals export.

**Flow** — the deal updates of ``GET /v1/deals/{id}/flow`` (items of object
``dealChange``) flattened to one row per change: ``deal_id``, ``field_key``,
``old_value``, ``new_value``, ``log_time``. A ``stage_id`` change enters
``new_value`` (a stage id, e.g. ``3``: map ids with ``stages={"3": ...}``);
a ``status`` change to ``won`` or ``lost`` enters won or lost (a change
back to ``open`` is a re-opened deal: map ``"open"`` to ``None`` to leave
it out, or it is rejected as an unknown stage); other fields are ignored.
With the deals export (``deals=``), the first change's old stage is dated
by the deal's ``add_time`` (a deal in the flow that never changed stage is
in its current stage since ``stage_change_time``, or ``add_time`` when that
is empty), and the deals the flow does not cover are read as a snapshot
(below); without it that first stage has no time and the loader rejects
it as ``missing-timestamp``.

**Deals** — ``id``, ``stage_id``, ``status`` (open, won, lost, deleted),
``add_time``, ``stage_change_time``, ``won_time``, ``lost_time``, ``value``,
``user_id`` (the owner; ``owner_name`` or ``owner_id`` too). A snapshot: the
deal entered its current stage at ``stage_change_time``, or at ``add_time``
when that is empty (Pipedrive leaves it empty until the first stage
change); a won deal entered won at ``won_time``, a lost one lost at
``lost_time``. The stages it passed on the way are not in a snapshot.
The app's export headers (``Deal - ID``, ``Deal - Stage``, ``Deal - Status``,
``Deal - Deal created``, ``Deal - Won time``, ``Deal - Lost time``,
``Deal - Value``, ``Deal - Owner``) are recognised too.

Timestamps: the API's ``YYYY-MM-DD HH:MM:SS`` is UTC, so a naive timestamp
is read as UTC (ISO 8601 with ``Z``, as API v2 writes, is read as it is).
"""

from __future__ import annotations

from typing import Any

from funnel.analytics.adapters import _common as c
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, LEAD_ID, OWNER, VALUE

NAME = "pipedrive"

#: Pipedrive's default pipeline and its two closed statuses.
DEFAULT_STAGES: dict[str, str | None] = {
    "Qualified": "opportunity",
    "Contact Made": "opportunity",
    "Demo Scheduled": "stakeholder",
    "Proposal Made": "stakeholder",
    "Negotiations Started": "stakeholder",
    "won": "won",
    "lost": "lost",
}

_ID = ("id", "Deal - ID", "deal_id")
_STAGE = ("stage_id", "Deal - Stage", "stage")
_STATUS = ("status", "Deal - Status")
_ADD = ("add_time", "Deal - Deal created")
_CHANGE = ("stage_change_time", "Deal - Last stage change")
_WON = ("won_time", "Deal - Won time")
_LOST = ("lost_time", "Deal - Lost time")
_VALUE = ("value", "Deal - Value")
_OWNER = ("user_id", "owner_name", "owner_id", "Deal - Owner")


def kind(frame: Any) -> str | None:
    """``"flow"``, ``"deals"`` or ``None``."""
    if c.find(frame, ("field_key",)) and c.find(frame, ("new_value",)):
        return "flow"
    if c.find(frame, _STAGE) and c.find(frame, _ADD):
        return "deals"
    return None


def _time(frame: Any, names: tuple[str, ...]) -> Any:
    return c.timestamp(c.text(frame, c.find(frame, names)), naive_utc=True)


def entries(frame: Any, deals: Any = None) -> Any:
    """The stage entries of a flow (and, if given, the deals export) or of a deals export."""
    import polars as pl

    found = kind(frame)
    if found == "deals":
        return _snapshot(frame)
    if found != "flow":
        raise LoadError(
            "not a Pipedrive deal flow (deal_id, field_key, old_value, new_value, log_time) "
            f"nor a deals export (id, stage_id, add_time, status, ...); has {frame.columns}"
        )

    lead = c.pick(frame, ("deal_id", "item_id", "id"), what="deal id", crm=NAME)
    rows = frame.select(
        c.text(frame, lead).alias(LEAD_ID),
        _time(frame, ("log_time", "timestamp")).alias(AT),
        c.text(frame, c.find(frame, ("field_key",))).alias("_field"),
        c.text(frame, c.find(frame, ("old_value",))).alias("_old"),
        c.text(frame, c.find(frame, ("new_value",))).alias("_new"),
        pl.int_range(pl.len()).alias("_in"),
    )
    stage_rows = rows.filter(pl.col("_field") == "stage_id")
    status_rows = rows.filter(pl.col("_field") == "status")
    later = pl.concat([stage_rows, status_rows]).select(
        LEAD_ID, AT, pl.col("_new").alias(c.CRM_STAGE), pl.lit(1).alias("_order")
    )
    first, undated = c.first_stages(stage_rows)
    if deals is None:
        return pl.concat([undated, later])
    table = c.read(deals)
    info = table.select(
        c.text(table, c.pick(table, _ID, what="deal id", crm=NAME)).alias(LEAD_ID),
        _time(table, _ADD).alias("_added"),
        _time(table, _CHANGE).alias("_changed"),
        c.text(table, c.find(table, _STAGE)).alias("_current"),
        c.text(table, c.find(table, _VALUE)).alias(VALUE),
        c.text(table, c.find(table, _OWNER)).alias(OWNER),
    ).unique(LEAD_ID, keep="first", maintain_order=True)
    in_flow = rows.get_column(LEAD_ID).unique().to_list()
    known = info.get_column(LEAD_ID).to_list()
    dated = c.first_stage_rows(
        info.filter(pl.col(LEAD_ID).is_in(in_flow)), first, created="_added", updated="_changed"
    )
    flow_entries = pl.concat([dated, undated.filter(~pl.col(LEAD_ID).is_in(known)), later]).join(
        info.select(LEAD_ID, VALUE, OWNER), on=LEAD_ID, how="left", maintain_order="left"
    )
    # deals the flow does not cover: what their snapshot says
    others = _snapshot(table).filter(~pl.col(LEAD_ID).is_in(in_flow))
    return pl.concat([flow_entries, others], how="diagonal")


def _snapshot(frame: Any) -> Any:
    import polars as pl

    lead = c.text(frame, c.pick(frame, _ID, what="deal id", crm=NAME)).alias(LEAD_ID)
    status = c.text(frame, c.find(frame, _STATUS)).str.to_lowercase()
    attributes = [
        c.text(frame, c.find(frame, _VALUE)).alias(VALUE),
        c.text(frame, c.find(frame, _OWNER)).alias(OWNER),
    ]
    current = frame.select(
        lead,
        pl.coalesce(_time(frame, _CHANGE), _time(frame, _ADD)).alias(AT),
        c.text(frame, c.find(frame, _STAGE)).alias(c.CRM_STAGE),
        *attributes,
        pl.lit(0).alias("_order"),
    )
    won = frame.filter(status == "won").select(
        lead,
        _time(frame, _WON).alias(AT),
        pl.lit("won").alias(c.CRM_STAGE),
        *attributes,
        pl.lit(1).alias("_order"),
    )
    lost = frame.filter(status == "lost").select(
        lead,
        _time(frame, _LOST).alias(AT),
        pl.lit("lost").alias(c.CRM_STAGE),
        *attributes,
        pl.lit(1).alias("_order"),
    )
    return pl.concat([current, won, lost])
