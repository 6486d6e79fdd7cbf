"""Sensor profiles: common band names, scaling to reflectance, and clear-observation masks.

A profile maps the common band names the rest of the platform uses (``blue``, ``green``,
``red``, ``nir``, ``swir1``, ``swir2`` and sensor extras) to a collection's asset keys, says how
stored integers become reflectance, and how a quality band becomes a *clear* mask. Profiles are
pydantic models so a collection can carry its own profile in its STAC JSON (custom sensors).

Documented values:
- Landsat Collection 2 Level-2 surface reflectance: ``DN * 0.0000275 - 0.2``, fill 0; QA_PIXEL
  bits (USGS LSDS-1619, Landsat 8-9 C2 L2 Science Product Guide, table 6-3).
- Sentinel-2 L2A: ``DN * 0.0001``; from processing baseline 04.00 (25 January 2022) a
  ``BOA_ADD_OFFSET`` of -1000 DN, i.e. ``DN * 0.0001 - 0.1`` (ESA, S2 L2A product format
  specification); SCL scene classes 0-11.
- Platforms and their eras (``PLATFORMS``), and the cross-sensor harmonisation that puts every
  platform's reflectance on Landsat 8 OLI's bandpasses (``harmonise``): see ``HARMONISATION``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from .errors import MissingBandError, UnknownSensorError

__all__ = [
    "HARMONISATION",
    "harmonisation_coefficients",
    "LANDSAT_QA_BITS",
    "PLATFORMS",
    "SLC_FAILURE",
    "Platform",
    "harmonise",
    "platform_label",
    "SCL_CLASSES",
    "LandsatQAMask",
    "ClassMask",
    "NoMask",
    "SensorProfile",
    "get_profile",
    "register_profile",
    "profile_names",
    "clean_mask",
    "sentinel2_offset",
]

# Landsat Collection 2 QA_PIXEL single bits (bit index).
LANDSAT_QA_BITS: dict[str, int] = {
    "fill": 0,
    "dilated_cloud": 1,
    "cirrus": 2,
    "cloud": 3,
    "shadow": 4,
    "snow": 5,
    "clear": 6,
    "water": 7,
}

# Sentinel-2 L2A scene classification (SCL) values.
SCL_CLASSES: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow",
}


class LandsatQAMask(BaseModel):
    """Clear where none of the ``exclude`` QA_PIXEL bits is set."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["landsat_qa"] = "landsat_qa"
    exclude: tuple[str, ...] = ("fill", "dilated_cloud", "cirrus", "cloud", "shadow", "snow")

    def clear(self, qa: np.ndarray) -> np.ndarray:
        unknown = set(self.exclude) - set(LANDSAT_QA_BITS) - {"clear", "water"}
        if unknown:
            raise ValueError(
                f"unknown Landsat QA flags {sorted(unknown)}; known: {sorted(LANDSAT_QA_BITS)}"
            )
        bits = 0
        for flag in self.exclude:
            bits |= 1 << LANDSAT_QA_BITS[flag]
        return (np.asarray(qa).astype(np.uint16, copy=False) & np.uint16(bits)) == 0


class ClassMask(BaseModel):
    """Clear where the mask band holds one of ``clear_values`` (SCL, CMASK, Fmask, 0/1 masks)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["classes"] = "classes"
    clear_values: tuple[int, ...]

    def clear(self, mask: np.ndarray) -> np.ndarray:
        return np.isin(mask, np.asarray(self.clear_values))


class NoMask(BaseModel):
    """No quality band: every valid (non-nodata) observation counts as clear."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["none"] = "none"

    def clear(self, mask: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(mask), dtype=bool)


MaskSpec = Annotated[LandsatQAMask | ClassMask | NoMask, Field(discriminator="kind")]


class SensorProfile(BaseModel):
    """How a collection's assets become float reflectance on common band names.

    ``scale``/``offset``/``nodata`` are defaults: per-item ``raster:bands`` values win, which is
    how Sentinel-2's baseline-dependent offset is honoured item by item.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    bands: dict[str, str] = Field(description="common band name -> asset key")
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    mask_band: str | None = Field(default=None, description="asset key of the quality band")
    mask: MaskSpec = NoMask()
    harmonise: bool = Field(
        default=False,
        description="put each item's reflectance on OLI bandpasses by its STAC platform "
        "(see HARMONISATION) when loading",
    )
    unscaled: tuple[str, ...] = Field(
        default=(), description="asset keys stored in physical units already (indices, masks)"
    )

    def asset(self, band: str) -> str:
        """Asset key of a common band name (asset keys themselves are accepted too)."""
        if band in self.bands:
            return self.bands[band]
        if band in self.bands.values() or band == self.mask_band or band in self.unscaled:
            return band
        raise MissingBandError(band, f"sensor profile {self.name!r}", list(self.bands))

    def common_name(self, asset: str) -> str:
        for common, key in self.bands.items():
            if key == asset:
                return common
        return asset

    def clear(self, mask_values: np.ndarray) -> np.ndarray:
        """Boolean clear-observation mask from the quality band's values."""
        return self.mask.clear(mask_values)


