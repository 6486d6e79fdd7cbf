"""NaN-aware per-pixel percentiles over time (numba, parallel over rows).

``numpy.nanpercentile`` falls back to a Python-level loop over pixels as soon as one value is
NaN, which is always the case for cloud-masked series (about 100x slower). This kernel gathers
each pixel's clear values, sorts them in place (insertion sort: a few dozen values) and
interpolates linearly between closest ranks, numpy's default ``method="linear"``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["nanpercentiles_numba", "sorted_percentile"]


@njit(cache=True, inline="always")
def sorted_percentile(values: np.ndarray, k: int, percentile: float) -> float:
    """The ``percentile`` of the first ``k`` of ``values`` (sorted ascending), interpolated
    linearly between closest ranks (numpy's ``method="linear"``); NaN when ``k`` is 0."""
    if k == 0:
        return np.nan
    rank = percentile / 100.0 * (k - 1)
    lower = int(np.floor(rank))
    upper = min(lower + 1, k - 1)
    return values[lower] + (values[upper] - values[lower]) * (rank - lower)


@njit(cache=True, parallel=True)
def nanpercentiles_numba(series: np.ndarray, percentiles: np.ndarray, out: np.ndarray) -> None:
    """Percentiles of ``series`` (time, y, x) over time into ``out`` (len(percentiles), y, x)."""
    nt, ny, nx = series.shape
    for row in prange(ny):
        values = np.empty(nt, dtype=np.float64)
        for col in range(nx):
            k = 0
            for t in range(nt):
                v = series[t, row, col]
                if not np.isnan(v):
                    j = k - 1
                    while j >= 0 and values[j] > v:
                        values[j + 1] = values[j]
                        j -= 1
                    values[j + 1] = v
                    k += 1
            for q in range(percentiles.shape[0]):
                out[q, row, col] = sorted_percentile(values, k, percentiles[q])
