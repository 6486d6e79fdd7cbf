"""Indices, tasselled cap and WOfS: documented values, hand-walked tree paths, simulator truth
and real Landsat pixels."""


import numpy as np
import pytest
import xarray as xr

from ecointegrity.cube.simulate import simulate
from ecointegrity.mosaics import (
    annual_products,
    built_up,
    classify_water,
    mndwi,
    ndbi,
    ndvi,
    ndwi,
    tasselled_cap,
)
from ecointegrity.mosaics.products import PRODUCTS, supported_products

BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")


def test_indices_on_known_values():
    red, nir, green, swir1 = 0.05, 0.35, 0.08, 0.15
    assert ndvi(red, nir) == pytest.approx(0.75)
    assert ndwi(green, nir) == pytest.approx((0.08 - 0.35) / 0.43)
    assert mndwi(green, swir1) == pytest.approx((0.08 - 0.15) / 0.23)
    assert ndbi(nir, swir1) == pytest.approx((0.15 - 0.35) / 0.50)
    assert built_up(red, nir, swir1) == pytest.approx(-0.4 - 0.75)
    assert np.isnan(ndvi(np.float32(0), np.float32(0)))


def test_tasselled_cap_uses_crist_1985_with_dea_brightness():
    unit = {b: np.float64(0) for b in BANDS}
    tc = tasselled_cap(**{**unit, "swir2": np.float64(1.0)})
    assert tc["brightness"] == pytest.approx(0.2303)  # DEA's coefficient
    assert tc["greenness"] == pytest.approx(-0.1446)
    assert tc["wetness"] == pytest.approx(-0.6109)
    assert tasselled_cap(**{**unit, "nir": np.float64(1.0)})["greenness"] == pytest.approx(0.7940)


# Each row: reflectances (blue, green, red, nir, swir1, swir2), expected class, the tree path.
HAND_WALKED = [
    ((0.06, 0.08, 0.05, 0.02, 0.010, 0.005), 1, "ndi52=-0.78<=-0.01, b1<=2083.5, b7=50<=323.5, ndi43=-0.43<=0.61: wet (node 6)"),
    ((0.25, 0.25, 0.25, 0.25, 0.10, 0.050), 0, "ndi52<=-0.01, b1=2500>2083.5: dry (node 3)"),
    ((0.20, 0.30, 0.10, 0.30, 0.20, 0.050), 0, "ndi52=-0.2, b1=2000, b7=500>323.5, b1>1400.5, ndi43=0.5>-0.01: dry (node 11)"),
    ((0.03, 0.05, 0.03, 0.30, 0.15, 0.07), 0, "ndi52=0.5>0.34: dry (node 36)"),
    ((0.02, 0.05, 0.03, 0.05, 0.055, 0.04), 1, "ndi52=0.048 in (-0.01,0.12], b1=200<=334.5, ndi43=0.25<=0.54: wet (node 27)"),
    ((0.01, 0.05, 0.03, 0.05, 0.08, 0.04), 1, "ndi52=0.23, ndi43=0.25, ndi52>0.12, b3=300<=364.5, b1=100<=129.5: wet (node 31)"),
    ((0.02, 0.05, 0.03, 0.05, 0.08, 0.04), 0, "as above but b1=200>129.5: dry (node 32)"),
    ((0.01, 0.04, 0.03, 0.04, 0.09, 0.03), 0, "ndi52=(0.09-0.04)/0.13=0.385>0.34: dry (node 36)"),
    ((0.01, 0.05, 0.03, 0.04, 0.09, 0.03), 1, "ndi52=0.286 in (0.23,0.34], b1=100<=249.5, ndi43=0.14<=0.45, b3<=364.5, b1<=129.5: wet (node 44)"),
]


@pytest.mark.parametrize("values, expected, path", HAND_WALKED)
def test_wofs_tree_hand_walked(values, expected, path):
    arrays = [np.array([v], np.float32) for v in values]
    assert classify_water(*arrays)[0] == expected, path


def test_wofs_leaves_nan_unclassified():
    values = [np.array([np.nan, 0.06], np.float32)] + [np.array([v, v], np.float32) for v in (0.08, 0.05, 0.02, 0.01, 0.005)]
    assert classify_water(*values).tolist() == [-1, 1]


