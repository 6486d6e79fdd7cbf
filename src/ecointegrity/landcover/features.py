"""Feature recipes: named, versioned feature sets computed from the annual products.

A recipe lists (product, band) pairs and whether terrain is used. A model records the recipe it
was trained with, so prediction builds exactly the same features in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from ..cube import LocalCatalog, TimeRange, read_product

__all__ = ["Recipe", "RECIPES", "get_recipe", "build_features", "features_from_catalog", "terrain"]

FEATURE_DIM = "feature"


@dataclass(frozen=True)
class Recipe:
    """A named, versioned feature set: ``(product, band)`` pairs, plus terrain from a DEM."""

    name: str
    version: str
    bands: tuple[tuple[str, str], ...]
    terrain: bool = False
    description: str = ""

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for p, _ in self.bands))

    def feature_names(self) -> list[str]:
        names = [f"{p}.{b}" for p, b in self.bands]
        terrain = ["terrain.elevation", "terrain.slope", "terrain.aspect_sin", "terrain.aspect_cos"]
        return names + (terrain if self.terrain else [])

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "bands": [list(b) for b in self.bands],
                "terrain": self.terrain, "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping) -> Recipe:
        return cls(d["name"], d["version"], tuple(tuple(b) for b in d["bands"]),
                   d.get("terrain", False), d.get("description", ""))


_GM6 = tuple(("geomedian", b) for b in ("blue", "green", "red", "nir", "swir1", "swir2"))
_MADS = (("geomedian", "emad"), ("geomedian", "smad"), ("geomedian", "bcmad"))
_TC = tuple(("tasselled_cap", b) for b in ("brightness", "greenness", "wetness"))
_NDVI = tuple(("ndvi", b) for b in ("ndvi", "ndvi_p10", "ndvi_p50", "ndvi_p90"))

# The MAD-Mex Landsat features: every annual product of the mosaics.
_MADMEX = (*_GM6, *_MADS, *_TC, *_NDVI, ("ndwi", "ndwi"), ("ndwi", "mndwi"), ("wofs", "frequency"))
_VISIBLE_NIR = tuple(("geomedian", b) for b in ("blue", "green", "red", "nir"))

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("madmex-landsat", "1.0.0", _MADMEX,
               description="Geomedian, MADs, tasselled cap, NDVI percentiles, NDWI/MNDWI, WOfS "
               "frequency"),
        Recipe("madmex-landsat-terrain", "1.0.0", _MADMEX, terrain=True,
               description="madmex-landsat plus elevation, slope and aspect"),
        Recipe("visible-nir", "1.0.0", (*_VISIBLE_NIR, *_MADS, *_NDVI, ("ndwi", "ndwi")),
               description="For sensors without SWIR (CBERS-4 AWFI, some aerial cameras)"),
    ]
}


def get_recipe(name: str | Recipe) -> Recipe:
    if isinstance(name, Recipe):
        return name
    try:
        return RECIPES[name]
    except KeyError:
        raise KeyError(f"unknown feature recipe {name!r}; known: {', '.join(RECIPES)}") from None


def terrain(dem: xr.DataArray) -> dict[str, xr.DataArray]:
    """Elevation, slope (degrees) and aspect (as sine and cosine: it is circular) of a DEM (y, x).

    Pixel sizes come from the coordinates, so the DEM must be in a projected CRS (metres).
    """
    z = dem.values.astype(np.float64)
    dy = float(abs(dem.y[1] - dem.y[0])) if dem.sizes["y"] > 1 else 1.0
    dx = float(abs(dem.x[1] - dem.x[0])) if dem.sizes["x"] > 1 else 1.0
    dz_dy, dz_dx = np.gradient(z, dy, dx)
    dz_dy = -dz_dy  # rows run north to south
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    aspect = np.arctan2(-dz_dx, -dz_dy)  # direction the slope faces, clockwise from north

    def like(values: np.ndarray) -> xr.DataArray:  # on the DEM's grid
        return xr.DataArray(values.astype(np.float32), dims=dem.dims, coords=dem.coords)

    return {
        "terrain.elevation": like(z),
        "terrain.slope": like(slope),
        "terrain.aspect_sin": like(np.sin(aspect)),
        "terrain.aspect_cos": like(np.cos(aspect)),
    }


def build_features(
    products: Mapping[str, xr.Dataset], recipe: Recipe | str, dem: xr.DataArray | None = None
) -> xr.DataArray:
    """Stack a recipe's features from product datasets into a (feature, y, x) float32 array.

    Raises:
        KeyError: a product or band of the recipe is missing, or terrain without a DEM.
    """
    recipe = get_recipe(recipe)
    layers = []
    for product, band in recipe.bands:
        if product not in products or band not in products[product]:
            have = {p: sorted(map(str, ds.data_vars)) for p, ds in products.items()}
            raise KeyError(f"recipe {recipe.name!r} needs {product}.{band}; available: {have}")
        layers.append(products[product][band].astype(np.float32))
    if recipe.terrain:
        if dem is None:
            raise KeyError(f"recipe {recipe.name!r} uses terrain: give a DEM")
        layers += list(terrain(dem).values())
    stacked = xr.concat(
        [layer.drop_vars("spatial_ref", errors="ignore") for layer in layers], dim=FEATURE_DIM
    )
    stacked = stacked.assign_coords({FEATURE_DIM: recipe.feature_names()})
    spatial_ref = next(
        (ds.spatial_ref for ds in products.values() if "spatial_ref" in ds.coords), None
    )
    return stacked.assign_coords(spatial_ref=spatial_ref) if spatial_ref is not None else stacked


def features_from_catalog(
    catalog: LocalCatalog,
    recipe: Recipe | str,
    period: TimeRange | str | int,
    geobox: GeoBox,
    dem: xr.DataArray | None = None,
) -> xr.DataArray:
    """Read the products a recipe needs from a product catalog and build its features."""
    recipe = get_recipe(recipe)
    wanted: dict[str, list[str]] = {}
    for product, band in recipe.bands:
        wanted.setdefault(product, []).append(band)
    products = {p: read_product(catalog, p, period, geobox, bands) for p, bands in wanted.items()}
    return build_features(products, recipe, dem)
