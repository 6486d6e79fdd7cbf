"""The validation of a land-cover map: draw the reference sample, then score the map on it.

Olofsson et al. (2014) practice in two steps. `draw_validation_sample` draws a stratified
random sample of pixels (map classes as strata, allocation as ``allocate_sample``) and returns
it as points for photo-interpreters (GeoPackage-ready, one empty ``reference`` column to fill).
`assess_map` reads the map at the labelled points and gives the sample counts (rows map, columns
reference) and the mapped area of each class in hectares: the two inputs of
``stratified_estimates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .accuracy import allocate_sample, confusion_matrix, draw_stratified_sample

__all__ = ["MapAssessment", "assess_map", "draw_validation_sample", "mapped_area_ha"]


def _pixel_ha(class_map: xr.DataArray) -> float:
    res = class_map.odc.geobox.resolution
    return abs(float(res.x) * float(res.y)) / 1e4


def mapped_area_ha(class_map: xr.DataArray, classes: Any = None, nodata: int = 0) -> pd.Series:
    """Hectares of each class on the map (index: class code), by counting pixels."""
    values = np.asarray(class_map.values)
    codes, counts = np.unique(values[np.isfinite(values) & (values != nodata)]
                              if values.dtype.kind == "f" else values[values != nodata],
                              return_counts=True)
    area = pd.Series(counts * _pixel_ha(class_map), index=codes.astype(int), name="ha")
    if classes is not None:
        area = area.reindex(list(classes), fill_value=0.0)
    return area.rename_axis("class")


def draw_validation_sample(
    class_map: xr.DataArray,
    n: int,
    *,
    allocation: str = "minimum",
    min_per_class: int = 50,
    seed: int = 0,
    nodata: int = 0,
) -> Any:
    """A stratified random sample of the map's pixels as points (a GeoDataFrame in the map's
    CRS) with ``sample_id``, ``map_class``, ``x``, ``y``, ``longitude``, ``latitude`` and an empty
    ``reference`` column for the interpreters. A class with fewer pixels than its share gives
    all of them."""
    import geopandas as gpd

    area = mapped_area_ha(class_map, nodata=nodata)
    if area.empty:
        raise ValueError("class_map: no mapped pixels to sample")
    per_class = allocate_sample(n, area.to_dict(), method=allocation,
                                min_per_class=min(min_per_class, n // max(len(area), 1)))
    pixels = (area / _pixel_ha(class_map)).round().astype(int)
    per_class = {c: min(k, int(pixels[c])) for c, k in per_class.items()}
    rows, cols = draw_stratified_sample(np.asarray(class_map.values), per_class, seed=seed,
                                        nodata=nodata).T
    geobox = class_map.odc.geobox
    xs, ys = geobox.affine @ (cols + 0.5, rows + 0.5)
    points = gpd.GeoDataFrame(
        {"sample_id": np.arange(1, rows.size + 1), "map_class": np.asarray(class_map.values)[rows, cols].astype(int),
         "x": xs, "y": ys, "reference": pd.array([pd.NA] * rows.size, dtype="Int64")},
        geometry=gpd.points_from_xy(xs, ys), crs=geobox.crs.to_wkt())
    lonlat = points.geometry.to_crs("EPSG:4326")
    points.insert(4, "longitude", lonlat.x.to_numpy())
    points.insert(5, "latitude", lonlat.y.to_numpy())
    return points


@dataclass(frozen=True)
class MapAssessment:
    """The sample counts and mapped areas that ``stratified_estimates`` takes.

    Attributes:
        confusion: sample counts, rows map class, columns reference class (every class of the
            map or the sample).
        mapped_area_ha: hectares per class on the map, in the confusion's order.
        xy: the labelled points in the map's CRS (for drawing them).
        skipped: points left out and why (outside the map, no reference label).
    """

    confusion: pd.DataFrame
    mapped_area_ha: pd.Series
    xy: tuple[np.ndarray, np.ndarray]
    skipped: pd.DataFrame


def assess_map(class_map: xr.DataArray, sample: Any, reference_column: str = "reference",
               nodata: int = 0) -> MapAssessment:
    """The map's class at each labelled point of ``sample`` (a GeoDataFrame, any CRS) against
    its ``reference_column``. Points outside the map or without a reference label are skipped
    and listed, never silently dropped."""
    if reference_column not in sample.columns:
        raise KeyError(f"sample has no column {reference_column!r} "
                       f"(columns: {', '.join(map(str, sample.columns))})")
    geobox = class_map.odc.geobox
    points = sample.to_crs(geobox.crs.to_wkt())
    xs, ys = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    cols, rows = ~geobox.affine @ (xs, ys)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < geobox.shape[0]) & (cols >= 0) & (cols < geobox.shape[1])
    reference = pd.to_numeric(points[reference_column], errors="coerce").to_numpy(dtype=float)
    labelled = np.isfinite(reference)
    values = np.asarray(class_map.values)
    mapped = np.full(rows.size, np.nan)
    mapped[inside] = values[rows[inside], cols[inside]]
    on_map = inside & np.isfinite(mapped) & (mapped != nodata)
    keep = on_map & labelled
    why = np.where(~inside, "outside the map", np.where(~on_map, "no map class (nodata)",
                                                         "no reference label"))
    skipped = pd.DataFrame({"row": np.flatnonzero(~keep), "why": why[~keep]})
    area = mapped_area_ha(class_map, nodata=nodata)
    classes = sorted(set(area.index) | set(reference[keep].astype(int).tolist()))
    confusion = confusion_matrix(reference[keep].astype(int), mapped[keep].astype(int),
                                 classes=classes, nodata=None)
    # a class in the reference but never mapped is a stratum of area 0 (it cannot be sampled)
    return MapAssessment(confusion, area.reindex(classes, fill_value=0.0), (xs[keep], ys[keep]),
                         skipped)
