"""Reaction statistics: counts per animation, totals, busiest animations and H3 cells.

:meth:`Statistics.cells` is the operator's view: every cell with at least ``min_count``
reactions. What the public API shows is :meth:`Statistics.public_cells`, which also resists
the attacks a threshold per query does not: forged reactions beside a lone one, and
differencing a cell against its children or its filtered views (docs/privacy-and-limits.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h3
from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement

from .database import Database
from .locations import STORE_RESOLUTION, Bbox, cell_intersects, check_bbox, lon_ranges
from .records import AnimationStats, CellStats, like_share
from .tables import Animation, Reaction

__all__ = ["Statistics", "cells_geojson"]

#: (product, years_from, years_to): reactions of animations that every filter of the API keeps
#: or drops together. Released counts are per stratum, and every filtered view is a sum of them.
Stratum = tuple[str, int, int]


@dataclass
class _Node:
    """The reactions of one stratum in one H3 cell, with who contributed them."""

    likes: int = 0
    dislikes: int = 0
    networks: set[int] = field(default_factory=set)  # 12-bit network hashes
    anonymous: int = 0  # reactions without a network: each counts as a contributor
    children: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.likes + self.dislikes

    @property
    def contributors(self) -> int:
        return len(self.networks) + self.anonymous

    def add(self, other: _Node) -> None:
        self.likes += other.likes
        self.dislikes += other.dislikes
        self.networks |= other.networks
        self.anonymous += other.anonymous


# Published counts: resolution -> cell -> [(stratum, likes, dislikes)].
_Release = dict[int, dict[str, list[tuple[Stratum, int, int]]]]


class Statistics:
    """Read-only aggregates of the reactions in one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # The public release depends on every reaction, so it is computed for all resolutions
        # and strata at once and kept until the reactions change (see _fingerprint).
        self._release_lock = threading.Lock()
        self._release: tuple[tuple[Any, ...], _Release] | None = None

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

        kept = {
            cell: (n_like, n_dislike)
            for cell, (n_like, n_dislike) in counts.items()
            if n_like + n_dislike >= max(min_count, 1)
        }
        return _cell_stats(kept, resolution, box)

    def public_cells(
        self,
        resolution: int,
        min_count: int = 5,
        product: str | None = None,
        year: int | None = None,
        bbox: Sequence[float] | None = None,
    ) -> list[CellStats]:
        """What the public may see: per-cell counts that reveal no reaction of fewer than
        ``min_count`` (k) independent contributors, whatever combination of answers is read.

        * Contributors are distinct client networks (a keyed 12-bit hash of the IPv4 /24 or
          IPv6 /48; a reaction without one counts alone), so k forged reactions from one
          network do not make a lone reaction publishable.
        * Counts are released per stratum (product, years_from, years_to), and a filtered
          answer is the sum of the released strata it keeps: differencing two filters only
          yields sums of released strata.
        * Within a stratum, cells are released top-down (resolution 0 first); a child is
          released only under a released parent, and only while the parent's reactions outside
          its released children are none or come from at least k contributors. So a parent
          minus its children (at any depth) never isolates fewer than k contributors.

        ``year`` and ``bbox`` filter as in :meth:`cells`.
        """
        if not 0 <= int(resolution) <= STORE_RESOLUTION:
            raise ValueError(f"resolution must be 0..{STORE_RESOLUTION}, got {resolution}")
        if min_count < 0:
            raise ValueError("min_count must be >= 0")
        resolution = int(resolution)
        box = check_bbox(bbox) if bbox is not None else None
        release = self._public_release(max(int(min_count), 1))

        counts: dict[str, tuple[int, int]] = {}
        for cell, units in release.get(resolution, {}).items():
            n_like = n_dislike = 0
            for (s_product, s_from, s_to), likes, dislikes in units:
                if product is not None and s_product != product:
                    continue
                if year is not None and not s_from <= year <= s_to:
                    continue
                n_like += likes
                n_dislike += dislikes
            if n_like + n_dislike > 0:
                counts[cell] = (n_like, n_dislike)
        return _cell_stats(counts, resolution, box)

    def _fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a reaction is added, replaced or deleted (cheap: one scan of ids)."""
        stmt = select(func.count(), func.max(Reaction.id), func.max(Reaction.updated_at))
        with self._database.session() as session:
            return tuple(session.execute(stmt).one())

    def _public_release(self, k: int) -> _Release:
        key = (k, *self._fingerprint())
        with self._release_lock:
            if self._release is not None and self._release[0] == key:
                return self._release[1]
        release = self._compute_release(k)
        with self._release_lock:
            self._release = (key, release)
        return release

    def _compute_release(self, k: int) -> _Release:
        """Released counts of every stratum at every resolution (see :meth:`public_cells`)."""
        likes, dislikes = _like_dislike_sums()
        stmt = select(
            Reaction.product,
            Reaction.years_from,
            Reaction.years_to,
            Reaction.h3_cell,
            Reaction.network,
            likes,
            dislikes,
        ).group_by(
            Reaction.product,
            Reaction.years_from,
            Reaction.years_to,
            Reaction.h3_cell,
            Reaction.network,
        )
        with self._database.session() as session:
            rows = session.execute(stmt).all()

        leaves: dict[Stratum, dict[str, _Node]] = {}
        for s_product, s_from, s_to, cell, network, n_like, n_dislike in rows:
            node = leaves.setdefault((s_product, s_from, s_to), {}).setdefault(cell, _Node())
            n_like, n_dislike = int(n_like or 0), int(n_dislike or 0)
            node.likes += n_like
            node.dislikes += n_dislike
            if network is None:
                node.anonymous += n_like + n_dislike
            else:
                node.networks.add(int(network))

        release: _Release = {}
        for stratum, cells in leaves.items():
            for res, cell, node in _release_stratum(cells, k):
                release.setdefault(res, {}).setdefault(cell, []).append(
                    (stratum, node.likes, node.dislikes)
                )
        return release

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
        self,
        n: int = 10,
        product: str | None = None,
        year: int | None = None,
        min_reactions: int = 1,
    ) -> list[AnimationStats]:
        """The ``n`` animations with the most reactions (then most likes, then newest), among
        those with reactions from at least ``min_reactions`` contributors, counted as the map
        counts them (:meth:`public_cells`: distinct client networks; a reaction without one
        alone). A ranking must not show the counts of an animation whose reactions the map
        hides as too few."""
        likes, dislikes = _like_dislike_sums()
        total = func.count(Reaction.id)
        contributors = func.count(func.distinct(Reaction.network)) + func.sum(
            case((Reaction.network.is_(None), 1), else_=0)
        )
        counts = (
            select(
                Reaction.animation_id,
                likes,
                dislikes,
                total.label("total"),
                contributors.label("contributors"),
            )
            .where(*_filters(Reaction, product, year))
            .group_by(Reaction.animation_id)
            .subquery()
        )
        stmt = (
            select(Animation, counts.c.likes, counts.c.dislikes, counts.c.total)
            .join(counts, counts.c.animation_id == Animation.id)
            .where(counts.c.contributors >= int(min_reactions))
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


def _release_stratum(leaves: dict[str, _Node], k: int) -> list[tuple[int, str, _Node]]:
    """(resolution, cell, node) released in one stratum: top-down, see public_cells."""
    # Roll the resolution-9 cells up to every coarser resolution, remembering the children.
    levels: list[dict[str, _Node]] = [{} for _ in range(STORE_RESOLUTION + 1)]
    levels[STORE_RESOLUTION] = leaves
    for res in range(STORE_RESOLUTION, 0, -1):
        parents = levels[res - 1]
        for cell, node in levels[res].items():
            parent = parents.setdefault(h3.cell_to_parent(cell, res - 1), _Node())
            parent.add(node)
            parent.children.append(cell)

    out: list[tuple[int, str, _Node]] = []
    released = sorted(c for c, n in levels[0].items() if n.contributors >= k)
    out += [(0, c, levels[0][c]) for c in released]
    for res in range(0, STORE_RESOLUTION):
        below = levels[res + 1]
        next_released: list[str] = []
        for cell in released:
            parent = levels[res][cell]
            candidates = [c for c in parent.children if below[c].contributors >= k]
            rest = _Node()
            for c in parent.children:
                if below[c].contributors < k:
                    rest.add(below[c])
            if rest.total and rest.contributors < k and candidates:
                # The parent minus its released children would single out fewer than k
                # contributors: hold back the smallest child, which has k contributors itself.
                smallest = min(candidates, key=lambda c: (below[c].contributors, below[c].total, c))
                candidates.remove(smallest)
            next_released += candidates
        released = sorted(next_released)
        out += [(res + 1, c, below[c]) for c in released]
    return out


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


def _cell_stats(
    counts: dict[str, tuple[int, int]], resolution: int, box: Bbox | None
) -> list[CellStats]:
    """(likes, dislikes) per cell -> the cells meeting ``box``, busiest first."""
    out: list[CellStats] = []
    for cell, (n_like, n_dislike) in counts.items():
        if box is not None and not cell_intersects(cell, box):
            continue
        lat, lon = h3.cell_to_latlng(cell)
        total = n_like + n_dislike
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
