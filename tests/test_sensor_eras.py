"""Sensor eras: which platform flew when, Landsat 7's SLC-off gaps, and the harmonisation that
makes TM, ETM+, OLI and MSI one time series (simulated in each sensor's bandpass, recovered at
loading)."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pystac
import pytest
from odc.geo.geobox import GeoBox
from scipy import ndimage

from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset, load
from ecointegrity.cube.sensors import (
    HARMONISATION,
    PLATFORMS,
    SLC_FAILURE,
    SensorProfile,
    harmonise,
    platform_label,
)
from ecointegrity.cube.simulate import (
    BANDS,
    SR_OFFSET,
    SR_SCALE,
    SimulatedScenes,
    platforms_for_dates,
    simulate,
    slc_off_gaps,
)

SMALL = GeoBox.from_bbox((500_000, 2_000_000, 502_400, 2_002_400), "EPSG:32616", resolution=30)


@pytest.fixture(scope="module")
def eras() -> SimulatedScenes:
    """2001-2004 (Landsat 5 and 7, SLC on then off) and 2016-2018 would be two runs; one run
    over 2001-2018 every 24 days holds every era but Landsat 9's."""
    return simulate(SMALL, 2001, 2018, revisit_days=24, eras=True, seed=4)


def _dates(year: int, step: int = 5) -> np.ndarray:
    return np.arange(np.datetime64(f"{year}-01-03"), np.datetime64(f"{year + 1}-01-01"), step)


# --- which platform flew when ------------------------------------------------------------------


@pytest.mark.parametrize(("year", "expected"), [
    (1996, {"landsat-5"}),
    (2000, {"landsat-5", "landsat-7"}),
    (2012, {"landsat-7"}),  # Landsat 5 stopped in November 2011, Landsat 8 began in April 2013
    (2014, {"landsat-7", "landsat-8"}),
    (2016, {"landsat-7", "landsat-8", "sentinel-2a"}),
    (2019, {"landsat-7", "landsat-8", "sentinel-2a", "sentinel-2b"}),
    (2023, {"landsat-8", "landsat-9", "sentinel-2a", "sentinel-2b"}),
])
def test_platforms_by_era(year: int, expected: set[str]):
    dates = _dates(year)
    platforms = platforms_for_dates(dates)
    assert set(platforms) == expected
    for date, platform in zip(dates, platforms, strict=True):
        assert PLATFORMS[platform].flies(date.astype(object)), (date, platform)
    # the platforms flying take turns: none gets more than its share plus one
    counts = [platforms.count(p) for p in expected]
    assert max(counts) - min(counts) <= 2


def test_platform_dates_are_the_operators():
    assert PLATFORMS["landsat-5"].flies(dt.date(2011, 11, 18))
    assert not PLATFORMS["landsat-5"].flies(dt.date(2011, 11, 19))
    assert not PLATFORMS["landsat-7"].flies(dt.date(1999, 4, 14))
    assert not PLATFORMS["landsat-8"].flies(dt.date(2013, 4, 10))
    assert PLATFORMS["landsat-9"].start == dt.date(2021, 10, 31)
    assert PLATFORMS["sentinel-2a"].start == dt.date(2015, 6, 23)
    assert PLATFORMS["sentinel-2b"].start == dt.date(2017, 3, 7)
    assert {p.instrument for p in PLATFORMS.values()} == {"tm", "etm+", "oli", "msi"}
    with pytest.raises(ValueError, match="no platform"):
        platforms_for_dates(np.array(["1983-06-01"], dtype="datetime64[D]"))
    assert platform_label("landsat-7", 2002) == "Landsat 7 ETM+"
    assert platform_label("landsat-7", 2003) == "Landsat 7 ETM+ (SLC-off)"
    assert platform_label("sentinel-2b") == "Sentinel-2B MSI"


# --- Landsat 7 SLC-off ------------------------------------------------------------------------


def test_slc_off_gaps_are_22_percent_in_stripes_widening_to_the_edges():
    shape = (241, 231)
    rng = np.random.default_rng(0)
    masks = [slc_off_gaps(shape, rng) for _ in range(8)]
    for gaps in masks:
        assert 0.19 < gaps.mean() < 0.25  # USGS: ~22 % of an SLC-off scene is lost
    gaps = masks[0]
    by_column = gaps.mean(axis=0)
    centre, edges = by_column[100:131].mean(), np.r_[by_column[:15], by_column[-15:]].mean()
    assert centre < 0.06 and edges > 0.33  # near nadir almost nothing, ~14 of 32 lines at edges
    # stripes: along a column near the edge, runs of fill about 12-15 px long every ~32 rows
    labels, n = ndimage.label(gaps[:, 5])
    lengths = ndimage.sum(gaps[:, 5], labels, range(1, n + 1))
    assert 6 <= n <= 9 and 11 <= np.median(lengths) <= 15
    starts = np.flatnonzero(np.diff(gaps[:, 5].astype(int)) == 1)
    assert 30 <= np.median(np.diff(starts)) <= 34
    # the two sides open between different scan pairs, and each date has its own phase
    assert not np.array_equal(masks[0], masks[1])
    # stripes are tilted with the scan lines (descending eastwards), not along the grid rows
    rows = [np.flatnonzero(np.diff(gaps[:, c].astype(int)) == 1) for c in (5, 60)]
    assert not set(rows[0]) & set(rows[1]) or len(set(rows[0]) ^ set(rows[1])) > 2