_PROFILES: dict[str, SensorProfile] = {}


def register_profile(profile: SensorProfile, *aliases: str) -> SensorProfile:
    """Make a profile available by name (and by collection ids given as aliases)."""
    for key in (profile.name, *aliases):
        _PROFILES[key] = profile
    return profile


def get_profile(name_or_profile: str | Mapping | SensorProfile) -> SensorProfile:
    """A registered profile by name or collection id, or a profile from its JSON dict."""
    if isinstance(name_or_profile, SensorProfile):
        return name_or_profile
    if isinstance(name_or_profile, Mapping):
        return SensorProfile.model_validate(name_or_profile)
    try:
        return _PROFILES[name_or_profile]
    except KeyError:
        raise UnknownSensorError(
            f"unknown sensor profile {name_or_profile!r}; known: {', '.join(profile_names())}"
        ) from None


def profile_names() -> list[str]:
    return sorted({p.name for p in _PROFILES.values()})


def sentinel2_offset(properties: Mapping) -> float:
    """Reflectance offset of a Sentinel-2 L2A item, from its processing baseline.

    Earth Search's ``sentinel-2-c1-l2a`` items have the offset already removed
    (``earthsearch:boa_offset_applied``); baseline 04.00 and later otherwise need -0.1.
    """
    if properties.get("earthsearch:boa_offset_applied"):
        return 0.0
    baseline = str(properties.get("s2:processing_baseline", "00.00"))
    try:
        major = float(baseline)
    except ValueError:
        major = 0.0
    return -0.1 if major >= 4.0 else 0.0


def clean_mask(clear: np.ndarray, *, open_px: int = 0, buffer_px: int = 0) -> np.ndarray:
    """Morphological clean-up of a clear mask (..., y, x).

    ``open_px`` removes isolated specks of not-clear narrower than the structuring element
    (false cloud on bright roofs and sand); ``buffer_px`` then grows the remaining not-clear
    areas, because cloud edges and thin haze escape every cloud detector.
    """
    clear = np.asarray(clear, dtype=bool)
    if open_px <= 0 and buffer_px <= 0:
        return clear
    out = np.empty_like(clear)
    flat_in = clear.reshape(-1, *clear.shape[-2:])
    flat_out = out.reshape(-1, *clear.shape[-2:])
    for i, plane in enumerate(flat_in):
        cloudy = ~plane
        if open_px > 0:
            cloudy = ndimage.binary_opening(cloudy, structure=_disk(open_px))
        if buffer_px > 0:
            cloudy = ndimage.binary_dilation(cloudy, structure=_disk(buffer_px))
        flat_out[i] = ~cloudy
    return out


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (xx * xx + yy * yy) <= radius * radius


LANDSAT_C2_L2 = register_profile(
    SensorProfile(
        name="landsat-c2-l2",
        description="Landsat 4-9 Collection 2 Level-2 surface reflectance (USGS; Earth Search "
        "asset keys)",
        bands={
            "coastal": "coastal",
            "blue": "blue",
            "green": "green",
            "red": "red",
            "nir": "nir08",
            "swir1": "swir16",
            "swir2": "swir22",
        },
        scale=0.0000275,
        offset=-0.2,
        nodata=0,
        mask_band="qa_pixel",
        mask=LandsatQAMask(),
        # Landsat 4-7 and 8-9 share this collection: one time series needs one bandpass.
        harmonise=True,
    ),
    "landsat-c2l2-sr",
)

SENTINEL2_L2A = register_profile(
    SensorProfile(
        name="sentinel-2-l2a",
        description="Sentinel-2 MSI Level-2A (ESA; Earth Search asset keys); SCL mask",
        bands={
            "coastal": "coastal",
            "blue": "blue",
            "green": "green",
            "red": "red",
            "rededge1": "rededge1",
            "rededge2": "rededge2",
            "rededge3": "rededge3",
            "nir": "nir",
            "nir08": "nir08",
            "nir09": "nir09",
            "swir1": "swir16",
            "swir2": "swir22",
        },
        scale=0.0001,
        offset=0.0,
        nodata=0,
        mask_band="scl",
        # Vegetation, not vegetated, water, unclassified; snow (11) and cloud classes excluded.
        mask=ClassMask(clear_values=(4, 5, 6, 7)),
    ),
    "sentinel-2-c1-l2a",
)

