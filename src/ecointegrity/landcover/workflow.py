"""The land-cover workflow at the I/O edge: reference data in, models and maps and change out.

These are the steps behind ``ecointegrity landcover ...``; the computations they call are pure
functions of the other modules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from odc.geo.geobox import GeoBox

from ..cube import LocalCatalog, TimeRange, read_product, read_raster, write_cog
from ..io import atomic_path
from .change import FROM_TO_FACTOR, ChangeResult, change_matrix, detect_change, spectral_distance
from .features import Recipe, features_from_catalog
from .mapping import landcover_spec, to_polygons, write_polygons
from .model import LandCoverModel
from .schemes import load_scheme
from .training import rasterize_reference, read_reference, sample_training

__all__ = ["reference_labels", "train_model", "ChangeOutputs", "map_change"]

REFLECTANCE = ("blue", "green", "red", "nir", "swir1", "swir2")


def reference_labels(
    path: str | os.PathLike, geobox: GeoBox, *, column: str | None = None, nodata: int = 0
) -> np.ndarray:
    """Reference classes on ``geobox`` from polygons (GeoPackage, Shapefile, GeoParquet; needs
    ``column``) or from a label raster (any GDAL format, resampled by nearest neighbour)."""
    path = str(path)
    if path.lower().endswith((".tif", ".tiff", ".vrt", ".img")):
        return read_raster(path, geobox, categorical=True, dtype="int32", nodata=nodata,
                           what="label raster")
    if column is None:
        raise ValueError(f"{path}: reference polygons need the name of their class column")
    return rasterize_reference(read_reference(path), geobox, column, nodata=nodata)


def train_model(
    products: LocalCatalog,
    geobox: GeoBox,
    year: int,
    labels: np.ndarray,
    *,
    scheme: str,
    recipe: Recipe | str = "madmex-landsat",
    algorithm: str = "lightgbm",
    per_class: int = 2000,
    block_px: int = 32,
    seed: int = 0,
) -> LandCoverModel:
    """Sample the year's features under the labels, cross-validate by blocks, fit."""
    load_scheme(scheme).validate_codes(labels[labels != load_scheme(scheme).nodata])
    features = features_from_catalog(products, recipe, year, geobox)
    training = sample_training(labels, features, per_class=per_class, block_px=block_px, seed=seed,
                               nodata=load_scheme(scheme).nodata)
    extent = list(geobox.footprint("epsg:4326").boundingbox)
    return LandCoverModel(scheme, recipe, algorithm, random_state=seed).fit(
        training, extent=extent, period=str(year)
    )


@dataclass(frozen=True)
class ChangeOutputs:
    result: ChangeResult
    matrix: pd.DataFrame
    raster: Path
    polygons: Path
    matrix_csv: Path


def map_change(
    maps: LocalCatalog,
    products: LocalCatalog,
    scheme: str,
    geobox: GeoBox,
    before: int,
    after: int,
    out_dir: str | os.PathLike,
    *,
    mmu_ha: float = 0.5,
    spectral_evidence: bool = True,
) -> ChangeOutputs:
    """Change between two years' land-cover maps: a from-to COG, polygons and a matrix in ha."""
    spec = landcover_spec(scheme)
    sch = load_scheme(scheme)
    if sch.nodata is None:  # unmapped pixels (NaN) must become a code that never changes
        raise ValueError(f"scheme {sch.name!r} has no nodata code: change maps need one")
    nodata = sch.nodata
    lc = {
        y: read_product(maps, spec.name, y, geobox, ["class"])["class"].values
        for y in (before, after)
    }
    lc = {y: np.nan_to_num(v, nan=nodata).astype(np.int32) for y, v in lc.items()}
    distance = None
    if spectral_evidence:
        gm = {y: read_product(products, "geomedian", y, geobox) for y in (before, after)}
        bands = [b for b in REFLECTANCE if b in gm[before] and b in gm[after]]
        distance = spectral_distance(gm[before], gm[after], bands)
    pixel_area = abs(geobox.resolution.x * geobox.resolution.y)
    result = detect_change(
        lc[before],
        lc[after],
        distance=distance,
        pixel_area_m2=pixel_area,
        mmu_ha=mmu_ha,
        nodata=nodata,
    )
    out = Path(out_dir)
    stem = f"change-{sch.name}-{before}-{after}"
    raster = out / f"{stem}.tif"
    write_cog(
        raster,
        result.from_to.astype(np.uint16),
        geobox,
        nodata=0,
        band_names=["from_to"],
        tags={
            "scheme": sch.name,
            "coding": f"from * {FROM_TO_FACTOR} + to",
            "period": str(TimeRange.years(before, after)),
        },
    )
    names = sch.names("es")
    polygons = to_polygons(result.from_to, geobox, nodata=0, value_name="from_to")
    polygons["from"] = polygons["from_to"] // FROM_TO_FACTOR
    polygons["to"] = polygons["from_to"] % FROM_TO_FACTOR
    polygons["from_name"] = polygons["from"].map(names)
    polygons["to_name"] = polygons["to"].map(names)
    write_polygons(polygons, out / f"{stem}.gpkg", layer="change")
    matrix = change_matrix(lc[before], lc[after], pixel_area_m2=pixel_area, nodata=nodata)
    matrix_csv = out / f"{stem}-matrix-ha.csv"
    with atomic_path(matrix_csv, suffix=".csv") as tmp:
        matrix.to_csv(tmp)
    return ChangeOutputs(result, matrix, raster, out / f"{stem}.gpkg", matrix_csv)
