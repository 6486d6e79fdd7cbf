"""Alembic environment of the React-2-EO database.

Normally run by ``Store.upgrade()``, which passes its own connection (already in a
transaction) in ``config.attributes["connection"]``. Also works from the ``alembic`` command
with any config that sets ``script_location`` to this folder and ``sqlalchemy.url``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool, text

from ecointegrity.web.store.tables import Base

config = context.config

# Only configure logging from an ini file: the programmatic path has none, and fileConfig would
# disable the application's loggers.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# For `alembic revision --autogenerate`; the migrations themselves never import the models.
target_metadata = Base.metadata

# Serialises concurrent upgrades (several workers starting at once) on PostgreSQL.
_PG_LOCK_KEY = "ecointegrity.web.migrations"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: let autogenerate write batch (copy-and-move) ops.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Released at commit; the second worker then finds the schema at head.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _PG_LOCK_KEY}
            )
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
