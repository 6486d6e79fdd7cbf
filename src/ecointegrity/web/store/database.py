"""The connection to the React-2-EO database: engines, sessions and schema migrations.

SQLite is the embedded default (``sqlite:///path``), PostgreSQL the production database
(``postgresql+psycopg://...``). The schema belongs to the Alembic migrations shipped in
``web/migrations``; :meth:`Database.upgrade` runs them, nothing here calls ``create_all``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .tables import Base

__all__ = ["MIGRATIONS_DIR", "Database", "UpsertableInsert"]

#: The Alembic environment shipped inside the package (no alembic.ini needed).
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

#: An INSERT that can take ``ON CONFLICT ... DO UPDATE / DO NOTHING`` (both backends have it).
UpsertableInsert = sqlite.Insert | postgresql.Insert

# Execution option read by the SQLite "begin" hook below: write sessions take the write lock
# up front so that SQLite's busy timeout applies (see _install_sqlite_hooks).
_SQLITE_BEGIN = "ecointegrity_sqlite_begin"


class Database:
    """Engines and transactions on one SQLite or PostgreSQL database; thread-safe.

    Reads and writes go through separate engines so that, on SQLite, write transactions take
    the write lock when they begin (``BEGIN IMMEDIATE``) and reads never do.
    """

    def __init__(self, database_url: str | URL) -> None:
        self.url = make_url(database_url)
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        self._is_sqlite = backend == "sqlite"
        # An in-memory SQLite database exists once per connection: share one connection and
        # serialise sessions on it. File databases and PostgreSQL need no such lock.
        self._memory_lock: threading.RLock | None = None

        self.engine: Engine
        if self._is_sqlite:
            memory = self.url.database in (None, "", ":memory:")
            kwargs: dict[str, Any] = {
                # Sessions hop between threads (web server workers); the pool hands a connection
                # to one thread at a time, so sqlite3's same-thread check is only in the way.
                # `timeout` is sqlite3's busy timeout: writers wait for the lock, not fail.
                "connect_args": {"check_same_thread": False, "timeout": 30.0},
            }
            if memory:
                kwargs["poolclass"] = StaticPool
                self._memory_lock = threading.RLock()
            self.engine = create_engine(self.url, **kwargs)
            _install_sqlite_hooks(self.engine, wal=not memory)
        else:
            # Room for a threaded server; pre-ping survives database restarts.
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._write_engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)

    def insert(self, model: type[Base]) -> UpsertableInsert:
        """INSERT into ``model``'s table in this database's dialect (it takes ON CONFLICT)."""
        return sqlite.insert(model) if self._is_sqlite else postgresql.insert(model)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Serialise access to an in-memory SQLite database (one shared connection).

        A no-op for file databases and PostgreSQL.
        """
        if self._memory_lock is None:
            yield
        else:
            with self._memory_lock:
                yield

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.exclusive(), (self._write if write else self._read).begin() as session:
            yield session

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (cheaper than a session on the hot paths)."""
        with self.exclusive(), (self._write_engine if write else self.engine).begin() as conn:
            yield conn

    def upgrade(self, revision: str = "head") -> None:
        """Run the packaged Alembic migrations up to ``revision`` (default: the latest).

        Runs on this database's own engine (so SQLite gets the same pragmas and locking) and
        inside one transaction; on PostgreSQL the migrations take an advisory lock, so several
        workers starting at once upgrade one after the other.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # ConfigParser interpolates "%": escape it (URL-encoded passwords contain it).
        url = self.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        with self.connection(write=True) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def close(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


def _install_sqlite_hooks(engine: Engine, wal: bool) -> None:
    """WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE for writes.

    sqlite3 would start transactions itself, lazily (DEFERRED): a transaction that reads
    first and writes later then fails at once with "database is locked" when another writer
    got in between, whatever the busy timeout. So we turn that off and begin transactions
    ourselves: IMMEDIATE (take the write lock, waiting up to the busy timeout) for write
    sessions, DEFERRED for reads, which under WAL never block nor are blocked by writers.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                # Readers and one writer at a time, concurrently; persistent in the file.
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL is durable against application crashes and much faster.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
