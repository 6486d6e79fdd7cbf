"""The scene simulator extended with a known integrity field and acoustic sites.

``cube.simulate`` gives a landscape (land cover) and its true reflectance; this adds what no
land-cover map shows: a smooth hidden **degradation** field (logging, fire, grazing) inside the
natural classes, stronger near fields and town. Then, per simulated pixel,

    hemeroby = table[land cover] + 8 * degradation (natural classes only), clipped to 0..18,

and the known integrity of a cell is EI = 1 - mean(hemeroby) / 18. The EO evidence sees the
degradation only partly: the annual NDVI median and 10th percentile of the true reflectance
lose 0.15 * degradation (thinned canopy), under persistent per-pixel variation (sd 0.04) and
per-date noise (sd 0.03). Recorders at ``n_sites`` random land cells
hear anthropogenic events at a rate that grows with the cell's hemeroby,
``events ~ Poisson(hours / 100 * exp(-1 + 0.2 * hemeroby))``, and fewer bat passes,
``passes ~ Poisson(nights * exp(3 - 0.12 * hemeroby))``, over a random effort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from scipy.ndimage import distance_transform_edt, gaussian_filter

from ..cube import default_geobox, simulate
from .grid import cell_statistics, cell_table, class_shares
from .hemeroby import HemerobyTable, load_hemeroby_table

__all__ = ["IntegrityScene", "simulate_integrity"]

NATURAL = (1, 2, 3, 8)  # simulator classes: forest, shrubland, grassland, wetland
DRIVER_CLASSES = {3: "grassland", 4: "cropland", 5: "water", 6: "built_up", 7: "bare"}


@dataclass
class IntegrityScene:
    """A simulated area with its known integrity.

    Attributes:
        layers: the cell grid's inputs: class shares (``share_<name>``), ``valid_fraction``,
            ``ndvi_p50``, ``ndvi_p10``, ``distance_km`` (to the nearest field or town).
        truth: ``hemeroby`` (cell mean), ``ei`` (known integrity), ``degradation`` (cell mean).
        sites: one row per recorder: site, latitude, longitude, row, col, recording_hours,
            n_nights, anthropogenic_events, anthropogenic_per_100h, bat_passes,
            bat_passes_per_night (the columns of ``acoustics.site_evidence`` that matter).
        table: the hemeroby table the label comes from.
    """

    layers: xr.Dataset
    truth: xr.Dataset
    sites: pd.DataFrame
    table: HemerobyTable

    def cells(self) -> pd.DataFrame:
        """Layers and truth as one table (row, col, x, y, ...), with the sites' evidence on the
        cells that hold one (effort and counts summed over a cell's sites; NaN elsewhere)."""
        table = cell_table(xr.merge([self.layers, self.truth], compat="override"))
        evidence = self.sites.groupby(["row", "col"])[
            ["recording_hours", "n_nights", "anthropogenic_events", "bat_passes"]
        ].sum()
        evidence["anthropogenic_per_100h"] = (
            evidence.anthropogenic_events / evidence.recording_hours * 100
        )
        evidence["bat_passes_per_night"] = evidence.bat_passes / evidence.n_nights
        return table.join(evidence, on=["row", "col"])


def simulate_integrity(geobox: GeoBox | None = None, *, cell_size: float = 150.0, year: int = 2021,
                       n_sites: int = 60, seed: int = 0) -> IntegrityScene:
    """Simulate a landscape with a known integrity field (see the module docstring).

    Args:
        geobox: the 30 m grid of the scene simulator (default: its 6 km Bacalar scene).
        cell_size: the integrity grid's cell, a whole multiple of the pixel size.
        year: the simulated year.
        n_sites: recorders placed on random land cells.
        seed: seeds the scene, the degradation, the EO noise and the recorders.
    """
    geobox = geobox or default_geobox()
    scenes = simulate(geobox, start_year=year, end_year=year, cloud_cover=0.2, seed=seed)
    land_cover = scenes.truth.land_cover.isel(year=0, drop=True)
    lc = land_cover.values
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    table = load_hemeroby_table("simulator-8-hemeroby")

    natural = np.isin(lc, NATURAL)
    used = np.isin(lc, (4, 6, 7))  # cropland, built-up, bare
    distance_km = distance_transform_edt(~used) * abs(float(geobox.resolution.x)) / 1000
    field = gaussian_filter(rng.standard_normal(lc.shape), sigma=12)
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    degradation = np.clip(0.6 * field + 0.6 * np.exp(-distance_km / 0.8) - 0.15, 0, 1) * natural
    hemeroby = np.clip(table.apply(lc) + 8 * degradation, 0, table.maximum)

    reflectance = scenes.truth.reflectance
    red, nir = reflectance.sel(band="red").values, reflectance.sel(band="nir").values
    ndvi = (nir - red) / (nir + red + 1e-9)
    # canopy thinning shows only partly: a small NDVI loss under persistent per-pixel variation
    ndvi = (
        ndvi
        - 0.15 * degradation[None]
        + rng.normal(0, 0.04, lc.shape)[None]
        + rng.normal(0, 0.03, ndvi.shape)
    )
    coords = land_cover.coords
    pixel = {
        "ndvi_p50": xr.DataArray(np.median(ndvi, axis=0), coords=coords, dims=land_cover.dims),
        "ndvi_p10": xr.DataArray(
            np.quantile(ndvi, 0.1, axis=0), coords=coords, dims=land_cover.dims
        ),
        "distance_km": xr.DataArray(distance_km, coords=coords, dims=land_cover.dims),
        "degradation": xr.DataArray(degradation, coords=coords, dims=land_cover.dims),
    }
    shares = class_shares(land_cover, cell_size, DRIVER_CLASSES)
    shares = shares.rename({f"share_{c}": f"share_{name}" for c, name in DRIVER_CLASSES.items()})
    layers = xr.merge(
        [
            shares,
            *(
                cell_statistics(pixel[n], cell_size, name=n)[f"{n}_mean"].rename(n)
                for n in ("ndvi_p50", "ndvi_p10", "distance_km")
            ),
        ],
        compat="override",
    )
    hem_pixels = xr.DataArray(hemeroby, coords=coords, dims=land_cover.dims)
    hem_cells = cell_statistics(hem_pixels, cell_size, name="hemeroby")["hemeroby_mean"].rename(
        "hemeroby"
    )
    truth = xr.Dataset(
        {
            "hemeroby": hem_cells,
            "ei": 1 - hem_cells / table.maximum,
            "degradation": cell_statistics(pixel["degradation"], cell_size, name="degradation")[
                "degradation_mean"
            ],
        }
    )
    truth.attrs.update(hemeroby_table=table.label, seed=seed)
    sites = _recorders(layers, truth, n_sites, rng)
    return IntegrityScene(layers, truth, sites, table)


def _recorders(
    layers: xr.Dataset, truth: xr.Dataset, n_sites: int, rng: np.random.Generator
) -> pd.DataFrame:
    land = np.argwhere(np.isfinite(truth.hemeroby.values) & (layers.valid_fraction.values > 0.99))
    rows, cols = land[rng.choice(len(land), size=min(n_sites, len(land)), replace=False)].T
    hem = truth.hemeroby.values[rows, cols]
    hours = rng.uniform(24, 600, len(rows))
    nights = np.maximum(1, np.round(hours / 12)).astype(int)
    events = rng.poisson(hours / 100 * np.exp(-1 + 0.2 * hem))
    passes = rng.poisson(nights * np.exp(3 - 0.12 * hem))
    grid = layers.odc.geobox
    x, y = grid.affine @ (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(grid.crs.to_wkt(), "EPSG:4326", always_xy=True).transform(x, y)
    return pd.DataFrame(
        {
            "site": [f"S{i:03d}" for i in range(len(rows))],
            "latitude": lat,
            "longitude": lon,
            "row": rows,
            "col": cols,
            "recording_hours": hours,
            "n_nights": nights,
            "anthropogenic_events": events,
            "anthropogenic_per_100h": events / hours * 100,
            "bat_passes": passes,
            "bat_passes_per_night": passes / nights,
        }
    )
