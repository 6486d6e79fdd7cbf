"""Raw integer counts to float32 physical values with nodata and the clear mask applied, in one
pass (numba, parallel over dates and rows).

The dask path of :func:`ecointegrity.cube.load` does the same in four array operations (cast,
scale + offset, nodata test, clear test), each a full pass over the stack with its own
temporary; for an eager load this kernel writes each output value once, straight into the
caller's (band, time, y, x) buffer. Arithmetic is float32, as the dask path's, so both agree
bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["scale_mask_numba"]


@njit(cache=True, parallel=True)
def scale_mask_numba(raw: np.ndarray, nodata: float, has_nodata: bool, scale: float,
                     offsets: np.ndarray, clear: np.ndarray, has_clear: bool,
                     out: np.ndarray) -> None:
    """``out = raw * scale + offsets[t]`` (float32), NaN where ``raw == nodata`` or not clear.

    Args:
        raw: (time, y, x) counts of any numeric dtype.
        nodata, has_nodata: the raw nodata value, and whether to test for it.
        scale: multiplier; offsets: (time,) float32 offsets (one per date).
        clear, has_clear: (time, y, x) bool clear mask, and whether to apply it.
        out: (time, y, x) float32 output, may be a view into a larger buffer.
    """
    nt, ny, nx = raw.shape
    s = np.float32(scale)
    nan = np.float32(np.nan)
    for tr in prange(nt * ny):
        t = tr // ny
        r = tr - t * ny
        off = offsets[t]
        # branch-free (a select, no short-circuit): the loop compiles to vector instructions
        if has_clear:
            for c in range(nx):
                v = raw[t, r, c]
                x = np.float32(v) * s + off
                bad = (has_nodata & (v == nodata)) | (not clear[t, r, c])
                out[t, r, c] = nan if bad else x
        else:
            for c in range(nx):
                v = raw[t, r, c]
                x = np.float32(v) * s + off
                out[t, r, c] = nan if has_nodata & (v == nodata) else x