def test_only_landsat7_after_may_2003_has_slc_gaps(eras: SimulatedScenes):
    ds = eras.dataset
    fill = (ds.qa_pixel.values & 1) == 1
    platform, time = ds.platform.values, ds.time.values
    slc_off = (platform == "landsat-7") & (time >= np.datetime64(SLC_FAILURE))
    assert slc_off.sum() >= 20 and ((platform == "landsat-7") & ~slc_off).sum() >= 5
    assert 0.19 < fill[slc_off].mean() < 0.26
    # elsewhere only the occasional scan-edge wedge
    assert fill[~slc_off].mean() < 0.02
    per_date = fill[slc_off].mean(axis=(1, 2))
    assert (per_date > 0.15).all()  # every SLC-off date, not just on average
    # gaps are fill in every band and not clear in the truth
    assert (ds.red.values[fill] == 0).all() and not eras.truth.clear.values[fill].any()


# --- harmonisation ----------------------------------------------------------------------------


def test_published_coefficients():
    # Roy et al. 2016, Table 2 (ETM+ -> OLI, OLS); HLS v2.0 bandpass adjustment (MSI -> OLI)
    assert HARMONISATION["landsat-7"]["nir"] == (0.8462, 0.0412)
    assert HARMONISATION["landsat-5"] == HARMONISATION["landsat-7"]
    assert HARMONISATION["sentinel-2a"]["red"] == (0.9765, 0.0009)
    assert HARMONISATION["sentinel-2b"]["swir2"] == (0.9867, 0.0004)
    x = np.array([0.05, 0.3], np.float32)
    np.testing.assert_allclose(harmonise(x, "landsat-7", "nir"), 0.8462 * x + 0.0412, rtol=1e-6)
    assert harmonise(x, "landsat-8", "nir") is x and harmonise(x, "landsat-9", "red") is x
    assert harmonise(x, "unknown", "red") is x and harmonise(x, None, "red") is x
    assert harmonise(x, "landsat-7", "coastal") is x  # no published coefficient: unchanged
    assert harmonise(x, "landsat-7", "red").dtype == np.float32


def test_harmonise_per_date_on_numpy_and_dask():
    refl = np.random.default_rng(1).uniform(0, 0.5, (4, 6, 5)).astype(np.float32)
    platforms = ["landsat-5", "landsat-8", "sentinel-2a", "sentinel-2b"]
    out = harmonise(refl, platforms, "swir1")
    for t, p in enumerate(platforms):
        np.testing.assert_allclose(out[t], harmonise(refl[t], p, "swir1"), rtol=1e-6)
    lazy = harmonise(da.from_array(refl, chunks=(1, 6, 5)), platforms, "swir1")
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), out, rtol=1e-6)
    np.testing.assert_allclose(harmonise(out, platforms, "swir1", inverse=True), refl, atol=1e-6)


def test_simulated_sensors_differ_and_harmonise_back_to_the_surface(eras: SimulatedScenes):
    ds, truth = eras.dataset, eras.truth
    clear = truth.clear.values
    platforms = list(ds.platform.values)
    etm = np.array([p in ("landsat-5", "landsat-7") for p in platforms])
    for k, band in enumerate(BANDS):
        sensor = ds[band].values.astype(np.float32) * np.float32(SR_SCALE) + np.float32(SR_OFFSET)
        surface = truth.reflectance.values[k]
        error = np.abs(harmonise(sensor, platforms, band) - surface)[clear]
        # within half a DN in the sensor's space (a slope of 0.85 stretches it a little)
        assert error.max() < 0.6 * SR_SCALE / 0.84 + 1e-6, band
        # and the harmonisation matters: TM/ETM+ reflectance is not OLI's
        raw_error = np.abs(sensor - surface)[etm[:, None, None] & clear]
        assert np.median(raw_error) > 0.002, band


