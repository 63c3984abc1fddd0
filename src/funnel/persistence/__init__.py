"""
Storage of leads and prospects (the optional ``funnel[sql]`` extra).

``import funnel`` never imports this package; importing it needs SQLAlchemy 2.

* :class:`~funnel.persistence.sql.SqlStore` keeps each record as a JSON
  document (see :mod:`funnel.serialize`) with a version number, and its
  stage history in an append-only table of transitions. Writes use
  optimistic concurrency: a write based on an outdated version is refused
  with :class:`~funnel.StaleWriteError`, never silently lost.
* :meth:`~funnel.persistence.sql.SqlStore.transact` reads, applies a
  function and writes, retrying on a stale write, so concurrent writers on
  one record lose no update.

SQLite is the embedded default; PostgreSQL (psycopg 3) is tested too.
"""

from __future__ import annotations

from funnel.persistence.sql import SqlStore, Versioned

__all__ = ("SqlStore", "Versioned")
