"""Annual products on the shared real series: Landsat (yatsm), CBERS-4 (sits), Sentinel-2 (eo-learn)."""

import datetime as dt
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox

from ecointegrity.cube import (
    LocalCatalog,
    Tile,
    ingest_arrays,
    ingest_eopatch,
    ingest_geotiffs,
    load,
)
from ecointegrity.cube.load import native_geobox
from ecointegrity.mosaics import ProductNotSupportedError, ndvi_percentiles, run_mosaics

YATSM_BANDS = ["B1", "B2", "B3", "B4", "B5", "B7", "cfmask"]


def _read(item, band):
    asset = item.assets[band]
    with rasterio.open(asset.get_absolute_href()) as src:
        values = src.read(1, masked=True).astype(np.float64)
        return (values * src.scales[0] + src.offsets[0]).filled(np.nan)


@pytest.fixture(scope="module")
def yatsm(tmp_path_factory, yatsm_npz):
    """Row 50 of the Harvard Forest stack (300 px, 423 dates), at its real place in UTM 18N."""
    z = np.load(yatsm_npz, allow_pickle=False)
    y = z["Y"]  # (band, date, pixel)
    data = np.concatenate([y[:6], y[7:8]]).transpose(1, 2, 0)[:, None, :, :]  # (date, 1, pixel, band)
    times = [dt.datetime.fromordinal(int(d)) for d in z["dates"]]
    geobox = GeoBox((1, 300), Affine(30, 0, 727755, 0, -30, 4717875 - 50 * 30), "EPSG:32618")
    root = tmp_path_factory.mktemp("yatsm")
    cat = LocalCatalog(root / "catalog")
    ingest_arrays(cat, "harvard", data, bands=YATSM_BANDS, times=times, geobox=geobox,
                  sensor="landsat-sr-cfmask", nodata=-9999)
    return cat, Tile("harvard", (0, 0), geobox), root


def test_landsat_annual_products_and_ndvi_trend(yatsm):
    cat, tile, root = yatsm
    years = range(1985, 2014)
    run = run_mosaics(cat.root, "harvard", str(root / "products"), [tile], years, progress=False)
    assert not run.failed and not run.refused
    assert run.written == 7 * len(years)
    products = LocalCatalog(root / "products")
    medians = []
    for year in years:
        [item] = products.items("geomedian", time=year)
        red, nir = _read(item, "red"), _read(item, "nir")
        assert item.properties["ecointegrity:observations"] > 5
        medians.append(float(np.nanmedian((nir - red) / (nir + red))))
        [wofs] = products.items("wofs", time=year)
        assert np.nanmax(_read(wofs, "frequency")) <= 1.0
    # PROVENANCE: median clear NDVI rises from about 0.50 (1985) to 0.82 (2013): forest regrowth
    slope = np.polyfit(list(years), medians, 1)[0]
    assert slope > 0.005
    assert np.mean(medians[-5:]) > np.mean(medians[:5]) + 0.1
    # the stored NDVI product agrees with the NDVI of the stored geomedian (int16 x 1e-4 each)
    [ndvi_item] = products.items("ndvi", time=2010)
    [gm_item] = products.items("geomedian", time=2010)
    red, nir = _read(gm_item, "red"), _read(gm_item, "nir")
    np.testing.assert_allclose(_read(ndvi_item, "ndvi"), (nir - red) / (nir + red), atol=5e-4)
    p10, p50, p90 = (_read(ndvi_item, f"ndvi_p{p}") for p in (10, 50, 90))
    assert (p10 <= p50 + 1e-4).all() and (p50 <= p90 + 1e-4).all()


def test_cbers_products_without_swir_are_refused_clearly(tmp_path, cbers_dir):
    cat = LocalCatalog(tmp_path / "catalog")
    ingest_geotiffs(cat, cbers_dir, "cbers", sensor="cbers4-awfi")
    tile = Tile("cbers", (0, 0), native_geobox(cat.items("cbers")))
    run = run_mosaics(cat.root, "cbers", str(tmp_path / "products"), [tile], [2018], progress=False)
    assert run.products == ["geomedian", "ndvi", "ndwi"]
    assert set(run.refused) == {"tasselled_cap", "ndbi", "bu", "wofs"}
    assert "swir1" in run.refused["ndbi"]
    products = LocalCatalog(tmp_path / "products")
    [gm] = products.items("geomedian")
    assert set(gm.assets) == {"blue", "green", "red", "nir", "emad", "smad", "bcmad", "count"}
    count = _read(gm, "count")
    assert count.max() == 16  # 2018-01-01 .. 2018-08-29, 16-day cube
    ds = load(cat, "cbers", ["red", "nir"], 2018).compute()
    ndvi_series = (ds.nir - ds.red) / (ds.nir + ds.red)
    [nd] = products.items("ndvi")
    np.testing.assert_allclose(_read(nd, "ndvi_p50"), np.nanpercentile(ndvi_series.values, 50, axis=0), atol=1e-4)
    [ndwi] = products.items("ndwi")
    assert set(ndwi.assets) == {"ndwi"}
    with pytest.raises(ProductNotSupportedError, match="collection 'cbers' .*wofs needs band.s. swir1, swir2.*supports: geomedian, ndvi, ndwi"):
        run_mosaics(cat.root, "cbers", str(tmp_path / "products"), [tile], [2018], products=["wofs"], progress=False)


def test_eolearn_ndvi_series_percentiles(tmp_path, eopatch_dir):
    cat = LocalCatalog(tmp_path / "catalog")
    ingest_eopatch(cat, eopatch_dir, "eopatch", features=["NDVI", "CLM"])
    series = load(cat, "eopatch", ["NDVI"], 2016, groupby="time").NDVI.compute()
    result = ndvi_percentiles(series)
    raw = np.load(eopatch_dir / "data" / "NDVI.npy")[..., 0]
    clm = np.load(eopatch_dir / "mask" / "CLM.npy")[..., 0]
    stamps = json.loads((eopatch_dir / "timestamps.json").read_text())
    in_2016 = np.array([s.startswith("2016") for s in stamps])
    expected = np.nanpercentile(np.where(clm == 1, np.nan, raw)[in_2016], [10, 50, 90], axis=0)
    for k, p in enumerate((10, 50, 90)):
        np.testing.assert_allclose(result[f"ndvi_p{p}"].values, expected[k], atol=1e-6)
    assert float(result.ndvi_p90.median()) > 0.7  # summer peak of a Slovenian forest/grassland patch
