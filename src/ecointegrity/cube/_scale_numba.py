"""Stored counts to float32 reflectance in one pass (numba, parallel over bands, dates and
rows), straight into the caller's buffer.

The dask path of :func:`ecointegrity.cube.load` does the same in array operations (cast, scale
+ offset, harmonisation slope + intercept, nodata test, clear test), each a full pass with its
own temporary; this kernel writes each output value once. Arithmetic is float32 with the same
roundings (compiled without fastmath: no fused multiply-add), so both agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["decode_numba"]


@njit(cache=True, parallel=True)
def decode_numba(counts: np.ndarray, affine: np.ndarray, nodata: np.ndarray,
                 has_nodata: np.ndarray, clear: np.ndarray, masked: np.ndarray,
                 has_clear: bool, out: np.ndarray) -> None:
    """``out = (counts * scale + offset) * slope + intercept`` (float32), NaN where ``counts``
    is the band's nodata or, for masked bands, where the observation is not clear.

    Args:
        counts: (band, time, y, x) stored values of any numeric dtype.
        affine: (4, band, time) float32: scale, offset, harmonisation slope and intercept.
        nodata, has_nodata: (band,) the stored nodata value, and whether to test for it.
        clear, masked, has_clear: (time, y, x) clear mask (unread without ``has_clear``),
            (band,) whether it applies to each band (not to the quality band itself), and
            whether there is a mask at all.
        out: (band, time, y, x) float32 output, may be a view into a larger buffer.
    """
    nb, nt, ny, nx = counts.shape
    nan = np.float32(np.nan)
    for btr in prange(nb * nt * ny):
        b, t, r = btr // (nt * ny), (btr // ny) % nt, btr % ny
        scale, offset = affine[0, b, t], affine[1, b, t]
        slope, intercept = affine[2, b, t], affine[3, b, t]
        nd, test_nd = nodata[b], has_nodata[b]
        # branch-free (a select, no short-circuit): the loops compile to vector instructions
        if has_clear and masked[b]:
            for c in range(nx):
                v = counts[b, t, r, c]
                x = (np.float32(v) * scale + offset) * slope + intercept
                bad = (test_nd & (v == nd)) | (not clear[t, r, c])
                out[b, t, r, c] = nan if bad else x
        else:
            for c in range(nx):
                v = counts[b, t, r, c]
                x = (np.float32(v) * scale + offset) * slope + intercept
                out[b, t, r, c] = nan if test_nd & (v == nd) else x
