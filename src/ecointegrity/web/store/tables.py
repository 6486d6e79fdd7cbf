"""The React-2-EO tables (SQLAlchemy ORM): what the Alembic migrations create and compare to.

The schema itself belongs to the migrations shipped next to this package (``web/migrations``);
nothing calls ``create_all``. ``migrations/env.py`` targets :data:`Base.metadata`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .records import AnimationRecord

__all__ = [
    "NAMING_CONVENTION",
    "Animation",
    "Base",
    "RateEvent",
    "Reaction",
    "Secret",
    "UTCDateTime",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (what :class:`UTCDateTime` columns take)."""
    return datetime.now(UTC)


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
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


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
    """One animation: the row behind :class:`AnimationRecord`."""

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
        """This row as the record the store hands out."""
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
    """One browser's current reaction to one animation (see :class:`ReactionRecord`)."""

    __tablename__ = "reactions"
    __table_args__ = (
        # One reaction per animation per browser; the upsert in Reactions.react relies on it.
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
    # A keyed hash of the client's network (IPv4 /24, IPv6 /48) cut to a few bits: enough to
    # count distinct contributors in the statistics, too few to tell which network it was.
    # NULL when the client had no IP address (each such reaction then counts on its own).
    network: Mapped[int | None] = mapped_column(Integer)


class RateEvent(Base):
    """The hits of one hashed client on one action in one fixed rate window."""

    __tablename__ = "rate_events"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Part of the key so that two limits on one action (per minute, per day) never share a row.
    window_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # window_start + window_s


class Secret(Base):
    """A server secret shared by every process on this database (see ``store.secrets``)."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))  # hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
