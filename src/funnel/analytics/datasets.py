"""
Adapters for two public funnel datasets: examples of mapping a foreign schema.

Nothing is bundled: each function takes the folder the files are in.

**Maven "CRM Sales Opportunities"** (public domain per Maven): one row per
deal with ``deal_stage`` in Prospecting / Engaging / Won / Lost, an
``engage_date`` and a ``close_date``. It is a snapshot, so the adapter turns
each deal into stage rows:

* every deal entered ``opportunity`` (Prospecting). The file records no
  date for that, so the row has **no time** (null ``at``): it counts for the
  stages reached and is left out of durations and cohorts. Nothing is
  invented: the 500 deals still prospecting have no date at all, and
  engaged deals are not given their engage date for two stages. (Pass
  *as_of* to date the deals that have no date at all at a time of your
  choosing, e.g. when the snapshot was taken.)
* a deal with an ``engage_date`` entered ``stakeholder`` (Engaging) then;
* a deal with a ``close_date`` entered ``won`` or ``lost`` then.

Attributes: ``owner`` = sales agent, ``segment`` = the agent's regional
office (from ``sales_teams.csv``), ``value`` = close value, plus ``product``
and ``account``. Dates are read as UTC.

**Olist marketing funnel** (CC BY-NC-SA 4.0): 8000 marketing-qualified leads
(``first_contact_date``, ``origin``) and 842 closed deals (``won_date``). Each
MQL becomes an ``mql`` row and each deal a ``won`` row after all the MQL rows;
``source`` = origin, ``owner`` = the sales rep (``sr_id``), ``segment`` =
business segment. Times are read as UTC (the data are Brazilian local times;
``timezone="America/Sao_Paulo"`` would reject MQLs dated on DST-change days,
whose midnight does not exist there). One deal has a ``won_date`` two days
before its first contact: both rows are **accepted** (the lead counts as won:
842 wins) and its MQL row is listed in ``LoadResult.warnings``
(``time-conflict``, with both rows and times); that row's ``at`` is null in
the accepted frame, so the lead is left out of the MQL → won durations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from funnel.analytics.eventlog import LoadResult, load_frame
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, LEAD_ID, OWNER, SEGMENT, SOURCE, STAGE, VALUE

#: Maven deal stages → funnel stages.
MAVEN_STAGES = {
    "Prospecting": "opportunity",
    "Engaging": "stakeholder",
    "Won": "won",
    "Lost": "lost",
}
#: Report steps for the Maven data.
MAVEN_STEPS = ("opportunity", "stakeholder", "won")
#: Report steps for the Olist data.
OLIST_STEPS = ("mql", "won")


def _read(path: Path) -> Any:
    import polars as pl

    try:
        return pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise LoadError(f"cannot read {str(path)!r}: {exc}") from exc


def _folder(folder: str | Path, sub: str, first: str) -> Path:
    base = Path(folder)
    if (base / sub / first).is_file():
        return base / sub
    return base


def maven_log(folder: str | Path, *, as_of: str | None = None) -> Any:
    """
    The Maven pipeline as a polars event log (not validated; see :func:`load_maven`).

    *folder* is the ``maven_crm`` folder or its parent.
    """
    import polars as pl

    base = _folder(folder, "maven_crm", "sales_pipeline.csv")
    deals = _read(base / "sales_pipeline.csv").with_row_index("_deal")
    teams = _read(base / "sales_teams.csv").select("sales_agent", "regional_office")
    deals = deals.join(teams, on="sales_agent", how="left", maintain_order="left")
    undated = pl.lit(as_of, dtype=pl.String)
    common = [
        pl.col("opportunity_id").alias(LEAD_ID),
        pl.col("sales_agent").alias(OWNER),
        pl.col("regional_office").alias(SEGMENT),
        pl.col("product"),
        pl.col("account"),
        pl.col("_deal"),
    ]
    prospect = deals.select(
        *common,
        pl.lit("opportunity").alias(STAGE),
        # the source has no date for entering Prospecting
        pl.when(pl.col("engage_date").is_null() & pl.col("close_date").is_null())
        .then(undated)
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(AT),
        pl.lit(None, dtype=pl.String).alias(VALUE),
        pl.lit(0).alias("_seq"),
    )
    engaged = deals.filter(pl.col("engage_date").is_not_null()).select(
        *common,
        pl.lit("stakeholder").alias(STAGE),
        pl.col("engage_date").alias(AT),
        pl.lit(None, dtype=pl.String).alias(VALUE),
        pl.lit(1).alias("_seq"),
    )
    closed = deals.filter(pl.col("close_date").is_not_null()).select(
        *common,
        pl.col("deal_stage").replace_strict(MAVEN_STAGES, default=None).alias(STAGE),
        pl.col("close_date").alias(AT),
        pl.col("close_value").alias(VALUE),
        pl.lit(2).alias("_seq"),
    )
    cols = [LEAD_ID, AT, STAGE, OWNER, SEGMENT, VALUE, "product", "account"]
    return pl.concat([prospect, engaged, closed]).sort("_deal", "_seq").select(cols)


def load_maven(
    folder: str | Path, *, funnel: Funnel = DEFAULT_FUNNEL, as_of: str | None = None
) -> LoadResult:
    """
    Load the Maven CRM pipeline as a validated event log (see the module docs).

    Report it with ``steps=MAVEN_STEPS``; "closed" is ``won + lost``. The
    ``opportunity`` rows have no time (``allow_missing_time=True``).

    Raises:
        LoadError: the files cannot be read.
    """
    return load_frame(
        maven_log(folder, as_of=as_of), funnel=funnel, timezone="UTC", allow_missing_time=True
    )


def olist_log(folder: str | Path) -> Any:
    """
    The Olist marketing funnel as a polars event log (not validated; see :func:`load_olist`).

    *folder* is the ``olist`` folder or its parent.
    """
    import polars as pl

    base = _folder(folder, "olist", "olist_marketing_qualified_leads_dataset.csv")
    mqls = _read(base / "olist_marketing_qualified_leads_dataset.csv")
    deals = _read(base / "olist_closed_deals_dataset.csv")
    mql_rows = mqls.select(
        pl.col("mql_id").alias(LEAD_ID),
        pl.col("first_contact_date").alias(AT),
        pl.lit("mql").alias(STAGE),
        pl.col("origin").alias(SOURCE),
        pl.lit(None, dtype=pl.String).alias(OWNER),
        pl.lit(None, dtype=pl.String).alias(SEGMENT),
        pl.col("landing_page_id"),
        pl.lit(None, dtype=pl.String).alias("lead_type"),
    )
    won_rows = deals.join(
        mqls.select("mql_id", "origin", "landing_page_id"),
        on="mql_id",
        how="left",
        maintain_order="left",
    ).select(
        pl.col("mql_id").alias(LEAD_ID),
        pl.col("won_date").alias(AT),
        pl.lit("won").alias(STAGE),
        pl.col("origin").alias(SOURCE),
        pl.col("sr_id").alias(OWNER),
        pl.col("business_segment").alias(SEGMENT),
        pl.col("landing_page_id"),
        pl.col("lead_type"),
    )
    return pl.concat([mql_rows, won_rows])


def load_olist(
    folder: str | Path, *, funnel: Funnel = DEFAULT_FUNNEL, timezone: str = "UTC"
) -> LoadResult:
    """
    Load the Olist MQLs and closed deals as a validated event log.

    Report it with ``steps=OLIST_STEPS``.

    Raises:
        LoadError: the files cannot be read.
    """
    return load_frame(olist_log(folder), funnel=funnel, timezone=timezone)
