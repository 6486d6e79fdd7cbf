"""Storage of the React-2-EO app: animations, reactions, reaction statistics and rate limits.

The app has no accounts. A browser holds a random token; we keep only its SHA-256, so a leaked
database cannot be used to impersonate anyone, and one reaction per animation per browser is
enforced by a unique constraint on ``(animation_id, token_hash)``. Locations are coarse by
construction: a point from the device is snapped to the centre of its H3 resolution-7 cell
(about 5 km²) before it reaches the database, and statistics are only released for cells with
at least ``min_count`` reactions (k-anonymity). Rate limiting stores ``sha256(salt + ip)`` with
a salt that rotates every UTC day, so no raw IP address is ever written and one day's hashes
cannot be linked to the next.

SQLite is the embedded default (``sqlite:///path``), PostgreSQL the production database
(``postgresql+psycopg://...``). The schema belongs to the Alembic migrations shipped in
``web/migrations``; :meth:`Store.upgrade` runs them, nothing here calls ``create_all``.

Layering, lowest first: ``locations``, ``records``, ``errors`` <- ``tables`` <- ``database`` <-
``reactions``, ``statistics``, ``ratelimit`` <- ``store`` (the :class:`Store` facade).
"""

from __future__ import annotations

from .database import MIGRATIONS_DIR
from .errors import UnknownAnimation
from .locations import coarsen_location
from .reactions import hash_token
from .records import AnimationRecord, AnimationStats, CellStats, ReactionRecord
from .store import Store

__all__ = [
    "AnimationRecord",
    "AnimationStats",
    "CellStats",
    "MIGRATIONS_DIR",
    "ReactionRecord",
    "Store",
    "UnknownAnimation",
    "coarsen_location",
    "hash_token",
]
