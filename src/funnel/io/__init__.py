"""
Input and output: definition files, JSON documents and SQL storage.

* :mod:`funnel.io.definition` – funnel definition files (TOML, JSON): load, check, save
  (reading in ``read``, building in ``build``, writing in ``write``);
* :mod:`funnel.io.serialize` – records to and from JSON documents;
* :mod:`funnel.io.sql` – :class:`~funnel.io.sql.SqlStore` (the ``sql`` extra).

``import funnel`` loads none of these until one of their names is used.
"""