def test_ingest_tags_platforms_and_load_harmonises(eras: SimulatedScenes, tmp_path):
    cat = LocalCatalog(tmp_path / "cat")
    profile = get_profile("landsat-c2-l2")
    assert profile.harmonise
    rename = {c: profile.asset(c) for c in ("nir", "swir1", "swir2")}
    scenes = eras.dataset.isel(time=slice(None, None, 3))  # every era, a third of the dates
    ingest_dataset(cat, "hls", scenes, sensor=profile, rename=rename)
    items = sorted(cat.items("hls"), key=lambda it: it.datetime)
    tags = {(it.properties["platform"], it.properties["instruments"][0],
             it.properties["constellation"]) for it in items}
    assert tags == {("landsat-5", "tm", "landsat"), ("landsat-7", "etm+", "landsat"),
                    ("landsat-8", "oli", "landsat"), ("sentinel-2a", "msi", "sentinel-2"),
                    ("sentinel-2b", "msi", "sentinel-2")}
    assert [it.properties["platform"] for it in items] == list(scenes.platform.values)
    truth = eras.truth.isel(time=slice(None, None, 3))
    surface = truth.reflectance.sel(band="nir").values
    loaded = load(cat, "hls", ["nir"], geobox=SMALL).nir.values
    ok = truth.clear.values & ~np.isnan(loaded)
    assert ok.mean() > 0.3
    assert np.abs(loaded - surface)[ok].max() < 2e-5
    # the same catalog read without harmonising: TM/ETM+ NIR off by ~0.04 over water
    plain = profile.model_copy(update={"harmonise": False})
    cat.ensure_collection("plain", sensor=plain)
    cat.add_items("plain", [it.clone() for it in items])
    unharmonised = load(cat, "plain", ["nir"], geobox=SMALL).nir.values
    assert np.nanmax(np.abs(unharmonised - surface)[ok]) > 0.02


def test_profiles_say_whether_they_harmonise():
    assert get_profile("landsat-c2-l2").harmonise
    # Sentinel-2 L2A's "nir" is the broad B08, not HLS's B8A: not adjusted by default
    assert not get_profile("sentinel-2-l2a").harmonise
    assert not SensorProfile(name="x", bands={"red": "r"}).harmonise


# --- the demo's log of years and sensors -------------------------------------------------------


def _annual_item(year: int, platforms: list[str] | None) -> pystac.Item:
    props = {"start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z"}
    if platforms is not None:
        props["ecointegrity:platforms"] = platforms
    square = {"type": "Polygon", "coordinates": [[[-88, 18], [-87, 18], [-87, 19], [-88, 19], [-88, 18]]]}
    return pystac.Item(f"ndvi_{year}", square, [-88, 18, -87, 19], None, props)


def test_sensors_per_year_compacts_runs_of_years(tmp_path):
    from ecointegrity.cli.demo_job import sensors_per_year

    products = LocalCatalog(tmp_path / "products")
    products.ensure_collection("ndvi")
    years = {1998: ["landsat-5"], 1999: ["landsat-5"], 2002: ["landsat-5", "landsat-7"],
             2003: ["landsat-5", "landsat-7"], 2004: ["landsat-5", "landsat-7"], 2012: ["landsat-7"]}
    products.add_items("ndvi", [_annual_item(y, p) for y, p in years.items()])
    lines = sensors_per_year(products, LocalCatalog(tmp_path / "src"), "none", (1998, 2012))
    assert lines[0] == "años cartografiados / years mapped: 1998-2012 (6)"
    assert lines[1] == ("sensores por año / sensors per year:\n  1998-1999 Landsat 5 TM;\n"
                        "  2002 Landsat 5 TM + Landsat 7 ETM+;\n"
                        "  2003-2004 Landsat 5 TM + Landsat 7 ETM+ (SLC-off);\n"
                        "  2012 Landsat 7 ETM+ (SLC-off)")


def test_sensors_per_year_from_the_source_items_when_products_do_not_say(eras, tmp_path):
    from ecointegrity.cli.demo_job import sensors_per_year

    source = LocalCatalog(tmp_path / "src")
    scenes = eras.dataset.sel(time=slice("2012-01-01", "2014-12-31"))
    ingest_dataset(source, "hls", scenes, sensor="landsat-c2-l2")
    products = LocalCatalog(tmp_path / "products")
    products.ensure_collection("ndvi")
    products.add_items("ndvi", [_annual_item(y, None) for y in (2012, 2013, 2014)])
    lines = sensors_per_year(products, source, "hls", (2012, 2014))
    assert lines == ["años cartografiados / years mapped: 2012-2014 (3)",
                     "sensores por año / sensors per year:\n  2012 Landsat 7 ETM+ (SLC-off);\n"
                     "  2013-2014 Landsat 7 ETM+ (SLC-off) + Landsat 8 OLI"]
