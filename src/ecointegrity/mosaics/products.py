"""The seven annual products: what each stores, what it needs, and how a map shows it.

The web layer reads these specs (through the product catalog) for legends, colour maps and
value ranges, so everything a viewer needs is here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..cube import ProductBand, ProductSpec

__all__ = [
    "AnnualProduct",
    "PRODUCTS",
    "PRODUCT_NAMES",
    "REFLECTANCE_BANDS",
    "ProductNotSupportedError",
    "supported_products",
    "geomedian_spec",
]

REFLECTANCE_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
NDVI_PERCENTILES = (10, 50, 90)


def _scaled(name: str, description: str, units: str = "1") -> ProductBand:
    # int16 x 1e-4 keeps four decimals of reflectance or index at half the size of float32
    return ProductBand(
        name, "int16", nodata=-32768, scale=0.0001, units=units, description=description
    )


class ProductNotSupportedError(ValueError):
    """A product needs bands the sensor does not have."""


@dataclass(frozen=True)
class AnnualProduct:
    """An annual product: its spec (for one band set), the bands it needs, and its inputs."""

    name: str
    requires: tuple[str, ...]
    uses_series: bool  # needs the clear time series, not only the geomedian
    spec: ProductSpec

    def missing(self, bands: Iterable[str]) -> list[str]:
        have = set(bands)
        return [b for b in self.requires if b not in have]

    def spec_for(self, bands: Iterable[str]) -> ProductSpec:
        """The spec for a sensor's band set: optional bands it cannot make are left out."""
        have = set(bands)
        if self.name == "geomedian":
            return geomedian_spec([b for b in REFLECTANCE_BANDS if b in have])
        if self.name == "ndwi" and "swir1" not in have:
            return replace(self.spec, bands=tuple(b for b in self.spec.bands if b.name != "mndwi"))
        return self.spec


def geomedian_spec(bands: Sequence[str]) -> ProductSpec:
    """The geomedian product for the reflectance bands a sensor has."""
    return ProductSpec(
        name="geomedian",
        title="Geomedian",
        description="Annual geometric median of clear surface reflectance (Roberts et al. 2017), "
        "with the Euclidean, spectral (cosine) and Bray-Curtis median absolute deviations and the "
        "clear-observation count.",
        bands=(
            *(_scaled(b, f"geomedian {b} reflectance") for b in bands),
            ProductBand(
                "emad", "float32", description="median Euclidean distance to the geomedian"
            ),
            ProductBand("smad", "float32", description="median cosine distance to the geomedian"),
            ProductBand(
                "bcmad", "float32", description="median Bray-Curtis dissimilarity to the geomedian"
            ),
            ProductBand(
                "count",
                "uint16",
                nodata=65535,
                units="observations",
                description="clear observations",
            ),
        ),
        colormap="rgb",
        value_range=(0.0, 0.3),
        extra={
            "rgb": ["red", "green", "blue"],
            "false_colour": ["swir1", "nir", "green"],
            "default_band": "red",
            "public": PUBLIC_TEXT["geomedian"],
        },
    )


# What each product is called and shows, in plain words for the public (the web app's tabs and
# legends, the GIFs): Spanish first. ``low``/``high`` name the two ends of a colour ramp.
PUBLIC_TEXT: dict[str, dict[str, dict[str, str]]] = {
    "geomedian": {
        "es": {"name": "Vista del año",
               "summary": "El terreno visto desde el espacio: una imagen sin nubes de cada año."},
        "en": {"name": "View of the year",
               "summary": "The land seen from space: one cloud-free picture for each year."},
    },
    "ndvi": {
        "es": {"name": "Vegetación", "summary": "Qué tan verde y tupida es la vegetación.",
               "low": "menos verde", "high": "más verde"},
        "en": {"name": "Vegetation", "summary": "How green and dense the plants are.",
               "low": "less green", "high": "greener"},
    },
    "tasselled_cap": {
        "es": {"name": "Humedad", "summary": "Qué tan húmedos están el suelo y las plantas.",
               "low": "más seco", "high": "más húmedo"},
        "en": {"name": "Moisture", "summary": "How wet the soil and the plants are.",
               "low": "drier", "high": "wetter"},
    },
    "ndwi": {
        "es": {"name": "Agua", "summary": "Dónde hay agua en la superficie.",
               "low": "tierra seca", "high": "agua"},
        "en": {"name": "Water", "summary": "Where there is water on the surface.",
               "low": "dry land", "high": "water"},
    },
    "wofs": {
        "es": {"name": "Agua durante el año",
               "summary": "En qué parte del año se vio agua en cada lugar.",
               "low": "nunca", "high": "siempre"},
        "en": {"name": "Water through the year",
               "summary": "How much of the year each place was seen under water.",
               "low": "never", "high": "always"},
    },
    "ndbi": {
        "es": {"name": "Construcción", "summary": "Suelo construido o desnudo frente a vegetación.",
               "low": "vegetación", "high": "construido"},
        "en": {"name": "Built-up", "summary": "Built-up or bare ground against vegetation.",
               "low": "vegetation", "high": "built-up"},
    },
    "bu": {
        "es": {"name": "Ciudades", "summary": "Dónde crecen las zonas urbanas.",
               "low": "natural", "high": "urbano"},
        "en": {"name": "Towns and cities", "summary": "Where towns and cities grow.",
               "low": "natural", "high": "urban"},
    },
}


