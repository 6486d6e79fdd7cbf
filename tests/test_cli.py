"""The command line: the demo runs offline end to end; errors are one clear line, exit 2."""

import shutil

import pystac
import rasterio
from typer.testing import CliRunner

from ecointegrity.cli import app
from ecointegrity.config import Settings

runner = CliRunner()


def test_demo_offline_writes_catalogs_and_cogs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative output folder, as `make demo` uses
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--offline", "--out", "demo"])
    assert result.exit_code == 0, result.output
    assert "scene simulator" in result.output
    catalog = pystac.Catalog.from_file(str(out / "products" / "catalog.json"))
    assert {c.id for c in catalog.get_children()} == {"geomedian", "tasselled_cap", "ndvi", "ndwi", "ndbi", "bu", "wofs"}
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 7 * 2 * 2  # products x tiles x years
    for item in (it for it in items if it.properties["ecointegrity:product"] == "geomedian"):
        with rasterio.open(item.assets["count"].get_absolute_href()) as src:
            counts = src.read(1, masked=True)
            assert src.crs.to_epsg() == 6372
        # ~23 dates a year, a third cloudy: most pixels see 10-20 clear dates
        assert 8 < float(counts.mean()) < 23
    assert str(out / "products") in result.output.replace("\n", "")
    # a second run over the same output resumes cleanly
    again = runner.invoke(app, ["demo", "--offline", "--out", str(out)])
    assert again.exit_code == 0, again.output


def test_demo_on_local_geotiffs(tmp_path, cbers_dir):
    result = runner.invoke(app, ["demo", "--data", str(cbers_dir), "--sensor", "cbers4-awfi", "--out", str(tmp_path)])
    # CBERS data lie in Brazil: no demo tile of Mexico has data, and the demo says so per tile
    assert result.exit_code == 1
    assert "NoDataError" in result.output


def test_ingest_folder_cli_reports_broken_files(tmp_path, cbers_dir):
    src = tmp_path / "tifs"
    src.mkdir()
    for band in ["B13", "B14", "B15", "B16", "CMASK"]:
        shutil.copy(cbers_dir / f"CBERS-4_AWFI_{band}_2017-08-29.tif", src)
    (src / "CBERS-4_AWFI_B13_2017-09-14.tif").write_bytes(b"garbage")
    result = runner.invoke(app, ["ingest", "folder", str(src), "--collection", "cbers", "--sensor", "cbers4-awfi",
                                 "--catalog", str(tmp_path / "cat")])
    assert result.exit_code == 0, result.output
    assert "1 items" in result.output and "CBERS-4_AWFI_B13_2017-09-14.tif" in result.output
    listed = runner.invoke(app, ["catalog", "list", "--catalog", str(tmp_path / "cat")])
    assert "cbers" in listed.output and "2017-08-29" in listed.output


def test_mosaic_command_refuses_products_a_sensor_cannot_make(tmp_path, cbers_dir):
    cat = str(tmp_path / "cat")
    runner.invoke(app, ["ingest", "folder", str(cbers_dir), "--collection", "cbers", "--sensor", "cbers4-awfi", "--catalog", cat])
    result = runner.invoke(app, ["mosaic", "--collection", "cbers", "--years", "2018", "--bbox=-46.53,-13.92,-46.50,-13.90",
                                 "--grid", "mexico", "--products", "wofs", "--catalog", cat,
                                 "--products-catalog", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "wofs needs band(s) swir1, swir2" in result.output


def test_cli_errors_are_one_line_with_exit_2(tmp_path):
    result = runner.invoke(app, ["ingest", "folder", str(tmp_path / "nope"), "--collection", "c",
                                 "--sensor", "cbers4-awfi", "--catalog", str(tmp_path / "cat")])
    assert result.exit_code == 2
    assert "nope: not a folder" in result.output


def test_settings_from_env_and_toml(tmp_path, monkeypatch):
    toml = tmp_path / "eco.toml"
    toml.write_text('data_root = "/data/eco"\nscheduler = "tcp://dask:8786"\n')
    monkeypatch.setenv("ECOINTEGRITY_CONFIG", str(toml))
    monkeypatch.setenv("ECOINTEGRITY_SCHEDULER", "tcp://other:8786")
    s = Settings()
    assert str(s.data_root) == "/data/eco"
    assert s.scheduler == "tcp://other:8786"  # environment beats the file
    assert s.catalog_location == "/data/eco/catalog"
    assert s.database == "sqlite:////data/eco/ecointegrity.sqlite"
