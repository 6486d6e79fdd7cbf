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
(``postgresql+psycopg://...``). The schema belongs to the Alembic migrations shipped next to
this module (``migrations/``); :meth:`Store.upgrade` runs them, nothing here calls
``create_all``.

>>> store = Store("sqlite:///react.sqlite", secret=b"...")      # doctest: +SKIP
>>> store.upgrade()                                              # doctest: +SKIP
>>> store.save_animation(AnimationRecord(id=h, product="ndvi", years_from=2019, years_to=2023,
...     minx=-99.3, miny=19.2, maxx=-98.9, maxy=19.6, fps=2.0, size=512, path="gifs/h.gif"))  # doctest: +SKIP
>>> store.react(h, token, +1, lat=19.43, lon=-99.13, device_location=True)  # doctest: +SKIP
>>> store.stats_geojson(resolution=5)                            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import h3
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    case,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

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

#: The Alembic environment shipped inside the package (no alembic.ini needed).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Resolution of the H3 cell stored with every reaction; statistics roll it up to coarser ones.
STORE_RESOLUTION = 9
#: A device location is snapped to the centre of its cell at this resolution (~5.2 km²).
DEVICE_RESOLUTION = 7

# Execution option read by the SQLite "begin" hook below: write sessions take the write lock
# up front so that SQLite's busy timeout applies (see Store._sqlite_hooks).
_SQLITE_BEGIN = "ecointegrity_sqlite_begin"
# Rows of expired rate windows are deleted at most this often (per Store), on a hit.
_PURGE_INTERVAL_S = 300.0
# Animations whose reaction fields are kept in memory (a few hundred bytes each).
_ANIMATION_CACHE_SIZE = 10_000


class UnknownAnimation(KeyError):
    """A reaction names an animation that is not stored."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return f"unknown animation {self.args[0]!r}" if self.args else "unknown animation"


# --- records handed to and returned by the store ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AnimationRecord:
    """An animated GIF of one product over a region and a range of years.

    ``id`` is the content hash computed by the caller (same request -> same id); the bbox
    ``minx, miny, maxx, maxy`` is in WGS84 degrees (x = longitude, y = latitude); ``path`` is
    where the GIF is stored. ``created_at`` defaults to now (UTC) when saved.
    """

    id: str
    product: str
    years_from: int
    years_to: int
    minx: float
    miny: float
    maxx: float
    maxy: float
    fps: float
    size: int
    path: str
    band: str | None = None
    created_at: datetime | None = None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) = (west, south, east, north)."""
        return self.minx, self.miny, self.maxx, self.maxy

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lon) of the bbox centre (handles a bbox that crosses the antimeridian)."""
        return _bbox_centre(self.minx, self.miny, self.maxx, self.maxy)


@dataclass(frozen=True, kw_only=True)
class AnimationStats:
    """An animation and its reaction counts (:meth:`Store.top_animations`).

    Public by design (the dashboard lists them), so the server-side ``path`` is left out.
    """

    id: str
    product: str
    band: str | None
    years_from: int
    years_to: int
    minx: float
    miny: float
    maxx: float
    maxy: float
    fps: float
    size: int
    created_at: datetime
    likes: int
    dislikes: int
    total: int
    like_share: float


@dataclass(frozen=True, kw_only=True)
class ReactionRecord:
    """One browser's current reaction to one animation, as stored.

    ``lat``/``lon`` are the stored (coarsened) location, ``h3_cell`` its resolution-9 cell.
    """

    id: int
    animation_id: str
    token_hash: str
    value: int
    lat: float
    lon: float
    h3_cell: str
    product: str
    years_from: int
    years_to: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class _AnimationKey:
    """What a reaction copies from its animation (cached per store)."""

    product: str
    years_from: int
    years_to: int
    centre: tuple[float, float]  # (lat, lon) of the bbox centre


@dataclass(frozen=True, kw_only=True)
class CellStats:
    """Reactions aggregated over one H3 cell; ``lat``/``lon`` is the cell centre."""

    cell: str
    resolution: int
    likes: int
    dislikes: int
    total: int
    like_share: float
    lat: float
    lon: float


# --- ORM -------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL has ``timestamptz``; SQLite stores text without an offset, so we store UTC and
    attach the UTC zone on the way back. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Deterministic constraint names, so that later migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the React-2-EO tables (the schema itself lives in the migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Animation(Base):
    __tablename__ = "animations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    band: Mapped[str | None] = mapped_column(String(64))
    years_from: Mapped[int] = mapped_column(Integer)
    years_to: Mapped[int] = mapped_column(Integer)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    fps: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    path: Mapped[str] = mapped_column(Text)

    def record(self) -> AnimationRecord:
        return AnimationRecord(
            id=self.id,
            product=self.product,
            band=self.band,
            years_from=self.years_from,
            years_to=self.years_to,
            minx=self.minx,
            miny=self.miny,
            maxx=self.maxx,
            maxy=self.maxy,
            fps=self.fps,
            size=self.size,
            path=self.path,
            created_at=self.created_at,
        )


class Reaction(Base):
    __tablename__ = "reactions"
    __table_args__ = (
        # One reaction per animation per browser; the upsert in Store.react relies on it.
        UniqueConstraint("animation_id", "token_hash"),
        CheckConstraint("value IN (1, -1)", name="value"),
        Index(None, "product", "years_from", "years_to"),
    )

    # BIGINT on PostgreSQL; SQLite only auto-increments an "INTEGER PRIMARY KEY".
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    animation_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("animations.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(SmallInteger)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    h3_cell: Mapped[str] = mapped_column(String(16))
    # Copied from the animation so that statistics filter without a join.
    product: Mapped[str] = mapped_column(String(64))
    years_from: Mapped[int] = mapped_column(Integer)
    years_to: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RateEvent(Base):
    __tablename__ = "rate_events"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Part of the key so that two limits on one action (per minute, per day) never share a row.
    window_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # window_start + window_s


# --- helpers ---------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a browser token: what is stored instead of the token.

    Not salted on purpose: the hash must stay the same across restarts and workers so that a
    browser's second reaction replaces its first; tokens are random, so it cannot be reversed.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string")
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def coarsen_location(
    lat: float, lon: float, resolution: int = DEVICE_RESOLUTION
) -> tuple[float, float]:
    """(lat, lon) of the centre of the H3 cell at ``resolution`` that contains the point."""
    return h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, resolution))


def _bbox_centre(minx: float, miny: float, maxx: float, maxy: float) -> tuple[float, float]:
    if minx > maxx:  # crosses the antimeridian: go east from minx to maxx
        lon = (minx + maxx + 360.0) / 2.0
        lon = lon - 360.0 if lon > 180.0 else lon
    else:
        lon = (minx + maxx) / 2.0
    return (miny + maxy) / 2.0, lon


def _check_point(lat: float, lon: float) -> tuple[float, float]:
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"invalid location lat={lat}, lon={lon}")
    return lat, lon


def _check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bbox) != 4:
        raise ValueError(f"bbox must be (minx, miny, maxx, maxy), got {bbox!r}")
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    _check_point(miny, minx)
    _check_point(maxy, maxx)
    if miny > maxy:
        raise ValueError(f"bbox miny > maxy: {bbox!r}")
    return minx, miny, maxx, maxy


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _epoch(now: float | datetime | None) -> float:
    if now is None:
        return _utcnow().timestamp()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)


def _share(likes: int, total: int) -> float:
    return likes / total if total else 0.0


def _lon_ranges(minx: float, maxx: float) -> list[tuple[float, float]]:
    """Longitude intervals of a bbox, split in two when it crosses the antimeridian."""
    return [(minx, maxx)] if minx <= maxx else [(minx, 180.0), (-180.0, maxx)]


def _cell_intersects(cell: str, bbox: tuple[float, float, float, float]) -> bool:
    """Whether the cell's bounding box overlaps ``bbox`` (errs towards keeping a cell)."""
    boundary = h3.cell_to_boundary(cell)
    lats = [p[0] for p in boundary]
    lons = [p[1] for p in boundary]
    minx, miny, maxx, maxy = bbox
    if max(lats) < miny or min(lats) > maxy:
        return False
    cmin, cmax = min(lons), max(lons)
    if cmax - cmin > 180.0:  # the cell straddles the antimeridian: keep it, cheap and safe
        return True
    return any(cmax >= lo and cmin <= hi for lo, hi in _lon_ranges(minx, maxx))


