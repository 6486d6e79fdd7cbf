"""Nearest-neighbour reads of a COG onto a picture's pixel grid in another CRS.

What GDAL's warper (through rio-tiler's ``Reader.part``) did for every tile, without its
per-call set-up: for one 256-px tile of a national product that set-up (a warped VRT of the
whole file, its suggested output grid, the source window) cost about 20 ms per file, four
times the pixels' decoding (``benchmarks/national_viewer.py`` measures both paths). Here:

1. :func:`pixel_map`: where each picture pixel's centre falls in the source grid, from the
   exact transformation (pyproj) at a control grid every 16 pixels (8 or 4 where the
   projection bends more), interpolated bilinearly in between to within 0.125 source pixel
   (GDAL's approximate transformer does the same along scanlines); where no control grid is
   that close (a projection's edge, a tile spanning a continent), every pixel is transformed
   exactly;
2. the source window those pixels cover is read once, at the coarsest internal overview no
   coarser than the picture's pixels (as GDAL picks overviews), by plain ``DatasetReader.read``;
3. each picture pixel takes its source pixel (nearest: the pixel its centre falls in, as
   GDAL's nearest-neighbour warp does); outside the file or on nodata it is masked.

Pixel maps are pure functions of the two grids, so an animation (the same box for every year,
the files of every year on the same grid) computes each once (:class:`PixelMapCache`).

Layering: geometry <- sampling <- renderer.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.io import DatasetReader
from rasterio.windows import Window

__all__ = ["PixelMap", "PixelMapCache", "pixel_map", "read_onto"]

BBox = tuple[float, float, float, float]

#: Control points every this many picture pixels, tried in turn until the interpolation is
#: within MAX_ERROR_PX (GDAL's approximate transformer interpolates along scanlines; a grid
#: is as exact and needs far fewer exact transformations).
CONTROL_STEPS = (16, 8, 4)
#: Largest interpolation error accepted, in source pixels (GDAL warper's default, ``-et
#: 0.125``); above it at every control spacing, every pixel is transformed exactly.
MAX_ERROR_PX = 0.125


@dataclass(frozen=True)
class PixelMap:
    """Where a picture's pixels fall in a source grid.

    ``rows``/``cols``: for each picture pixel, the fractional source pixel its centre falls
    in (full resolution; NaN where it cannot be transformed); ``window``: the full-resolution
    source pixels (row0, row1, col0, col1) that some picture pixel falls in; ``step``: the
    source pixels per picture pixel (the finer of the two axes), which decides the overview.
    """

    rows: np.ndarray
    cols: np.ndarray
    window: tuple[int, int, int, int]
    step: float

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.cols.nbytes


@functools.lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(src_wkt, dst_wkt, always_xy=True)


def _axis(n: int, spacing: int) -> np.ndarray:
    """Control positions along an axis of n pixel centres: every ``spacing``, and the last."""
    return np.unique(np.r_[np.arange(0, n, spacing), n - 1]).astype(np.float64)


def _halfway(control: np.ndarray) -> np.ndarray:
    """The control positions and the points halfway between them."""
    return np.sort(np.r_[control, (control[:-1] + control[1:]) / 2])


def _source_pixels(
    transformer: Transformer, inverse: Affine, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Picture coordinates -> fractional (row, col) of the source grid (NaN: not defined)."""
    with np.errstate(invalid="ignore"):
        sx, sy = transformer.transform(xs, ys, errcheck=False)
        sx = np.asarray(sx, dtype=np.float64)
        sy = np.asarray(sy, dtype=np.float64)
        bad = ~(np.isfinite(sx) & np.isfinite(sy))
        cols = inverse.a * sx + inverse.b * sy + inverse.c
        rows = inverse.d * sx + inverse.e * sy + inverse.f
    cols[bad] = np.nan
    rows[bad] = np.nan
    return rows, cols


