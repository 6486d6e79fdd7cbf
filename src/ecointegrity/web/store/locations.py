"""Where reactions are: H3 resolutions, coarsened points and WGS84 bounding boxes.

Locations are coarse by construction: a point from a device is snapped to the centre of its H3
resolution-7 cell before it reaches the database; every reaction is stored with its
resolution-9 cell, which statistics roll up to coarser ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import h3

__all__ = [
    "DEVICE_RESOLUTION",
    "STORE_RESOLUTION",
    "Bbox",
    "bbox_centre",
    "cell_intersects",
    "check_bbox",
    "check_point",
    "coarsen_location",
    "lon_ranges",
]

#: Resolution of the H3 cell stored with every reaction; statistics roll it up to coarser ones.
STORE_RESOLUTION = 9
#: A device location is snapped to the centre of its cell at this resolution (~5.2 km²).
DEVICE_RESOLUTION = 7

#: (minx, miny, maxx, maxy) = (west, south, east, north) in WGS84 degrees.
Bbox = tuple[float, float, float, float]


def coarsen_location(
    lat: float, lon: float, resolution: int = DEVICE_RESOLUTION
) -> tuple[float, float]:
    """(lat, lon) of the centre of the H3 cell at ``resolution`` that contains the point."""
    centre_lat, centre_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, resolution))
    return centre_lat, centre_lon


def bbox_centre(minx: float, miny: float, maxx: float, maxy: float) -> tuple[float, float]:
    """(lat, lon) of the centre of a bbox, which may cross the antimeridian (minx > maxx)."""
    if minx > maxx:  # crosses the antimeridian: go east from minx to maxx
        lon = (minx + maxx + 360.0) / 2.0
        lon = lon - 360.0 if lon > 180.0 else lon
    else:
        lon = (minx + maxx) / 2.0
    return (miny + maxy) / 2.0, lon


def check_point(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) as floats; ``ValueError`` unless both are finite and within range."""
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"invalid location lat={lat}, lon={lon}")
    return lat, lon


def check_bbox(bbox: Sequence[float]) -> Bbox:
    """``bbox`` as a :data:`Bbox` of floats; ``ValueError`` for a malformed one."""
    if len(bbox) != 4:
        raise ValueError(f"bbox must be (minx, miny, maxx, maxy), got {bbox!r}")
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    check_point(miny, minx)
    check_point(maxy, maxx)
    if miny > maxy:
        raise ValueError(f"bbox miny > maxy: {bbox!r}")
    return minx, miny, maxx, maxy


def lon_ranges(minx: float, maxx: float) -> list[tuple[float, float]]:
    """Longitude intervals of a bbox, split in two when it crosses the antimeridian."""
    return [(minx, maxx)] if minx <= maxx else [(minx, 180.0), (-180.0, maxx)]


def cell_intersects(cell: str, bbox: Bbox) -> bool:
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
    return any(cmax >= lo and cmin <= hi for lo, hi in lon_ranges(minx, maxx))
