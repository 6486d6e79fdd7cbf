"""The pipeline's fast paths against their references: the fused scale + mask kernel, the eager
load, the zero-copy band stack, and the one-pass WOfS + NDVI percentiles kernel."""

import numpy as np
import pytest
import xarray as xr

from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset
from ecointegrity.cube._scale_numba import scale_mask_numba
from ecointegrity.cube.load import band_stack, load, native_geobox
from ecointegrity.cube.products import ProductBand
from ecointegrity.cube.simulate import simulate
from ecointegrity.mosaics import annual_products, ndvi, ndvi_percentiles, wofs_summary
from ecointegrity.mosaics.products import REFLECTANCE_BANDS


def _series(seed=0, nt=17, ny=9, nx=11):
    """(time, y, x) reflectance of six bands: water, vegetation, NaN (not clear) and exact
    zeros (0/0 in the ratios), as a Dataset of float32."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.0, 0.4, (6, nt, ny, nx)).astype(np.float32)
    data[:, rng.random((nt, ny, nx)) < 0.3] = np.nan  # masked observations, all bands
    data[3, rng.random((nt, ny, nx)) < 0.05] = np.nan  # a band's own nodata
    data[:, :, 0, 0] = np.nan  # a pixel never clear
    data[2:4, 1, 1, 1] = 0.0  # red = nir = 0: NDVI 0/0
    water = rng.random((nt, ny, nx)) < 0.2
    data[3][water] *= np.float32(0.1)
    data[4][water] *= np.float32(0.1)
    return xr.Dataset({b: (("time", "y", "x"), data[i]) for i, b in enumerate(REFLECTANCE_BANDS)})


@pytest.mark.parametrize("seed", [0, 1])
def test_series_kernel_equals_wofs_summary_and_ndvi_percentiles(seed):
    ds = _series(seed)
    out = annual_products(ds, ["wofs", "ndvi"])
    ref_wofs = wofs_summary(ds)
    ref_q = ndvi_percentiles(ndvi(ds.red, ds.nir))
    for v in ("wet", "clear", "frequency"):
        np.testing.assert_array_equal(out["wofs"][v].values, ref_wofs[v].values)
        assert out["wofs"][v].dtype == ref_wofs[v].dtype
    for v in ref_q.data_vars:
        np.testing.assert_array_equal(out["ndvi"][v].values, ref_q[v].values)
    assert np.isnan(out["ndvi"].ndvi_p50.values[0, 0]) and out["wofs"].clear.values[0, 0] == 0
    assert out["wofs"].wet.values.sum() > 0  # the test data does hold water


def test_series_kernel_without_wofs_bands():
    ds = _series(2)[["red", "nir", "green"]]
    out = annual_products(ds, ["ndvi"])
    ref_q = ndvi_percentiles(ndvi(ds.red, ds.nir))
    np.testing.assert_array_equal(out["ndvi"].ndvi_p90.values, ref_q.ndvi_p90.values)


@pytest.mark.parametrize("clear", [True, False])
def test_scale_mask_kernel_equals_numpy(clear):
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 40000, (5, 7, 13)).astype(np.uint16)
    raw[rng.random(raw.shape) < 0.1] = 0  # nodata
    mask = rng.random(raw.shape) > 0.3
    offsets = np.asarray([-0.2, -0.2, -0.1, -0.2, 0.0], np.float32)
    out = np.empty(raw.shape, np.float32)
    scale_mask_numba(raw, 0.0, True, 2.75e-5, offsets, mask, clear, out)
    ref = raw.astype(np.float32) * 2.75e-5 + offsets[:, None, None]
    ref = np.where(raw != 0, ref, np.float32(np.nan))
    if clear:
        ref = np.where(mask, ref, np.float32(np.nan))
    np.testing.assert_array_equal(out, ref)


def test_band_stack_is_a_view_of_an_eager_load_and_a_copy_otherwise():
    buffer = np.arange(3 * 2 * 4 * 5, dtype=np.float32).reshape(3, 2, 4, 5).copy()  # as load's
    ds = xr.Dataset({b: (("time", "y", "x"), buffer[i]) for i, b in enumerate(["a", "b", "c"])})
    view = band_stack(ds, ["b", "c"])
    assert np.shares_memory(view, buffer)
    np.testing.assert_array_equal(view, buffer[1:])
    reordered = band_stack(ds, ["c", "a"])  # not consecutive slices: a copy, still right
    assert not np.shares_memory(reordered, buffer)
    np.testing.assert_array_equal(reordered, buffer[[2, 0]])


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from odc.geo.geobox import GeoBox

    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * 40, 800_000 + 30 * 30),
                              "EPSG:6372", resolution=30)
    scenes = simulate(geobox, start_year=2021, end_year=2021, revisit_days=16, seed=4)
    cat = LocalCatalog(tmp_path_factory.mktemp("kernels") / "catalog")
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(cat, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    return cat


def test_eager_load_equals_the_lazy_one(catalog):
    geobox = native_geobox(catalog.items("sim"))[3:20, 5:33]
    lazy = load(catalog, "sim", list(REFLECTANCE_BANDS), 2021, geobox=geobox).compute()
    eager = load(catalog, "sim", list(REFLECTANCE_BANDS), 2021, geobox=geobox, eager=True)
    assert isinstance(eager.red.data, np.ndarray)
    for b in REFLECTANCE_BANDS:
        np.testing.assert_array_equal(eager[b].values, lazy[b].values)
        assert eager[b].dtype == np.float32
    assert np.isnan(eager.red.values).any() and not np.isnan(eager.red.values).all()
    # the variables are slices of one buffer, which the products read without a copy
    assert np.shares_memory(band_stack(eager, list(REFLECTANCE_BANDS)), eager.blue.values)


def _encode_reference(band, values):
    """ProductBand.encode as numpy passes (the form the numba kernel replaced)."""
    target = np.dtype(band.dtype)
    v = np.asarray(values, dtype=np.float64)
    if band.scale is not None or band.offset is not None:
        v = (v - (band.offset or 0.0)) / (band.scale or 1.0)
    missing = ~np.isfinite(v)
    info = np.iinfo(target)
    v = np.clip(np.rint(np.where(missing, 0, v)), info.min, info.max).astype(target)
    if band.nodata is not None:
        v[missing] = band.nodata
    return v


@pytest.mark.parametrize("band", [
    ProductBand("r", "int16", nodata=-32768, scale=0.0001),
    ProductBand("c", "uint16", nodata=65535),
    ProductBand("f", "uint8", nodata=255, scale=0.01),
    ProductBand("n", "int16"),
    ProductBand("o", "int16", nodata=-1, scale=0.5, offset=-0.25),
])
def test_encode_kernel_equals_numpy(band):
    rng = np.random.default_rng(6)
    values = rng.normal(0, 2, (31, 17)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[0, :6] = [np.inf, -np.inf, 0.5, -4e9, 4e9, 2.5]  # ties round to even; clipped
    values[1, :4] = [0.00005, 0.00015, -0.00005, 1.5]
    for v in (values, values * 100, values[::2, ::3]):  # and a non-contiguous view
        np.testing.assert_array_equal(band.encode(v), _encode_reference(band, v))
    assert band.encode(v).dtype == np.dtype(band.dtype)


def test_aligned_reads_equal_odc_stac_and_decline_otherwise(catalog):
    import odc.stac

    from ecointegrity.cube._aligned_read import read_aligned

    items = catalog.items("sim")
    assets = ["blue", "nir08", "qa_pixel"]
    on_grid = native_geobox(items)[2:25, 4:30]
    lazy = odc.stac.load(items, bands=assets, geobox=on_grid, chunks={}, groupby="solar_day")
    direct = read_aligned(items, lazy, on_grid, 2)
    assert direct is not None
    xr.testing.assert_identical(direct, lazy.compute())
    # beyond the items' cover (odc-stac fills nodata there) and off the pixel grid: declined
    for other in (on_grid.pad(40), on_grid.translate_pix(0.5, 0)):
        lazy = odc.stac.load(items, bands=assets, geobox=other, chunks={}, groupby="solar_day")
        assert read_aligned(items, lazy, other, 2) is None


@pytest.mark.parametrize("shift", ["pad", "half_pixel"])
def test_eager_load_off_the_grid_equals_the_lazy_one(catalog, shift):
    geobox = native_geobox(catalog.items("sim"))[3:20, 5:33]
    geobox = geobox.pad(8) if shift == "pad" else geobox.translate_pix(0.5, 0.5)
    lazy = load(catalog, "sim", ["red", "nir"], 2021, geobox=geobox).compute()
    eager = load(catalog, "sim", ["red", "nir"], 2021, geobox=geobox, eager=True)
    for b in ("red", "nir"):
        np.testing.assert_array_equal(eager[b].values, lazy[b].values)
