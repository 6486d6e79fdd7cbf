"""Alembic revisions of the React-2-EO database, applied in order by ``Store.upgrade``."""
