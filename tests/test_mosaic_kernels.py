"""The pipeline's fast paths against their references: the decoding kernels, the eager load,
products from stored values, the zero-copy band stack, the one-pass WOfS + NDVI percentiles
kernel, and the tile reader of local COGs."""

import numpy as np
import pytest
import xarray as xr

from ecointegrity.cube import (
    CorruptFileError,
    Decoding,
    LocalCatalog,
    Observations,
    get_profile,
    ingest_dataset,
    load_observations,
    write_cog,
)
from ecointegrity.cube._scale_numba import decode_numba
from ecointegrity.cube._tiff_window import read_tiff_window
from ecointegrity.cube.load import band_stack, load, native_geobox
from ecointegrity.cube.products import ProductBand
from ecointegrity.cube.simulate import simulate
from ecointegrity.mosaics import annual_products, ndvi, ndvi_percentiles, wofs_summary
from ecointegrity.mosaics.geomedian import geomedian_mads
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
def test_decode_kernels_equal_numpy(clear):
    """Stored counts to reflectance: the kernel equals numpy's float32 arithmetic (scale and
    offset, then the harmonisation), nodata and mask, on the whole stack and on rows."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 40000, (2, 5, 7, 13)).astype(np.uint16)
    raw[rng.random(raw.shape) < 0.1] = 0  # nodata
    mask = rng.random(raw.shape[1:]) > 0.3
    affine = np.empty((4, 2, 5), np.float32)
    affine[0] = 2.75e-5
    affine[1] = [[-0.2, -0.2, -0.1, -0.2, 0.0], [-0.2] * 5]
    affine[2] = [[1.0, 0.95, 1.0, 1.02, 1.0], [1.0] * 5]
    affine[3] = [[0.0, 0.004, 0.0, -0.003, 0.0], [0.0] * 5]
    masked = np.asarray([True, False])  # the second band as a quality band: never masked
    nodata, has_nodata = np.zeros(2), np.ones(2, bool)
    out = np.empty(raw.shape, np.float32)
    decode_numba(raw, affine, nodata, has_nodata, mask if clear else np.ones((1, 1, 1), bool),
                 masked, clear, out)
    scale, offset, slope, intercept = (affine[k][:, :, None, None] for k in range(4))
    ref = (raw.astype(np.float32) * scale + offset) * slope + intercept
    ref = np.where(raw != 0, ref, np.float32(np.nan))
    if clear:
        ref[0] = np.where(mask, ref[0], np.float32(np.nan))
    np.testing.assert_array_equal(out, ref)
    # a band of rows of one band, as Observations.decoded_rows asks for it
    decoding = Decoding(affine, nodata, has_nodata, masked, mask if clear else None)
    rows = np.empty((5, 3, 13), np.float32)
    decoding.decode(raw[0][:, 2:5], 0, slice(2, 5), rows)
    np.testing.assert_array_equal(rows, ref[0, :, 2:5])


def _stored(seed=0, nt=23, ny=12, nx=17):
    """Observations of six bands with everything decoding meets: per-date offsets, a
    harmonisation slope and intercept on some dates, a band's own nodata, a clear mask."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(7273, 22000, (6, nt, ny, nx)).astype(np.uint16)
    water = rng.random((nt, ny, nx)) < 0.2
    counts[3][water] = 7400  # dark nir and swir1: water for WOfS
    counts[4][water] = 7350
    counts[2][rng.random((nt, ny, nx)) < 0.05] = 0  # red's own nodata
    affine = np.empty((4, 6, nt), np.float32)
    affine[0], affine[1] = 2.75e-5, -0.2
    affine[1, :, ::5] = -0.1
    affine[2], affine[3] = 1.0, 0.0
    affine[2, :, 1::3], affine[3, :, 1::3] = 0.97, 0.004  # another sensor, harmonised
    clear = rng.random((nt, ny, nx)) > 0.3
    clear[:, 0, 0] = False  # a pixel never clear
    decoding = Decoding(affine, np.zeros(6), np.ones(6, bool), np.ones(6, bool), clear)
    return Observations(counts, REFLECTANCE_BANDS, decoding, {},
                        tuple({"units": "1"} for _ in REFLECTANCE_BANDS))