CBERS4_AWFI = register_profile(
    SensorProfile(
        name="cbers4-awfi",
        description="CBERS-4 AWFI surface reflectance, Brazil Data Cube 16-day cubes; CMASK 0 "
        "clear, 4 cloud, 255 missing",
        bands={"blue": "B13", "green": "B14", "red": "B15", "nir": "B16"},
        scale=0.0001,
        offset=0.0,
        nodata=-9999,
        mask_band="CMASK",
        mask=ClassMask(clear_values=(0,)),
    )
)

SENTINEL2_L1C_EOPATCH = register_profile(
    SensorProfile(
        name="sentinel-2-l1c-eopatch",
        description="Sentinel-2 L1C top-of-atmosphere reflectance (0-1) in eo-learn EOPatch "
        "layout; CLM cloud mask",
        bands={
            "coastal": "B01",
            "blue": "B02",
            "green": "B03",
            "red": "B04",
            "rededge1": "B05",
            "rededge2": "B06",
            "rededge3": "B07",
            "nir": "B08",
            "nir08": "B8A",
            "nir09": "B09",
            "cirrus": "B10",
            "swir1": "B11",
            "swir2": "B12",
        },
        mask_band="CLM",
        mask=ClassMask(clear_values=(0,)),
        unscaled=("NDVI", "CLP", "CLP_MULTI", "CLP_S2C"),
    )
)

LANDSAT_SR_CFMASK = register_profile(
    SensorProfile(
        name="landsat-sr-cfmask",
        description="Landsat 4-7 surface reflectance stacks (LEDAPS/ESPA, x 10 000) with CFmask "
        "(0 clear land, 1 water, 2 shadow, 3 snow, 4 cloud, 255 fill), as in yatsm's landsat_stack",
        bands={"blue": "B1", "green": "B2", "red": "B3", "nir": "B4", "swir1": "B5", "swir2": "B7"},
        scale=0.0001,
        offset=0.0,
        nodata=-9999,
        mask_band="cfmask",
        mask=ClassMask(clear_values=(0, 1)),
    )
)


# -- Platforms and cross-sensor harmonisation ---------------------------------------------------
@dataclass(frozen=True)
class Platform:
    """A satellite as STAC names it (``platform``, ``instruments``), and when it imaged.

    ``start``/``end`` bound the period its surface reflectance is in the archive on the
    nominal orbit; ``end`` None means still flying.
    """

    name: str  # STAC ``platform``
    instrument: str  # STAC ``instruments`` value
    constellation: str
    label: str  # how people name it
    start: dt.date
    end: dt.date | None = None

    def flies(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


# Landsat 7's scan-line corrector failed on 31 May 2003: later ETM+ scenes miss ~22 % of their
# pixels in wedge-shaped gaps (USGS, "Landsat 7 SLC-off products", SLC-off background).
SLC_FAILURE = dt.date(2003, 5, 31)

# Dates from the operators: USGS Landsat mission pages (Landsat 5 imaging ended 18 November
# 2011; Landsat 7 launched 15 April 1999 and left the 705 km WRS-2 orbit on 6 April 2022;
# Landsat 8 operational 11 April 2013; Landsat 9 operational 31 October 2021) and ESA
# (Sentinel-2A launched 23 June 2015, Sentinel-2B 7 March 2017).
PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("landsat-5", "tm", "landsat", "Landsat 5 TM", dt.date(1984, 3, 1),
             dt.date(2011, 11, 18)),
    Platform("landsat-7", "etm+", "landsat", "Landsat 7 ETM+", dt.date(1999, 4, 15),
             dt.date(2022, 4, 6)),
    Platform("landsat-8", "oli", "landsat", "Landsat 8 OLI", dt.date(2013, 4, 11)),
    Platform("landsat-9", "oli", "landsat", "Landsat 9 OLI-2", dt.date(2021, 10, 31)),
    Platform("sentinel-2a", "msi", "sentinel-2", "Sentinel-2A MSI", dt.date(2015, 6, 23)),
    Platform("sentinel-2b", "msi", "sentinel-2", "Sentinel-2B MSI", dt.date(2017, 3, 7)),
)}

