"""Physical values to an integer storage dtype in one pass (numba): ``ProductBand.encode``'s
kernel.

The numpy form takes seven passes and two float64 temporaries per band (cast, scale, finite
test, where, rint, clip, cast); the pipeline encodes about twenty bands per tile-year. Same
float64 arithmetic and the same round-half-to-even, so results are identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["encode_numba"]


@njit(cache=True, parallel=True)
def encode_numba(values: np.ndarray, offset: float, scale: float, lo: float, hi: float,
                 nodata: float, out: np.ndarray) -> None:
    """``out = clip(rint((values - offset) / scale), lo, hi)``; ``nodata`` where not finite.

    ``values`` and ``out`` are 1-D (flattened) arrays of the same length.
    """
    for i in prange(values.shape[0]):
        v = (np.float64(values[i]) - offset) / scale
        if np.isfinite(v):
            out[i] = min(max(np.rint(v), lo), hi)
        else:
            out[i] = nodata
