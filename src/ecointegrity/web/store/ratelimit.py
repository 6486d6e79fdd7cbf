"""Rate limits per client without storing who the client is.

Rate limiting stores ``sha256(salt + key)`` with a salt that rotates every UTC day, so no raw IP
address is ever written and one day's hashes cannot be linked to the next. The key is what the
web layer counts: an IPv4 address, an IPv6 /64, or a network for daily caps. Counts live in
fixed windows aligned on the epoch, one row per client, action and window.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete

from .database import Database
from .secrets import SecretSource
from .tables import RateEvent, utcnow

if TYPE_CHECKING:
    from sqlalchemy.sql.dml import ReturningInsert

__all__ = ["RateLimit", "RateLimiter"]

# Rows of expired rate windows are deleted at most this often (per limiter), on a hit.
_PURGE_INTERVAL_S = 300.0


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` hits of ``action`` per ``window_s`` seconds, per client.

    Windows are fixed and aligned on the epoch; one action may have several limits (per minute,
    per day), each counted on its own.
    """

    action: str
    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window_s <= 0:
            raise ValueError(
                f"need limit >= 0 and window_s > 0 (got {self.limit}, {self.window_s})"
            )


class RateLimiter:
    """Counts hits per hashed client and action in the ``rate_events`` table; thread-safe.

    ``secret`` keys the daily salt of the client hashes. Counts live in the database, so every
    process on it shares them, provided all use one secret: the configured one, or else the
    one kept in the database (:class:`SecretSource`), never a random one per process.
    """

    def __init__(
        self, database: Database, secret: SecretSource | bytes | str | None = None
    ) -> None:
        self._database = database
        self._secret = (
            secret if isinstance(secret, SecretSource) else SecretSource(database, secret)
        )
        self._purge_lock = threading.Lock()
        self._last_purge = -math.inf
        self._count_hit = self._hit_upsert()

    def _hit_upsert(self) -> ReturningInsert[int]:
        """INSERT (count 1) ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count.

        Atomic, so concurrent hits of one client are all counted. Built once; the values come
        as parameters at each execution.
        """
        table = RateEvent.__table__
        return (
            self._database.insert(RateEvent)
            .on_conflict_do_update(
                index_elements=[
                    table.c.key_hash,
                    table.c.action,
                    table.c.window_s,
                    table.c.window_start,
                ],
                set_={"count": table.c.count + 1},
            )
            .returning(table.c.count)
        )

    def client_hash(self, client_key: str, day: date) -> str:
        """sha256(salt + key) with salt = HMAC-SHA256(secret, UTC date): what is stored."""
        salt = hmac.new(
            self._secret.get(), day.isoformat().encode("ascii"), hashlib.sha256
        ).digest()
        return hashlib.sha256(salt + client_key.encode("utf-8")).hexdigest()

    def hit(
        self, client_key: str, rule: RateLimit, now: float | datetime | None = None
    ) -> tuple[bool, int]:
        """Count one hit of ``rule.action`` by ``client_key`` (an IP address).

        Returns (allowed, retry_after_s): when refused, ``retry_after_s`` is the number of
        seconds until the window ends (>= 1). Because the key hash changes at 00:00 UTC, a
        window that spans midnight starts afresh.
        """
        ts = _epoch(now)
        window_s = int(rule.window_s)
        window_start = int(ts // window_s) * window_s
        key_hash = self.client_hash(client_key, datetime.fromtimestamp(ts, UTC).date())
        params = dict(
            key_hash=key_hash,
            action=rule.action,
            window_s=window_s,
            window_start=window_start,
            count=1,
            expires_at=window_start + window_s,
        )
        with self._database.connection(write=True) as conn:
            count = conn.execute(self._count_hit, params).scalar_one()
        self._maybe_purge(ts)
        if count <= rule.limit:
            return True, 0
        return False, max(1, math.ceil(window_start + window_s - ts))

    def purge(self, now: float | datetime | None = None) -> int:
        """Delete the rows of rate windows that have ended; returns how many."""
        ts = _epoch(now)
        with self._database.session(write=True) as session:
            result = session.execute(delete(RateEvent).where(RateEvent.expires_at <= ts))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _maybe_purge(self, ts: float) -> None:
        # Opportunistic and rare: one DELETE every few minutes keeps the table small without
        # a scheduler. abs(): an injected `now` may go backwards (tests, clock changes).
        with self._purge_lock:
            if abs(ts - self._last_purge) < _PURGE_INTERVAL_S:
                return
            self._last_purge = ts
        self.purge(ts)


def _epoch(now: float | datetime | None) -> float:
    """Seconds since the epoch of ``now`` (default: the current time)."""
    if now is None:
        return utcnow().timestamp()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)