def test_wofs_on_real_landsat_agrees_with_fmask_water(yatsm_npz):
    z = np.load(yatsm_npz, allow_pickle=False)
    y = z["Y"].astype(np.float32)
    clear = np.isin(y[7], [0, 1]) & (y[:6] != -9999).all(axis=0)
    refl = [np.where(clear, y[b] * 1e-4, np.nan) for b in range(6)]
    wet = classify_water(*refl)
    assert ((wet == -1) == ~clear).all()
    fmask_water = y[7] == 1
    # 18 of CFmask's 20 water observations are wet for WOfS too
    assert ((wet == 1) & fmask_water).sum() >= 18
    # Harvard Forest: water is rare, and concentrated on the pond pixels (135 and neighbours)
    assert (wet == 1).sum() / clear.sum() < 0.01
    assert int(np.argmax((wet == 1).sum(axis=0))) == 135
    # a real observation walked by hand: DN 933,1002,1028,1008,266,235 -> ndi52=-0.58, b1<=2083.5,
    # b7<=323.5, ndi43=-0.01<=0.61: wet
    t, p = np.argwhere((y[:6, :, :] == np.array([933, 1002, 1028, 1008, 266, 235])[:, None, None]).all(axis=0))[0]
    assert wet[t, p] == 1


@pytest.fixture(scope="module")
def simulated():
    return simulate(start_year=2020, end_year=2020, seed=4)


def _reflectance(scenes):
    ds = scenes.dataset
    clear = scenes.truth.clear
    return xr.Dataset({b: (ds[b] * 2.75e-5 - 0.2).where(clear).astype(np.float32) for b in BANDS})


def test_annual_products_on_simulator_truth(simulated):
    products = annual_products(_reflectance(simulated))
    assert set(products) == set(PRODUCTS)
    lc = simulated.truth.land_cover.sel(year=2020).values
    forest, built = lc == 1, lc == 6
    water_always = simulated.truth.water.all("time").values
    frequency = products["wofs"].frequency.values
    assert np.nanmean(frequency[water_always]) > 0.95
    assert np.nanmean(frequency[forest]) < 0.02
    assert np.median(products["ndvi"].ndvi.values[forest]) > 0.6
    assert np.median(products["ndwi"].ndwi.values[water_always]) > 0.2
    assert np.median(products["bu"].bu.values[built]) > np.median(products["bu"].bu.values[forest]) + 0.5
    assert np.median(products["tasselled_cap"].wetness.values[water_always]) > np.median(products["tasselled_cap"].wetness.values[forest])
    p = products["ndvi"]
    assert (p.ndvi_p10 <= p.ndvi_p50).all() and (p.ndvi_p50 <= p.ndvi_p90).all()
    assert int(products["geomedian"]["count"].max()) <= simulated.dataset.sizes["time"]
    np.testing.assert_array_equal(products["wofs"].clear.values, simulated.truth.clear.sum("time").values)


def test_sensor_without_swir_gets_the_products_it_supports():
    ok, refused = supported_products(["blue", "green", "red", "nir"])
    assert ok == ["geomedian", "ndvi", "ndwi"]
    assert refused["wofs"] == "wofs needs band(s) swir1, swir2, which this sensor does not have"
    assert set(refused) == {"tasselled_cap", "ndbi", "bu", "wofs"}
    assert [b.name for b in PRODUCTS["ndwi"].spec_for(["green", "nir"]).bands] == ["ndwi"]


def test_ndvi_percentiles_kernel_matches_numpy():
    from ecointegrity.mosaics import ndvi_percentiles

    rng = np.random.default_rng(7)
    series = rng.uniform(-0.2, 0.9, (37, 20, 30)).astype(np.float32)
    series[rng.random(series.shape) < 0.4] = np.nan
    series[:, 0, 0] = np.nan  # never clear
    series[1:, 0, 1] = np.nan  # one clear value
    da = xr.DataArray(series, dims=("time", "y", "x"))
    result = ndvi_percentiles(da)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanpercentile(series, [10, 50, 90], axis=0)
    for k, p in enumerate((10, 50, 90)):
        np.testing.assert_allclose(result[f"ndvi_p{p}"].values, expected[k], atol=1e-6, equal_nan=True)
    assert result.ndvi_p50.values[0, 1] == series[0, 0, 1]
