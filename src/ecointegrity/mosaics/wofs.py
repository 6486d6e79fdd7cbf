"""Water observations from space (WOfS): Mueller et al. (2016)'s decision tree per observation,
and the annual summary (wet count, clear count, frequency).

The tree is the one Geoscience Australia runs in production (its ``wofs`` classifier, a CART
tree on Landsat surface reflectance scaled by 10 000), written here as one scalar function that
numba turns into a ufunc. Bands: b1 blue, b2 green, b3 red, b4 nir, b5 swir1, b7 swir2.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import xarray as xr
from numba import float32, float64, int8, njit, vectorize

__all__ = ["WET", "DRY", "NOT_CLEAR", "classify_water", "wofs_summary"]

WET, DRY, NOT_CLEAR = 1, 0, -1

# Bands come all as DataArrays (the result is one too, coordinates kept) or all as numpy arrays.
Bands = TypeVar("Bands", xr.DataArray, np.ndarray)


def _tree_py(blue, green, red, nir, swir1, swir2):  # pragma: no cover - compiled by numba
    # NaN input (not a clear observation) is not classified.
    if (
        blue != blue
        or green != green
        or red != red
        or nir != nir
        or swir1 != swir1
        or swir2 != swir2
    ):
        return -1
    # Thresholds on bands are in the tree's units (reflectance x 10 000); ratios are unitless.
    b1, b3, b7 = blue * 10000.0, red * 10000.0, swir2 * 10000.0
    ndi_52 = (swir1 - green) / (swir1 + green)
    ndi_43 = (nir - red) / (nir + red)
    ndi_72 = (swir2 - green) / (swir2 + green)
    if ndi_52 <= -0.01:
        if b1 > 2083.5:
            return 0
        if b7 <= 323.5:
            return 1 if ndi_43 <= 0.61 else 0
        if b1 > 1400.5:
            return 1 if ndi_43 <= -0.01 else 0
        if ndi_72 > -0.23:
            return 1 if b1 <= 379.0 else 0
        if ndi_43 <= 0.22:
            return 1
        return 1 if b1 <= 473.0 else 0
    if ndi_52 <= 0.23:
        if b1 > 334.5 or ndi_43 > 0.54:
            return 0
        if ndi_52 <= 0.12:
            return 1
        if b3 <= 364.5:
            return 1 if b1 <= 129.5 else 0
        return 1 if b1 <= 300.5 else 0
    if ndi_52 > 0.34 or b1 > 249.5 or ndi_43 > 0.45 or b3 > 364.5:
        return 0
    return 1 if b1 <= 129.5 else 0


# The same tree twice: a scalar function that other kernels inline (the annual series kernel
# classifies each observation as it passes), and a ufunc for arrays. error_model="numpy":
# 0/0 in a ratio gives NaN (which fails every test, as in numpy) instead of raising.
tree = njit(cache=True, inline="always", error_model="numpy")(_tree_py)


@vectorize([int8(float32, float32, float32, float32, float32, float32),
            int8(float64, float64, float64, float64, float64, float64)], cache=True)
def _tree(blue, green, red, nir, swir1, swir2):  # pragma: no cover - compiled by numba
    return tree(blue, green, red, nir, swir1, swir2)


def classify_water(
    blue: Bands, green: Bands, red: Bands, nir: Bands, swir1: Bands, swir2: Bands
) -> Bands:
    """Per-observation water classification: 1 wet, 0 dry, -1 not clear (NaN input).

    Accepts numpy arrays or xarray DataArrays of surface reflectance (0-1).
    """
    if isinstance(blue, xr.DataArray):
        return xr.apply_ufunc(_tree, blue, green, red, nir, swir1, swir2, dask="parallelized",
                              output_dtypes=[np.int8])
    return _tree(blue, green, red, nir, swir1, swir2)


def wofs_summary(ds: xr.Dataset) -> xr.Dataset:
    """Annual WOfS summary of a (time, y, x) reflectance Dataset.

    Returns ``wet`` and ``clear`` counts (uint16) and ``frequency`` = wet / clear (float32,
    NaN where never clear).
    """
    water = classify_water(ds.blue, ds.green, ds.red, ds.nir, ds.swir1, ds.swir2)
    wet = (water == WET).sum("time").astype(np.uint16)
    clear = (water != NOT_CLEAR).sum("time").astype(np.uint16)
    frequency = (wet / clear.where(clear > 0)).astype(np.float32)
    return xr.Dataset({"wet": wet, "clear": clear, "frequency": frequency})