def _product(name: str, requires: tuple[str, ...], uses_series: bool, title: str,
             description: str, bands: tuple[ProductBand, ...], colormap: str,
             value_range: tuple[float, float], default_band: str) -> AnnualProduct:
    spec = ProductSpec(name, title, description, bands, colormap=colormap,
                       value_range=value_range,
                       extra={"default_band": default_band, "public": PUBLIC_TEXT[name]})
    return AnnualProduct(name, requires, uses_series, spec)


PRODUCTS: dict[str, AnnualProduct] = {
    "geomedian": AnnualProduct("geomedian", ("blue", "green", "red"), False,
                               geomedian_spec(REFLECTANCE_BANDS)),
    "tasselled_cap": _product(
        "tasselled_cap", REFLECTANCE_BANDS, False, "Tasselled cap",
        "Tasselled cap brightness, greenness and wetness of the geomedian (Crist 1985 "
        "surface-reflectance coefficients).",
        (_scaled("brightness", "brightness"), _scaled("greenness", "greenness"),
         _scaled("wetness", "wetness")),
        "rdbu", (-0.3, 0.1), "wetness",
    ),
    "ndvi": _product(
        "ndvi", ("red", "nir"), True, "NDVI",
        "Normalised difference vegetation index of the geomedian, and the 10th, 50th and 90th "
        "percentiles of the clear observations' NDVI over the year.",
        (_scaled("ndvi", "NDVI of the geomedian"),
         *(_scaled(f"ndvi_p{p}", f"{p}th percentile of clear NDVI") for p in NDVI_PERCENTILES)),
        "rdylgn", (-0.2, 0.9), "ndvi",
    ),
    "ndwi": _product(
        "ndwi", ("green", "nir"), False, "NDWI",
        "Normalised difference water index of the geomedian (McFeeters 1996: "
        "(green-nir)/(green+nir)), and the modified NDWI with swir1 (Xu 2006) where the sensor "
        "has it.",
        (_scaled("ndwi", "McFeeters NDWI"), _scaled("mndwi", "modified NDWI (green, swir1)")),
        "rdbu", (-0.8, 0.8), "ndwi",
    ),
    "ndbi": _product(
        "ndbi", ("nir", "swir1"), False, "NDBI",
        "Normalised difference built-up index of the geomedian: (swir1-nir)/(swir1+nir).",
        (_scaled("ndbi", "NDBI"),), "rdylbu_r", (-0.6, 0.4), "ndbi",
    ),
    "bu": _product(
        "bu", ("red", "nir", "swir1"), False, "Built-up index",
        "Built-up index of the geomedian: NDBI - NDVI (He et al. 2010).",
        (_scaled("bu", "NDBI - NDVI"),), "inferno", (-1.0, 0.5), "bu",
    ),
    "wofs": _product(
        "wofs", REFLECTANCE_BANDS, True, "Water observations",
        "Water observations from space (Mueller et al. 2016 decision tree on each clear "
        "observation): wet and clear counts and the water frequency wet/clear.",
        (ProductBand("frequency", "uint8", nodata=255, scale=0.01, description="wet / clear"),
         ProductBand("wet", "uint16", nodata=65535, units="observations",
                     description="wet observations"),
         ProductBand("clear", "uint16", nodata=65535, units="observations",
                     description="clear observations")),
        "blues", (0.0, 1.0), "frequency",
    ),
}
PRODUCT_NAMES = tuple(PRODUCTS)


def supported_products(
    bands: Iterable[str], wanted: Iterable[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """Which of the ``wanted`` products (default: all) a band set supports, and why not the others.

    Raises:
        KeyError: an unknown product name.
    """
    bands = list(bands)
    names = list(wanted) if wanted is not None else list(PRODUCT_NAMES)
    unknown = [n for n in names if n not in PRODUCTS]
    if unknown:
        raise KeyError(f"unknown product(s) {unknown}; known: {', '.join(PRODUCT_NAMES)}")
    ok, refused = [], {}
    for name in names:
        missing = PRODUCTS[name].missing(bands)
        if missing:
            refused[name] = (
                f"{name} needs band(s) {', '.join(missing)}, which this sensor does not have"
            )
        else:
            ok.append(name)
    return ok, refused
