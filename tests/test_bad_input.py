"""Bad input: clear errors naming the file or parameter; batches skip and report; nothing partial."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from ecointegrity.cube import (
    CorruptFileError,
    MissingBandError,
    NoDataError,
    UnknownCRSError,
    ingest_arrays,
    ingest_geotiffs,
    load,
)
from ecointegrity.cube import ingest as ingest_module
from ecointegrity.cube.grids import national_grid, tiles_for


@pytest.fixture
def broken_folder(tmp_path, cbers_dir):
    """Four real dates of CBERS, plus a truncated file, a garbage file, a file without CRS and a
    file whose name carries no date."""
    folder = tmp_path / "tifs"
    folder.mkdir()
    for day in ["2017-08-29", "2017-09-14", "2017-09-30", "2017-10-16"]:
        for band in ["B13", "B14", "B15", "B16", "CMASK"]:
            shutil.copy(cbers_dir / f"CBERS-4_AWFI_{band}_{day}.tif", folder)
    truncated = folder / "CBERS-4_AWFI_B15_2017-09-14.tif"
    truncated.write_bytes(truncated.read_bytes()[:1500])
    (folder / "CBERS-4_AWFI_B16_2017-09-30.tif").write_bytes(b"this is not a tiff")
    with rasterio.open(
        folder / "CBERS-4_AWFI_B13_2017-11-01.tif", "w", driver="GTiff", width=8, height=8, count=1,
        dtype="int16", transform=Affine(64, 0, 0, 0, -64, 0),
    ) as dst:
        dst.write(np.ones((1, 8, 8), dtype=np.int16))
    (folder / "notes.tif").write_bytes(b"")
    return folder


def test_folder_ingest_reports_broken_files_and_ingests_the_rest(catalog, broken_folder):
    report = ingest_geotiffs(catalog, broken_folder, "cbers", sensor="cbers4-awfi")
    reasons = {p.split("/")[-1]: r for p, r in report.problems}
    assert set(reasons) == {
        "CBERS-4_AWFI_B15_2017-09-14.tif",
        "CBERS-4_AWFI_B16_2017-09-30.tif",
        "CBERS-4_AWFI_B13_2017-11-01.tif",
        "notes.tif",
    }
    assert "not a readable raster" in reasons["CBERS-4_AWFI_B16_2017-09-30.tif"]
    assert "no coordinate reference system" in reasons["CBERS-4_AWFI_B13_2017-11-01.tif"]
    assert "does not match pattern" in reasons["notes.tif"]
    assert report.items_added == 4  # the 2017-11-01 date had only its broken file
    items = {it.id: it for it in catalog.items("cbers")}
    assert "B15" not in items["cbers_20170914"].assets and "B14" in items["cbers_20170914"].assets
    assert "4 input(s) skipped" in str(report)


def test_missing_band_names_band_and_collection(catalog, cbers_dir):
    ingest_geotiffs(catalog, cbers_dir, "cbers", sensor="cbers4-awfi")
    with pytest.raises(MissingBandError, match="band 'swir1' is not in sensor profile 'cbers4-awfi'"):
        load(catalog, "cbers", ["swir1"])
    with pytest.raises(MissingBandError, match="'B99' is not in .*cbers"):
        load(catalog, "cbers", ["B99"])


def test_time_range_without_data_is_a_clear_error(catalog, cbers_dir):
    ingest_geotiffs(catalog, cbers_dir, "cbers", sensor="cbers4-awfi")
    with pytest.raises(NoDataError, match="no data in collection 'cbers' for time=2020-01-01/2020-12-31"):
        load(catalog, "cbers", ["red"], time=2020)
    with pytest.raises(ValueError, match="ends .* before it starts"):
        load(catalog, "cbers", ["red"], time="2019/2018")


def test_not_a_folder_and_unknown_crs(catalog, tmp_path):
    with pytest.raises(CorruptFileError, match="not a folder"):
        ingest_geotiffs(catalog, tmp_path / "missing", "x", sensor="cbers4-awfi")
    (tmp_path / "patch").mkdir()
    (tmp_path / "patch" / "bbox.geojson").write_text('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}')
    with pytest.raises(UnknownCRSError, match="bbox.geojson: no coordinate reference system"):
        ingest_module.ingest_eopatch(catalog, tmp_path / "patch", "x")


def test_failed_write_leaves_no_partial_item(catalog, monkeypatch):
    tile = tiles_for(national_grid("mexico", 30, 32), (-88.40, 18.65, -88.399, 18.651))[0]
    data = np.random.default_rng(0).integers(7000, 20000, (3, 32, 32, 2)).astype(np.uint16)
    calls = {"n": 0}
    real_write = ingest_module.write_cog

    def failing_write(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "write_cog", failing_write)
    with pytest.raises(OSError, match="disk full"):
        ingest_arrays(catalog, "sim", data, bands=["red", "nir08"], times=["2020-01-01", "2020-01-17", "2020-02-02"],
                      geobox=tile.geobox, sensor="landsat-c2-l2", nodata=0)
    assert catalog.item_ids("sim") == []
    assert list(Path(catalog.root).rglob("*.tmp*")) == []
    # a re-run completes
    monkeypatch.setattr(ingest_module, "write_cog", real_write)
    ingest_arrays(catalog, "sim", data, bands=["red", "nir08"], times=["2020-01-01", "2020-01-17", "2020-02-02"],
                  geobox=tile.geobox, sensor="landsat-c2-l2", nodata=0)
    assert len(catalog.item_ids("sim")) == 3


def _corrupt_middle_block(path: Path) -> None:
    """Overwrite bytes in the middle of the compressed data of a block that is neither the
    first nor the last (the offsets come from GDAL's TIFF metadata domain)."""
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[offset + size // 2 : offset + size // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def test_folder_ingest_reads_every_block_and_reports_a_damaged_middle(catalog, tmp_path):
    folder = tmp_path / "tifs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for day in ["2017-08-29", "2017-09-14"]:
        with rasterio.open(
            folder / f"CBERS-4_AWFI_B13_{day}.tif", "w", driver="GTiff", width=512, height=512, count=1,
            dtype="int16", crs="EPSG:32614", transform=Affine(64, 0, 500000, 0, -64, 2000000),
            tiled=True, blockxsize=128, blockysize=128, compress="deflate",
        ) as dst:
            dst.write(rng.normal(1000, 50, (1, 512, 512)).astype(np.int16))
    damaged = folder / "CBERS-4_AWFI_B13_2017-09-14.tif"
    _corrupt_middle_block(damaged)
    with rasterio.open(damaged) as src:  # what the old check read: first and last blocks are fine
        src.read(1, window=rasterio.windows.Window(0, 0, 128, 128))
        src.read(1, window=rasterio.windows.Window(384, 384, 128, 128))

    report = ingest_geotiffs(catalog, folder, "cbers", sensor="cbers4-awfi")
    assert [Path(p).name for p, _ in report.problems] == [damaged.name]
    assert "damaged data in rows 128-255" in report.problems[0][1]
    assert report.items_added == 1 and catalog.item_ids("cbers") == ["cbers_20170829"]
    assert damaged.name in str(report)
