"""Ingest of the shared real data: CBERS-4 GeoTIFF folder (sits) and eo-learn arrays."""

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from ecointegrity.cube import ingest_arrays, ingest_eopatch, ingest_geotiffs, load
from ecointegrity.cube.ingest import eopatch_geobox

S2_L1C_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1)


def test_cbers_folder_gives_24_dated_items_with_scaled_masked_reflectance(catalog, cbers_dir):
    report = ingest_geotiffs(catalog, cbers_dir, "cbers4-awfi", sensor="cbers4-awfi")
    assert report.items_added == 24 and not report.problems
    items = catalog.items("cbers4-awfi")
    assert len(items) == 24
    assert {it.datetime.date().isoformat() for it in items} >= {"2017-08-29", "2018-08-29"}

    ds = load(catalog, "cbers4-awfi", ["blue", "green", "red", "nir"]).compute()
    for band, code in [("blue", "B13"), ("green", "B14"), ("red", "B15"), ("nir", "B16")]:
        assert ds[band].shape == (24, 50, 50)
        assert ds[band].dtype == np.float32
        for t, when in enumerate(pd.DatetimeIndex(ds.time.values)):
            day = f"{when:%Y-%m-%d}"
            raw = _read(cbers_dir / f"CBERS-4_AWFI_{code}_{day}.tif")
            cmask = _read(cbers_dir / f"CBERS-4_AWFI_CMASK_{day}.tif")
            expected = np.where((cmask == 4) | (cmask == 255) | (raw == -9999), np.nan, raw * 1e-4)
            np.testing.assert_allclose(ds[band].values[t], expected, rtol=1e-6, equal_nan=True)

    cloudy = pd.DatetimeIndex(ds.time.values).get_loc(pd.Timestamp("2017-11-17"))
    cloud_share = float(ds.red[cloudy].isnull().mean())
    assert 0.15 < cloud_share < 0.2  # PROVENANCE: 18 % cloud on 2017-11-17
    assert int(ds.red.isnull().sum()) > 400


def test_cbers_grid_keeps_custom_albers_crs(catalog, cbers_dir):
    ingest_geotiffs(catalog, cbers_dir, "cbers4-awfi", sensor="cbers4-awfi")
    ds = load(catalog, "cbers4-awfi", ["red"], time="2018-01")
    assert ds.sizes["time"] == 2  # 2018-01-01 and 2018-01-17
    gb = ds.odc.geobox
    assert gb.crs.epsg is None and "Albers" in gb.crs.to_wkt()
    assert gb.boundingbox.left == pytest.approx(5794837.2, abs=0.1)


def test_eolearn_bands_reproduce_stored_ndvi(catalog, eopatch_dir, reference_scenes):
    report = ingest_eopatch(catalog, eopatch_dir, "eopatch")
    assert report.items_added == 68  # two acquisitions share 2015-12-08 and stay apart
    timestamps = json.loads((eopatch_dir / "timestamps.json").read_text())
    scenes = np.load(reference_scenes)
    # PROVENANCE: scene k of REFERENCE_SCENES is timestamp [2, 1, 4, 3, 0][k].
    when = [timestamps[i] for i in [2, 1, 4, 3, 0]]
    ingest_arrays(
        catalog, "eopatch-l1c", scenes, bands=S2_L1C_BANDS, times=when,
        geobox=eopatch_geobox(eopatch_dir), sensor="sentinel-2-l1c-eopatch",
    )
    bands = load(catalog, "eopatch-l1c", ["red", "nir"], mask=False, groupby="time").compute()
    stored = load(catalog, "eopatch", ["NDVI"], time=("2015-07-01", "2015-09-10"), mask=False, groupby="time").compute()
    assert bands.sizes == {"time": 5, "y": 101, "x": 100}
    ndvi = (bands.nir - bands.red) / (bands.nir + bands.red)
    np.testing.assert_allclose(ndvi.values, stored.NDVI.sel(time=ndvi.time).values, atol=1e-6)
    # and against the raw file, so neither side can drift unnoticed
    raw_ndvi = np.load(eopatch_dir / "data" / "NDVI.npy")[..., 0]
    np.testing.assert_allclose(stored.NDVI.values, raw_ndvi[:5], atol=1e-7)


def test_eolearn_cloud_mask_masks_bands(catalog, eopatch_dir):
    ingest_eopatch(catalog, eopatch_dir, "eopatch", features=["NDVI", "CLM"])
    ds = load(catalog, "eopatch", ["NDVI"], groupby="time").compute()
    clm = np.load(eopatch_dir / "mask" / "CLM.npy")[..., 0]
    assert np.array_equal(np.isnan(ds.NDVI.values), clm == 1)
