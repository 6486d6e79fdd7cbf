"""Geometric median (Roberts et al. 2017) with the three MADs and the clear-observation count.

``geomedian_mads`` works on numpy (band, time, y, x) float32 arrays, or on stored values
(:class:`~ecointegrity.cube.Observations`), and picks the fastest backend: a CUDA GPU through
PyTorch when one is present, else our numba kernel.
``geomad`` is the labelled form: a (time, y, x) Dataset of bands in, a (y, x) Dataset out.
``geomedian_reference`` is a plain-numpy implementation kept for tests.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
import xarray as xr

from ..cube import Observations
from ..cube.load import band_stack

__all__ = [
    "GeomedianResult",
    "geomedian_mads",
    "geomedian_reference",
    "geomad",
    "default_device",
    "EPS",
    "MAXITERS",
]

EPS = 1e-4  # reflectance units: well below the radiometric noise of Landsat and Sentinel-2
MAXITERS = 1000
Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class GeomedianResult:
    """Per-pixel results: ``gm`` (band, y, x); MADs and ``count`` (y, x)."""

    gm: np.ndarray
    emad: np.ndarray
    smad: np.ndarray
    bcmad: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls, nb: int, ny: int, nx: int) -> GeomedianResult:
        """Outputs for ``nb`` bands on a (ny, nx) grid, to fill (MADs NaN until computed)."""
        def nan() -> np.ndarray:
            return np.full((ny, nx), np.nan, np.float32)

        return cls(np.empty((nb, ny, nx), np.float32), nan(), nan(), nan(),
                   np.empty((ny, nx), np.uint16))

    def fill(self, rows: slice, part: GeomedianResult) -> None:
        """Copy ``part`` (computed on image rows ``rows``) into place."""
        self.gm[:, rows] = part.gm
        for name in ("emad", "smad", "bcmad", "count"):
            getattr(self, name)[rows] = getattr(part, name)

    def to_dataset(self, bands: Sequence[str], coords: Mapping[Hashable, Any], *, eps: float,
                   maxiters: int) -> xr.Dataset:
        """The labelled result, as :func:`geomad` returns it."""
        dims = ("y", "x")
        result = xr.Dataset(
            {b: (dims, self.gm[i]) for i, b in enumerate(bands)}
            | {"emad": (dims, self.emad), "smad": (dims, self.smad),
               "bcmad": (dims, self.bcmad), "count": (dims, self.count)},
            coords=coords,
        )
        result.attrs.update(algorithm="geomedian (Roberts et al. 2017)", eps=eps,
                            maxiters=maxiters)
        return result


def default_device() -> str:
    """``cuda`` when PyTorch sees a CUDA GPU (and ECOINTEGRITY_DEVICE does not say otherwise)."""
    wanted = os.environ.get("ECOINTEGRITY_DEVICE", "auto")
    if wanted != "auto":
        return wanted
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def geomedian_mads(
    data: np.ndarray | Observations,
    *,
    bands: Sequence[str] | None = None,
    eps: float = EPS,
    maxiters: int = MAXITERS,
    device: Device | str = "auto",
    num_threads: int | None = None,
    with_mads: bool = True,
    init_mean: bool = False,
) -> GeomedianResult:
    """Geomedian, EMAD, SMAD, BCMAD and clear count over the time axis.

    Args:
        data: (band, time, y, x) float32 reflectance; NaN marks an observation that is not
            clear (an observation with NaN in any band is left out). Or stored values
            (:class:`~ecointegrity.cube.Observations`, as the mosaic pipeline loads them),
            decoded a band of rows at a time: the same result, without a float32 copy of the
            whole series.
        bands: with ``Observations``, the bands to use, in this order (default: all).
        eps: stop when an iteration moves the estimate less than this (reflectance units).
        maxiters: iteration cap per pixel.
        device: ``auto`` (GPU if present), ``cpu`` (numba), ``cuda`` or another torch device.
        num_threads: CPU threads (default: numba's, i.e. all cores).
        with_mads: also compute the MADs (else they are NaN).
        init_mean: start every pixel from its mean: ~20 % fewer iterations and no farther
            from the converged geomedian, but not identical to Geoscience Australia's
            ``geomad``, which the default start reproduces bit for bit on the CPU. (A step
            below ``eps`` does not bound the error: where Weiszfeld crawls, either start can
            stop a few 1e-3 from the converged value on real pixels.)
    """
    device = default_device() if device == "auto" else device
    if isinstance(data, Observations):
        names = list(bands) if bands is not None else list(data.bands)
        data.band_index(names)  # a KeyError naming what is missing, before any work
        if device != "cpu":
            data = band_stack(data.reflectance(), names)  # the GPU's input
        else:  # a band of rows at a time: no float32 copy of the whole series
            result = GeomedianResult.empty(len(names), data.sizes["y"], data.sizes["x"])
            for rows, values in data.decoded_rows(names):
                result.fill(rows, geomedian_mads(
                    values, eps=eps, maxiters=maxiters, device="cpu", num_threads=num_threads,
                    with_mads=with_mads, init_mean=init_mean,
                ))
            return result
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(f"geomedian needs (band, time, y, x) data, got shape {data.shape}")
    if data.dtype != np.float32:
        data = data.astype(np.float32)
    if device != "cpu":
        from ._geomedian_torch import geomedian_mads_torch

        return GeomedianResult(
            *geomedian_mads_torch(
                data,
                eps=eps,
                maxiters=maxiters,
                device=device,
                with_mads=with_mads,
                init_mean=init_mean,
            )
        )
    from ._geomedian_numba import geomedian_mads_numba, get_num_threads, set_num_threads

    result = GeomedianResult.empty(data.shape[0], *data.shape[2:])
    previous = get_num_threads()
    if num_threads:
        set_num_threads(num_threads)
    try:
        geomedian_mads_numba(
            np.ascontiguousarray(data),
            float(eps),
            int(maxiters),
            result.gm,
            result.emad,
            result.smad,
            result.bcmad,
            result.count,
            with_mads,
            init_mean,
        )
    finally:
        set_num_threads(previous)
    return result


def geomedian_reference(
    data: np.ndarray, *, eps: float = EPS, maxiters: int = MAXITERS
) -> GeomedianResult:
    """Plain-numpy geomedian and MADs, pixel by pixel, from the band-wise mean (for tests)."""
    nb, nt, ny, nx = data.shape
    gm = np.full((nb, ny, nx), np.nan, np.float32)
    emad, smad, bcmad = (np.full((ny, nx), np.nan, np.float32) for _ in range(3))
    count = np.zeros((ny, nx), np.uint16)
    for r in range(ny):
        for c in range(nx):
            x = data[:, :, r, c].astype(np.float64)
            x = x[:, ~np.isnan(x).any(axis=0)]
            count[r, c] = x.shape[1]
            if x.shape[1] == 0:
                continue
            y = x.mean(axis=1)
            for _ in range(maxiters):
                d = np.sqrt(((x - y[:, None]) ** 2).sum(axis=0))
                at_y = d == 0
                w = np.where(at_y, 1.0, 1.0 / np.where(at_y, 1.0, d))
                t = (x * w).sum(axis=1) / w.sum()
                zeros = int(at_y.sum())
                if zeros == 0:
                    y_new = t
                elif zeros == x.shape[1]:
                    break
                else:  # Vardi & Zhang (2000): step towards t, damped by the coinciding points
                    r_norm = np.linalg.norm((t - y) * w.sum())
                    rinv = zeros / r_norm if r_norm > 0 else 0.0
                    y_new = max(0.0, 1 - rinv) * t + min(1.0, rinv) * y
                step = np.linalg.norm(y - y_new)
                y = y_new
                if step < eps:
                    break
            gm[:, r, c] = y
            diff = x - y[:, None]
            emad[r, c] = np.median(np.sqrt((diff**2).sum(axis=0)))
            smad[r, c] = np.median(
                1 - (x * y[:, None]).sum(axis=0) / (np.linalg.norm(x, axis=0) * np.linalg.norm(y))
            )
            bcmad[r, c] = np.median(np.abs(diff).sum(axis=0) / np.abs(x + y[:, None]).sum(axis=0))
    return GeomedianResult(gm, emad, smad, bcmad, count)


def geomad(
    ds: xr.Dataset | Observations,
    bands: Sequence[str] | None = None,
    *,
    eps: float = EPS,
    maxiters: int = MAXITERS,
    device: Device | str = "auto",
) -> xr.Dataset:
    """Labelled geomedian and MADs of a (time, y, x) reflectance Dataset.

    Returns a (y, x) Dataset with one float32 variable per band (the geomedian), ``emad``,
    ``smad``, ``bcmad`` (float32) and ``count`` (uint16); coordinates and CRS kept.
    Dask-backed input stays lazy, computed block by block (all dates of a block at once).
    :class:`~ecointegrity.cube.Observations` (stored values) give the same result as their
    ``.reflectance()``, without the float32 copy.
    """
    if bands is not None:
        bands = list(bands)
    elif isinstance(ds, Observations):
        bands = list(ds.bands)
    else:
        bands = [str(v) for v in ds.data_vars]
    coords = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"y", "x"}}
    if isinstance(ds, Observations):
        stored = geomedian_mads(ds, bands=bands, eps=eps, maxiters=maxiters, device=device)
        return stored.to_dataset(bands, coords, eps=eps, maxiters=maxiters)
    if not any(isinstance(ds[b].data, da.Array) for b in bands):
        # an eager load's bands are slices of one buffer: no stacked copy of the whole series
        eager = geomedian_mads(band_stack(ds, bands), eps=eps, maxiters=maxiters, device=device)
        return eager.to_dataset(bands, coords, eps=eps, maxiters=maxiters)
    nb = len(bands)

    def block(x: np.ndarray) -> np.ndarray:
        res = geomedian_mads(x, eps=eps, maxiters=maxiters, device=device)
        return np.concatenate([res.gm, res.emad[None], res.smad[None], res.bcmad[None],
                               res.count[None].astype(np.float32)])

    data = ds[bands].to_array("band").transpose("band", "time", "y", "x").data
    data = data.rechunk({0: -1, 1: -1})
    out = da.map_blocks(
        block, data, drop_axis=1, chunks=((nb + 4,), *data.chunks[2:]), dtype=np.float32
    )
    result = xr.Dataset(
        {name: (("y", "x"), out[i]) for i, name in enumerate([*bands, "emad", "smad", "bcmad"])},
        coords=coords,
    )
    result["count"] = (("y", "x"), out[nb + 3].astype(np.uint16))
    result.attrs.update(algorithm="geomedian (Roberts et al. 2017)", eps=eps, maxiters=maxiters)
    return result
