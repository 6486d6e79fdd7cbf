"""The server secret that keys the rate-limit salts and the network hashes of reactions.

Every process that shares a database must use the same secret, or each counts a client in a
bucket of its own (N replicas would allow N times the limit) and the statistics would see one
network as several. A configured secret (``ECOINTEGRITY_API_SECRET``) wins; without one, a
random secret is created once in the database (``secrets`` table) and read by every process
on it, so replicas agree with no configuration. The price: whoever reads the database also
reads the secret; a secret kept outside it (the environment) is the stronger choice and the
one the documentation recommends.
"""

from __future__ import annotations

import logging
import secrets
import threading

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from .database import Database
from .tables import Secret, utcnow

__all__ = ["SecretSource"]

log = logging.getLogger(__name__)

_NAME = "rate-limit"


class SecretSource:
    """The secret of one store: configured, else shared through the database; thread-safe.

    Resolved lazily (the table exists only once the migrations ran). When the database has no
    ``secrets`` table yet, a random per-process secret stands in, with a warning, until
    :meth:`reset` (called after an upgrade) makes the next use read the database again.
    """

    def __init__(self, database: Database, configured: bytes | str | None = None) -> None:
        self._database = database
        self._configured = configured.encode("utf-8") if isinstance(configured, str) else configured
        self._value: bytes | None = self._configured
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether the secret was given rather than kept in the database."""
        return self._configured is not None

    def get(self) -> bytes:
        """The secret (bytes)."""
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                self._value = self._load()
            return self._value

    def reset(self) -> None:
        """Forget a secret read from (or standing in for) the database."""
        with self._lock:
            self._value = self._configured

    def _load(self) -> bytes:
        # Insert-if-absent then read back: concurrent first starts of several workers all end
        # up with the one row that won.
        candidate = secrets.token_hex(32)
        stmt = (
            self._database.insert(Secret)
            .values(name=_NAME, value=candidate, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[Secret.name])
        )
        try:
            with self._database.session(write=True) as session:
                session.execute(stmt)
                stored = session.execute(
                    select(Secret.value).where(Secret.name == _NAME)
                ).scalar_one()
        except DBAPIError:
            # Not migrated (no table): limits are then per process, which is worth saying.
            log.warning(
                "no 'secrets' table in the database (not migrated?): rate limits use a random "
                "secret and count per process; set ECOINTEGRITY_API_SECRET or run the migrations"
            )
            return secrets.token_bytes(32)
        return bytes.fromhex(stored)
