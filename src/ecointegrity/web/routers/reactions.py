"""Reactions to animations (like/dislike) and their statistics per H3 cell."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam

from ...cube import GAZETTEER_CREDIT, place_label
from ..clients import network_key
from ..deps import Settings, StoreDep, check_rate, client_identity
from ..models import ReactionInfo, ReactionRequest, Totals
from .animations import ANIMATION_ID
from .tiles import NAME_PATTERN

__all__ = ["h3_resolution_for_zoom", "router"]


def h3_resolution_for_zoom(zoom: int) -> int:
    """H3 cells about half a map tile across (a tile spans 256 px): resolution ~ 0.6 x zoom,
    within 0..9. Half the zoom drew one hexagon wider than a whole 6 km study area at zoom 14
    (resolution 7, 2.5 km across); 0.6 x zoom gives resolution 8 there (0.9 km), 4 at zoom 7."""
    return max(0, min(9, math.floor(0.6 * zoom)))


def _place(west: float, south: float, east: float, north: float) -> dict[str, str | None]:
    """"Bacalar, Quintana Roo", not "18.65, -88.40" (None: no place of the gazetteer near)."""
    lon, lat = (west + east) / 2, (south + north) / 2
    return {lang: place_label(lon, lat, lang) for lang in ("es", "en")}


def router() -> APIRouter:
    api = APIRouter(tags=["reactions"])

    @api.post(
        "/api/animations/{animation_id}/reactions",
        response_model=ReactionInfo,
        responses={429: {"description": "rate limited"}},
    )
    def react(
        request: Request,
        animation_id: Annotated[str, PathParam(pattern=ANIMATION_ID)],
        body: ReactionRequest,
        store: StoreDep,
        settings: Settings,
    ) -> ReactionInfo:
        """Like or dislike an animation; the same browser token replaces its earlier reaction."""
        check_rate(request, store, "reaction", settings.reactions_per_minute)
        # Only a 12-bit keyed hash of the network is stored: the statistics count distinct
        # networks, so that forged reactions from one network cannot unveil a lone one.
        location = body.location
        stored = store.react(
            animation_id,
            body.token,
            1 if body.value == "like" else -1,
            lat=location.lat if location else None,
            lon=location.lon if location else None,
            device_location=location is not None,
            network=network_key(client_identity(request)),
        )
        return ReactionInfo(
            animation_id=animation_id,
            value="like" if stored.value > 0 else "dislike",
            lat=stored.lat,
            lon=stored.lon,
        )

    @api.get("/api/reactions/stats")
    def reaction_stats(
        store: StoreDep,
        settings: Settings,
        zoom: Annotated[
            int, Query(ge=0, le=22, description="map zoom; picks the H3 resolution")
        ] = 5,
        product: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
        year: Annotated[int | None, Query(ge=1972, le=2100)] = None,
    ) -> dict[str, Any]:
        """Likes and dislikes per H3 cell as GeoJSON; cells with too few reactions are hidden.

        Counts are released so that no combination of zooms and filters singles out the
        reactions of fewer than ``min_reactions_per_cell`` networks (docs/privacy-and-limits.md).
        """
        return store.public_stats_geojson(
            h3_resolution_for_zoom(zoom),
            product=product,
            year=year,
            min_count=settings.min_reactions_per_cell,
        )

    @api.get("/api/reactions/summary")
    def reaction_summary(
        store: StoreDep,
        settings: Settings,
        product: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
        year: Annotated[int | None, Query(ge=1972, le=2100)] = None,
    ) -> dict[str, Any]:
        """Totals and the most reacted-to animations (regions)."""
        totals = Totals(**store.totals(product=product, year=year))
        top = [
            {**asdict(row), "place": _place(row.minx, row.miny, row.maxx, row.maxy)}
            for row in store.top_animations(
                10, product=product, year=year, min_reactions=settings.min_reactions_per_cell
            )
        ]
        return {
            "totals": totals.model_dump(),
            "top": top,
            "min_reactions_per_cell": settings.min_reactions_per_cell,
            "places_credit": GAZETTEER_CREDIT,
        }

    return api
