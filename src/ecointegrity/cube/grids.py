"""National grids and fixed tiles: every product is computed tile by tile on the same grid.

Mexico: INEGI's Lambert conformal conic on ITRF2008 (EPSG:6372; standard parallels 17.5 N and
29.5 N, central meridian 102 W, false easting 2 500 000 m), the projection MAD-Mex maps in.
Colombia: the national single-origin Transverse Mercator "CTM12" (EPSG:9377), official since
IGAC resolution 370 of 2021.

Tiles are anchored at the projection origin, so a tile index means the same ground wherever and
whenever it is computed, and years of one tile align pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox, Geometry, box
from odc.geo.gridspec import GridSpec

__all__ = ["NationalGrid", "Tile", "NATIONAL_GRIDS", "national_grid", "tiles_for", "region_geobox"]


@dataclass(frozen=True)
class NationalGrid:
    """A national CRS with a tiling: resolution (m) and tile size (pixels)."""

    name: str
    crs: str
    resolution: float = 30.0
    tile_px: int = 1024
    title: str = ""

    @property
    def gridspec(self) -> GridSpec:
        return GridSpec(self.crs, (self.tile_px, self.tile_px), self.resolution, origin=None)

    def with_resolution(self, resolution: float, tile_px: int | None = None) -> NationalGrid:
        return NationalGrid(self.name, self.crs, resolution, tile_px or self.tile_px, self.title)


@dataclass(frozen=True)
class Tile:
    """One tile of a national grid: index (x, y) on the grid, and its pixel grid."""

    grid: str
    index: tuple[int, int]
    geobox: GeoBox

    @property
    def id(self) -> str:
        """Stable, file-name safe id, e.g. ``mexico-30m_+127_+026``."""
        x, y = self.index
        return f"{self.grid}_{x:+04d}_{y:+04d}"


NATIONAL_GRIDS: dict[str, NationalGrid] = {
    "mexico": NationalGrid("mexico", "EPSG:6372", title="Mexico ITRF2008 / LCC (INEGI)"),
    "colombia": NationalGrid(
        "colombia", "EPSG:9377", title="MAGNA-SIRGAS 2018 / Origen-Nacional (CTM12)"
    ),
}


def national_grid(
    name: str, resolution: float | None = None, tile_px: int | None = None
) -> NationalGrid:
    """A national grid by name (``mexico``, ``colombia``), optionally at another resolution."""
    try:
        grid = NATIONAL_GRIDS[name.lower()]
    except KeyError:
        raise KeyError(
            f"unknown national grid {name!r}; known: {', '.join(NATIONAL_GRIDS)}"
        ) from None
    if resolution is None and tile_px is None:
        return grid
    return grid.with_resolution(resolution or grid.resolution, tile_px)


def tiles_for(
    grid: NationalGrid,
    region: Geometry | BoundingBox | Sequence[float],
    *,
    clip: bool = False,
) -> list[Tile]:
    """Tiles of ``grid`` that intersect a region.

    Args:
        grid: the national grid.
        region: a geometry (any CRS) or a lon/lat bbox (minx, miny, maxx, maxy).
        clip: crop each tile's geobox to the region's bounding box (small areas, demos);
            the pixel grid stays aligned with the national tiling.
    Returns:
        Tiles ordered by (y, x) index.
    """
    geom = region if isinstance(region, Geometry) else _lonlat_box(region)
    native = geom.to_crs(grid.crs)
    gs = grid.gridspec
    out = []
    for index, geobox in gs.tiles(native.boundingbox):
        if not geobox.extent.intersects(native):
            continue
        if clip:
            cropped = _crop_aligned(geobox, native.boundingbox)
            if cropped is None:
                continue
            geobox = cropped
        out.append(
            Tile(f"{grid.name}-{grid.resolution:g}m", (int(index[0]), int(index[1])), geobox)
        )
    out.sort(key=lambda t: (t.index[1], t.index[0]))
    return out


def grid_crs(geobox: GeoBox, what: str) -> CRS:
    """``geobox``'s CRS, for the cube's modules that georeference what they write or read.

    A GeoBox may lack a CRS, but nothing can be placed on the ground without one: raise a clear
    error there rather than fail later on an attribute of ``None``.
    """
    if geobox.crs is None:
        raise ValueError(f"{what}: the pixel grid has no CRS")
    return geobox.crs


def _lonlat_box(bbox: Sequence[float]) -> Geometry:
    # unpacked by name: odc-geo's box() takes exactly these four edges and the CRS
    left, bottom, right, top = bbox
    return box(left, bottom, right, top, "epsg:4326")


def _crop_aligned(geobox: GeoBox, bounds: BoundingBox) -> GeoBox | None:
    """The part of a tile inside ``bounds``, keeping pixel alignment."""
    roi = geobox.overlap_roi(
        GeoBox.from_bbox(bounds, geobox.crs, resolution=geobox.resolution, anchor=geobox.alignment)
    )
    sub = geobox[roi]
    return sub if sub.shape[0] > 0 and sub.shape[1] > 0 else None


def region_geobox(grid: NationalGrid, region: Geometry | BoundingBox | Sequence[float]) -> GeoBox:
    """One pixel grid over a whole region, aligned with the grid's tiles (for small areas)."""
    geom = region if isinstance(region, Geometry) else _lonlat_box(region)
    native = geom.to_crs(grid.crs).boundingbox
    return GeoBox.from_bbox(
        native, grid.crs, resolution=grid.resolution, anchor=grid.gridspec.alignment
    )
