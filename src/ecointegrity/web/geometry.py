"""Web-mercator arithmetic and the checks of a requested bbox, size and CRS."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from .errors import InvalidRequest

__all__ = [
    "MAX_LAT",
    "WEB_MERCATOR",
    "check_bbox",
    "check_in_domain",
    "check_size",
    "crs_domain",
    "lonlat_to_mercator",
    "overlaps",
    "parse_crs",
    "tile_lonlat",
]

WEB_MERCATOR = CRS.from_epsg(3857)
MAX_LAT = 85.0511287798066  # web mercator's latitude limit

BBox = tuple[float, float, float, float]
UNKNOWN_DOMAIN = 5e7  # half-width (CRS units) allowed where a CRS does not say its area of use


def tile_lonlat(z: int, x: int, y: int) -> BBox:
    """Web-mercator XYZ tile -> lon/lat bounds (west, south, east, north)."""
    n = 2.0**z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return (x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def lonlat_to_mercator(bbox: Sequence[float]) -> BBox:
    """Exact: lon/lat rectangles stay rectangles in web mercator."""
    r = 6378137.0
    w, s, e, n = bbox
    s, n = max(s, -MAX_LAT), min(n, MAX_LAT)

    def y(lat: float) -> float:
        return r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    return (math.radians(w) * r, y(s), math.radians(e) * r, y(n))


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two (minx, miny, maxx, maxy) boxes share more than an edge."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def parse_crs(crs: str) -> CRS:
    """A CRS by name; ``CRS:84`` and ``OGC:CRS84`` are EPSG:4326 in x/y order."""
    name = str(crs).upper()
    if name in ("CRS:84", "OGC:CRS84"):
        name = "EPSG:4326"
    try:
        return CRS.from_user_input(name)
    except Exception as err:
        raise InvalidRequest(
            f"unknown CRS {crs!r}; use e.g. EPSG:4326, EPSG:3857 or EPSG:6372"
        ) from err


def check_bbox(bbox: Sequence[float]) -> BBox:
    """Four finite numbers with minx < maxx and miny < maxy, as floats."""
    try:
        box = tuple(float(v) for v in bbox)
    except (TypeError, ValueError) as err:
        raise InvalidRequest("bbox must be four numbers: minx, miny, maxx, maxy") from err
    if (
        len(box) != 4
        or not all(math.isfinite(v) for v in box)
        or not (box[0] < box[2] and box[1] < box[3])
    ):
        raise InvalidRequest(
            f"bbox {list(bbox)} must be four finite numbers with minx < maxx and miny < maxy"
        )
    return (box[0], box[1], box[2], box[3])


def check_size(width: int, height: int, limit: int = 8192) -> None:
    """Width and height of a picture within 1..``limit`` px."""
    if not (1 <= int(width) <= limit and 1 <= int(height) <= limit):
        raise InvalidRequest(
            f"width and height must be within 1..{limit} px, not {width} x {height}"
        )


@lru_cache(maxsize=64)
def _domain(wkt: str) -> BBox | None:
    # WKT1 (what rasterio writes by default) drops the area of use: go through the EPSG code
    crs = CRS.from_wkt(wkt)
    code = crs.to_epsg()
    proj = ProjCRS.from_epsg(code) if code is not None else ProjCRS.from_wkt(wkt)
    if proj.is_geographic:
        return (-180.0, -90.0, 180.0, 90.0)
    area = proj.area_of_use
    if area is None:
        return None
    south, north = max(area.south, -MAX_LAT), min(area.north, MAX_LAT)
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", CRS.from_wkt(wkt), area.west, south,
                                      area.east, north, densify_pts=21)
    return (x0, y0, x1, y1)


def crs_domain(crs: CRS) -> BBox | None:
    """Where a CRS's coordinates mean something: its area of use in its own units (lon/lat
    -180..180, -90..90 for a geographic CRS); None when the CRS does not say."""
    return _domain(crs.to_wkt())


def check_in_domain(bbox: BBox, crs: CRS) -> BBox | None:
    """The part of ``bbox`` inside the CRS's domain, after refusing an absurd one.

    A bbox is refused (:class:`InvalidRequest`) when it reaches beyond the domain: for lon/lat,
    beyond -180..180 and -90..90; for a projected CRS, beyond its area of use widened by the
    area's own width and height on every side (GIS clients zoomed out ask a little beyond the
    world; 1e30 metres is no map). The refusal happens before any GDAL call: reprojecting an
    absurd box can run for minutes inside GDAL. Returns None where the bbox misses the domain.
    """
    domain = crs_domain(crs)
    if domain is None:  # a CRS without an area of use: no map is wider than the Earth's 4e7 m
        domain = (-UNKNOWN_DOMAIN, -UNKNOWN_DOMAIN, UNKNOWN_DOMAIN, UNKNOWN_DOMAIN)
    dx0, dy0, dx1, dy1 = domain
    margin_x, margin_y = (0.0, 0.0) if crs.is_geographic else (dx1 - dx0, dy1 - dy0)
    x0, y0, x1, y1 = bbox
    if x0 < dx0 - margin_x or y0 < dy0 - margin_y or x1 > dx1 + margin_x or y1 > dy1 + margin_y:
        limits = (dx0 - margin_x, dy0 - margin_y, dx1 + margin_x, dy1 + margin_y)
        raise InvalidRequest(
            f"bbox {list(bbox)} is outside what {crs.to_string()} can show; it must lie within "
            f"{[round(v, 6) for v in limits]}"
        )
    inside = (max(x0, dx0), max(y0, dy0), min(x1, dx1), min(y1, dy1))
    if not (inside[0] < inside[2] and inside[1] < inside[3]):
        return None
    return inside
