"""A block of observations as the sources store them, and how they become reflectance.

An eager :func:`~ecointegrity.cube.load` returns float32 reflectance: for a year of Landsat
that is 4 bytes per band and date where the files hold 2. :class:`Observations` keeps the
stored counts in one (band, time, y, x) buffer with the clear mask and the per-band, per-date
scale, offset and harmonisation (:class:`Decoding`). Kernels that work row by row take it a
band of rows at a time (:meth:`Observations.decoded_rows`), so the float32 series is never held
in memory whole. :meth:`Observations.reflectance` is the float32 Dataset an eager load returns,
bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ._scale_numba import decode_numba

__all__ = ["Decoding", "Observations", "CHUNK_BYTES", "MIN_ROWS_PER_CORE"]

# float32 rows decoded at a time: a small part of a block's memory, and at least
# MIN_ROWS_PER_CORE rows for each core so that the row-parallel kernels keep every core busy
# (annual_products on the benchmark's tile: 4 rows 2.20 s, 64 MiB 2.23 s, 1 row 4.07 s on 2
# cores)
CHUNK_BYTES = 64 << 20
MIN_ROWS_PER_CORE = 4


@dataclass(frozen=True)
class Decoding:
    """How a (band, time, y, x) stack of stored values becomes float32 reflectance.

    ``value = (stored * scale + offset) * slope + intercept`` in float32, NaN where the stored
    value is the band's nodata, or where the observation is not clear (bands with ``masked``).
    """

    affine: np.ndarray  # (4, band, time) float32: scale, offset, harmonisation slope, intercept
    nodata: np.ndarray  # (band,) float64: the stored nodata value (ignored without has_nodata)
    has_nodata: np.ndarray  # (band,) bool
    masked: np.ndarray  # (band,) bool: the clear mask applies (not to the quality band itself)
    clear: np.ndarray | None = None  # (time, y, x) bool; None: no mask

    def decode(self, counts: np.ndarray, band: int, rows: slice, out: np.ndarray) -> None:
        """Decode ``counts`` (band ``band``'s (time, y, x) values over image rows ``rows``)
        into ``out`` (time, y, x) float32."""
        has_clear = self.clear is not None
        clear = self.clear[:, rows] if self.clear is not None else np.ones((1, 1, 1), bool)
        b = slice(band, band + 1)
        decode_numba(counts[np.newaxis], self.affine[:, b], self.nodata[b], self.has_nodata[b],
                     clear, self.masked[b], has_clear, out[np.newaxis])


@dataclass(frozen=True)
class Observations:
    """Stored values of several bands over dates on one grid, with their :class:`Decoding`.

    ``counts`` is (band, time, y, x) in the sources' dtype, bands in the order of ``bands``
    (common names); ``coords`` holds ``time``, ``y``, ``x`` and ``spatial_ref``.
    """

    counts: np.ndarray
    bands: tuple[str, ...]
    decoding: Decoding
    coords: Mapping[Hashable, Any]
    band_attrs: tuple[dict[str, Any], ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        _, nt, ny, nx = self.counts.shape
        return {"time": nt, "y": ny, "x": nx}

    def decoded_rows(
        self, bands: Sequence[str] | None = None, chunk_bytes: int | None = None
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """The reflectance of ``bands`` (default all), a band of image rows at a time:
        (rows, (band, time, rows, x) float32).

        One buffer of about ``chunk_bytes`` (default ``CHUNK_BYTES``) serves every band of
        rows, so use each before asking for the next. Kernels that work row by row (the
        geomedian, WOfS, percentiles) read stored values this way at the memory cost of the
        counts plus one chunk, not plus a float32 copy of the whole series."""
        index = self.band_index(bands if bands is not None else self.bands)
        _, nt, ny, nx = self.counts.shape
        per_row = max(1, len(index) * nt * nx * 4)
        least = MIN_ROWS_PER_CORE * (os.cpu_count() or 1)
        step = int(min(ny, max((chunk_bytes or CHUNK_BYTES) // per_row, least)))
        buffer = np.empty((len(index), nt, step, nx), np.float32)
        for r0 in range(0, ny, step):
            rows = slice(r0, min(r0 + step, ny))
            out = buffer[:, :, : rows.stop - r0]
            for j, b in enumerate(index):
                self.decoding.decode(self.counts[b][:, rows], int(b), rows, out[j])
            yield rows, out

    def band_index(self, bands: Sequence[str]) -> np.ndarray:
        """Positions of ``bands`` in ``counts`` (KeyError naming a band it lacks)."""
        missing = [b for b in bands if b not in self.bands]
        if missing:
            raise KeyError(f"observations hold no band(s) {missing}; they hold {list(self.bands)}")
        return np.asarray([self.bands.index(b) for b in bands], np.int64)

    def reflectance(self) -> xr.Dataset:
        """(time, y, x) float32 reflectance per band, NaN where missing or not clear: what
        ``load(..., eager=True)`` returns. The variables are slices of one (band, time, y, x)
        buffer (see :func:`~ecointegrity.cube.load.band_stack`)."""
        out = np.empty(self.counts.shape, np.float32)
        for i in range(len(self.bands)):
            self.decoding.decode(self.counts[i], i, slice(None), out[i])
        dims = ("time", "y", "x")
        return xr.Dataset(
            {name: xr.DataArray(out[i], dims=dims, attrs=dict(self.band_attrs[i]))
             for i, name in enumerate(self.bands)},
            coords=self.coords,
            attrs=dict(self.attrs),
        )
