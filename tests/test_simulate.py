"""The scene simulator must be deterministic, well-formed and physically plausible.

Later tests (mosaics, indices, classification, change detection) take its truth as given, so
these tests pin down what that truth promises.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr
from odc.geo import geom
from odc.geo.geobox import GeoBox
from scipy import ndimage

from ecointegrity.cube.simulate import (
    BANDS,
    LAND_COVER_CLASSES,
    SR_OFFSET,
    SR_SCALE,
    ChangeEvent,
    SimulatedScenes,
    _shadow_offset_px,
    default_geobox,
    simulate,
)

FOREST, SHRUB, GRASS, CROP, WATER, BUILT, BARE, WETLAND = range(1, 9)
HALF_DN = 0.5 * SR_SCALE
CODES = {"deforestation": 1, "urban_growth": 2, "flooding": 3}


@pytest.fixture(scope="module")
def sim() -> SimulatedScenes:
    return simulate()


@pytest.fixture(scope="module")
def small_gbox() -> GeoBox:
    return GeoBox.from_bbox((500_000, 2_000_000, 501_920, 2_001_920), "EPSG:32616", resolution=30)


def refl(ds: xr.Dataset, band: str) -> np.ndarray:
    return ds[band].values.astype(np.float64) * SR_SCALE + SR_OFFSET


def bit(qa: np.ndarray, n: int) -> np.ndarray:
    return (qa >> n) & 1 == 1


def stable(sim: SimulatedScenes, cls: int) -> np.ndarray:
    """Pixels of ``cls`` in every year and never touched by an event, broadcast over time."""
    lc, ch = sim.truth.land_cover.values, sim.truth.change.values
    return ((lc == cls).all(0) & (ch == 0).all(0))[None]


def index(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_same_output_and_other_seed_differs():
    a = simulate(end_year=2019, seed=7)
    b = simulate(end_year=2019, seed=7)
    xr.testing.assert_identical(a.dataset, b.dataset)
    xr.testing.assert_identical(a.truth, b.truth)
    assert a.events == b.events
    c = simulate(end_year=2019, seed=8)
    assert not a.dataset.equals(c.dataset)
    assert (a.truth.land_cover.values != c.truth.land_cover.values).mean() > 0.05
    assert c.dataset.attrs["seed"] == 8


def test_landscape_depends_only_on_seed_not_on_period():
    one = simulate(start_year=2019, end_year=2019, cloud_cover=0.1, seed=3)
    three = simulate(start_year=2019, end_year=2021, seed=3)
    # The same event patches, wherever in time they fall.
    np.testing.assert_array_equal(
        one.truth.change.max("year").values > 0, three.truth.change.max("year").values > 0
    )
    untouched = three.truth.change.max("year").values == 0
    np.testing.assert_array_equal(
        one.truth.land_cover.values[0][untouched], three.truth.land_cover.values[0][untouched]
    )


# --- structure --------------------------------------------------------------------------------


def test_dataset_structure(sim: SimulatedScenes):
    ds, gbox = sim.dataset, default_geobox()
    assert set(ds.data_vars) == {*BANDS, "qa_pixel"}
    for name, var in ds.data_vars.items():
        assert var.dims == ("time", "y", "x"), name
        assert var.dtype == np.uint16, name
        assert var.attrs["nodata"] == (1 if name == "qa_pixel" else 0), name
    assert ds.sizes["y"] == ds.sizes["x"] == 200
    assert ds.odc.geobox == gbox
    assert ds.odc.crs.epsg == 6372
    assert "spatial_ref" in ds.coords
    assert ds.attrs["sensor"] == "landsat-c2-l2"
    assert ds.attrs["platform"] == "simulated" and "platform" not in ds.coords  # eras=False
    assert ds.attrs["seed"] == 0 and ds.attrs["simulator_version"]
    time = ds.time.values
    assert time.dtype == np.dtype("datetime64[ns]")
    assert (np.diff(time) == np.timedelta64(16, "D")).all()
    assert time[0] >= np.datetime64("2019-01-01") and time[-1] <= np.datetime64("2021-12-31")
    years = time.astype("datetime64[Y]").astype(int) + 1970
    assert all(22 <= (years == y).sum() <= 24 for y in (2019, 2020, 2021))


def test_default_geobox_is_bacalar_in_inegi_lcc():
    gbox = default_geobox()
    assert gbox.crs.epsg == 6372
    assert gbox.shape == (200, 200)
    assert gbox.resolution.x == 30 and gbox.resolution.y == -30
    centre = gbox.extent.centroid.to_crs("EPSG:4326")
    (lon, lat), = centre.coords
    assert abs(lon - -88.40) < 0.01 and abs(lat - 18.65) < 0.01
    assert gbox.extent.contains(geom.point(-88.40, 18.65, "EPSG:4326").to_crs(gbox.crs))


def test_truth_structure(sim: SimulatedScenes):
    truth, ds = sim.truth, sim.dataset
    assert truth.land_cover.dims == truth.change.dims == ("year", "y", "x")
    assert truth.land_cover.dtype == truth.change.dtype == np.uint8
    assert list(truth.year.values) == [2019, 2020, 2021]
    for name in ("clear", "cloud", "shadow", "water"):
        assert truth[name].dims == ("time", "y", "x") and truth[name].dtype == bool, name
    assert truth.reflectance.dims == ("band", "time", "y", "x")
    assert truth.reflectance.dtype == np.float32
    assert list(truth.band.values) == list(BANDS)
    assert truth.odc.geobox == ds.odc.geobox
    np.testing.assert_array_equal(truth.time.values, ds.time.values)
    assert set(np.unique(truth.land_cover.values)) <= set(LAND_COVER_CLASSES)
    assert sim.classes == LAND_COVER_CLASSES
    assert set(np.unique(truth.change.values)) == {0, 1, 2, 3}


def test_land_cover_proportions_are_yucatan_like(sim: SimulatedScenes):
    lc = sim.truth.land_cover.values[0]
    share = {name: (lc == k).mean() for k, name in LAND_COVER_CLASSES.items()}
    assert share["forest"] == max(share.values()) and share["forest"] > 0.4
    assert 0.05 < share["water"] < 0.25
    assert 0.005 < share["built_up"] < 0.08
    assert 0.05 < share["cropland"] + share["grassland"] < 0.4
    assert all(v > 0 for v in share.values())


def test_custom_geobox_and_revisit(small_gbox: GeoBox):
    s = simulate(small_gbox, start_year=2020, end_year=2020, revisit_days=8, seed=2)
    assert s.dataset.odc.geobox == small_gbox and s.truth.odc.geobox == small_gbox
    assert (np.diff(s.dataset.time.values) == np.timedelta64(8, "D")).all()
    assert {e.kind for e in s.events} == set(CODES)
    assert all(e.n_pixels > 0 for e in s.events)


# --- radiometry and QA ------------------------------------------------------------------------


def test_clear_dns_encode_truth_reflectance(sim: SimulatedScenes):
    clear = sim.truth.clear.values
    for k, band in enumerate(BANDS):
        observed = refl(sim.dataset, band)[clear]
        expected = sim.truth.reflectance.values[k][clear]
        assert np.abs(observed - expected).max() <= HALF_DN + 1e-6, band


def test_qa_bits_match_truth(sim: SimulatedScenes):
    qa, truth = sim.dataset.qa_pixel.values, sim.truth
    cloud, shadow = truth.cloud.values, truth.shadow.values
    np.testing.assert_array_equal(bit(qa, 3), cloud)
    np.testing.assert_array_equal(bit(qa, 4), shadow)
    # USGS: the clear bit means "neither cloud nor dilated cloud"; shadows keep it.
    usgs_clear = ~(cloud | bit(qa, 1) | bit(qa, 0))
    np.testing.assert_array_equal(bit(qa, 6), usgs_clear)
    np.testing.assert_array_equal(bit(qa, 7), truth.water.values & usgs_clear)
    assert (bit(qa, 6) & shadow).any()
    assert not bit(qa, 2).any() and not bit(qa, 5).any()  # no cirrus, no snow in Bacalar
    fill = bit(qa, 0)
    seen = ~fill
    np.testing.assert_array_equal(((qa >> 8) & 3)[seen], np.where(cloud, 3, 1)[seen])
    np.testing.assert_array_equal(((qa >> 10) & 3)[seen], np.where(shadow, 3, 1)[seen])
    assert (((qa >> 12) & 3)[seen] == 1).all() and (((qa >> 14) & 3)[seen] == 1).all()
    # Real Landsat C2 values: clear land, clear water, high-confidence cloud.
    assert 21824 in qa and 21952 in qa and 22280 in qa


def test_fill_pixels(sim: SimulatedScenes):
    qa, truth = sim.dataset.qa_pixel.values, sim.truth
    fill = bit(qa, 0)
    assert 0 < fill.sum() < 0.01 * fill.size  # a few scan-edge wedges
    assert (qa[fill] == 1).all()
    dns = np.stack([sim.dataset[b].values for b in BANDS])
    np.testing.assert_array_equal((dns == 0).any(0), fill)
    assert (dns[:, fill] == 0).all()
    assert not (truth.clear.values | truth.cloud.values | truth.shadow.values)[fill].any()
    np.testing.assert_array_equal(truth.clear.values, ~(fill | truth.cloud | truth.shadow).values)


def test_dilated_cloud_ring(sim: SimulatedScenes):
    qa, cloud = sim.dataset.qa_pixel.values, sim.truth.cloud.values
    fill = bit(qa, 0)
    ring = np.stack([ndimage.binary_dilation(c, iterations=3) for c in cloud]) & ~cloud & ~fill
    np.testing.assert_array_equal(bit(qa, 1), ring)
    assert ring.any()


def test_clouds_are_bright_and_shadows_dark_and_displaced(sim: SimulatedScenes):
    truth = sim.truth
    cloud, shadow = truth.cloud.values, truth.shadow.values
    blue = refl(sim.dataset, "blue")
    assert np.median(blue[cloud]) > 0.3
    assert np.median(blue[cloud] - truth.reflectance.values[0][cloud]) > 0.15
    nir = refl(sim.dataset, "nir")
    true_nir = truth.reflectance.values[3]
    assert (nir[shadow] <= true_nir[shadow] + HALF_DN + 1e-6).all()
    assert 0.25 < np.median(nir[shadow] / true_nir[shadow]) < 0.55
    d_row, d_col = _shadow_offset_px(default_geobox())
    assert d_row < 0 and d_col < 0  # morning sun in the south-east: shadows to the north-west
    t, r, c = np.nonzero(shadow)
    src_r, src_c = r - d_row, c - d_col
    inside = (src_r < cloud.shape[1]) & (src_c < cloud.shape[2])
    assert inside.mean() > 0.5
    assert cloud[t[inside], src_r[inside], src_c[inside]].all()


@pytest.mark.parametrize("cover", [0.1, 0.35, 0.7])
def test_cloud_fraction_follows_cloud_cover(small_gbox: GeoBox, cover: float):
    s = simulate(small_gbox, end_year=2020, cloud_cover=cover, seed=5)
    assert abs(s.truth.cloud.values.mean() - cover) <= 0.15


def test_cloud_cover_varies_between_dates(sim: SimulatedScenes):
    per_date = sim.truth.cloud.mean(("y", "x")).values
    assert abs(per_date.mean() - 0.35) <= 0.15
    assert (per_date < 0.05).sum() >= 3 and (per_date > 0.8).sum() >= 3


def test_cloud_cover_extremes(small_gbox: GeoBox):
    assert not simulate(small_gbox, end_year=2019, cloud_cover=0.0).truth.cloud.values.any()
    overcast = simulate(small_gbox, end_year=2019, cloud_cover=1.0).truth
    assert not overcast.clear.values.any()


# --- physical sanity --------------------------------------------------------------------------


def test_spectral_indices_are_physical(sim: SimulatedScenes):
    ds, clear = sim.dataset, sim.truth.clear.values
    green, red, nir, swir1 = (refl(ds, b) for b in ("green", "red", "nir", "swir1"))
    ndvi, ndwi, ndbi = index(nir, red), index(green, nir), index(swir1, nir)
    forest, grass, built = (stable(sim, k) & clear for k in (FOREST, GRASS, BUILT))
    water = sim.truth.water.values & clear
    assert np.median(ndvi[forest]) > 0.6
    assert np.median(ndvi[forest]) > np.median(ndvi[grass])
    assert np.median(ndwi[water]) > 0.2 and np.percentile(ndwi[water], 5) > 0.0
    assert np.median(ndwi[forest]) < 0
    assert np.median(ndbi[built]) > np.median(ndbi[forest])
    assert np.median(ndbi[built]) > 0


def test_cropland_has_stronger_seasonality_than_forest(sim: SimulatedScenes):
    ds, clear = sim.dataset, sim.truth.clear.values
    ndvi = index(refl(ds, "nir"), refl(ds, "red"))
    month = ds.time.values.astype("datetime64[M]").astype(int) % 12 + 1

    def series(cls: int) -> np.ndarray:
        m = np.broadcast_to(stable(sim, cls), clear.shape) & clear
        return np.array([np.median(ndvi[i][m[i]]) if m[i].sum() > 50 else np.nan
                         for i in range(len(month))])

    crop, forest = series(CROP), series(FOREST)

    def amplitude(s: np.ndarray) -> float:
        return float(np.nanpercentile(s, 90) - np.nanpercentile(s, 10))

    assert amplitude(crop) > 2 * amplitude(forest)
    wet, dry = np.isin(month, [8, 9, 10]), np.isin(month, [3, 4, 5])
    assert np.nanmean(crop[wet]) > np.nanmean(crop[dry]) + 0.15  # green in Sept, bare in April


def test_wetland_edge_floods_in_the_wet_season(sim: SimulatedScenes):
    water = sim.truth.water.values
    wetland = stable(sim, WETLAND)[0]
    month = sim.dataset.time.values.astype("datetime64[M]").astype(int) % 12 + 1
    wet = water[np.isin(month, [9, 10])][:, wetland].mean()
    dry = water[np.isin(month, [3, 4, 5])][:, wetland].mean()
    assert wet > dry + 0.05
    lagoon = stable(sim, WATER)[0]
    assert water[:, lagoon].all()


# --- change events ----------------------------------------------------------------------------


def _event(sim: SimulatedScenes, kind: str) -> ChangeEvent:
    (event,) = [e for e in sim.events if e.kind == kind]
    return event


def test_events_are_contiguous_patches_recorded_in_truth(sim: SimulatedScenes):
    assert {e.kind for e in sim.events} == set(CODES)
    change = sim.truth.change
    patches = []
    for e in sim.events:
        assert 2019 <= e.year <= 2021
        mask = change.sel(year=e.year).values == CODES[e.kind]
        assert mask.sum() == e.n_pixels and 200 <= e.n_pixels <= 1500, e
        assert ndimage.label(mask)[1] == 1, f"{e.kind} patch is not contiguous"
        assert (change.values[:, mask] == CODES[e.kind]).sum() == e.n_pixels  # only that year
        assert np.datetime64(e.start, "ns") in sim.dataset.time.values
        assert e.start.year == e.year
        patches.append(mask)
    assert (np.sum(patches, axis=0) <= 1).all()
    # deforestation, flooding, urban growth: with three years the permanent changes all happen
    # before the last one, whose composites show them complete
    assert [e.year for e in sorted(sim.events, key=lambda e: e.kind)] == [2020, 2019, 2020]


def test_deforestation(sim: SimulatedScenes):
    e = _event(sim, "deforestation")
    assert (e.from_class, e.to_class, e.end) == (FOREST, CROP, None)
    mask = sim.truth.change.sel(year=e.year).values == 1
    lc = sim.truth.land_cover
    assert (lc.sel(year=e.year - 1).values[mask] == FOREST).all()
    for year in range(e.year, 2022):
        assert (lc.sel(year=year).values[mask] == CROP).all()
    # Clearing shows at once: bare dry-season fields are much brighter in swir1 than forest.
    swir1 = sim.truth.reflectance.sel(band="swir1")
    before = swir1.sel(time=slice(None, np.datetime64(e.start) - np.timedelta64(1, "D")))
    after = swir1.sel(time=np.datetime64(e.start))
    assert np.median(after.values[mask]) - np.median(before.values[-1][mask]) > 0.05


def test_urban_growth(sim: SimulatedScenes):
    e = _event(sim, "urban_growth")
    assert (e.from_class, e.to_class, e.end) == (GRASS, BUILT, None)
    mask = sim.truth.change.sel(year=e.year).values == 2
    lc = sim.truth.land_cover
    assert (lc.sel(year=e.year - 1).values[mask] == GRASS).all()
    assert (lc.sel(year=e.year).values[mask] == BUILT).all()
    # It grows out of the existing town.
    town = lc.sel(year=2019).values == BUILT
    assert (ndimage.binary_dilation(mask, iterations=2) & town).any()


def test_flooding_is_water_only_during_the_event(sim: SimulatedScenes):
    e = _event(sim, "flooding")
    assert (e.from_class, e.to_class) == (GRASS, WATER)
    assert e.end is not None and e.start <= e.end
    assert dt.date(e.year, 9, 1) <= e.start and e.end <= dt.date(e.year, 11, 30)  # wet season
    mask = sim.truth.change.sel(year=e.year).values == 3
    assert (sim.truth.land_cover.values[:, mask] == GRASS).all()  # temporary: not a new class
    dates = sim.dataset.time.values
    during = (dates >= np.datetime64(e.start)) & (dates <= np.datetime64(e.end))
    assert during.sum() >= 2
    water = sim.truth.water.values[:, mask]
    assert water[during].all() and not water[~during].any()
    # What a water classifier sees on clear flooded pixels.
    qa = sim.dataset.qa_pixel.values[:, mask]
    assert (bit(qa, 7) == (water & bit(qa, 6))).all() and (water & sim.truth.clear.values[:, mask]).any()


def test_single_year_still_has_all_events():
    s = simulate(start_year=2020, end_year=2020)
    assert {e.kind for e in s.events} == set(CODES)
    assert all(e.year == 2020 for e in s.events)
    assert set(np.unique(s.truth.change.values)) == {0, 1, 2, 3}


def test_events_stay_inside_the_period(small_gbox: GeoBox):
    s = simulate(small_gbox, start_year=2022, end_year=2023)
    assert all(2022 <= e.year <= 2023 for e in s.events)
    assert all(dt.date(2022, 1, 1) <= e.start <= dt.date(2023, 12, 31) for e in s.events)


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_year": 2021, "end_year": 2019}, "end_year"),
        ({"cloud_cover": -0.1}, "cloud_cover"),
        ({"cloud_cover": 1.5}, "cloud_cover"),
        ({"cloud_cover": float("nan")}, "cloud_cover"),
        ({"revisit_days": 0}, "revisit_days"),
    ],
)
def test_invalid_arguments(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        simulate(**kwargs)
