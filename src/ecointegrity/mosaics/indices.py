"""Spectral indices and the tasselled cap: pure functions, labelled data in, labelled data out.

Inputs are surface reflectance (0-1) on common band names; they may be numpy arrays or xarray
objects (coordinates are kept).
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import xarray as xr

__all__ = [
    "normalized_difference",
    "ndvi",
    "ndwi",
    "mndwi",
    "ndbi",
    "built_up",
    "tasselled_cap",
    "TASSELLED_CAP",
]

# One kind of input per call, and the result is of that kind: a Python or numpy scalar, a numpy
# array, or an xarray object.
A = TypeVar("A", float, np.floating, np.ndarray, xr.DataArray, xr.Dataset)

# Crist (1985) coefficients for surface reflectance, in band order blue, green, red, nir,
# swir1, swir2; brightness uses +0.2303 for swir2, as Digital Earth Australia's production
# code does.
TASSELLED_CAP: dict[str, tuple[float, float, float, float, float, float]] = {
    "brightness": (0.2043, 0.4158, 0.5524, 0.5741, 0.3124, 0.2303),
    "greenness": (-0.1603, -0.2819, -0.4934, 0.7940, -0.0002, -0.1446),
    "wetness": (0.0315, 0.2021, 0.3102, 0.1594, -0.6806, -0.6109),
}
TASSELLED_CAP_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")


def normalized_difference(a: A, b: A) -> A:
    """(a - b) / (a + b); NaN where both are zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


def ndvi(red: A, nir: A) -> A:
    """Normalised difference vegetation index (Rouse et al. 1974)."""
    return normalized_difference(nir, red)


def ndwi(green: A, nir: A) -> A:
    """Normalised difference water index (McFeeters 1996): (green - nir) / (green + nir)."""
    return normalized_difference(green, nir)


def mndwi(green: A, swir1: A) -> A:
    """Modified NDWI (Xu 2006): (green - swir1) / (green + swir1)."""
    return normalized_difference(green, swir1)


def ndbi(nir: A, swir1: A) -> A:
    """Normalised difference built-up index (Zha et al. 2003): (swir1 - nir) / (swir1 + nir)."""
    return normalized_difference(swir1, nir)


def built_up(red: A, nir: A, swir1: A) -> A:
    """Built-up index BU = NDBI - NDVI (He et al. 2010): positive on built-up and bare land."""
    return ndbi(nir, swir1) - ndvi(red, nir)


def tasselled_cap(blue: A, green: A, red: A, nir: A, swir1: A, swir2: A) -> dict[str, A]:
    """Tasselled cap brightness, greenness and wetness (Crist 1985, surface reflectance)."""
    bands = (blue, green, red, nir, swir1, swir2)
    # sum() starts from the int 0, which typeshed keeps in its result type; 0 + A is an A here
    return {name: cast(A, sum(c * b for c, b in zip(coefs, bands, strict=True)))
            for name, coefs in TASSELLED_CAP.items()}
