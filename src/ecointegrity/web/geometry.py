"""Web-mercator arithmetic and the checks of a requested bbox, size and CRS."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rasterio.crs import CRS

from .errors import InvalidRequest

__all__ = [
    "MAX_LAT",
    "WEB_MERCATOR",
    "check_bbox",
    "check_size",
    "lonlat_to_mercator",
    "overlaps",
    "parse_crs",
    "tile_lonlat",
]

WEB_MERCATOR = CRS.from_epsg(3857)
MAX_LAT = 85.0511287798066  # web mercator's latitude limit

BBox = tuple[float, float, float, float]


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
