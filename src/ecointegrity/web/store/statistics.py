"""Reaction statistics: counts per animation, totals, busiest animations and H3 cells.

Statistics are only released for cells with at least ``min_count`` reactions (k-anonymity), so
that a lone reaction (one person's whereabouts) is never published.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import h3
from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement

from .database import Database
from .locations import STORE_RESOLUTION, Bbox, cell_intersects, check_bbox, lon_ranges
from .records import AnimationStats, CellStats, like_share
from .tables import Animation, Reaction

__all__ = ["Statistics", "cells_geojson"]


class Statistics:
    """Read-only aggregates of the reactions in one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def reaction_counts(self, animation_id: str) -> dict[str, int]:
        """{"likes", "dislikes", "total"} of one animation (no location, so no k-anonymity)."""
        likes, dislikes = _like_dislike_sums()
        stmt = select(likes, dislikes).where(Reaction.animation_id == animation_id)
        with self._database.session() as session:
            n_like, n_dislike = session.execute(stmt).one()
        n_like, n_dislike = int(n_like or 0), int(n_dislike or 0)
        return {"likes": n_like, "dislikes": n_dislike, "total": n_like + n_dislike}

    def cells(
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
        box = check_bbox(bbox) if bbox is not None else None

        likes, dislikes = _like_dislike_sums()
        stmt = (
            select(Reaction.h3_cell, likes, dislikes)
            .where(*_filters(Reaction, product, year))
            .group_by(Reaction.h3_cell)
        )
        if box is not None:
            stmt = stmt.where(*_prefilter(resolution, box))
        with self._database.session() as session:
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
            if box is not None and not cell_intersects(cell, box):
                continue
            lat, lon = h3.cell_to_latlng(cell)
            out.append(
                CellStats(
                    cell=cell,
                    resolution=resolution,
                    likes=n_like,
                    dislikes=n_dislike,
                    total=total,
                    like_share=like_share(n_like, total),
                    lat=lat,
                    lon=lon,
                )
            )
        out.sort(key=lambda s: (-s.total, s.cell))
        return out

    def totals(self, product: str | None = None, year: int | None = None) -> dict[str, int]:
        """{"likes", "dislikes", "reactions", "animations"} overall or for a product / year."""
        likes, dislikes = _like_dislike_sums()
        reactions = select(likes, dislikes).where(*_filters(Reaction, product, year))
        animations = (
            select(func.count()).select_from(Animation).where(*_filters(Animation, product, year))
        )
        with self._database.session() as session:
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
        likes, dislikes = _like_dislike_sums()
        total = func.count(Reaction.id)
        counts = (
            select(Reaction.animation_id, likes, dislikes, total.label("total"))
            .where(*_filters(Reaction, product, year))
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
        with self._database.session() as session:
            rows = session.execute(stmt).all()
        return [
            AnimationStats.of(animation.record(), int(n_like), int(n_dislike), int(n_total))
            for animation, n_like, n_dislike, n_total in rows
        ]


def cells_geojson(cells: Iterable[CellStats]) -> dict[str, Any]:
    """Cell statistics as a GeoJSON FeatureCollection of cell polygons ([lon, lat] order)."""
    features = []
    for s in cells:
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


def _like_dislike_sums() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    likes = func.sum(case((Reaction.value == 1, 1), else_=0)).label("likes")
    dislikes = func.sum(case((Reaction.value == -1, 1), else_=0)).label("dislikes")
    return likes, dislikes


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


def _prefilter(resolution: int, bbox: Bbox) -> list[ColumnElement[bool]]:
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
    ranges = lon_ranges(minx, maxx)
    width = sum(hi - lo for lo, hi in ranges)
    if width + 2 * dlon >= 360.0 or len(ranges) > 1 or minx - dlon < -180 or maxx + dlon > 180:
        return conditions  # wraps around: latitude only
    conditions += [Reaction.lon >= minx - dlon, Reaction.lon <= maxx + dlon]
    return conditions
