"""Wall-to-wall maps: predict tile by tile, apply the minimum mapping unit, write COGs (with the
scheme's colour table) and STAC items, optionally polygons (GeoPackage)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.features import shapes, sieve

from ..cube import (
    LocalCatalog,
    ProductBand,
    ProductSpec,
    Tile,
    TimeRange,
    has_product,
    prepare_product,
    run_tiles,
    update_overviews,
    write_product,
)
from ..io import atomic_path, is_local
from .features import features_from_catalog
from .model import LandCoverModel
from .schemes import load_scheme
from .segmentation import paint, segment, zonal_mean

if TYPE_CHECKING:  # geopandas loads only where polygons are made
    import geopandas as gpd

__all__ = [
    "landcover_spec",
    "sieve_mmu",
    "classify",
    "LandCoverTask",
    "LandCoverRun",
    "run_landcover",
    "to_polygons",
    "write_polygons",
]


def landcover_spec(scheme: str) -> ProductSpec:
    """The land-cover product of a scheme: class codes (with a colour table) and confidence."""
    sch = load_scheme(scheme)
    return ProductSpec(
        name=f"landcover-{sch.name}",
        title=f"Land cover ({sch.title})",
        description=f"Land-cover classes of scheme {sch.name} {sch.version}, and the "
        "classifier's confidence.",
        bands=(
            ProductBand(
                "class",
                "uint8" if max(sch.codes) < 255 else "uint16",
                nodata=sch.nodata,
                description="class code",
            ),
            ProductBand(
                "confidence",
                "uint8",
                nodata=255,
                scale=0.01,
                description="probability of the mapped class",
            ),
        ),
        colormap="scheme",
        extra={
            "scheme": sch.name,
            "scheme_version": sch.version,
            "default_band": "class",
            "legend": {str(c): name for c, name in sch.names("es").items()},
            "public": {
                "es": {"name": "Cobertura del suelo",
                       "summary": "Qué cubre el terreno: bosque, cultivo, agua, ciudad…",
                       "classes": {str(c): n for c, n in sch.names("es").items()}},
                "en": {"name": "Land cover",
                       "summary": "What covers the land: forest, crops, water, towns…",
                       "classes": {str(c): n for c, n in sch.names("en").items()}},
            },
        },
    )


def sieve_mmu(
    classes: np.ndarray, *, pixel_area_m2: float, mmu_ha: float, nodata: int | None = 0
) -> np.ndarray:
    """Merge patches smaller than the minimum mapping unit into their largest neighbour.

    ``nodata`` pixels are left as they are; None (a scheme without a nodata code) sieves every
    pixel."""
    min_px = math.ceil(mmu_ha * 10_000 / pixel_area_m2)
    if min_px <= 1:
        return classes
    out = sieve(classes.astype(np.int32), size=min_px, connectivity=8, mask=classes != nodata)
    return out.astype(classes.dtype)


def classify(
    model: LandCoverModel,
    features: xr.DataArray,
    *,
    mode: Literal["pixel", "object"] = "pixel",
    segment_px: int = 30,
    nodata: int = 0,
) -> xr.Dataset:
    """Class and confidence per pixel, or per segment painted back to pixels (object mode).

    Object mode segments the recipe's geomedian bands (SLIC) and classifies each segment by the
    mean of its features, as MAD-Mex's object-based maps do.
    """
    if mode == "pixel":
        return model.predict_map(features, nodata=nodata)
    gm = [f for f in model.feature_names_ if f.startswith("geomedian.") and f.split(".")[1] in
          ("blue", "green", "red", "nir", "swir1", "swir2")]
    segments = segment(features.sel(feature=gm), "slic", segment_px=segment_px)
    means = zonal_mean(features, segments)
    per_segment = xr.DataArray(means.T[:, :, None], dims=("feature", "y", "x"),
                               coords={"feature": features.feature.values})
    predicted = model.predict_map(per_segment, nodata=nodata)
    result = xr.Dataset(
        {"class": (("y", "x"), paint(predicted["class"].values[:, 0], segments, nodata)),
         "confidence": (("y", "x"), paint(predicted["confidence"].values[:, 0], segments, np.nan))},
        coords={k: v for k, v in features.coords.items() if k in ("y", "x", "spatial_ref")},
        attrs=predicted.attrs,
    )
    result.attrs["segments"] = int(segments.max())
    return result


def _load_model(path: str) -> LandCoverModel:
    """The model at ``path``; a local file is loaded (and its forest compiled) once per process
    and file version, not once per tile and year (1-2 s each: 30 years x 2 tiles in the demo)."""
    if not is_local(path):
        return LandCoverModel.load(path)
    stat = os.stat(path[len("file://"):] if path.startswith("file://") else path)
    return _cached_model(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _cached_model(path: str, mtime_ns: int, size: int) -> LandCoverModel:
    return LandCoverModel.load(path)


@dataclass(frozen=True)
class LandCoverTask:
    """One tile and year: features from the product catalog, classify, sieve, write (picklable)."""

    model_path: str
    products_catalog: str
    out_catalog: str
    year: int
    mode: str = "pixel"
    mmu_ha: float = 0.5
    overwrite: bool = False

    def __call__(self, tile: Tile) -> pystac.Item | None:
        model = _load_model(self.model_path)
        spec = landcover_spec(model.scheme)
        out = LocalCatalog(self.out_catalog)
        period = TimeRange.years(self.year)
        if not self.overwrite and has_product(out, spec.name, tile, period):
            return None
        features = features_from_catalog(
            LocalCatalog(self.products_catalog), model.recipe, period, tile.geobox
        )
        result = classify(model, features, mode=self.mode)  # type: ignore[arg-type]
        pixel_area = abs(tile.geobox.resolution.x * tile.geobox.resolution.y)
        nodata = load_scheme(model.scheme).nodata
        result["class"] = (("y", "x"), sieve_mmu(result["class"].values, pixel_area_m2=pixel_area,
                                                   mmu_ha=self.mmu_ha, nodata=nodata))
        return write_product(
            out,
            spec,
            tile,
            period,
            result,
            register=False,
            colormaps={"class": load_scheme(model.scheme).colormap()},
            properties={
                "ecointegrity:model": os.path.basename(self.model_path),
                "ecointegrity:mmu_ha": self.mmu_ha,
                "ecointegrity:mode": self.mode,
                "ecointegrity:recipe": f"{model.recipe.name}@{model.recipe.version}",
            },
        )


@dataclass
class LandCoverRun:
    written: list[pystac.Item] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def run_landcover(
    model_path: str,
    products_catalog: str,
    out_catalog: str,
    tiles: Sequence[Tile],
    years: Iterable[int],
    *,
    mode: str = "pixel",
    mmu_ha: float = 0.5,
    overwrite: bool = False,
    scheduler: object = None,
    progress: bool = True,
    on_tile: Callable[[str, str | None], None] | None = None,
) -> LandCoverRun:
    """Land-cover maps for every tile and year (tiles run on Dask when a scheduler is given)."""
    spec = landcover_spec(LandCoverModel.load(model_path).scheme)
    out = LocalCatalog(out_catalog)
    prepare_product(out, spec)
    run = LandCoverRun()
    for year in years:
        task = LandCoverTask(
            str(model_path), str(products_catalog), out.root, year, mode, mmu_ha, overwrite
        )
        tiled = run_tiles(
            task,
            tiles,
            scheduler=scheduler,
            progress=progress,
            description=f"land cover {year}",
            on_tile=on_tile,
        )
        items = [it for it in tiled.results.values() if it is not None]
        out.register_items(spec.name, items)
        if items:  # national viewers read the coarser mosaics above the tiles written
            update_overviews(out, spec.name, year, items)
        run.written += items
        run.skipped += len(tiled.results) - len(items)
        run.failed.update({f"{tid} {year}": err for tid, err in tiled.failed.items()})
    return run


def to_polygons(
    classes: np.ndarray,
    geobox: GeoBox,
    *,
    nodata: int = 0,
    names: dict[int, str] | None = None,
    value_name: str = "class",
) -> gpd.GeoDataFrame:
    """Polygons of equal class (a GeoDataFrame with code, name and area in hectares)."""
    import geopandas as gpd
    from shapely.geometry import shape

    records = [
        (shape(geom), int(value))
        for geom, value in shapes(
            classes.astype(np.int32),
            mask=classes != nodata,
            transform=geobox.affine,
            connectivity=8,
        )
    ]
    if geobox.crs is None:
        raise ValueError("the grid has no CRS: polygons need one")
    gdf = gpd.GeoDataFrame(
        {value_name: [v for _, v in records]},
        geometry=[g for g, _ in records],
        crs=geobox.crs.to_wkt(),
    )
    if names:
        gdf["name"] = gdf[value_name].map(names)
    gdf["area_ha"] = gdf.geometry.area / 10_000
    return gdf


def write_polygons(
    gdf: gpd.GeoDataFrame, path: str | os.PathLike, layer: str = "landcover"
) -> None:
    """Write polygons to a GeoPackage, atomically."""
    with atomic_path(path, suffix=".gpkg") as tmp:
        os.unlink(tmp)  # the driver creates the file itself
        gdf.to_file(tmp, layer=layer, driver="GPKG")
