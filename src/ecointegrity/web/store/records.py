"""Records handed to and returned by the store: animations, reactions and their statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from .locations import Bbox, bbox_centre

__all__ = ["AnimationRecord", "AnimationStats", "CellStats", "ReactionRecord", "like_share"]


def like_share(likes: int, total: int) -> float:
    """Likes as a share of all reactions; 0 when there are none."""
    return likes / total if total else 0.0


@dataclass(frozen=True, kw_only=True)
class _AnimationFields:
    """What every view of an animation shows: product, band, years, bbox and frames."""

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


@dataclass(frozen=True, kw_only=True)
class AnimationRecord(_AnimationFields):
    """An animated GIF of one product over a region and a range of years.

    ``id`` is the content hash computed by the caller (same request -> same id); the bbox
    ``minx, miny, maxx, maxy`` is in WGS84 degrees (x = longitude, y = latitude); ``path`` is
    where the GIF is stored. ``created_at`` defaults to now (UTC) when saved.
    """

    band: str | None = None
    path: str
    created_at: datetime | None = None

    @property
    def bbox(self) -> Bbox:
        """(minx, miny, maxx, maxy) = (west, south, east, north)."""
        return self.minx, self.miny, self.maxx, self.maxy

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lon) of the bbox centre (handles a bbox that crosses the antimeridian)."""
        return bbox_centre(self.minx, self.miny, self.maxx, self.maxy)


@dataclass(frozen=True, kw_only=True)
class AnimationStats(_AnimationFields):
    """An animation and its reaction counts (:meth:`Store.top_animations`).

    Public by design (the dashboard lists them), so the server-side ``path`` is left out.
    """

    created_at: datetime
    likes: int
    dislikes: int
    total: int
    like_share: float

    @classmethod
    def of(
        cls, animation: AnimationRecord, likes: int, dislikes: int, total: int
    ) -> AnimationStats:
        """The public fields of a stored ``animation`` (all but ``path``) with its counts."""
        public = asdict(animation)
        del public["path"]
        return cls(
            **public,
            likes=likes,
            dislikes=dislikes,
            total=total,
            like_share=like_share(likes, total),
        )


@dataclass(frozen=True, kw_only=True)
class ReactionRecord:
    """One browser's current reaction to one animation, as stored.

    ``lat``/``lon`` are the stored (coarsened) location, ``h3_cell`` its resolution-9 cell;
    ``network`` the 12-bit keyed hash of the client's network (None when unknown).
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
    network: int | None = None


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
