"""
The event-log schema: the one place that names an event log's columns.

An event log has one row per thing that happened to a lead. Every module
that reads or writes a log (:mod:`funnel.engine.replay`, :mod:`funnel.analytics`,
the ``funnel report`` command) takes its column names from here.

============  ===================  ==================================================
column        dtype                meaning
============  ===================  ==================================================
``lead_id``   String               The lead (or deal) the row is about; required.
``at``        Datetime(us, UTC)    When it happened; an aware timestamp; required.
``stage``     String               The stage the lead entered, **or**
``event``     String               the event the lead took (a row names one or both).
``row``       Int64                The 1-based data row, added by the loaders.
``source``    String               Optional attribute: where the lead came from.
``owner``     String               Optional attribute: the rep who owns it.
``segment``   String               Optional attribute: region, industry, team ...
``value``     Float64              Optional attribute: the deal value.
============  ===================  ==================================================

The dtypes are narwhals / polars dtype names, as text: this module imports
no dataframe library.

>>> COLUMNS[LEAD_ID].dtype, COLUMNS[AT].dtype
('String', 'Datetime(us, UTC)')
>>> [c.name for c in COLUMNS.values() if c.required]
['lead_id', 'at']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import attrs

from funnel.exceptions import LoadError

LEAD_ID = "lead_id"
AT = "at"
STAGE = "stage"
EVENT = "event"
ROW = "row"
SOURCE = "source"
OWNER = "owner"
SEGMENT = "segment"
VALUE = "value"

#: Optional attribute columns the library knows about.
ATTRIBUTES = (SOURCE, OWNER, SEGMENT, VALUE)

#: Columns of a loader's rejected-rows frame: the row, its lead, the column at fault, why.
COLUMN = "column"
REASON = "reason"
REJECTED_COLUMNS = (ROW, LEAD_ID, COLUMN, REASON, VALUE)

#: Columns of a replay's results: per lead, accepted and refused events; per transition.
TRANSITIONS = "transitions"
REJECTED = "rejected"
FROM_STAGE = "from_stage"
TO_STAGE = "to_stage"
#: One row per lead after a bulk replay (the Dask and Spark replays add ``rejected``).
REPLAY_COLUMNS = (LEAD_ID, STAGE, TRANSITIONS, REJECTED)
#: One row per refused event.
REJECT_COLUMNS = (ROW, LEAD_ID, STAGE, EVENT)


@attrs.frozen
class Column:
    """
    One column of the event-log schema.

    Attributes:
        name: The column name.
        dtype: Its narwhals / polars dtype, as text (``"String"``, ``"Int64"``, ...).
        meaning: What it holds, for people.
        required: Every log must have it (``stage`` and ``event``: at least one of them).
    """

    name: str
    dtype: str
    meaning: str
    required: bool = False


#: The schema, ``{name: Column}``, in the order of the table above.
COLUMNS: Mapping[str, Column] = MappingProxyType(
    {
        c.name: c
        for c in (
            Column(LEAD_ID, "String", "the lead (or deal) the row is about", required=True),
            Column(AT, "Datetime(us, UTC)", "when it happened (aware, stored in UTC)", True),
            Column(STAGE, "String", "the stage the lead entered"),
            Column(EVENT, "String", "the event the lead took"),
            Column(ROW, "Int64", "the 1-based data row (added by the loaders)"),
            Column(SOURCE, "String", "where the lead came from"),
            Column(OWNER, "String", "the rep who owns the lead"),
            Column(SEGMENT, "String", "region, industry, team ..."),
            Column(VALUE, "Float64", "the deal value"),
        )
    }
)


def require_columns(columns: Sequence[str], required: Sequence[str | tuple[str, ...]]) -> None:
    """
    A :class:`~funnel.exceptions.LoadError` naming each *required* column *columns* lacks
    (a tuple: any one of its names will do), in the words every event-log check uses.

    >>> require_columns(["lead_id", "event"], ["lead_id", ("stage", "event")])
    >>> require_columns(["id", "at"], ["lead_id", "at", ("stage", "event")])
    Traceback (most recent call last):
    ...
    funnel.exceptions.LoadError: event log has no 'lead_id' column and no 'stage' or 'event' \
column; has ['id', 'at']
    """
    names = set(columns)
    missing = []
    for need in required:
        options = (need,) if isinstance(need, str) else need
        if names.isdisjoint(options):
            missing.append(" or ".join(repr(c) for c in options))
    if missing:
        what = " and no ".join(f"{m} column" for m in missing)
        raise LoadError(f"event log has no {what}; has {list(columns)}")
