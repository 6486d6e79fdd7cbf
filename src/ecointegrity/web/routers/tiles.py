"""Web-mercator XYZ tiles, with ETags that change when the product does."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam

from ..deps import Renderer, Settings
from ..errors import NotFound

__all__ = ["NAME_PATTERN", "router"]

TileFormat = Literal["png", "webp"]
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"  # product and band names in paths and queries


def router() -> APIRouter:
    api = APIRouter(tags=["products"])

    @api.get(
        "/api/tiles/{product}/{year}/{z}/{x}/{y}.{fmt}",
        responses={
            200: {"content": {"image/png": {}, "image/webp": {}}},
            304: {"description": "not modified"},
        },
    )
    def tile(
        request: Request,
        renderer: Renderer,
        settings: Settings,
        product: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)],
        year: Annotated[int, PathParam(ge=1972, le=2100)],
        z: Annotated[int, PathParam(ge=0, le=22)],
        x: Annotated[int, PathParam(ge=0)],
        y: Annotated[int, PathParam(ge=0)],
        fmt: TileFormat,
        band: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
    ) -> Response:
        """A web-mercator tile; outside the data it is transparent, not an error."""
        if x >= 2**z or y >= 2**z:
            raise NotFound(f"tile {z}/{x}/{y} does not exist: x and y must be below 2**z = {2**z}")
        # the ETag changes when the product's catalog does: clients never keep stale tiles
        stamp = f"{renderer.version(product)}/{product}/{year}/{z}/{x}/{y}/{band}/{fmt}"
        etag = '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.tile_cache_seconds}"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        content = renderer.tile(product, year, z, x, y, band=band, fmt=fmt)
        return Response(content, media_type=f"image/{fmt}", headers=headers)

    return api