@pytest.mark.parametrize("seed", [0, 1])
def test_products_from_stored_values_equal_those_from_reflectance(seed, monkeypatch):
    """Decoded a few rows at a time (here 5 rows), every product equals the one made from the
    whole decoded float32 series, bit for bit."""
    import ecointegrity.cube.observations as module

    monkeypatch.setattr(module, "CHUNK_BYTES", 6 * 23 * 17 * 4 * 5)
    monkeypatch.setattr(module, "MIN_ROWS_PER_CORE", 1)
    observations = _stored(seed)
    assert [rows for rows, _ in observations.decoded_rows()][-1] == slice(10, 12)
    reflectance = observations.reflectance()
    assert np.isnan(reflectance.red.values).mean() > 0.3
    stored, decoded = annual_products(observations), annual_products(reflectance)
    assert stored.keys() == decoded.keys() and "wofs" in stored
    for name, product in decoded.items():
        for band in product.data_vars:
            np.testing.assert_array_equal(stored[name][band].values, product[band].values,
                                          err_msg=f"{name}.{band}")
    assert stored["wofs"].wet.values.sum() > 0
    # a subset of bands in another order: the kernel picks them from the one buffer
    subset = ["nir", "red", "green"]
    picked = geomedian_mads(observations, bands=subset, device="cpu")
    reference = geomedian_mads(np.stack([reflectance[b].values for b in subset]), device="cpu")
    for field in ("gm", "emad", "smad", "bcmad", "count"):
        np.testing.assert_array_equal(getattr(picked, field), getattr(reference, field))
    with pytest.raises(KeyError, match="coastal"):
        geomedian_mads(observations, bands=["coastal"], device="cpu")


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


def test_stored_observations_are_the_eager_load_in_half_the_memory(catalog):
    geobox = native_geobox(catalog.items("sim"))[3:20, 5:33]
    observations = load_observations(catalog, "sim", list(REFLECTANCE_BANDS), 2021,
                                     geobox=geobox)
    assert observations.counts.dtype == np.uint16 and observations.bands == REFLECTANCE_BANDS
    eager = load(catalog, "sim", list(REFLECTANCE_BANDS), 2021, geobox=geobox, eager=True)
    xr.testing.assert_identical(observations.reflectance(), eager)
    for name, product in annual_products(eager).items():
        xr.testing.assert_identical(annual_products(observations)[name], product)


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


def test_tile_reader_equals_rasterio_and_declines_what_it_does_not_take(tmp_path):
    import rasterio
    from odc.geo.geobox import GeoBox

    geobox = GeoBox.from_bbox((0, 0, 30 * 700, 30 * 600), "EPSG:6372", resolution=30)
    rng = np.random.default_rng(1)
    data = rng.integers(0, 60000, geobox.shape).astype(np.uint16)
    cog = tmp_path / "band.tif"
    write_cog(cog, data, geobox, nodata=0, blocksize=256)
    for rows, cols in [((0, 600), (0, 700)), ((256, 600), (0, 512)), ((100, 357), (311, 699))]:
        out = np.empty((rows[1] - rows[0], cols[1] - cols[0]), np.uint16)
        assert read_tiff_window(str(cog), rows, cols, out, 0.0)
        with rasterio.open(cog) as src:
            np.testing.assert_array_equal(out, src.read(1, window=(rows, cols)))
    out = np.empty((600, 700), np.uint16)
    assert not read_tiff_window(str(cog), (0, 600), (0, 700), out, 65535.0)  # other nodata
    assert not read_tiff_window(str(cog), (0, 600), (0, 700), out.astype(np.int16), 0.0)
    striped = tmp_path / "striped.tif"
    with rasterio.open(striped, "w", driver="GTiff", width=700, height=600, count=1,
                       dtype="uint16", nodata=0, compress="deflate") as dst:
        dst.write(data, 1)
    assert not read_tiff_window(str(striped), (0, 600), (0, 700), out, 0.0)
    # a damaged tile: the error names the file and the rows
    raw = bytearray(cog.read_bytes())
    with rasterio.open(cog) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_0_1", "TIFF", bidx=1))
    raw[offset : offset + 64] = b"\xff" * 64
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"damaged\.tif: damaged data in rows 256-511"):
        read_tiff_window(str(damaged), (0, 600), (0, 700), out, 0.0)