# --- the store -------------------------------------------------------------------------------


class Store:
    """The React-2-EO database (SQLite or PostgreSQL); thread-safe, one per process.

    ``secret`` keys the daily salt of the rate-limit hashes. It defaults to random bytes per
    process, which is fine for one process; several workers sharing a database must share a
    secret, or each would count a client separately.
    """

    def __init__(self, database_url: str | URL, secret: bytes | str | None = None) -> None:
        self.url = make_url(database_url)
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        if secret is None:
            secret = secrets.token_bytes(32)
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        self._purge_lock = threading.Lock()
        self._last_purge = -math.inf
        # An in-memory SQLite database exists once per connection: share one connection and
        # serialise sessions on it. File databases and PostgreSQL need no such lock.
        self._memory_lock: threading.RLock | None = None

        self.engine: Engine
        if backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert

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
            self._sqlite_hooks(self.engine, wal=not memory)
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert

            # Room for a threaded server; pre-ping survives database restarts.
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._insert = dialect_insert
        # Animations never change (the id is a hash of the content), so what a reaction needs
        # of one is cached: a reaction is then a single statement.
        self._animations: OrderedDict[str, _AnimationKey] = OrderedDict()
        self._animations_lock = threading.Lock()
        self._upsert_reaction = self._reaction_upsert()
        self._count_hit = self._hit_upsert()
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)

    def _reaction_upsert(self) -> Any:
        """INSERT ... ON CONFLICT (animation_id, token_hash) DO UPDATE ... RETURNING *.

        One atomic statement, so concurrent reactions of one browser can neither both insert
        (no unique violation) nor lose an update: the later one replaces the earlier. Built
        once; the values come as parameters at each execution.
        """
        table = Reaction.__table__
        stmt = self._insert(table)
        return stmt.on_conflict_do_update(
            index_elements=[table.c.animation_id, table.c.token_hash],
            set_={
                "value": stmt.excluded.value,
                "lat": stmt.excluded.lat,
                "lon": stmt.excluded.lon,
                "h3_cell": stmt.excluded.h3_cell,
                "updated_at": stmt.excluded.updated_at,
            },
        ).returning(*table.c)

    def _hit_upsert(self) -> Any:
        """INSERT (count 1) ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count.

        Atomic, so concurrent hits of one client are all counted. Built once, like the above.
        """
        table = RateEvent.__table__
        return (
            self._insert(table)
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

    @staticmethod
    def _sqlite_hooks(engine: Engine, wal: bool) -> None:
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

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise access to an in-memory SQLite database (one shared connection); a no-op otherwise."""
        if self._memory_lock is None:
            yield
        else:
            with self._memory_lock:
                yield

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._exclusive(), (self._write if write else self._read).begin() as session:
            yield session

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (cheaper than a session on the hot paths)."""
        with self._exclusive(), (self._write_engine if write else self.engine).begin() as conn:
            yield conn

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
        with self._connection() as conn:
            row = conn.execute(stmt).one_or_none()
        if row is None:
            raise UnknownAnimation(animation_id)
        key = _AnimationKey(
            product=row.product,
            years_from=row.years_from,
            years_to=row.years_to,
            centre=_bbox_centre(row.minx, row.miny, row.maxx, row.maxy),
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

    # --- schema ---------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the packaged Alembic migrations up to ``revision`` (default: the latest).

        Runs on this store's own engine (so SQLite gets the same pragmas and locking) and inside
        one transaction; on PostgreSQL the migrations take an advisory lock, so several
        workers starting at once upgrade one after the other.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # ConfigParser interpolates "%": escape it (URL-encoded passwords contain it).
        url = self.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        lock = self._memory_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._write_engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if lock is not None:
                lock.release()

    def close(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        minx, miny, maxx, maxy = _check_bbox(record.bbox)
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
            created_at=record.created_at or _utcnow(),
            path=str(record.path),
        )
        # The id is a content hash: a concurrent or repeated save of the same id is the same
        # animation, so the first one wins and nobody gets a duplicate-key error.
        stmt = (
            self._insert(Animation)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Animation.id])
        )
        with self._session(write=True) as session:
            session.execute(stmt)
            stored = session.get(Animation, record.id)
            assert stored is not None
            return stored.record()

    def get_animation(self, animation_id: str) -> AnimationRecord | None:
        """The stored animation, or None."""
        with self._session() as session:
            row = session.get(Animation, animation_id)
            return row.record() if row is not None else None

    # --- reactions ------------------------------------------------------------------------

    def react(
        self,
        animation_id: str,
        token: str,
        value: int,
        lat: float | None = None,
        lon: float | None = None,
        device_location: bool = False,
    ) -> ReactionRecord:
        """Record (or replace) a browser's like (+1) or dislike (-1) of an animation.

        Location: with ``device_location`` the point comes from the browser's geolocation and
        is snapped to the centre of its H3 resolution-7 cell (~5 km²), so no home address is
        ever stored. A point given without ``device_location`` (e.g. picked on the map) is
        snapped to its resolution-9 cell centre, the finest grain statistics use. Without a
        point, the centre of the animation's bbox is stored.

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
            point = coarsen_location(*_check_point(lat, lon), resolution)
        now = _utcnow()
        params = dict(
            animation_id=animation_id,
            token_hash=token_hash,
            value=int(value),
            lat=point[0],
            lon=point[1],
            h3_cell=h3.latlng_to_cell(point[0], point[1], STORE_RESOLUTION),
            product=animation.product,
            years_from=animation.years_from,
            years_to=animation.years_to,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._connection(write=True) as conn:
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
        with self._session() as session:
            row = session.execute(stmt).one_or_none()
            return ReactionRecord(**row._asdict()) if row is not None else None

    def reaction_counts(self, animation_id: str) -> dict[str, int]:
        """{"likes", "dislikes", "total"} of one animation (no location, so no k-anonymity)."""
        likes, dislikes = self._like_dislike_sums()
        stmt = select(likes, dislikes).where(Reaction.animation_id == animation_id)
        with self._session() as session:
            n_like, n_dislike = session.execute(stmt).one()
        n_like, n_dislike = int(n_like or 0), int(n_dislike or 0)
        return {"likes": n_like, "dislikes": n_dislike, "total": n_like + n_dislike}

    # --- statistics -----------------------------------------------------------------------

    @staticmethod
    def _like_dislike_sums() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        likes = func.sum(case((Reaction.value == 1, 1), else_=0)).label("likes")
        dislikes = func.sum(case((Reaction.value == -1, 1), else_=0)).label("dislikes")
        return likes, dislikes

    @staticmethod
    def _filters(
        model: type[Animation] | type[Reaction], product: str | None, year: int | None
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if product is not None:
            conditions.append(model.product == product)
        if year is not None:  # animations whose range of years includes `year`
            conditions.append(model.years_from <= year)
            conditions.append(model.years_to >= year)
        return conditions

    @staticmethod
    def _prefilter(
        resolution: int, bbox: tuple[float, float, float, float]
    ) -> list[ColumnElement[bool]]:
        """SQL conditions that keep every reaction whose cell at ``resolution`` may meet bbox.

        Only to read fewer rows; the exact test is done on the cells afterwards. The margin is
        generous (four average edge lengths, i.e. two cell diameters) because a child cell may
        stick out of its parent; the longitude test is dropped where degrees get too short.
        """
        minx, miny, maxx, maxy = bbox
        margin_km = 4.0 * float(h3.average_hexagon_edge_length(resolution, unit="km"))
        dlat = margin_km / 111.0
        lo_lat, hi_lat = miny - dlat, maxy + dlat
        conditions: list[ColumnElement[bool]] = [Reaction.lat >= lo_lat, Reaction.lat <= hi_lat]
        cos_lat = math.cos(math.radians(min(89.0, max(abs(lo_lat), abs(hi_lat)))))
        dlon = margin_km / (111.0 * cos_lat)
        ranges = _lon_ranges(minx, maxx)
        width = sum(hi - lo for lo, hi in ranges)
        if width + 2 * dlon >= 360.0 or len(ranges) > 1 or minx - dlon < -180 or maxx + dlon > 180:
            return conditions  # wraps around: latitude only
        conditions += [Reaction.lon >= minx - dlon, Reaction.lon <= maxx + dlon]
        return conditions

    def stats(
        self,
        resolution: int,
        product: str | None = None,
        year: int | None = None,
        min_count: int = 5,
        bbox: Sequence[float] | None = None,
    ) -> list[CellStats]:
        """Reactions aggregated per H3 cell at ``resolution`` (0..9), busiest cells first.

        ``year`` keeps animations whose range of years includes it; ``bbox`` (minx, miny, maxx,
        maxy) keeps cells that overlap it (whole cells, with all their reactions). Cells with
        fewer than ``min_count`` reactions are left out, so that a lone reaction (one person's
        whereabouts) is never published.
        """
        if not 0 <= int(resolution) <= STORE_RESOLUTION:
            raise ValueError(f"resolution must be 0..{STORE_RESOLUTION}, got {resolution}")
        if min_count < 0:
            raise ValueError("min_count must be >= 0")
        resolution = int(resolution)
        box = _check_bbox(bbox) if bbox is not None else None

        likes, dislikes = self._like_dislike_sums()
        stmt = (
            select(Reaction.h3_cell, likes, dislikes)
            .where(*self._filters(Reaction, product, year))
            .group_by(Reaction.h3_cell)
        )
        if box is not None:
            stmt = stmt.where(*self._prefilter(resolution, box))
        with self._session() as session:
            rows = session.execute(stmt).all()

        # The finest level is aggregated in SQL; rolling up to coarser cells is done here, as
        # H3's hierarchy is not expressible in portable SQL.
        counts: dict[str, list[int]] = {}
        for cell, n_like, n_dislike in rows:
            parent = h3.cell_to_parent(cell, resolution)
            acc = counts.setdefault(parent, [0, 0])
            acc[0] += int(n_like or 0)
            acc[1] += int(n_dislike or 0)

        out: list[CellStats] = []
        for cell, (n_like, n_dislike) in counts.items():
            total = n_like + n_dislike
            if total < max(min_count, 1):
                continue
            if box is not None and not _cell_intersects(cell, box):
                continue
            lat, lon = h3.cell_to_latlng(cell)
            out.append(
                CellStats(
                    cell=cell,
                    resolution=resolution,
                    likes=n_like,
                    dislikes=n_dislike,
                    total=total,
                    like_share=_share(n_like, total),
                    lat=lat,
                    lon=lon,
                )
            )
        out.sort(key=lambda s: (-s.total, s.cell))
        return out

    def stats_geojson(
        self,
        resolution: int,
        product: str | None = None,
        year: int | None = None,
        min_count: int = 5,
        bbox: Sequence[float] | None = None,
    ) -> dict[str, Any]:
        """:meth:`stats` as a GeoJSON FeatureCollection of cell polygons ([lon, lat] order)."""
        features = []
        for s in self.stats(resolution, product=product, year=year, min_count=min_count, bbox=bbox):
            # h3 gives (lat, lng); GeoJSON wants [lng, lat] and a closed ring.
            ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(s.cell)]
            ring.append(ring[0])
            features.append(
                {
                    "type": "Feature",
                    "id": s.cell,
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {
                        "cell": s.cell,
                        "resolution": s.resolution,
                        "likes": s.likes,
                        "dislikes": s.dislikes,
                        "total": s.total,
                        "like_share": s.like_share,
                        "lat": s.lat,
                        "lon": s.lon,
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def totals(self, product: str | None = None, year: int | None = None) -> dict[str, int]:
        """{"likes", "dislikes", "reactions", "animations"} overall or for a product / year."""
        likes, dislikes = self._like_dislike_sums()
        reactions = select(likes, dislikes).where(*self._filters(Reaction, product, year))
        animations = (
            select(func.count())
            .select_from(Animation)
            .where(*self._filters(Animation, product, year))
        )
        with self._session() as session:
            n_like, n_dislike = session.execute(reactions).one()
            n_anim = session.execute(animations).scalar_one()
        n_like, n_dislike = int(n_like or 0), int(n_dislike or 0)
        return {
            "likes": n_like,
            "dislikes": n_dislike,
            "reactions": n_like + n_dislike,
            "animations": int(n_anim),
        }

    def top_animations(
        self, n: int = 10, product: str | None = None, year: int | None = None
    ) -> list[AnimationStats]:
        """The ``n`` animations with the most reactions (then most likes, then newest)."""
        likes, dislikes = self._like_dislike_sums()
        total = func.count(Reaction.id)
        counts = (
            select(Reaction.animation_id, likes, dislikes, total.label("total"))
            .where(*self._filters(Reaction, product, year))
            .group_by(Reaction.animation_id)
            .subquery()
        )
        stmt = (
            select(Animation, counts.c.likes, counts.c.dislikes, counts.c.total)
            .join(counts, counts.c.animation_id == Animation.id)
            .order_by(
                counts.c.total.desc(),
                counts.c.likes.desc(),
                Animation.created_at.desc(),
                Animation.id,
            )
            .limit(int(n))
        )
        with self._session() as session:
            rows = session.execute(stmt).all()
        out = []
        for animation, n_like, n_dislike, n_total in rows:
            out.append(
                AnimationStats(
                    id=animation.id,
                    product=animation.product,
                    band=animation.band,
                    years_from=animation.years_from,
                    years_to=animation.years_to,
                    minx=animation.minx,
                    miny=animation.miny,
                    maxx=animation.maxx,
                    maxy=animation.maxy,
                    fps=animation.fps,
                    size=animation.size,
                    created_at=animation.created_at,
                    likes=int(n_like),
                    dislikes=int(n_dislike),
                    total=int(n_total),
                    like_share=_share(int(n_like), int(n_total)),
                )
            )
        return out

    # --- rate limiting --------------------------------------------------------------------

    def client_hash(self, client_key: str, day: date) -> str:
        """sha256(salt + key) with salt = HMAC-SHA256(secret, UTC date): what is stored."""
        salt = hmac.new(self._secret, day.isoformat().encode("ascii"), hashlib.sha256).digest()
        return hashlib.sha256(salt + client_key.encode("utf-8")).hexdigest()

    def hit(
        self,
        client_key: str,
        action: str,
        limit: int,
        window_s: int,
        now: float | datetime | None = None,
    ) -> tuple[bool, int]:
        """Count one ``action`` by ``client_key`` (an IP address); (allowed, retry_after_s).

        Fixed windows aligned on the epoch: at most ``limit`` hits per ``window_s`` seconds;
        when refused, ``retry_after_s`` is the number of seconds until the window ends (>= 1).
        Because the key hash changes at 00:00 UTC, a window that spans midnight starts afresh.
        """
        if limit < 0 or window_s <= 0:
            raise ValueError(f"need limit >= 0 and window_s > 0 (got {limit}, {window_s})")
        ts = _epoch(now)
        window_s = int(window_s)
        window_start = int(ts // window_s) * window_s
        key_hash = self.client_hash(client_key, datetime.fromtimestamp(ts, timezone.utc).date())
        params = dict(
            key_hash=key_hash,
            action=action,
            window_s=window_s,
            window_start=window_start,
            count=1,
            expires_at=window_start + window_s,
        )
        with self._connection(write=True) as conn:
            count = conn.execute(self._count_hit, params).scalar_one()
        self._maybe_purge(ts)
        if count <= limit:
            return True, 0
        return False, max(1, math.ceil(window_start + window_s - ts))

    def purge_rate_events(self, now: float | datetime | None = None) -> int:
        """Delete the rows of rate windows that have ended; returns how many."""
        ts = _epoch(now)
        with self._session(write=True) as session:
            result = session.execute(delete(RateEvent).where(RateEvent.expires_at <= ts))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _maybe_purge(self, ts: float) -> None:
        # Opportunistic and rare: one DELETE every few minutes keeps the table small without
        # a scheduler. abs(): an injected `now` may go backwards (tests, clock changes).
        with self._purge_lock:
            if abs(ts - self._last_purge) < _PURGE_INTERVAL_S:
                return
            self._last_purge = ts
        self.purge_rate_events(ts)
