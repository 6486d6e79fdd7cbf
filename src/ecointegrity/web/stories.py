"""Stories the public can open in one tap: where the data show deforestation, city growth and
the sharpest change in ecosystem integrity, found in the data themselves.

A story names a product, a band and a direction (vegetation falls, built-up rises, integrity
falls). It reads the band in the first and last year on a coarse grid over the product's
footprint (``MAX_SIDE`` pixels across, read from an overview level where the product has them,
so the cost does not grow with the area), smooths the difference over a few cells so that a
patch wins over a single noisy pixel, and frames the strongest patch. A product without two
years, or whose strongest change is below the story's minimum, tells no story.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from scipy import ndimage

from ..cube import LocalCatalog, read_slice, slice_geobox

__all__ = ["MAX_SIDE", "STORIES", "Story", "StoryPlace", "find_story"]

MAX_SIDE = 96  # pixels across the coarse grid a story is looked for on


@dataclass(frozen=True)
class Story:
    """What to look for: the first product present of ``products``, its ``band``, and the sign
    of the change (``-1``: the story is a fall)."""

    key: str
    products: tuple[str, ...]
    band: str | None  # None: the product's default band
    direction: int
    min_change: float
    title: dict[str, str]
    summary: dict[str, str]


STORIES: tuple[Story, ...] = (
    Story("deforestation", ("ndvi",), "ndvi", -1, 0.05,
          {"es": "Deforestación", "en": "Deforestation"},
          {"es": "Donde más bajó la vegetación", "en": "Where vegetation fell the most"}),
    Story("city-growth", ("bu", "ndbi"), None, +1, 0.03,
          {"es": "Crecimiento urbano", "en": "City growth"},
          {"es": "Donde más creció lo construido", "en": "Where built-up land grew the most"}),
    Story("integrity", ("ecosystem-integrity",), "ei", -1, 0.03,
          {"es": "Integridad ecosistémica", "en": "Ecosystem integrity"},
          {"es": "Donde más bajó la integridad del ecosistema",
           "en": "Where ecosystem integrity fell the most"}),
)


@dataclass(frozen=True)
class StoryPlace:
    """Where a story happens: the years compared, the change there and a lon/lat box."""

    year_from: int
    year_to: int
    change: float
    bbox: tuple[float, float, float, float]


def _coarse_resolution(native: float, span_m: float) -> float:
    """The pixel size that puts ``MAX_SIDE`` pixels across ``span_m`` (never finer than the
    product's): read from the coarsest overview level no coarser than it, so the pixels read
    stay bounded whatever the area."""
    return max(native, span_m / MAX_SIDE)


def find_story(catalog: LocalCatalog, product: str, band: str, years: Sequence[int],
               bounds: Sequence[float], story: Story) -> StoryPlace | None:
    """The strongest patch of ``story``'s change in ``product`` between the first and last year,
    or None when the product has fewer than two years or no change reaches ``min_change``."""
    if len(years) < 2:
        return None
    first, last = int(min(years)), int(max(years))
    grid = slice_geobox(catalog, product, bounds)  # the product's own pixels over its footprint
    box = grid.extent.boundingbox
    span = max(abs(box.right - box.left), abs(box.top - box.bottom))
    coarse = slice_geobox(catalog, product, bounds,
                          resolution=_coarse_resolution(abs(float(grid.resolution.x)), span))
    stack = read_slice(catalog, product, band, [first, last], coarse)
    if stack.sizes.get("year", 0) < 2:
        return None
    before, after = (np.asarray(stack.sel(year=y).values, dtype=float) for y in (first, last))
    diff = (after - before) * story.direction
    valid = np.isfinite(diff)
    if not valid.any():
        return None
    # mean over a 3 x 3 window of valid cells: a patch, not one pixel
    weights = ndimage.uniform_filter(valid.astype(float), size=3, mode="constant")
    sums = ndimage.uniform_filter(np.where(valid, diff, 0.0), size=3, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = np.where(weights > 0.5, sums / weights, np.nan)
    if not np.isfinite(smooth).any():
        return None
    row, col = np.unravel_index(np.nanargmax(smooth), smooth.shape)
    change = float(smooth[row, col])
    if change < story.min_change:
        return None
    # frame: a sixth of the footprint across (at least 5 cells), centred on the patch
    half = max(2, math.ceil(max(smooth.shape) / 12))
    rows = slice(max(row - half, 0), min(row + half + 1, smooth.shape[0]))
    cols = slice(max(col - half, 0), min(col + half + 1, smooth.shape[1]))
    window = coarse[rows, cols].extent.boundingbox
    if coarse.crs is None:  # slice_geobox refuses products without a CRS; never here
        return None
    to_wgs = Transformer.from_crs(coarse.crs.to_wkt(), "EPSG:4326", always_xy=True)
    xs, ys = to_wgs.transform([window.left, window.right, window.left, window.right],
                              [window.bottom, window.bottom, window.top, window.top])
    return StoryPlace(first, last, change * story.direction,
                      (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))))