def pixel_map(
    src_transform: Affine,
    src_crs: CRS,
    src_shape: tuple[int, int],
    bounds: BBox,
    crs: CRS,
    width: int,
    height: int,
) -> PixelMap | None:
    """Where the pixels of a ``width`` x ``height`` picture of ``bounds`` (in ``crs``) fall in
    a source grid (``src_transform``, ``src_crs``, ``src_shape`` = (rows, cols)); None when
    none of them falls inside it."""
    x0, y0, x1, y1 = bounds
    dx, dy = (x1 - x0) / width, (y1 - y0) / height
    transformer = _transformer(crs.to_wkt(), src_crs.to_wkt())
    inverse = ~src_transform

    def exact(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jj, ii = np.meshgrid(j, i)
        return _source_pixels(transformer, inverse, x0 + (jj + 0.5) * dx, y1 - (ii + 0.5) * dy)

    rows = cols = None
    step = 1.0
    for spacing in CONTROL_STEPS:
        ci, cj = _axis(height, spacing), _axis(width, spacing)
        c_rows, c_cols = exact(ci, cj)
        step = _step(ci, cj, c_rows, c_cols)
        if not np.isfinite(c_rows).all() or (ci.size == height and cj.size == width):
            break  # an undefined point (a projection's edge), or nothing left to interpolate
        # Check the interpolation halfway between control points, on the control lines and
        # between them (a cell's centre alone can hide its edges' errors, which may cancel)
        ti, tj = _halfway(ci), _halfway(cj)
        t_rows, t_cols = exact(ti, tj)
        err = max(
            float(np.abs(_bilinear(ci, cj, c_rows, ti, tj) - t_rows).max(initial=0.0)),
            float(np.abs(_bilinear(ci, cj, c_cols, ti, tj) - t_cols).max(initial=0.0)),
        )
        if np.isfinite(err) and err <= MAX_ERROR_PX:
            all_i = np.arange(height, dtype=np.float64)
            all_j = np.arange(width, dtype=np.float64)
            rows = _bilinear(ci, cj, c_rows, all_i, all_j)
            cols = _bilinear(ci, cj, c_cols, all_i, all_j)
            break
    if rows is None or cols is None:
        rows, cols = exact(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64))
    n_rows, n_cols = src_shape
    with np.errstate(invalid="ignore"):
        inside = (rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)
    if not inside.any():
        return None
    r_in, c_in = rows[inside], cols[inside]
    window = (
        int(math.floor(r_in.min())),
        int(math.floor(r_in.max())) + 1,
        int(math.floor(c_in.min())),
        int(math.floor(c_in.max())) + 1,
    )
    return PixelMap(rows.astype(np.float32), cols.astype(np.float32), window, step)


