"""Slices: a bbox x year range of one band as GeoTIFF, NetCDF or PNG frames (zip).

The route validates and streams; reading the stack is the cube's (:mod:`ecointegrity.cube.slices`).
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import ValidationError

from ...cube import read_slice, slice_geobox, slice_to_geotiff, slice_to_netcdf
from ..deps import AnimationsDir, Renderer, Settings
from ..errors import InvalidRequest
from ..models import BBox
from ..renderer import ProductRenderer
from .tiles import NAME_PATTERN

__all__ = ["router"]

SliceFormat = Literal["tif", "nc", "png"]


def router() -> APIRouter:
    api = APIRouter(tags=["products"])

    @api.get(
        "/api/slices/{product}",
        responses={
            200: {"content": {"image/tiff": {}, "application/x-netcdf": {}, "application/zip": {}}}
        },
    )
    def slice_(
        renderer: Renderer,
        settings: Settings,
        scratch: AnimationsDir,
        product: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)],
        west: Annotated[float, Query(ge=-180, le=180)],
        south: Annotated[float, Query(ge=-90, le=90)],
        east: Annotated[float, Query(ge=-180, le=180)],
        north: Annotated[float, Query(ge=-90, le=90)],
        year_from: Annotated[int, Query(ge=1972, le=2100)],
        year_to: Annotated[int, Query(ge=1972, le=2100)],
        format: SliceFormat = "tif",
        band: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
        resolution: Annotated[
            float | None,
            Query(gt=0, le=100_000, description="Pixel size (product CRS units, e.g. 480 m); "
                  "coarser than the product's is read from its overview levels."),
        ] = None,
    ) -> Response:
        """A spatial and temporal extract: GeoTIFF (a band per year), NetCDF, or PNG frames (zip)."""  # noqa: E501 (the OpenAPI text)
        bbox = _bbox(west, south, east, north)
        if year_to < year_from:
            raise InvalidRequest("year_to must not be before year_from")
        layer = renderer.layer(product)
        years = [y for y in range(year_from, year_to + 1) if y in layer.years]
        if not years:
            raise InvalidRequest(
                f"{product} has no year in {year_from}-{year_to}; available: {layer.years}"
            )
        band = band or layer.default_band
        if band not in layer.bands:
            raise InvalidRequest(f"{product} has no band {band!r}; bands: {layer.bands}")
        catalog = renderer.catalog_of(product)
        # The grid is built over the part of the bbox the product covers (a world-wide bbox on
        # the product's grid overflows); the limit is on the bbox asked for, at that grid's
        # pixel size, so the answer does not depend on where the data happen to end.
        inside = _within(bbox, layer.bounds, product)
        geobox = slice_geobox(catalog, product, inside, resolution)
        west, south, east, north = bbox.as_tuple()
        share = (east - west) / (inside[2] - inside[0]) * (north - south) / (inside[3] - inside[1])
        pixels = math.ceil(geobox.shape[0] * geobox.shape[1] * share) * len(years)
        if pixels > settings.max_slice_pixels:
            raise InvalidRequest(
                f"slice of {pixels:,} pixel-years exceeds the limit of "
                f"{settings.max_slice_pixels:,}; ask for a smaller bbox or fewer years"
            )
        if format == "png":
            return _attachment(
                _png_frames(renderer, product, years, bbox, band),
                "application/zip",
                f"{product}-{years[0]}-{years[-1]}.zip",
            )
        stack = read_slice(catalog, product, band, years, geobox)
        if stack.sizes["year"] == 0:
            raise InvalidRequest(f"no {product} data inside that bbox for {year_from}-{year_to}")
        if format == "nc":
            return _attachment(
                slice_to_netcdf(stack, product, geobox),
                "application/x-netcdf",
                f"{product}-{band}.nc",
            )
        return _attachment(
            slice_to_geotiff(stack, geobox, scratch_dir=scratch),
            "image/tiff",
            f"{product}-{band}.tif",
        )

    return api


def _bbox(west: float, south: float, east: float, north: float) -> BBox:
    try:
        return BBox(west=west, south=south, east=east, north=north)
    except ValidationError as err:  # only the messages: never the input echoed back
        raise InvalidRequest("; ".join(e["msg"] for e in err.errors())) from err


def _within(
    bbox: BBox, bounds: Sequence[float] | None, product: str
) -> tuple[float, float, float, float]:
    """The part of ``bbox`` inside the product's lon/lat bounds (``InvalidRequest`` if none)."""
    if not bounds:
        return bbox.as_tuple()
    west, south, east, north = bbox.as_tuple()
    inside = (
        max(west, bounds[0]), max(south, bounds[1]), min(east, bounds[2]), min(north, bounds[3])
    )
    if not (inside[0] < inside[2] and inside[1] < inside[3]):
        raise InvalidRequest(
            f"the bbox does not meet {product}, whose data lie within "
            f"{[round(v, 6) for v in bounds]} (west, south, east, north)"
        )
    return inside


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _png_frames(
    renderer: ProductRenderer, product: str, years: list[int], bbox: BBox, band: str | None
) -> bytes:
    """A zip of one PNG per year, 512 px on the long side, the bbox's aspect kept."""
    west, south, east, north = bbox.as_tuple()
    aspect = (east - west) * math.cos(math.radians((south + north) / 2)) / (north - south)
    width, height = (
        (512, max(1, round(512 / aspect))) if aspect >= 1 else (max(1, round(512 * aspect)), 512)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for year in years:
            rgba = renderer.render_bbox(
                product, year, bbox.as_tuple(), width, height, crs="EPSG:4326", band=band
            )
            zf.writestr(f"{product}-{year}.png", renderer.encode(rgba, "png"))
    return out.getvalue()
