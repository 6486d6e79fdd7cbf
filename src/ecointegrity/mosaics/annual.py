"""Annual products of one block of clear observations: a pure function over xarray."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from ..cube.load import band_stack
from ._percentiles_numba import nanpercentiles_numba
from ._series_numba import series_summary_numba
from .geomedian import EPS, MAXITERS, geomad
from .indices import built_up, mndwi, ndbi, ndvi, ndwi, tasselled_cap
from .products import (
    NDVI_PERCENTILES,
    PRODUCTS,
    REFLECTANCE_BANDS,
    ProductNotSupportedError,
    supported_products,
)

__all__ = ["annual_products", "ndvi_percentiles"]


def ndvi_percentiles(
    series: xr.DataArray, percentiles: tuple[int, ...] = NDVI_PERCENTILES
) -> xr.Dataset:
    """Per-pixel percentiles over ``time`` of an NDVI series (NaN = not clear), as ``ndvi_pNN``."""
    values = np.asarray(series.transpose("time", "y", "x").values, dtype=np.float32)
    q = np.empty((len(percentiles), *values.shape[1:]), np.float32)
    nanpercentiles_numba(values, np.asarray(percentiles, np.float64), q)
    dims = ("y", "x")
    coords = {k: v for k, v in series.coords.items() if "time" not in v.dims}
    return xr.Dataset(
        {f"ndvi_p{p}": (dims, q[k].astype(np.float32)) for k, p in enumerate(percentiles)},
        coords=coords,
    )


def annual_products(
    ds: xr.Dataset,
    products: Iterable[str] | None = None,
    *,
    eps: float = EPS,
    maxiters: int = MAXITERS,
    device: str = "auto",
) -> dict[str, xr.Dataset]:
    """Compute annual products from a year of clear reflectance.

    Args:
        ds: (time, y, x) float32 reflectance on common band names, NaN where not clear
            (as :func:`ecointegrity.cube.load` returns it), in memory.
        products: product names (default: every product the bands support).
        eps, maxiters, device: geomedian settings.
    Returns:
        Product name -> (y, x) Dataset whose variables are the product's bands, in physical units.
    Raises:
        ProductNotSupportedError: a requested product needs a band ``ds`` lacks.
    """
    bands = [b for b in REFLECTANCE_BANDS if b in ds.data_vars]
    wanted = list(products) if products is not None else None
    ok, refused = supported_products(bands, wanted)
    if wanted is not None and refused:
        raise ProductNotSupportedError(
            "; ".join(refused.values()) + f". Supported here: {', '.join(ok) or 'none'}"
        )
    out: dict[str, xr.Dataset] = {}
    needs_gm = any(not PRODUCTS[p].uses_series or p == "ndvi" for p in ok)
    gm = geomad(ds, bands, eps=eps, maxiters=maxiters, device=device) if needs_gm else None
    series = _series_products(ds, bands, "wofs" in ok, "ndvi" in ok)
    for name in ok:
        if name == "wofs":  # from the clear series alone
            out[name] = series["wofs"]
            continue
        # every other product is made from the geomedian, so needs_gm held for it
        if gm is None:
            raise RuntimeError(f"product {name!r}: the geomedian was not computed")
        if name == "geomedian":
            out[name] = gm
        elif name == "tasselled_cap":
            out[name] = xr.Dataset(tasselled_cap(*(gm[b] for b in REFLECTANCE_BANDS)))
        elif name == "ndvi":
            out[name] = series["ndvi"].assign(ndvi=ndvi(gm.red, gm.nir))
        elif name == "ndwi":
            result = xr.Dataset({"ndwi": ndwi(gm.green, gm.nir)})
            if "swir1" in gm:
                result["mndwi"] = mndwi(gm.green, gm.swir1)
            out[name] = result
        elif name == "ndbi":
            out[name] = xr.Dataset({"ndbi": ndbi(gm.nir, gm.swir1)})
        elif name == "bu":
            out[name] = xr.Dataset({"bu": built_up(gm.red, gm.nir, gm.swir1)})
    spatial = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"y", "x"}}
    return {name: result.assign_coords(spatial) for name, result in out.items()}


def _series_products(
    ds: xr.Dataset, bands: list[str], wofs: bool, ndvi_q: bool
) -> dict[str, xr.Dataset]:
    """WOfS summary and NDVI percentiles in one pass over the series (``_series_numba``); equal
    to :func:`~ecointegrity.mosaics.wofs.wofs_summary` and :func:`ndvi_percentiles`."""
    if not (wofs or ndvi_q):
        return {}
    stack = band_stack(ds, bands)
    _, _, ny, nx = stack.shape
    wet = np.zeros((ny, nx), np.uint16)
    clear = np.zeros((ny, nx), np.uint16)
    percentiles = np.asarray(NDVI_PERCENTILES if ndvi_q else (), np.float64)
    q = np.empty((len(percentiles), ny, nx), np.float32)
    series_summary_numba(
        stack,
        np.asarray([bands.index(b) for b in REFLECTANCE_BANDS] if wofs else [], np.int64),
        bands.index("red") if ndvi_q else 0,
        bands.index("nir") if ndvi_q else 0,
        percentiles,
        wet,
        clear,
        q,
    )
    dims = ("y", "x")
    coords = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"y", "x"}}
    out = {}
    if wofs:
        with np.errstate(divide="ignore", invalid="ignore"):
            frequency = (wet / np.where(clear > 0, clear, np.nan)).astype(np.float32)
        out["wofs"] = xr.Dataset(
            {"wet": (dims, wet), "clear": (dims, clear), "frequency": (dims, frequency)},
            coords=coords,
        )
    if ndvi_q:
        out["ndvi"] = xr.Dataset(
            {f"ndvi_p{p}": (dims, q[k]) for k, p in enumerate(NDVI_PERCENTILES)}, coords=coords
        )
    return out
