"""Animations and the reactions to them: saving, reading and the one-statement upsert.

The app has no accounts. A browser holds a random token; we keep only its SHA-256, so a leaked
database cannot be used to impersonate anyone, and one reaction per animation per browser is
enforced by a unique constraint on ``(animation_id, token_hash)``. A point from the device is
snapped to the centre of its H3 resolution-7 cell (about 5 km²) before it reaches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import Database
from .errors import UnknownAnimation
from .locations import (
    DEVICE_RESOLUTION,
    STORE_RESOLUTION,
    bbox_centre,
    check_bbox,
    check_point,
    coarsen_location,
)
from .records import AnimationRecord, ReactionRecord
from .secrets import SecretSource
from .tables import Animation, Reaction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.sql.dml import ReturningInsert

__all__ = ["NETWORK_BITS", "Reactions", "hash_token", "network_bucket"]

#: Bits kept of a network's keyed hash. 4096 buckets: k honest networks rarely share one
#: (which would only hide a cell), while a bucket stands for thousands of /24s, so a stored
#: value says nothing about which network a reaction came from, even to a holder of the secret.
NETWORK_BITS = 12

# Animations whose reaction fields are kept in memory (a few hundred bytes each).
_ANIMATION_CACHE_SIZE = 10_000


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a browser token: what is stored instead of the token.

    Not salted on purpose: the hash must stay the same across restarts and workers so that a
    browser's second reaction replaces its first; tokens are random, so it cannot be reversed.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string")
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def network_bucket(secret: bytes, network: str) -> int:
    """HMAC-SHA256(secret, network) cut to :data:`NETWORK_BITS` bits: what is stored."""
    digest = hmac.new(secret, b"network:" + network.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - NETWORK_BITS)


@dataclass(frozen=True, kw_only=True)
class _AnimationKey:
    """What a reaction copies from its animation (cached per store)."""

    product: str
    years_from: int
    years_to: int
    centre: tuple[float, float]  # (lat, lon) of the bbox centre


class Reactions:
    """Animations and reactions in one database; thread-safe."""

    def __init__(self, database: Database, secret: SecretSource | None = None) -> None:
        self._database = database
        self._secret = secret if secret is not None else SecretSource(database)
        # Animations never change (the id is a hash of the content), so what a reaction needs
        # of one is cached: a reaction is then a single statement.
        self._animations: OrderedDict[str, _AnimationKey] = OrderedDict()
        self._animations_lock = threading.Lock()
        self._upsert_reaction = self._reaction_upsert()

    def _reaction_upsert(self) -> ReturningInsert[*tuple[Any, ...]]:
        """INSERT ... ON CONFLICT (animation_id, token_hash) DO UPDATE ... RETURNING *.

        One atomic statement, so concurrent reactions of one browser can neither both insert
        (no unique violation) nor lose an update: the later one replaces the earlier. Built
        once; the values come as parameters at each execution.
        """
        table = Reaction.__table__
        stmt = self._database.insert(Reaction)
        return stmt.on_conflict_do_update(
            index_elements=[table.c.animation_id, table.c.token_hash],
            set_={
                "value": stmt.excluded.value,
                "lat": stmt.excluded.lat,
                "lon": stmt.excluded.lon,
                "h3_cell": stmt.excluded.h3_cell,
                "network": stmt.excluded.network,
                "updated_at": stmt.excluded.updated_at,
            },
        ).returning(*table.c)

    # --- animations -----------------------------------------------------------------------

    def save_animation(self, record: AnimationRecord) -> AnimationRecord:
        """Store an animation; saving an id that exists keeps the stored one (same content).

        Returns the stored record (with ``created_at`` filled in).
        """
        if not record.id:
            raise ValueError("animation id must not be empty")
        if record.years_from > record.years_to:
            raise ValueError(f"years_from {record.years_from} > years_to {record.years_to}")
        if not record.fps > 0 or record.size <= 0:
            raise ValueError(
                f"fps and size must be positive (fps={record.fps}, size={record.size})"
            )
        minx, miny, maxx, maxy = check_bbox(record.bbox)
        values = dict(
            id=record.id,
            product=record.product,
            band=record.band,
            years_from=int(record.years_from),
            years_to=int(record.years_to),
            minx=minx,
            miny=miny,
            maxx=maxx,
            maxy=maxy,
            fps=float(record.fps),
            size=int(record.size),
            created_at=record.created_at or utcnow(),
            path=str(record.path),
        )
        # The id is a content hash: a concurrent or repeated save of the same id is the same
        # animation, so the first one wins and nobody gets a duplicate-key error.
        stmt = (
            self._database.insert(Animation)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Animation.id])
        )
        with self._database.session(write=True) as session:
            session.execute(stmt)
            stored = session.get(Animation, record.id)
            assert stored is not None
            return stored.record()

    def get_animation(self, animation_id: str) -> AnimationRecord | None:
        """The stored animation, or None."""
        with self._database.session() as session:
            row = session.get(Animation, animation_id)
            return row.record() if row is not None else None

    def _animation_key(self, animation_id: str) -> _AnimationKey:
        """What a reaction copies from its animation; raises UnknownAnimation."""
        with self._animations_lock:
            key = self._animations.get(animation_id)
            if key is not None:
                self._animations.move_to_end(animation_id)
                return key
        table = Animation.__table__
        stmt = select(
            table.c.product,
            table.c.years_from,
            table.c.years_to,
            table.c.minx,
            table.c.miny,
            table.c.maxx,
            table.c.maxy,
        ).where(table.c.id == animation_id)
        with self._database.connection() as conn:
            row = conn.execute(stmt).one_or_none()
        if row is None:
            raise UnknownAnimation(animation_id)
        key = _AnimationKey(
            product=row.product,
            years_from=row.years_from,
            years_to=row.years_to,
            centre=bbox_centre(row.minx, row.miny, row.maxx, row.maxy),
        )
        self._remember(animation_id, key)
        return key

    def _remember(self, animation_id: str, key: _AnimationKey) -> None:
        with self._animations_lock:
            self._animations[animation_id] = key
            self._animations.move_to_end(animation_id)
            while len(self._animations) > _ANIMATION_CACHE_SIZE:
                self._animations.popitem(last=False)

    def _forget(self, animation_id: str) -> None:
        with self._animations_lock:
            self._animations.pop(animation_id, None)

    # --- reactions ------------------------------------------------------------------------

    def react(
        self,
        animation_id: str,
        token: str,
        value: int,
        lat: float | None = None,
        lon: float | None = None,
        device_location: bool = False,
        network: str | None = None,
    ) -> ReactionRecord:
        """Record (or replace) a browser's like (+1) or dislike (-1) of an animation.

        Location: with ``device_location`` the point comes from the browser's geolocation and
        is snapped to the centre of its H3 resolution-7 cell (~5 km²), so no home address is
        ever stored. A point given without ``device_location`` (e.g. picked on the map) is
        snapped to its resolution-9 cell centre, the finest grain statistics use. Without a
        point, the centre of the animation's bbox is stored.

        ``network`` is the client's network (``clients.network_key``); only a 12-bit keyed hash
        of it is stored, for the statistics to count distinct contributors. Without one, the
        reaction counts as a contributor of its own.

        Raises ``ValueError`` for a bad value, token or point and :class:`UnknownAnimation`
        when the animation is not stored.
        """
        if isinstance(value, bool) or value not in (1, -1):
            raise ValueError(f"reaction value must be 1 (like) or -1 (dislike), got {value!r}")
        token_hash = hash_token(token)
        if (lat is None) != (lon is None):
            raise ValueError("give both lat and lon, or neither")

        animation = self._animation_key(animation_id)
        if lat is None or lon is None:
            # Public already (it is the animation's region), so stored as is.
            point = animation.centre
        else:
            resolution = DEVICE_RESOLUTION if device_location else STORE_RESOLUTION
            point = coarsen_location(*check_point(lat, lon), resolution)
        now = utcnow()
        params = dict(
            animation_id=animation_id,
            token_hash=token_hash,
            value=int(value),
            lat=point[0],
            lon=point[1],
            h3_cell=h3.latlng_to_cell(point[0], point[1], STORE_RESOLUTION),
            network=network_bucket(self._secret.get(), network) if network else None,
            product=animation.product,
            years_from=animation.years_from,
            years_to=animation.years_to,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._database.connection(write=True) as conn:
                row = conn.execute(self._upsert_reaction, params).one()
        except IntegrityError:
            # The foreign key: the animation went away behind the cache's back.
            self._forget(animation_id)
            self._animation_key(animation_id)  # raises UnknownAnimation if so
            raise
        return ReactionRecord(**row._asdict())

    def get_reaction(self, animation_id: str, token: str) -> ReactionRecord | None:
        """This browser's current reaction to the animation, or None."""
        stmt = select(*Reaction.__table__.c).where(
            Reaction.animation_id == animation_id, Reaction.token_hash == hash_token(token)
        )
        with self._database.session() as session:
            row = session.execute(stmt).one_or_none()
            return ReactionRecord(**row._asdict()) if row is not None else None
