"""Annual products of one block of clear observations: a pure function over xarray."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from ..cube import Observations
from ..cube.load import band_stack
from ._percentiles_numba import nanpercentiles_numba
from ._series_numba import series_summary_numba
from .geomedian import EPS, MAXITERS, GeomedianResult, default_device, geomad, geomedian_mads
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
    ds: xr.Dataset | Observations,
    products: Iterable[str] | None = None,
    *,
    eps: float = EPS,
    maxiters: int = MAXITERS,
    device: str = "auto",
) -> dict[str, xr.Dataset]:
    """Compute annual products from a year of clear reflectance.

    Args:
        ds: (time, y, x) float32 reflectance on common band names, NaN where not clear
            (as :func:`ecointegrity.cube.load` returns it), in memory; or the stored values
            (:func:`ecointegrity.cube.load_observations`, what the pipeline reads: the same
            products from half the memory).
        products: product names (default: every product the bands support).
        eps, maxiters, device: geomedian settings.
    Returns:
        Product name -> (y, x) Dataset whose variables are the product's bands, in physical units.
    Raises:
        ProductNotSupportedError: a requested product needs a band ``ds`` lacks.
    """
    available = ds.bands if isinstance(ds, Observations) else ds.data_vars
    bands = [b for b in REFLECTANCE_BANDS if b in available]
    wanted = list(products) if products is not None else None
    ok, refused = supported_products(bands, wanted)
    if wanted is not None and refused:
        raise ProductNotSupportedError(
            "; ".join(refused.values()) + f". Supported here: {', '.join(ok) or 'none'}"
        )
    out: dict[str, xr.Dataset] = {}
    needs_gm = any(not PRODUCTS[p].uses_series or p == "ndvi" for p in ok)
    wofs, ndvi_q = "wofs" in ok, "ndvi" in ok
    on_cpu = (default_device() if device == "auto" else device) == "cpu"
    if isinstance(ds, Observations) and on_cpu:
        gm, series = _by_rows(ds, bands, needs_gm, wofs, ndvi_q, eps=eps, maxiters=maxiters)
    else:
        if isinstance(ds, Observations):
            ds = ds.reflectance()  # a GPU takes the float32 series whole
        gm = geomad(ds, bands, eps=eps, maxiters=maxiters, device=device) if needs_gm else None
        summary = _SeriesSummary(ds.sizes["y"], ds.sizes["x"], bands, wofs, ndvi_q)
        if wofs or ndvi_q:  # else no need to stack (or compute) the series
            summary.add(slice(None), band_stack(ds, bands))
        series = summary.datasets(_spatial_coords(ds))
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
    spatial = _spatial_coords(ds)
    return {name: result.assign_coords(spatial) for name, result in out.items()}


def _spatial_coords(ds: xr.Dataset | Observations) -> dict[Hashable, Any]:
    return {k: v for k, v in ds.coords.items() if set(v.dims) <= {"y", "x"}}


def _by_rows(
    observations: Observations, bands: list[str], needs_gm: bool, wofs: bool, ndvi_q: bool,
    *, eps: float, maxiters: int,
) -> tuple[xr.Dataset | None, dict[str, xr.Dataset]]:
    """The geomedian and the series products of stored values, decoding a band of rows at a
    time once for both: memory is the counts plus one band of rows of float32."""
    ny, nx = observations.sizes["y"], observations.sizes["x"]
    summary = _SeriesSummary(ny, nx, bands, wofs, ndvi_q)
    result = GeomedianResult.empty(len(bands), ny, nx) if needs_gm else None
    for rows, stack in observations.decoded_rows(bands):
        if result is not None:
            result.fill(rows, geomedian_mads(stack, eps=eps, maxiters=maxiters, device="cpu"))
        summary.add(rows, stack)
    coords = _spatial_coords(observations)
    if result is None:
        return None, summary.datasets(coords)
    return result.to_dataset(bands, coords, eps=eps, maxiters=maxiters), summary.datasets(coords)


class _SeriesSummary:
    """WOfS counts and NDVI percentiles, added a band of image rows at a time, in one pass
    over the series (``_series_numba``); equal to :func:`~ecointegrity.mosaics.wofs.wofs_summary`
    and :func:`ndvi_percentiles`."""

    def __init__(self, ny: int, nx: int, bands: list[str], wofs: bool, ndvi_q: bool):
        self.bands, self.wofs, self.ndvi_q = bands, wofs, ndvi_q
        self.wet = np.zeros((ny, nx), np.uint16)
        self.clear = np.zeros((ny, nx), np.uint16)
        self.percentiles = np.asarray(NDVI_PERCENTILES if ndvi_q else (), np.float64)
        self.q = np.empty((len(self.percentiles), ny, nx), np.float32)

    def add(self, rows: slice, stack: np.ndarray) -> None:
        """Summarise ``stack`` (band, time, rows, x), the float32 series of image rows ``rows``."""
        if not (self.wofs or self.ndvi_q):
            return
        series_summary_numba(
            stack,
            np.asarray(
                [self.bands.index(b) for b in REFLECTANCE_BANDS] if self.wofs else [], np.int64
            ),
            self.bands.index("red") if self.ndvi_q else 0,
            self.bands.index("nir") if self.ndvi_q else 0,
            self.percentiles,
            self.wet[rows],
            self.clear[rows],
            self.q[:, rows],
        )

    def datasets(self, coords: dict[Hashable, Any]) -> dict[str, xr.Dataset]:
        """``wofs`` and ``ndvi`` (its percentiles), as far as asked for."""
        dims = ("y", "x")
        out = {}
        if self.wofs:
            wet, clear = self.wet, self.clear
            with np.errstate(divide="ignore", invalid="ignore"):
                frequency = (wet / np.where(clear > 0, clear, np.nan)).astype(np.float32)
            out["wofs"] = xr.Dataset(
                {"wet": (dims, wet), "clear": (dims, clear), "frequency": (dims, frequency)},
                coords=coords,
            )
        if self.ndvi_q:
            out["ndvi"] = xr.Dataset(
                {f"ndvi_p{p}": (dims, self.q[k]) for k, p in enumerate(NDVI_PERCENTILES)},
                coords=coords,
            )
        return out