# OLI-equivalent reflectance = slope * sensor reflectance + intercept, per common band name.
# - TM and ETM+: Roy et al. (2016), "Characterization of Landsat-7 to Landsat-8 reflective
#   wavelength and normalized difference vegetation index continuity", Remote Sensing of
#   Environment 185: 57-70, Table 2, ETM+ -> OLI surface reflectance by OLS regression
#   (values as Google's Earth Engine "Landsat ETM+ to OLI harmonization" tutorial copies them).
#   OLS predicts OLI from ETM+, which is what loading does. TM takes the ETM+ coefficients, as
#   that tutorial and most long Landsat series do: Roy et al. fitted ETM+ only.
# - Sentinel-2A/B MSI (B02, B03, B04, B8A, B11, B12): the HLS bandpass adjustment to OLI
#   (Claverie et al. 2018, Remote Sensing of Environment 219: 145-161; coefficients of
#   HLS v2.0 as https://hls.gsfc.nasa.gov/algorithms/bandpass-adjustment/ lists them, one set
#   per satellite). Their "nir" is B8A (narrow NIR), not B08.
# - Landsat 8 OLI is the reference, and Landsat 9 OLI-2 is taken as identical to it, as HLS does.
_ETM_TO_OLI = {
    "blue": (0.8474, 0.0003), "green": (0.8483, 0.0088), "red": (0.9047, 0.0061),
    "nir": (0.8462, 0.0412), "swir1": (0.8937, 0.0254), "swir2": (0.9071, 0.0172),
}
HARMONISATION: dict[str, dict[str, tuple[float, float]]] = {
    "landsat-5": _ETM_TO_OLI,
    "landsat-7": _ETM_TO_OLI,
    "landsat-8": {},
    "landsat-9": {},
    "sentinel-2a": {
        "blue": (0.9778, -0.004), "green": (1.0053, -0.0009), "red": (0.9765, 0.0009),
        "nir": (0.9983, -0.0001), "swir1": (0.9987, -0.0011), "swir2": (1.003, -0.0012),
    },
    "sentinel-2b": {
        "blue": (0.9778, -0.004), "green": (1.0075, -0.0008), "red": (0.9761, 0.001),
        "nir": (0.9966, 0.0), "swir1": (1.000, -0.0003), "swir2": (0.9867, 0.0004),
    },
}

_Array = TypeVar("_Array")


def harmonisation_coefficients(platforms: Sequence[str | None], band: str) -> np.ndarray:
    """(len(platforms), 2) float32 slope and intercept that put ``band`` of each platform on
    OLI's bandpass (1, 0 where ``HARMONISATION`` has none)."""
    return np.array([HARMONISATION.get(p or "", {}).get(band, (1.0, 0.0)) for p in platforms],
                    dtype=np.float32).reshape(len(platforms), 2)


def harmonise(reflectance: _Array, platform: str | None | Sequence[str | None], band: str,
              *, inverse: bool = False) -> _Array:
    """Put one band's surface reflectance on Landsat 8 OLI's bandpass (``HARMONISATION``).

    Args:
        reflectance: numpy or dask array; with several platforms, its first axis is time.
        platform: the STAC platform of the data, or one per element of the first axis.
            Platforms or bands without coefficients (OLI itself, unknown ones) are unchanged.
        band: common band name (``blue`` ... ``swir2``).
        inverse: from OLI back to the sensor's own bandpass (what the scene simulator does).
    Returns:
        The reflectance, same type and shape, in float32 where it was.
    """
    one = platform is None or isinstance(platform, str)
    names: list[str | None] = (
        [platform] if platform is None or isinstance(platform, str) else list(platform)
    )
    coef = harmonisation_coefficients(names, band)
    if (coef == (1.0, 0.0)).all():
        return reflectance
    data: Any = reflectance  # numpy or dask: both broadcast (time, 1, 1) against (time, y, x)
    slope, intercept = coef[:, 0], coef[:, 1]
    if one:
        slope, intercept = slope[0], intercept[0]
    else:
        slope = slope.reshape(-1, *(1,) * (data.ndim - 1))
        intercept = intercept.reshape(-1, *(1,) * (data.ndim - 1))
    if inverse:
        return (data - intercept) / slope
    return data * slope + intercept


def platform_label(platform: str, year: int | None = None) -> str:
    """How people name a platform, e.g. "Landsat 7 ETM+ (SLC-off)" for 2003 and later."""
    known = PLATFORMS.get(platform)
    label = known.label if known else platform
    if platform == "landsat-7" and year is not None and year >= SLC_FAILURE.year:
        label += " (SLC-off)"
    return label
