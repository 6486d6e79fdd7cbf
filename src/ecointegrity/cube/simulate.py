"""Deterministic scene simulator: Landsat-like surface reflectance of a synthetic landscape.

It stands in for real imagery wherever the answer must be known: tests of mosaics, indices,
classification and change detection, and ``ecointegrity demo --offline``. The default scene is
6 x 6 km around Bacalar lagoon (Quintana Roo, Mexico) in EPSG:6372 at 30 m. ``docs/simulator.md``
gives every parameter with its source; in short:

* **Landscape** (fixed by ``seed`` and the grid only, not by the years asked for): a lagoon
  running NNE-SSW (~12 % water), a wetland fringe (~5 %), a town on the west shore (~3 %), and
  Gaussian-smoothed random fields thresholded into cropland/pasture (~20 %, more of it near the
  town), shrubland (~9 %), limestone quarries/bare soil (~1 %) and semi-evergreen forest (rest).
* **Spectra**: one endmember per class for blue..swir2 (OLI-like surface reflectance, e.g.
  forest red 0.03 / nir 0.30, clear lagoon green 0.08 > nir 0.02, built-up swir1 0.25 > nir
  0.20), times a per-pixel brightness (6 %) and per-band (3 %) factor.
* **Phenology**: greenness ``g`` rises from a minimum on 15 April (end of the dry season) to a
  peak on 15 September (wet season) and falls back; each pixel is mixed towards a dry
  vegetation/soil spectrum by ``amplitude * (1 - g)`` (forest 0.12 ... cropland 0.80).
* **Water**: the lagoon always; the wetland fringe floods up to 4 px inland as ``g`` rises;
  flooded land takes a turbid-water spectrum.
* **Per date**: an additive atmospheric-correction residual per band and 0.002 sensor noise.
  Both are part of ``truth.reflectance``, so clear DNs equal truth up to rounding.
* **Clouds**: a correlated random field per date thresholded at the quantile giving that
  date's cover; covers come from a Beta distribution with mean ``cloud_cover`` (U-shaped: many
  near-clear and near-overcast dates), raised to the power that makes the period mean exact.
  Cloud pixels blend towards a bright, flat spectrum (opacity 0.5..1); shadows are the cloud
  mask moved by a fixed sun geometry (sun azimuth 125 deg, elevation 60 deg, cloud base
  1.2 km: ~690 m to the north-west) and darkened by 0.25..0.5; a 3 px dilated-cloud ring is
  flagged. About 15 % of dates have a wedge of fill on the scan edge.
* **Change events** (each a contiguous patch of several hundred pixels, placed from the seed):
  flooding of shore pasture in the wet season of the first year, forest cleared for cropland
  in April of the middle year, pasture built over in June of the last year (the last but one
  when three or more years are simulated, so that the last year shows every change complete).

The output is Landsat Collection 2 Level-2: ``reflectance = DN * 2.75e-5 - 0.2`` (fill 0) and
the real QA_PIXEL bit layout, with USGS's meaning of the clear bit (6): set where neither the
cloud nor the dilated-cloud bit is set (so cloud-shadow pixels keep it; masks must test bit 4).

**Sensor eras** (``eras=True``): each date is acquired by one of the platforms flying that day
(``cube.sensors.PLATFORMS``: Landsat 5 TM to November 2011, Landsat 7 ETM+ from April 1999,
Landsat 8 OLI from April 2013, Landsat 9 OLI-2 from October 2021, Sentinel-2A/B MSI from June
2015 / March 2017), in turn, so the dates every ``revisit_days`` stand for a thinned version
of the real constellation (2012 is Landsat 7 alone). The DNs are that sensor's own
reflectance: the OLI-like surface taken back through ``cube.sensors.harmonise`` (Roy et al.
2016 for TM/ETM+, HLS v2.0 for MSI), so loading must harmonise them; ``truth.reflectance``
stays the OLI-like surface. Landsat 7 dates from 31 May 2003 have the scan-line-corrector-off
gaps as fill (``slc_off_gaps``). Sentinel-2 dates are written as HLS writes S30 scenes: on the
same 30 m grid, bands and encoding as the Landsat ones (here Landsat C2 L2 scaling and
QA_PIXEL), so one harmonised collection holds the whole series and each item's STAC
``platform`` tells which bandpass adjustment it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine
from odc.geo import geom
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords  # importing odc.geo.xr also registers ds.odc
from scipy import ndimage

from .grids import grid_crs
from .sensors import PLATFORMS, SLC_FAILURE, harmonise

__all__ = [
    "BANDS",
    "LAND_COVER_CLASSES",
    "SIMULATOR_VERSION",
    "SR_OFFSET",
    "SR_SCALE",
    "ChangeEvent",
    "SimulatedScenes",
    "default_geobox",
    "platforms_for_dates",
    "simulate",
    "slc_off_gaps",
]

SIMULATOR_VERSION = "1.1.0"  # 1.1: sensor eras (eras=True)
SR_SCALE, SR_OFFSET = 2.75e-5, -0.2  # Landsat C2 L2 surface reflectance scaling
BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
LAND_COVER_CLASSES: dict[int, str] = {
    1: "forest", 2: "shrubland", 3: "grassland", 4: "cropland",
    5: "water", 6: "built_up", 7: "bare_soil", 8: "wetland",
}
FOREST, SHRUB, GRASS, CROP, WATER, BUILT, BARE, WETLAND = range(1, 9)
CHANGE_CODES = {"deforestation": 1, "urban_growth": 2, "flooding": 3}

# Wet-season endmembers (rows: class id 0..8; columns: BANDS). Row 0 is unused.
_ENDMEMBERS = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.025, 0.045, 0.030, 0.300, 0.150, 0.070],  # semi-evergreen forest: dark red, bright nir
    [0.035, 0.060, 0.050, 0.260, 0.200, 0.110],  # shrubland / secondary regrowth
    [0.040, 0.075, 0.060, 0.280, 0.240, 0.130],  # pasture
    [0.040, 0.080, 0.060, 0.350, 0.220, 0.110],  # crops at peak (soy, sorghum, maize)
    [0.060, 0.080, 0.050, 0.020, 0.010, 0.005],  # clear lagoon over white carbonate sand
    [0.090, 0.110, 0.130, 0.200, 0.250, 0.210],  # roofs, roads, concrete: swir1 > nir
    [0.120, 0.170, 0.220, 0.290, 0.380, 0.300],  # bright calcareous soil / quarry
    [0.030, 0.050, 0.040, 0.180, 0.090, 0.040],  # marsh and mangrove over wet ground
], dtype=np.float32)
# How far each class moves towards the dry spectrum at the driest time of year.
_AMPLITUDE = np.array([0, 0.12, 0.30, 0.45, 0.80, 0.0, 0.05, 0.0, 0.20], dtype=np.float32)
_DRY = np.array([0.080, 0.120, 0.160, 0.260, 0.340, 0.240], dtype=np.float32)  # litter + soil
_TURBID = np.array([0.070, 0.100, 0.090, 0.040, 0.020, 0.010], dtype=np.float32)  # floodwater
_CLOUD = np.array([0.45, 0.45, 0.46, 0.50, 0.38, 0.25], dtype=np.float32)  # ice/water absorb swir
# Shadowed ground keeps skylight, which is bluer than direct sun.
_SHADOW_FACTOR = np.array([0.50, 0.42, 0.38, 0.30, 0.25, 0.25], dtype=np.float32)
_ATM_SIGMA = np.array([0.004, 0.003, 0.002, 0.002, 0.0015, 0.001])  # aerosol residual, per date
_NOISE_SIGMA = 0.002

_DOY_MIN, _DOY_PEAK = 105, 258  # 15 April, 15 September
_SUN_AZIMUTH, _SUN_ELEVATION, _CLOUD_BASE_M = 125.0, 60.0, 1200.0
_CLOUD_CONCENTRATION = 1.2  # Beta a+b: below 2 the per-date cover is U-shaped
_FILL_PROBABILITY, _DILATE_PX = 0.15, 3
_FIRST_DAY_OFFSET = 4  # first acquisition on 5 January of start_year
_DIMS = ("time", "y", "x")

# ETM+ SLC-off geometry (USGS, "SLC-off products: background"): a scan sweeps 16 lines (480 m);
# without the corrector, forward and reverse scans zigzag, so on each side of the ground track
# a wedge opens between every other pair of scans (a period of 32 lines), from nothing at
# nadir to about one scan (14 px, 390-450 m) at the scene edge, and ~22 % of a scene is lost.
_SLC_PERIOD_PX, _SLC_EDGE_GAP_PX = 32, 14.0
# The scan lines cross the ground track at right angles; a descending pass at 18 deg N heads
# about 12 deg west of south (inclination 98.2 deg plus the Earth's rotation).
_TRACK_TILT_DEG = 12.0


@dataclass(frozen=True)
class ChangeEvent:
    """A known land change: where ``truth.change`` equals ``CHANGE_CODES[kind]`` in ``year``."""

    kind: str  # "deforestation" | "urban_growth" | "flooding"
    year: int
    start: dt.date  # first acquisition date showing the new state
    end: dt.date | None  # last flooded date of a temporary event; None = permanent
    from_class: int
    to_class: int
    n_pixels: int


@dataclass(frozen=True)
class SimulatedScenes:
    """The simulated cube (``dataset``) with everything that was used to make it."""

    dataset: xr.Dataset
    truth: xr.Dataset
    events: tuple[ChangeEvent, ...]
    classes: dict[int, str]


def default_geobox() -> GeoBox:
    """200 x 200 px at 30 m in EPSG:6372 (INEGI's Lambert conformal conic), on Bacalar lagoon.

    Returns:
        The grid, centred on lon -88.40, lat 18.65 and snapped to whole 30 m pixels.
    """
    centre = geom.point(-88.40, 18.65, "EPSG:4326").to_crs("EPSG:6372")
    (cx, cy), = centre.coords
    res, n = 30.0, 200
    x0 = round(cx / res) * res - n / 2 * res
    y0 = round(cy / res) * res + n / 2 * res
    return GeoBox((n, n), Affine(res, 0.0, x0, 0.0, -res, y0), "EPSG:6372")


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``sigma`` px."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (f - f.mean()) / (f.std() + 1e-12)


def _greenness(doy: float) -> float:
    """0 at the dry-season minimum, 1 at the wet-season peak; green-up is faster than drying."""
    up = _DOY_PEAK - _DOY_MIN
    since_min = (doy - _DOY_MIN) % 365.25
    if since_min < up:
        return 0.5 - 0.5 * np.cos(np.pi * since_min / up)
    return 0.5 + 0.5 * np.cos(np.pi * (since_min - up) / (365.25 - up))


# A pixel's (row, col): Python ints, or numpy's from np.unravel_index and integer arrays.
_RowCol = tuple[int | np.integer, int | np.integer]


def _grow_patch(rng: np.random.Generator, seed_rc: _RowCol, allowed: np.ndarray,
                n: int) -> np.ndarray:
    """The ~n allowed pixels nearest ``seed_rc``, with a ragged edge, as one connected patch."""
    rows, cols = np.indices(allowed.shape)
    dist = np.hypot(rows - seed_rc[0], cols - seed_rc[1])
    if not allowed.any():
        return np.zeros(allowed.shape, bool)
    if not allowed[seed_rc]:  # start from the nearest pixel that may change
        row, col = np.unravel_index(np.argmin(np.where(allowed, dist, np.inf)), allowed.shape)
        seed_rc = (row, col)
        dist = np.hypot(rows - seed_rc[0], cols - seed_rc[1])
    dist = dist + 2.0 * _field(rng, allowed.shape, 3)
    dist = np.where(allowed, dist, np.inf)
    dist[seed_rc] = -np.inf
    patch = np.zeros(allowed.shape, bool)
    patch.flat[np.argsort(dist, axis=None, kind="stable")[:n]] = True
    labels, _ = ndimage.label(patch & allowed)
    return labels == labels[seed_rc]


def _landscape(shape: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Base land cover (before events) and the masks the time loop needs."""
    ny, nx = shape
    rows, cols = np.indices(shape)
    # Lagoon: a meandering band NNE-SSW, as Bacalar's, ~12 % of the scene.
    meander = 0.03 * nx * _field(rng, (ny, 1), ny / 8)
    centre = nx * (0.75 - 0.13 * rows / ny) + meander
    half_width = 0.06 * nx
    lagoon = np.abs(cols - centre) < half_width + 1.5 * _field(rng, shape, 2)
    dist_lagoon = ndimage.distance_transform_edt(~lagoon)
    # Low ground along both shores; its jittered distance doubles as micro-topography.
    elevation = dist_lagoon + 1.5 * _field(rng, shape, 2)
    wetland = ~lagoon & (elevation <= 0.025 * nx)
    # Town on the west shore, a ragged disc of ~3 % of the scene.
    town_rc = (ny // 2, int(centre[ny // 2, 0] - half_width - 0.1 * nx))
    radius = 0.085 * min(ny, nx)
    town_dist = np.hypot(rows - town_rc[0], cols - town_rc[1])
    town = ~lagoon & (town_dist + 0.15 * radius * _field(rng, shape, 3) < radius)
    wetland &= ~town
    # Farming concentrates around the town; the rest is forest with shrubby regrowth.
    land = ~(lagoon | wetland | town)
    farm_score = _field(rng, shape, 10) + 1.5 * np.exp(-town_dist / (0.3 * max(ny, nx)))
    farm_score[~land] = -np.inf
    q_farm, q_shrub = np.quantile(farm_score[land], [0.78, 0.67]) if land.any() else (0, 0)
    farm = land & (farm_score >= q_farm)
    cover = np.full(shape, FOREST, np.uint8)
    cover[land & (farm_score >= q_shrub) & ~farm] = SHRUB
    cover[farm] = np.where(_field(rng, shape, 6)[farm] > -0.2, CROP, GRASS)
    if farm.any():  # limestone quarries (sascaberas) and fallow fields among the farms
        quarry = _field(rng, shape, 2)
        cover[farm & (quarry > np.quantile(quarry[farm], 0.95))] = BARE
    cover[wetland], cover[town], cover[lagoon] = WETLAND, BUILT, WATER
    return {"cover": cover, "lagoon": lagoon, "town": town, "elevation": elevation,
            "town_rc": np.array(town_rc), "radius": np.array(radius)}


def _event_patches(land: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Place the three event patches and make the ground before each event what it should be."""
    cover, lagoon, town = land["cover"], land["lagoon"], land["town"]
    ny, nx = cover.shape
    scale = ny * nx / 200**2  # several hundred pixels on the default grid
    size = {k: max(12, int(scale * rng.integers(lo, hi)))
            for k, (lo, hi) in {"flooding": (450, 650), "urban_growth": (300, 450),
                                "deforestation": (500, 800)}.items()}
    free = ~(lagoon | town)
    # Flooding: shore pasture on the south-west bank of the lagoon.
    row = int(ny * rng.uniform(0.7, 0.9))
    shore = np.flatnonzero(lagoon[row])
    seed: _RowCol = (row, int(max(shore.min() - 1, 0)) if shore.size else nx // 2)
    flood = _grow_patch(rng, seed, free, size["flooding"])
    # Urban growth: lots on the landward (west) edge of the town.
    angle = rng.uniform(0.7 * np.pi, 1.3 * np.pi)
    r = float(land["radius"]) + 2
    seed = tuple(np.clip(land["town_rc"] + np.round([r * np.sin(angle), r * np.cos(angle)]),
                         0, [ny - 1, nx - 1]).astype(int))
    urban = _grow_patch(rng, seed, free & ~flood & (cover != WETLAND), size["urban_growth"])
    # Deforestation: the deepest forest in the north-west, well away from the town.
    rows, cols = np.indices(cover.shape)
    town_dist = np.hypot(rows - land["town_rc"][0], cols - land["town_rc"][1])
    region = ((town_dist > land["radius"] + 0.15 * nx) & (rows >= 0.06 * ny) & (rows < 0.45 * ny)
              & (cols >= 0.05 * nx) & (cols < 0.5 * nx))
    depth = ndimage.distance_transform_edt(cover == FOREST) * (region & free & ~flood & ~urban)
    deep_row, deep_col = np.unravel_index(np.argmax(depth), depth.shape)
    seed = (deep_row, deep_col)
    defor = _grow_patch(rng, seed, free & ~flood & ~urban, size["deforestation"])
    cover[flood], cover[urban], cover[defor] = GRASS, GRASS, FOREST
    return {"flooding": flood, "urban_growth": urban, "deforestation": defor}


def _first_on_or_after(dates: np.ndarray, day: np.datetime64, year: int) -> np.datetime64:
    later = dates[(dates >= day) & (dates < np.datetime64(f"{year + 1}-01-01"))]
    return later[0] if later.size else day


def _shadow_offset_px(geobox: GeoBox) -> tuple[int, int]:
    """(rows, cols) from a cloud pixel to its shadow, for the fixed sun and cloud-base height."""
    crs = grid_crs(geobox, "simulated scenes")
    res_m = abs(geobox.resolution.x) * (111_320.0 if crs.geographic else 1.0)
    reach_px = _CLOUD_BASE_M / np.tan(np.radians(_SUN_ELEVATION)) / res_m
    away = np.radians(_SUN_AZIMUTH + 180.0)  # azimuth is clockwise from north; rows run south
    return int(round(-reach_px * np.cos(away))), int(round(reach_px * np.sin(away)))


def _cloud_covers(n: int, cloud_cover: float, rng: np.random.Generator) -> np.ndarray:
    """Per-date cover: U-shaped Beta around ``cloud_cover``, bent so the mean is exact."""
    if cloud_cover in (0.0, 1.0):
        return np.full(n, cloud_cover)
    k = _CLOUD_CONCENTRATION
    covers = rng.beta(cloud_cover * k, (1 - cloud_cover) * k, n)
    # covers**p keeps 0 and 1 where they are (clear and overcast days survive); bisect on log p.
    lo, hi = -5.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(covers ** np.exp(mid)) > cloud_cover else (lo, mid)
    return covers ** np.exp((lo + hi) / 2)


def _cloud_field(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Cumulus cells ~0.5-1 km across (drawn 4x coarser: fast) plus fine ragged texture."""
    coarse = ndimage.zoom(_field(rng, (shape[0] // 4 + 2, shape[1] // 4 + 2), 2), 4, order=1)
    return coarse[:shape[0], :shape[1]] + 0.3 * _field(rng, shape, 1.5)


def _qa_pixel(fill: np.ndarray, dilated: np.ndarray, cloud: np.ndarray, shadow: np.ndarray,
              clear: np.ndarray, water: np.ndarray) -> np.ndarray:
    """Landsat C2 QA_PIXEL from the masks; fill pixels carry bit 0 only, as USGS writes them."""
    u16 = np.uint16
    seen = ~fill
    qa = (fill.astype(u16) | dilated.astype(u16) << 1 | cloud.astype(u16) << 3
          | shadow.astype(u16) << 4 | clear.astype(u16) << 6 | (water & clear).astype(u16) << 7)
    # Confidence pairs: 3 (high) where flagged, 1 (low) elsewhere; no snow or cirrus here.
    qa |= np.where(cloud, u16(3), u16(1)) << 8 | np.where(shadow, u16(3), u16(1)) << 10
    qa |= u16(1 << 12 | 1 << 14)
    return np.where(seen, qa, u16(1)).astype(u16)


def _to_dn(reflectance: np.ndarray) -> np.ndarray:
    dn = np.round((reflectance.astype(np.float64) - SR_OFFSET) / SR_SCALE)
    return np.clip(dn, 1, 65535).astype(np.uint16)


def platforms_for_dates(dates: np.ndarray) -> list[str]:
    """The STAC platform that acquires each date: the platforms flying that day, in turn.

    Args:
        dates: datetime64 acquisition dates, in order.
    Returns:
        One ``cube.sensors.PLATFORMS`` name per date.
    Raises:
        ValueError: for a date no platform flew (before Landsat 5).
    """
    out, turn = [], 0
    for date in dates:
        day = _as_date(np.datetime64(date, "D"))
        flying = [p.name for p in PLATFORMS.values() if p.flies(day)]
        if not flying:
            raise ValueError(f"no platform of cube.sensors.PLATFORMS flew on {day}")
        out.append(flying[turn % len(flying)])
        turn += 1
    return out


def slc_off_gaps(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Where a Landsat 7 SLC-off scene has no data: stripes that widen from nadir to the edges.

    The grid stands for a whole scene across track (nadir near its middle column, the swath
    edges at its sides), so every date shows the whole pattern at true stripe widths: gaps
    ~1 px wide near nadir, 14 px at the edges, every 32 lines on each side, tilted with the
    scan lines; about 22 % of the grid. ``rng`` places nadir (+-5 % of the width) and the
    stripes' phase.
    """
    ny, nx = shape
    rows, cols = np.indices(shape, dtype=np.float32)
    tilt = np.radians(_TRACK_TILT_DEG)
    # The track runs south-south-west (rows down, columns left): scan lines descend eastwards.
    along = rows * np.cos(tilt) - cols * np.sin(tilt)
    across = cols * np.cos(tilt) + rows * np.sin(tilt)
    mid = (nx - 1) / 2 * np.cos(tilt) + (ny - 1) / 2 * np.sin(tilt)
    half = max(nx / 2 * np.cos(tilt), 1.0)
    c = np.clip((across - mid) / half + rng.uniform(-0.05, 0.05), -1.0, 1.0)
    width = _SLC_EDGE_GAP_PX * np.abs(c)
    # East of nadir the wedges open between one pair of scans, west of it between the next.
    centre = rng.uniform(0, _SLC_PERIOD_PX) + np.where(c > 0, 0.0, _SLC_PERIOD_PX / 2)
    offset = (along - centre + _SLC_PERIOD_PX / 2) % _SLC_PERIOD_PX - _SLC_PERIOD_PX / 2
    return np.abs(offset) < width / 2


@dataclass(frozen=True)
class _Schedule:
    """When each change event happens, given the period and the acquisition dates.

    Event years sit inside the period whatever its length: flooding in the first year,
    deforestation in the middle one, urban growth in the last year but one when there are
    three or more, so that the last year's composites show every permanent change complete
    (a June change under wet-season cloud is barely visible in its own year's composite).
    """

    flood_year: int
    defor_year: int
    urban_year: int
    defor_start: np.datetime64
    urban_start: np.datetime64
    flood_first: np.datetime64
    flood_last: np.datetime64


def _check_arguments(start_year: int, end_year: int, revisit_days: int,
                     cloud_cover: float) -> None:
    if end_year < start_year:
        raise ValueError(f"end_year ({end_year}) must not be before start_year ({start_year})")
    if not 0.0 <= cloud_cover <= 1.0:  # also rejects NaN
        raise ValueError(f"cloud_cover must be within [0, 1], got {cloud_cover}")
    if revisit_days < 1:
        raise ValueError(f"revisit_days must be at least 1, got {revisit_days}")


def _schedule(dates: np.ndarray, start_year: int, end_year: int) -> _Schedule:
    n_years = end_year - start_year + 1
    urban_year = end_year - 1 if n_years >= 3 else end_year
    flood_year, defor_year = start_year, start_year + n_years // 2
    defor_start = _first_on_or_after(dates, np.datetime64(f"{defor_year}-04-10"), defor_year)
    urban_start = _first_on_or_after(dates, np.datetime64(f"{urban_year}-06-15"), urban_year)
    window = (np.datetime64(f"{flood_year}-09-25"), np.datetime64(f"{flood_year}-11-20"))
    in_window = dates[(dates >= window[0]) & (dates <= window[1])]
    # an array of dates, or the window's first day alone (a 1-tuple) when the year has none
    flooded_dates: np.ndarray | tuple[np.datetime64, ...] = in_window
    if in_window.size == 0:  # sparse revisits: the acquisition nearest the flood peak
        in_year = dates[dates.astype("datetime64[Y]").astype(int) + 1970 == flood_year]
        mid = window[0] + (window[1] - window[0]) // 2
        flooded_dates = in_year[[np.argmin(np.abs(in_year - mid))]] if in_year.size else window[:1]
    return _Schedule(flood_year, defor_year, urban_year, defor_start, urban_start,
                     flooded_dates[0], flooded_dates[-1])


def _as_date(d: np.datetime64) -> dt.date:
    return d.astype("datetime64[D]").astype(object)


def _change_events(when: _Schedule, patches: dict[str, np.ndarray]) -> tuple[ChangeEvent, ...]:
    return tuple(sorted((
        ChangeEvent("flooding", when.flood_year, _as_date(when.flood_first),
                    _as_date(when.flood_last), GRASS, WATER, int(patches["flooding"].sum())),
        ChangeEvent("deforestation", when.defor_year, _as_date(when.defor_start), None, FOREST,
                    CROP, int(patches["deforestation"].sum())),
        ChangeEvent("urban_growth", when.urban_year, _as_date(when.urban_start), None, GRASS,
                    BUILT, int(patches["urban_growth"].sum())),
    ), key=lambda e: (e.start, e.kind)))


def _annual_truth(
    cover: np.ndarray,
    patches: dict[str, np.ndarray],
    years: np.ndarray,
    when: _Schedule,
    events: tuple[ChangeEvent, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Land cover and change code per year (year, y, x)."""
    land_cover = np.empty((len(years), *cover.shape), np.uint8)
    change = np.zeros((len(years), *cover.shape), np.uint8)
    for k, year in enumerate(years):
        lc = cover.copy()
        lc[patches["deforestation"] & (year >= when.defor_year)] = CROP
        lc[patches["urban_growth"] & (year >= when.urban_year)] = BUILT
        land_cover[k] = lc
        for event in events:
            if event.year == year:
                change[k][patches[event.kind]] = CHANGE_CODES[event.kind]
    return land_cover, change


@dataclass(frozen=True)
class _Ground:
    """What makes the ground's reflectance: the landscape and its fixed per-pixel variation."""

    land: dict[str, np.ndarray]
    patches: dict[str, np.ndarray]
    variability: np.ndarray  # (band, y, x) brightness and per-band factors
    amp_jitter: np.ndarray  # (y, x) factor on the phenological amplitude


def _ground(shape: tuple[int, int], rng_land: np.random.Generator,
            rng_event: np.random.Generator) -> _Ground:
    ny, nx = shape
    land = _landscape(shape, rng_land)
    patches = _event_patches(land, rng_event)
    variability = ((1 + 0.06 * _field(rng_land, shape, 1))
                   * (1 + 0.03 * rng_land.standard_normal((6, ny, nx)))).astype(np.float32)
    amp_jitter = np.clip(1 + 0.15 * _field(rng_land, shape, 2), 0.5, 1.5).astype(np.float32)
    return _Ground(land, patches, variability, amp_jitter)


def _surface(ground: _Ground, when: _Schedule, date: np.datetime64,
             rng_noise: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """True surface reflectance (band, y, x) of one date and where the ground is water."""
    cover, patches = ground.land["cover"], ground.patches
    ny, nx = cover.shape
    cls = cover.copy()
    cls[patches["deforestation"] & (date >= when.defor_start)] = CROP
    cls[patches["urban_growth"] & (date >= when.urban_start)] = BUILT
    doy = float((date - date.astype("datetime64[Y]")).astype(int) + 1)
    g = _greenness(doy)
    dryness = _AMPLITUDE[cls] * ground.amp_jitter * np.float32(1 - g)
    refl = ((1 - dryness) * _ENDMEMBERS[cls].transpose(2, 0, 1) + dryness * _DRY[:, None, None])
    # The wetland edge advances up to 4 px inland as the wet season fills the lagoon.
    inundated = (cover == WETLAND) & (
        ground.land["elevation"] < 0.02 * nx * max(0.0, (g - 0.3) / 0.7)
    )
    inundated |= patches["flooding"] & (when.flood_first <= date) & (date <= when.flood_last)
    refl = np.where(inundated, _TURBID[:, None, None], refl) * ground.variability
    water = ground.land["lagoon"] | inundated
    refl += rng_noise.normal(0.0, _ATM_SIGMA)[:, None, None].astype(np.float32)
    refl += rng_noise.standard_normal((6, ny, nx), dtype=np.float32) * np.float32(_NOISE_SIGMA)
    return np.clip(refl, 0.0, 1.5), water


@dataclass
class _Sky:
    """Per-date cloud, shadow, fill and dilated-cloud masks (time, y, x), filled date by date.

    Clouds are drawn on a padded canvas so clouds just off the scene still cast shadows in it.
    """

    covers: np.ndarray  # cloud cover of each date
    shadow_offset: tuple[int, int]
    pad: int
    cloud: np.ndarray
    shadow: np.ndarray
    fill: np.ndarray
    dilated: np.ndarray

    @classmethod
    def empty(cls, geobox: GeoBox, n_t: int, cloud_cover: float,
              rng_cloud: np.random.Generator) -> _Sky:
        ny, nx = (int(s) for s in geobox.shape)
        d_row, d_col = _shadow_offset_px(geobox)
        masks = [np.zeros((n_t, ny, nx), bool) for _ in range(4)]
        return cls(_cloud_covers(n_t, float(cloud_cover), rng_cloud), (d_row, d_col),
                   max(abs(d_row), abs(d_col)) + 1, *masks)

    def observe(
        self, i: int, reflectance: np.ndarray, rng_cloud: np.random.Generator,
        platform: str | None = None, gaps: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw date ``i``'s sky and return its DNs (band, y, x): clouds, shadows and fill
        (the scan-edge wedge, and ``gaps``) over the true ``reflectance``, in ``platform``'s
        own bandpasses (OLI's when None)."""
        _, ny, nx = self.cloud.shape
        pad, (d_row, d_col) = self.pad, self.shadow_offset
        rows, cols = np.indices((ny, nx))
        field = _cloud_field(rng_cloud, (ny + 2 * pad, nx + 2 * pad))
        inner = field[pad:pad + ny, pad:pad + nx]
        # Thresholding at a quantile gives this date's cover exactly.
        threshold = np.inf if self.covers[i] <= 0 else np.quantile(inner, 1 - self.covers[i])
        cloud_canvas = field > threshold if self.covers[i] < 1 else np.ones(field.shape, bool)
        if rng_cloud.random() < _FILL_PROBABILITY:  # scan-edge wedge, wider at the bottom
            self.fill[i] = cols < rng_cloud.integers(2, 10) * (0.3 + rows / ny)
        if gaps is not None:
            self.fill[i] |= gaps
        fill = self.fill[i]
        self.cloud[i] = cloud_canvas[pad:pad + ny, pad:pad + nx] & ~fill
        self.shadow[i] = (cloud_canvas[pad - d_row:pad - d_row + ny, pad - d_col:pad - d_col + nx]
                          & ~self.cloud[i] & ~fill)
        self.dilated[i] = (ndimage.binary_dilation(self.cloud[i], iterations=_DILATE_PX)
                           & ~self.cloud[i] & ~fill)

        observed = np.where(self.shadow[i], reflectance * _SHADOW_FACTOR[:, None, None],
                            reflectance)
        opacity = np.clip(0.5 + (inner - threshold) / 1.0, 0.5, 1.0).astype(np.float32)
        thick = _CLOUD[:, None, None] * (0.9 + 0.2 * opacity)
        observed = np.where(self.cloud[i], (1 - opacity) * observed + opacity * thick, observed)
        if platform is not None:
            observed = np.stack([harmonise(observed[k], platform, band, inverse=True)
                                 for k, band in enumerate(BANDS)])
        return np.where(fill, 0, _to_dn(observed))


def simulate(geobox: GeoBox | None = None, start_year: int = 2019, end_year: int = 2021,
             revisit_days: int = 16, cloud_cover: float = 0.35, seed: int = 0,
             eras: bool = False) -> SimulatedScenes:
    """Simulate a Landsat C2 L2 time series of a synthetic landscape, with its ground truth.

    Args:
        geobox: Grid to simulate on; default ``default_geobox()``. Landscape features are laid
            out in fractions of the grid, so any size works (events scale with the area).
        start_year: First calendar year simulated.
        end_year: Last calendar year simulated (inclusive).
        revisit_days: Days between acquisitions, continuous across years (16 for one Landsat).
        cloud_cover: Mean cloud fraction over all dates, in [0, 1].
        seed: Seeds everything. The landscape and event places depend only on the seed and the
            grid shape, so the same seed gives the same ground over any period.
        eras: Acquire each date with the platform of its era (Landsat 5/7/8/9, Sentinel-2A/B),
            in that sensor's bandpasses, with Landsat 7's SLC-off gaps from 31 May 2003; the
            platform of each date is the ``platform`` coordinate. Otherwise one OLI-like
            sensor ("simulated").

    Returns:
        ``SimulatedScenes`` with ``dataset`` (time, y, x): uint16 ``blue..swir2`` DNs and
        ``qa_pixel``; ``truth``: ``land_cover`` and ``change`` (year, y, x), ``clear``,
        ``cloud``, ``shadow``, ``water`` (time, y, x), ``reflectance`` (band, time, y, x).

    Raises:
        ValueError: for an empty year range, a cloud cover outside [0, 1], revisit_days < 1,
            or, with ``eras``, a date before Landsat 5.
    """
    _check_arguments(start_year, end_year, revisit_days, cloud_cover)
    geobox = default_geobox() if geobox is None else geobox
    shape = (int(geobox.shape[0]), int(geobox.shape[1]))
    ny, nx = shape
    # Independent streams: asking for other years or cloudiness keeps the same landscape.
    # (a fifth stream for the sensors leaves the first four, and older outputs, unchanged)
    rng_land, rng_event, rng_cloud, rng_noise, rng_sensor = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    ground = _ground(shape, rng_land, rng_event)

    dates = np.arange(np.datetime64(f"{start_year}-01-01") + _FIRST_DAY_OFFSET,
                      np.datetime64(f"{end_year + 1}-01-01"), revisit_days).astype("datetime64[D]")
    years = np.arange(start_year, end_year + 1)
    n_t = len(dates)
    platforms = platforms_for_dates(dates) if eras else None
    slc_off = np.datetime64(SLC_FAILURE, "D")
    when = _schedule(dates, start_year, end_year)
    events = _change_events(when, ground.patches)
    land_cover, change = _annual_truth(ground.land["cover"], ground.patches, years, when, events)

    sky = _Sky.empty(geobox, n_t, cloud_cover, rng_cloud)
    reflectance = np.empty((6, n_t, ny, nx), np.float32)
    dn = np.empty((6, n_t, ny, nx), np.uint16)
    water = np.zeros((n_t, ny, nx), bool)
    for i, date in enumerate(dates):
        reflectance[:, i], water[i] = _surface(ground, when, date, rng_noise)
        platform = platforms[i] if platforms is not None else None
        gaps = (slc_off_gaps(shape, rng_sensor)
                if platform == "landsat-7" and date >= slc_off else None)
        dn[:, i] = sky.observe(i, reflectance[:, i], rng_cloud, platform, gaps)

    cloud, fill = sky.cloud, sky.fill
    qa = _qa_pixel(fill, sky.dilated, cloud, sky.shadow, ~(cloud | sky.dilated | fill), water)
    coords = xr_coords(geobox, crs_coord_name="spatial_ref")
    time = dates.astype("datetime64[ns]")
    dataset = _scene_dataset(dn, qa, time, coords, seed)
    truth = _truth_dataset(land_cover, change, sky, water, reflectance, years, time, coords, seed)
    if platforms is not None:  # ingest makes it each item's STAC platform and instruments
        dataset = dataset.assign_coords(platform=("time", platforms))
        dataset.attrs["platform"] = "per date: the platform coordinate"
        truth = truth.assign_coords(platform=("time", platforms))
    return SimulatedScenes(dataset, truth, events, dict(LAND_COVER_CLASSES))


def _scene_dataset(dn: np.ndarray, qa: np.ndarray, time: np.ndarray, coords: Mapping[Hashable, Any],
                   seed: int) -> xr.Dataset:
    """The simulated Landsat C2 L2 cube: scaled DNs per band and QA_PIXEL."""
    sr_attrs = {"nodata": 0, "scale": SR_SCALE, "offset": SR_OFFSET, "units": "1"}
    data_vars = {b: (_DIMS, dn[k], dict(sr_attrs)) for k, b in enumerate(BANDS)}
    data_vars["qa_pixel"] = (_DIMS, qa, {"nodata": 1, "flags": "Landsat C2 QA_PIXEL bit layout"})
    return xr.Dataset(data_vars, coords={"time": time, **coords}, attrs={
        "sensor": "landsat-c2-l2", "platform": "simulated",
        "simulator_version": SIMULATOR_VERSION, "seed": int(seed)})


def _truth_dataset(land_cover: np.ndarray, change: np.ndarray, sky: _Sky, water: np.ndarray,
                   reflectance: np.ndarray, years: np.ndarray, time: np.ndarray,
                   coords: Mapping[Hashable, Any], seed: int) -> xr.Dataset:
    """What the simulated cube shows: land cover and change per year, masks and reflectance
    per date."""
    clear = ~(sky.cloud | sky.shadow | sky.fill)
    return xr.Dataset({
        "land_cover": (("year", "y", "x"), land_cover, {
            "flag_values": list(LAND_COVER_CLASSES),
            "flag_meanings": " ".join(LAND_COVER_CLASSES.values())}),
        "change": (("year", "y", "x"), change,
                   {"flag_values": [0, 1, 2, 3],
                    "flag_meanings": "none deforestation urban_growth flooding"}),
        "clear": (_DIMS, clear), "cloud": (_DIMS, sky.cloud), "shadow": (_DIMS, sky.shadow),
        "water": (_DIMS, water),
        "reflectance": (("band", *_DIMS), reflectance, {"units": "1"}),
    }, coords={"year": years, "band": list(BANDS), "time": time, **coords},
        attrs={"simulator_version": SIMULATOR_VERSION, "seed": int(seed)})
