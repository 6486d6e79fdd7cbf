"""Training data: reference labels on the map grid, and samples drawn in spatial blocks.

Neighbouring pixels are nearly copies of each other; validating on pixels next to training
pixels reports the map as far better than it is. So the area is cut into square blocks, every
sample carries its block, cross-validation holds out whole blocks, and a margin along block
edges is never sampled: a validation pixel is at least two margins away from any training
pixel of another block.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.features import rasterize

if TYPE_CHECKING:  # geopandas loads only where reference polygons are read
    import geopandas as gpd

__all__ = ["TrainingSet", "sample_training", "rasterize_reference", "read_reference"]


@dataclass(frozen=True)
class TrainingSet:
    """Samples: features ``X`` (n, f), labels ``y`` (n,), spatial ``blocks`` (n,), positions."""

    X: np.ndarray
    y: np.ndarray
    blocks: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> dict[int, int]:
        codes, counts = np.unique(self.y, return_counts=True)
        return {int(c): int(n) for c, n in zip(codes, counts, strict=True)}


def sample_training(
    labels: np.ndarray,
    features: xr.DataArray,
    *,
    per_class: int = 2000,
    block_px: int = 32,
    margin_px: int = 1,
    nodata: int | None = 0,
    seed: int = 0,
) -> TrainingSet:
    """Stratified random sample of labelled pixels with valid features.

    Args:
        labels: (y, x) reference classes on the features' grid; ``nodata`` is unlabelled
            (None, a scheme without a nodata code: every pixel is labelled).
        features: (feature, y, x) as :func:`build_features` returns.
        per_class: cap per class (all pixels of rarer classes are kept).
        block_px: side of the spatial blocks, in pixels.
        margin_px: pixels along each block edge that are never sampled.
        seed: random seed.
    """
    values = np.asarray(features.values, dtype=np.float32)
    if labels.shape != values.shape[1:]:
        raise ValueError(
            f"labels {labels.shape} and features {values.shape[1:]} are not on one grid"
        )
    rows, cols = np.indices(labels.shape)
    inside = (rows % block_px >= margin_px) & (rows % block_px < block_px - margin_px)
    inside &= (cols % block_px >= margin_px) & (cols % block_px < block_px - margin_px)
    usable = (labels != nodata) & inside & np.isfinite(values).all(axis=0)
    rng = np.random.default_rng(seed)
    picked = []
    for code in np.unique(labels[usable]):
        where = np.flatnonzero(usable & (labels == code))
        picked.append(rng.choice(where, size=min(per_class, where.size), replace=False))
    if not picked:
        raise ValueError("no labelled pixel with valid features to train on")
    flat = np.sort(np.concatenate(picked))
    r, c = np.unravel_index(flat, labels.shape)
    blocks_per_row = -(-labels.shape[1] // block_px)
    return TrainingSet(
        X=values[:, r, c].T.copy(),
        y=labels[r, c].astype(np.int32),
        blocks=(r // block_px) * blocks_per_row + c // block_px,
        rows=r,
        cols=c,
        feature_names=tuple(str(f) for f in features[features.dims[0]].values),
    )


def read_reference(path: str | os.PathLike, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Reference polygons from a GeoPackage, Shapefile or GeoParquet file (a GeoDataFrame)."""
    import geopandas as gpd

    path = str(path)
    try:
        if path.endswith((".parquet", ".geoparquet")):
            return gpd.read_parquet(path)
        return gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - every reader error becomes one clear message
        raise ValueError(f"{path}: cannot read reference polygons ({exc})") from None


def rasterize_reference(
    polygons: gpd.GeoDataFrame, geobox: GeoBox, column: str, *, nodata: int = 0
) -> np.ndarray:
    """Burn reference polygons' class codes (``column``) onto a grid; overlaps take the last."""
    if column not in polygons.columns:
        raise KeyError(
            f"reference polygons have no column {column!r}; columns: {list(polygons.columns)}"
        )
    if polygons.crs is None:
        raise ValueError("reference polygons have no CRS")
    if geobox.crs is None:
        raise ValueError("the grid has no CRS: reference polygons cannot be burnt onto it")
    shapes = polygons.to_crs(geobox.crs.to_wkt())
    pairs = [
        (geom, int(code)) for geom, code in zip(shapes.geometry, shapes[column], strict=True)
        if geom is not None
    ]
    return rasterize(
        pairs, out_shape=geobox.shape, transform=geobox.affine, fill=nodata, dtype="int32"
    )
