"""Figures of EI maps that reports quote: area per EI class, statistics per region and year.

Pure functions over the maps (per year, a dataset with ``ei`` and ``ei_sd`` on the cell grid)
and polygons (a GeoDataFrame); the documents that print them are ``ecointegrity.reports``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["EI_CLASSES", "INTACT", "area_by_class", "cell_area_km2", "region_masks", "region_names",
           "region_statistics", "region_trends"]

# CONABIO's scripts call EI >= 0.75 "intact"; the lower breaks split the rest in equal steps.
# (lower bound, upper bound, key); reports name the keys in the reader's language.
EI_CLASSES: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.25, "heavily_transformed"),
    (0.25, 0.5, "transformed"),
    (0.5, 0.75, "partly_transformed"),
    (0.75, 1.0001, "intact"),
)
INTACT = 0.75


def cell_area_km2(ds: xr.Dataset) -> float:
    """km2 of one cell of a map on an odc-geo grid."""
    res = ds.odc.geobox.resolution
    return abs(float(res.x) * float(res.y)) / 1e6


def area_by_class(maps: Mapping[int, xr.Dataset]) -> pd.DataFrame:
    """km2 of each EI class (rows, keys of `EI_CLASSES`) per year (columns); cells with an EI."""
    rows = []
    for year, ds in sorted(maps.items()):
        ei = ds.ei.values
        for lo, hi, name in EI_CLASSES:
            rows.append({"year": year, "class": name,
                         "km2": float(((ei >= lo) & (ei < hi)).sum() * cell_area_km2(ds))})
    return (pd.DataFrame(rows).pivot(index="class", columns="year", values="km2")
            .loc[[c[2] for c in EI_CLASSES]])


def region_names(regions: Any, name_column: str | None) -> list[str]:
    """The regions' names in file order (``region 1``... without a name column)."""
    if name_column is None:
        return [f"region {i + 1}" for i in range(len(regions))]
    if name_column not in regions.columns:
        raise KeyError(f"regions have no column {name_column!r} "
                       f"(columns: {', '.join(map(str, regions.columns))})")
    return [str(v) for v in regions[name_column]]


def region_masks(regions: Any, grid: Any, name_column: str | None = None) -> dict[str, np.ndarray]:
    """Per polygon, the boolean mask of the cells of ``grid`` (an odc-geo GeoBox) whose centre
    it contains, in file order; keys are the names (``region 1``... without a name column)."""
    from rasterio.features import rasterize

    shapes = regions.to_crs(grid.crs.to_wkt())
    names = region_names(regions, name_column)
    if len(set(names)) != len(names):
        dups = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"region names repeat in column {name_column!r}: {dups}")
    return {
        name: rasterize([(geometry, 1)], out_shape=grid.shape, transform=grid.affine, fill=0,
                        all_touched=False).astype(bool)
        for name, geometry in zip(names, shapes.geometry, strict=True)
    }


def _stats(ds: xr.Dataset, mask: np.ndarray) -> dict[str, float]:
    ei = ds.ei.values[mask]
    valid = np.isfinite(ei)
    ei = ei[valid]
    if not ei.size:
        return {"cells": 0, "km2": 0.0, "mean_ei": np.nan, "mean_sd": np.nan,
                "intact_percent": np.nan, "ei_p10": np.nan, "ei_p90": np.nan}
    sd = ds.ei_sd.values[mask][valid]
    return {
        "cells": int(ei.size),
        "km2": ei.size * cell_area_km2(ds),
        "mean_ei": float(ei.mean()),
        "mean_sd": float(np.nanmean(sd)),
        "intact_percent": float((ei >= INTACT).mean() * 100),
        "ei_p10": float(np.percentile(ei, 10)),
        "ei_p90": float(np.percentile(ei, 90)),
    }


def region_statistics(ds: xr.Dataset, regions: Any, name_column: str | None) -> pd.DataFrame:
    """Per polygon of ``regions`` (a GeoDataFrame): cells, km2, mean EI, mean sd, % intact and
    the 10th and 90th percentiles of EI, for one year's map."""
    masks = region_masks(regions, ds.odc.geobox, name_column)
    return pd.DataFrame([{"region": name, **_stats(ds, mask)} for name, mask in masks.items()])


def region_trends(maps: Mapping[int, xr.Dataset], regions: Any,
                  name_column: str | None) -> pd.DataFrame:
    """`region_statistics` for every year (long table: region, year, ...), plus the change
    against the first year: mean EI change and km2 where a cell's EI fell or rose by more than
    0.1 (``loss_km2``, ``gain_km2``)."""
    if not maps:
        raise ValueError("no EI maps to summarise")
    years = sorted(maps)
    first = maps[years[0]]
    masks = region_masks(regions, first.odc.geobox, name_column)
    rows = []
    for name, mask in masks.items():
        base = _stats(first, mask)["mean_ei"]
        for year in years:
            ds = maps[year]
            diff = (ds.ei.values - first.ei.values)[mask]
            cell = cell_area_km2(ds)
            stats = _stats(ds, mask)
            rows.append({"region": name, "year": year, **stats,
                         "change_mean_ei": stats["mean_ei"] - base,
                         "loss_km2": float(np.sum(diff < -0.1) * cell),
                         "gain_km2": float(np.sum(diff > 0.1) * cell)})
    return pd.DataFrame(rows)