def _linear(control: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For positions ``at`` between sorted ``control`` positions: the control index below,
    the one above, and the weight of the one above."""
    if control.size == 1:
        zero = np.zeros(at.size, np.intp)
        return zero, zero, np.zeros(at.size)
    hi = np.clip(np.searchsorted(control, at, side="right"), 1, control.size - 1)
    lo = hi - 1
    return lo, hi, (at - control[lo]) / (control[hi] - control[lo])


def _bilinear(
    ci: np.ndarray, cj: np.ndarray, grid: np.ndarray, at_i: np.ndarray, at_j: np.ndarray
) -> np.ndarray:
    """Values on the control grid ``ci`` x ``cj`` interpolated bilinearly to ``at_i`` x
    ``at_j`` (elementwise, one axis after the other: no BLAS threads per tile)."""
    lo, hi, t = _linear(ci, at_i)
    along_i = grid[lo] * (1.0 - t)[:, None] + grid[hi] * t[:, None]
    lo, hi, t = _linear(cj, at_j)
    return along_i[:, lo] * (1.0 - t) + along_i[:, hi] * t


def _step(ci: np.ndarray, cj: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Source pixels per picture pixel from the control grid (picture pixels ``ci`` x ``cj``
    mapped to source ``rows``, ``cols``): the median length of a picture pixel's side in
    source pixels, the shorter side (the overview must not be coarser than either)."""
    steps = []
    with np.errstate(invalid="ignore"):
        if cj.size > 1:
            along = np.hypot(np.diff(rows, axis=1), np.diff(cols, axis=1)) / np.diff(cj)
            steps.append(np.nanmedian(along) if np.isfinite(along).any() else np.inf)
        if ci.size > 1:
            along = np.hypot(np.diff(rows, axis=0), np.diff(cols, axis=0)) / np.diff(ci)[:, None]
            steps.append(np.nanmedian(along) if np.isfinite(along).any() else np.inf)
    step = float(min(steps, default=1.0))
    return step if math.isfinite(step) and step > 0 else 1.0


class PixelMapCache:
    """Recently used pixel maps, up to ``max_bytes`` (thread-safe; least recently used out)."""

    def __init__(self, max_bytes: float = 32 * 2**20):
        self.max_bytes = max_bytes
        self._maps: OrderedDict[tuple, PixelMap | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(
        self,
        src_transform: Affine,
        src_crs: CRS,
        src_shape: tuple[int, int],
        bounds: BBox,
        crs: CRS,
        width: int,
        height: int,
    ) -> PixelMap | None:
        key = (tuple(src_transform)[:6], src_crs.to_wkt(), tuple(src_shape),
               tuple(bounds), crs.to_wkt(), width, height)
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        found = pixel_map(src_transform, src_crs, src_shape, bounds, crs, width, height)
        size = found.nbytes if found is not None else 0
        if size > self.max_bytes:
            return found
        with self._lock:
            if key not in self._maps:
                self._maps[key] = found
                self._bytes += size
            while self._bytes > self.max_bytes and self._maps:
                _, old = self._maps.popitem(last=False)
                self._bytes -= old.nbytes if old is not None else 0
        return found


def _overview_factor(ds: DatasetReader, step: float) -> int:
    """The coarsest internal overview (decimation factor) no coarser than ``step`` source
    pixels per picture pixel, among those that divide the file's size exactly; 1 (full
    resolution) when none does.

    Where a factor does not divide the size, the overview's pixels are not exactly ``factor``
    source pixels (GDAL rounds its size), and a window read through it would drift by up to
    half a pixel across the file; our grids' tiles (1024 pixels) never hit this.
    """
    factors = [
        f for f in ds.overviews(1)
        if f <= step + 1e-6 and ds.height % f == 0 and ds.width % f == 0
    ]
    return max(factors, default=1)


def read_onto(
    ds: DatasetReader,
    indexes: int | Sequence[int],
    found: PixelMap,
    *,
    unscale: bool = False,
) -> np.ma.MaskedArray:
    """The bands ``indexes`` of ``ds`` on the picture ``found`` maps: (bands, height, width),
    masked outside the file and on nodata; with ``unscale``, float32 values times the bands'
    scale plus offset (the physical units)."""
    idx = [indexes] if isinstance(indexes, int) else list(indexes)
    n_rows, n_cols = ds.height, ds.width
    factor = _overview_factor(ds, found.step)
    r0, r1, c0, c1 = found.window
    # align the window to the overview's pixels so that each maps onto whole ones
    r0, c0 = (r0 // factor) * factor, (c0 // factor) * factor
    r1 = min(n_rows, -(-r1 // factor) * factor)
    c1 = min(n_cols, -(-c1 // factor) * factor)
    out_h, out_w = -(-(r1 - r0) // factor), -(-(c1 - c0) // factor)
    block = ds.read(
        idx, window=Window(c0, r0, c1 - c0, r1 - r0), out_shape=(len(idx), out_h, out_w)
    )
    scale_r, scale_c = (r1 - r0) / out_h, (c1 - c0) / out_w
    with np.errstate(invalid="ignore"):
        inside = (
            (found.rows >= r0) & (found.rows < r1) & (found.cols >= c0) & (found.cols < c1)
        )
        ri = np.where(inside, (found.rows - r0) / scale_r, 0).astype(np.intp)
        ci = np.where(inside, (found.cols - c0) / scale_c, 0).astype(np.intp)
    np.clip(ri, 0, out_h - 1, out=ri)
    np.clip(ci, 0, out_w - 1, out=ci)
    values = block[:, ri, ci]
    mask = np.broadcast_to(~inside, values.shape).copy()
    for k, band in enumerate(idx):
        nodata = ds.nodatavals[band - 1]
        if nodata is None:
            continue
        mask[k] |= np.isnan(values[k]) if math.isnan(nodata) else values[k] == nodata
    if unscale:
        scales = np.array([ds.scales[b - 1] or 1.0 for b in idx], np.float32)
        offsets = np.array([ds.offsets[b - 1] or 0.0 for b in idx], np.float32)
        values = values.astype(np.float32) * scales[:, None, None] + offsets[:, None, None]
    return np.ma.MaskedArray(values, mask=mask)
