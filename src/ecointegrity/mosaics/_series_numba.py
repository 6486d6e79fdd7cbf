"""The per-observation products of a year in one pass over the clear series (numba, parallel
over rows): WOfS wet and clear counts and the NDVI percentiles.

Separately, WOfS classifies into a (time, y, x) int8 array and sums it twice, and the NDVI
percentiles first compute a (time, y, x) NDVI series: three full passes and two stack-sized
temporaries. Here each observation is read once: classified by the WOfS tree and its NDVI
slotted into the pixel's sorted buffer as it passes. Results equal :func:`wofs_summary` and
:func:`ndvi_percentiles` exactly (same float32 arithmetic, same interpolation), which the tests
check.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._percentiles_numba import sorted_percentile
from .wofs import NOT_CLEAR, WET, tree

__all__ = ["series_summary_numba"]


@njit(cache=True, parallel=True, error_model="numpy")
def series_summary_numba(
    stack: np.ndarray,
    wofs_bands: np.ndarray,
    red: int,
    nir: int,
    percentiles: np.ndarray,
    wet: np.ndarray,
    clear: np.ndarray,
    q: np.ndarray,
) -> None:
    """WOfS counts and NDVI percentiles of a (band, time, y, x) float32 stack, NaN = not clear.

    Args:
        stack: the clear series.
        wofs_bands: indices in ``stack`` of blue, green, red, nir, swir1, swir2 (empty: no WOfS;
            ``wet`` and ``clear`` are then left as they are).
        red, nir: indices of red and nir in ``stack`` (only read when ``percentiles`` is not
            empty).
        percentiles: the NDVI percentiles (0-100) to compute into ``q`` (len(percentiles), y, x);
            NaN where no observation has an NDVI.
        wet, clear: (y, x) uint16 outputs.
    """
    _, nt, ny, nx = stack.shape
    do_wofs = wofs_bands.shape[0] == 6
    nq = percentiles.shape[0]
    for row in prange(ny):
        n_wet = np.zeros(nx, np.int64)
        n_clear = np.zeros(nx, np.int64)
        k = np.zeros(nx, np.int64)
        values = np.empty((nx, max(nt, 1)), np.float64)
        # time outer, columns inner: each date's row is read contiguously
        for t in range(nt):
            if do_wofs:
                b0, b1, b2 = wofs_bands[0], wofs_bands[1], wofs_bands[2]
                b3, b4, b5 = wofs_bands[3], wofs_bands[4], wofs_bands[5]
                for col in range(nx):
                    w = tree(stack[b0, t, row, col], stack[b1, t, row, col],
                             stack[b2, t, row, col], stack[b3, t, row, col],
                             stack[b4, t, row, col], stack[b5, t, row, col])
                    if w == WET:
                        n_wet[col] += 1
                    if w != NOT_CLEAR:
                        n_clear[col] += 1
            if nq:
                for col in range(nx):
                    r = stack[red, t, row, col]
                    n = stack[nir, t, row, col]
                    v = (n - r) / (n + r)
                    if np.isnan(v):
                        continue
                    j = k[col] - 1
                    while j >= 0 and values[col, j] > v:
                        values[col, j + 1] = values[col, j]
                        j -= 1
                    values[col, j + 1] = v
                    k[col] += 1
        for col in range(nx):
            if do_wofs:
                wet[row, col] = n_wet[col]
                clear[row, col] = n_clear[col]
            for p in range(nq):
                q[p, row, col] = sorted_percentile(values[col], k[col], percentiles[p])
