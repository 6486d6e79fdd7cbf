"""The static catalog: valid STAC, movable as a whole, per-item scaling honoured."""

import shutil

import numpy as np
import pandas as pd
import pystac
import pytest
from pystac.extensions.raster import RasterExtension

from ecointegrity.cube import (
    CatalogError,
    LocalCatalog,
    ingest_arrays,
    load,
    national_grid,
    tiles_for,
    to_time_range,
)

TILE = tiles_for(national_grid("mexico", 30, 16), (-88.40, 18.65, -88.399, 18.651))[0]


def _ingest_s2(cat, dates):
    dn = np.full((len(dates), 16, 16, 3), 2000, dtype=np.uint16)
    dn[..., 2] = 4  # SCL vegetation: clear
    return ingest_arrays(cat, "sentinel-2-l2a", dn, bands=["red", "nir", "scl"], times=dates,
                         geobox=TILE.geobox, sensor="sentinel-2-l2a", nodata=0)


def test_catalog_is_valid_stac_and_movable(tmp_path):
    cat = LocalCatalog(tmp_path / "a")
    _ingest_s2(cat, ["2021-06-01", "2021-06-11"])
    root = pystac.Catalog.from_file(str(tmp_path / "a" / "catalog.json"))
    items = list(root.get_items(recursive=True))
    assert len(items) == 2
    for item in items:
        assert item.assets["red"].href == "./red.tif"
        assert item.properties["proj:code"] == "EPSG:6372"
    shutil.move(tmp_path / "a", tmp_path / "b")
    ds = load(tmp_path / "b" / "catalog.json", "sentinel-2-l2a", ["red"]).compute()
    np.testing.assert_allclose(ds.red.values, 0.2)


def test_sentinel2_offset_follows_each_items_processing_baseline(tmp_path):
    cat = LocalCatalog(tmp_path / "cat")
    _ingest_s2(cat, ["2021-12-20", "2022-02-10"])
    items = cat.items("sentinel-2-l2a")
    # As Earth Search publishes them: baseline 04.00 items carry offset -0.1 in raster:bands.
    for asset in ("red", "nir"):
        RasterExtension.ext(items[1].assets[asset]).bands[0].offset = -0.1
    cat.add_items("sentinel-2-l2a", items)
    ds = load(cat, "sentinel-2-l2a", ["red"]).compute()
    assert pd.DatetimeIndex(ds.time.values).year.tolist() == [2021, 2022]
    np.testing.assert_allclose(ds.red.isel(time=0).values, 0.2, rtol=1e-6)
    np.testing.assert_allclose(ds.red.isel(time=1).values, 0.1, rtol=1e-5)


def test_time_queries_and_unknown_collection(tmp_path):
    cat = LocalCatalog(tmp_path / "cat")
    _ingest_s2(cat, ["2021-06-01", "2021-07-01", "2022-06-01"])
    assert len(cat.items("sentinel-2-l2a", time="2021")) == 2
    assert len(cat.items("sentinel-2-l2a", time="2021-07/2022")) == 2
    assert len(cat.items("sentinel-2-l2a", time=to_time_range(("2021-06-01", "2021-06-01")))) == 1
    coll = cat.collection("sentinel-2-l2a")
    start, end = coll.extent.temporal.intervals[0]
    assert (start.year, end.year) == (2021, 2022)
    with pytest.raises(CatalogError, match="collection 'landsat' is not in catalog .*; collections: sentinel-2-l2a"):
        cat.items("landsat")


def test_atomic_writes_leave_files_readable_by_others(tmp_path):
    """Temporary files are private (0600); finished outputs get the umask's mode, not 0600."""
    import os
    import stat

    from ecointegrity.io import atomic_path

    with atomic_path(tmp_path / "out.txt") as tmp:
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o600
        with open(tmp, "w") as f:
            f.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "out.txt").st_mode) == 0o666 & ~umask
