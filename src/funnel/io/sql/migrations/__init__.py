"""
Alembic revisions of the store's tables (branch label ``funnel``).

Add ``funnel.io.sql:migrations`` to ``version_locations`` in your ``alembic.ini`` and run
``alembic upgrade heads``; ``funnel_prefix`` in the ``[alembic]`` section names the
tables' prefix (default ``funnel_``). See the how-to "Embed funnel in an existing
application".
"""
