"""The command line: the demo runs offline end to end; errors are one clear line, exit 2."""

import json
import os
import re
import shutil

import pandas as pd
import pystac
import pytest
import rasterio
from typer.testing import CliRunner

from ecointegrity.cli import app
from ecointegrity.config import Settings

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    cwd = os.getcwd()
    os.chdir(root)  # a relative output folder, as `make demo` uses
    try:
        result = runner.invoke(app, ["demo", "--offline", "--out", "demo"])
    finally:
        os.chdir(cwd)
    return result, root / "demo"


def test_demo_offline_writes_catalogs_and_cogs(demo_run):
    result, out = demo_run
    assert result.exit_code == 0, result.output
    assert "scene simulator" in result.output
    catalog = pystac.Catalog.from_file(str(out / "products" / "catalog.json"))
    assert {c.id for c in catalog.get_children()} == {"geomedian", "tasselled_cap", "ndvi", "ndwi", "ndbi", "bu", "wofs"}
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 7 * 2 * 30  # products x tiles x years (1996-2025)
    for item in (it for it in items if it.properties["ecointegrity:product"] == "geomedian"):
        with rasterio.open(item.assets["count"].get_absolute_href()) as src:
            counts = src.read(1, masked=True)
            assert src.crs.to_epsg() == 6372
        # ~11 dates a year (one every 32 days), a third cloudy, Landsat 7's SLC-off gaps:
        # most pixels see 2-9 clear dates a year
        assert 2 < float(counts.mean()) < 11, item.id
    assert str(out / "products") in result.output.replace("\n", "")
    # how to serve them: both catalogs, and the URL of the app
    assert f"--products-catalog {out / 'landcover'}" in result.output.replace("\n", "")
    assert "http://127.0.0.1:8000/" in result.output


def test_demo_maps_land_cover_and_change(demo_run):
    result, out = demo_run
    maps = pystac.Catalog.from_file(str(out / "landcover" / "catalog.json"))
    assert len(list(maps.get_items(recursive=True))) == 2 * 30
    agreement = float(re.search(r"2025 map agrees with the truth on ([\d.]+)%", result.output).group(1))
    assert agreement > 90
    change = out / "change" / "change-simulator-8-1996-2025.gpkg"
    import geopandas as gpd

    polygons = gpd.read_file(change)
    # the simulator's deforestation of 2011: forest (1) to cropland (4), 842 px = 75.8 ha
    defo = polygons[(polygons["from"] == 1) & (polygons["to"] == 4)]
    assert 60 < defo["area_ha"].sum() < 85


def test_demo_covers_30_years_of_sensors(demo_run):
    result, out = demo_run
    text = " ".join(result.output.split())  # the console wraps long lines
    assert "años cartografiados / years mapped: 1996-2025 (30)" in text
    sensors = re.search(r"sensores por año / sensors per year: (.*?) land cover model", text).group(1)
    runs = dict(run.split(" ", 1) for run in sensors.split("; "))
    assert runs["1996-1998"] == "Landsat 5 TM"
    assert runs["1999-2002"] == "Landsat 5 TM + Landsat 7 ETM+"
    assert runs["2003-2011"] == "Landsat 5 TM + Landsat 7 ETM+ (SLC-off)"
    assert runs["2012"] == "Landsat 7 ETM+ (SLC-off)"  # the year between Landsat 5 and 8
    assert runs["2022-2025"] == "Landsat 8 OLI + Landsat 9 OLI-2 + Sentinel-2A MSI + Sentinel-2B MSI"
    # every year once, in order
    spans = [[int(y) for y in k.split("-")] for k in runs]
    assert [y for s in spans for y in range(s[0], s[-1] + 1)] == list(range(1996, 2026))
    # the source items carry their STAC platform and instruments; the products the platforms used
    source = pystac.Catalog.from_file(str(out / "catalog" / "catalog.json"))
    platforms = {(it.properties["platform"], tuple(it.properties["instruments"]))
                 for it in source.get_items(recursive=True)}
    assert platforms == {("landsat-5", ("tm",)), ("landsat-7", ("etm+",)), ("landsat-8", ("oli",)),
                         ("landsat-9", ("oli",)), ("sentinel-2a", ("msi",)), ("sentinel-2b", ("msi",))}


@pytest.mark.parametrize("years", ["2025/1996", "1996-2025", "1996/2000/2025"])
def test_demo_refuses_years_it_cannot_read(tmp_path, years):
    result = runner.invoke(app, ["demo", "--offline", "--years", years, "--out", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "give years as FIRST/LAST" in " ".join(result.output.split())
    assert not (tmp_path / "d").exists(), "nothing is done"


def test_landcover_commands_train_map_change(demo_run, tmp_path):
    _, out = demo_run
    label_raster = next((out / "landcover").rglob("class.tif"))  # any land-cover map is a label raster
    common = ["--bbox=-88.43,18.62,-88.37,18.68", "--products-catalog", str(out / "products")]
    model = tmp_path / "model.joblib"
    trained = runner.invoke(app, ["landcover", "train", "--reference", str(label_raster), "--scheme", "simulator-8",
                                  "--year", "2021", "--out", str(model), "--per-class", "300", *common])
    assert trained.exit_code == 0, trained.output
    assert "spatial-block cross-validation: overall accuracy" in trained.output and model.exists()
    assert (tmp_path / "model.joblib.json").exists()
    mapped = runner.invoke(app, ["landcover", "map", "--model", str(model), "--years", "2021/2023", *common,
                                 "--maps-catalog", str(tmp_path / "maps"), "--mode", "object"])
    assert mapped.exit_code == 0, mapped.output
    changed = runner.invoke(app, ["landcover", "change", "--scheme", "simulator-8", "--from", "2021", "--to", "2023",
                                  "--out", str(tmp_path / "change"), *common, "--maps-catalog", str(tmp_path / "maps")])
    assert changed.exit_code == 0, changed.output
    assert (tmp_path / "change" / "change-simulator-8-2021-2023-matrix-ha.csv").exists()
    bad = runner.invoke(app, ["landcover", "train", "--reference", str(tmp_path / "missing.gpkg"), "--column", "x",
                              "--scheme", "simulator-8", "--year", "2021", "--out", str(model), *common])
    assert bad.exit_code == 2 and "missing.gpkg: cannot read reference polygons" in bad.output


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
    # the rest is ingested, the summary names the broken file, and the status says "some failed"
    assert result.exit_code == 3, result.output
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


def test_ingest_folder_exits_0_when_every_file_is_ingested(tmp_path, cbers_dir):
    src = tmp_path / "tifs"
    src.mkdir()
    for band in ["B13", "B14"]:
        shutil.copy(cbers_dir / f"CBERS-4_AWFI_{band}_2017-08-29.tif", src)
    result = runner.invoke(app, ["ingest", "folder", str(src), "--collection", "cbers", "--sensor", "cbers4-awfi",
                                 "--catalog", str(tmp_path / "cat")])
    assert result.exit_code == 0, result.output
    help_text = runner.invoke(app, ["ingest", "folder", "--help"]).output
    assert "3 finished but some files skipped" in " ".join(help_text.split())


def test_acoustics_detect_exits_3_when_some_recordings_failed(tmp_path):
    from ecointegrity.acoustics import write_synthetic_dataset

    audio = tmp_path / "audio"
    write_synthetic_dataset(audio, 2, duration_s=(0.5, 0.6), seed=3)
    result = runner.invoke(app, ["acoustics", "detect", str(audio), "--out", str(tmp_path / "ok")])
    assert result.exit_code == 0, result.output
    (audio / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    result = runner.invoke(app, ["acoustics", "detect", str(audio), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 3, result.output
    assert "2 recordings processed" not in result.output and "3 recordings processed" in result.output
    assert "failed: " in result.output and "broken.wav" in result.output
    assert "1 recording(s) failed" in result.output
    # the help documents the codes
    help_text = runner.invoke(app, ["acoustics", "detect", "--help"]).output
    assert "3 finished but some recordings failed" in " ".join(help_text.split())


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


def test_demo_scans_and_detects_bats(demo_run):
    result, out = demo_run
    table = pd.read_parquet(out / "acoustics" / "recordings.parquet")
    assert len(table) == 12 and (table.sample_rate == 256_000).all()
    assert (out / "acoustics" / "detections" / "detections.parquet").exists()
    ap = float(re.search(r"bats: against the generator's \d+ calls: AP ([\d.]+)", result.output).group(1))
    assert ap > 0.8


def test_demo_soundscapes_and_site_evidence(demo_run):
    result, out = demo_run
    acoustics = out / "acoustics"
    evidence = pd.read_parquet(acoustics / "site-evidence.parquet")
    assert {"forest-edge", "forest-interior", "audio"} <= set(evidence.site)
    edge = evidence[evidence.site == "forest-edge"].iloc[0]
    interior = evidence[evidence.site == "forest-interior"].iloc[0]
    assert edge.n_recordings == interior.n_recordings == 6
    assert edge.gunshot_events >= 1 and interior.gunshot_events == 0  # the shots are at the edge
    assert evidence.low_effort.all()  # six minutes a site is too little, and flagged
    assert (evidence.loc[evidence.site == "audio", "bat_passes"] > 0).all()
    assert len(pd.read_parquet(acoustics / "indices" / "indices.parquet")) == 12
    assert len(list((acoustics / "false-colour").glob("*.png"))) == 4
    # real rounds (ShotSpotter, held out of training) in real forest soundscapes are found
    said = " ".join(result.output.split())  # the console wraps long lines at its width
    assert re.search(r"inserted gunshots found [34] of 4 \(real rounds", said)


def test_acoustics_anthropogenic_indices_evidence_commands(tmp_path):
    import datetime as dt

    from ecointegrity.acoustics import synth_soundscape, write_soundscape

    for i, hour in enumerate((6, 22)):
        audio, _ = synth_soundscape(30, 16000, events=[("gunshot", 12.0)], hour=hour, seed=i)
        write_soundscape(tmp_path / "audio" / "edge" / f"2024011{i}_{hour:02d}0000.WAV", audio, 16000,
                         timestamp=dt.datetime(2024, 1, 10 + i, hour), location=(18.64, -88.38))
    (tmp_path / "audio" / "edge" / "empty.wav").write_bytes(b"")
    rec = tmp_path / "rec.parquet"
    assert runner.invoke(app, ["acoustics", "scan", str(tmp_path / "audio"), "--out", str(rec)]).exit_code == 0

    events = tmp_path / "anthro.csv"
    # threshold 0: every class is "on" in every window, so each file is one event per class
    # whatever the model hears
    result = runner.invoke(app, ["acoustics", "anthropogenic", str(tmp_path / "audio"), "--out", str(events),
                                 "--threshold", "0"])
    assert result.exit_code == 3, result.output  # finished, but empty.wav failed
    table = pd.read_csv(events)
    assert {"recording", "start_time", "end_time", "label", "score"} <= set(table.columns)
    assert len(table) == 2 * 8 and (table.start_time == 0).all() and (table.end_time == 30).all()
    assert "audio hours per CPU-hour" in result.output and "1 failed" in result.output  # empty.wav
    assert (tmp_path / "anthro-run" / "run.json").exists()

    result = runner.invoke(app, ["acoustics", "indices", str(rec), "--out", str(tmp_path / "idx"),
                                 "--false-colour", str(tmp_path / "fc")])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "idx" / "indices.parquet")) == 2
    assert len(list((tmp_path / "fc").glob("edge_*.png"))) == 2

    out = tmp_path / "evidence.csv"
    result = runner.invoke(app, ["acoustics", "evidence", str(rec), "--anthropogenic", str(tmp_path / "anthro-run"),
                                 "--indices", str(tmp_path / "idx"), "--out", str(out), "--period", "all"])
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    assert row.site == "edge" and row.n_recordings == 2 and row.gunshot_events == 2
    assert row.gunshot_per_100h == pytest.approx(2 / (60 / 3600) * 100)
    assert any(c.startswith("ACI") for c in row.index)

    bad = runner.invoke(app, ["acoustics", "anthropogenic", str(rec), "--out", str(tmp_path / "events.txt")])
    assert bad.exit_code == 2 and "events.txt: events are written as .csv or .parquet" in bad.output
    bad = runner.invoke(app, ["acoustics", "evidence", str(rec), "--out", str(tmp_path / "e.xlsx")])
    assert bad.exit_code == 2 and "e.xlsx" in bad.output


def test_demo_maps_integrity_serves_it_and_reports(demo_run, tmp_path):
    import io
    import math

    from fastapi.testclient import TestClient
    from PIL import Image

    from ecointegrity.web import ApiSettings, create_app

    result, out = demo_run
    integrity = out / "integrity"
    assert re.search(r"integrity: EI maps 1996-2025 in .* \(mean EI 2025: 0\.\d\d\)", result.output)
    assert "lightgbm" in result.output  # the baseline is reported beside the network
    for name in ("model.json", "validation.json"):
        assert (integrity / name).stat().st_size > 1000, name
    html = (out / "reports" / "integrity.es.html").read_text()
    assert "En pocas palabras" in html and "data:image/png;base64," in html and "PROVISIONAL" in html
    assert (out / "reports" / "integrity.en.pdf").read_bytes().startswith(b"%PDF")
    cat = pystac.Catalog.from_file(str(integrity / "catalog.json"))
    items = sorted(cat.get_items(recursive=True), key=lambda i: i.id)
    assert len(items) == 30 and {"ei", "ei_sd", "hemeroby", "entropy"} <= set(items[0].assets)
    with rasterio.open(items[-1].assets["ei"].get_absolute_href()) as src:
        assert src.res == (240.0, 240.0) and src.scales[0] == pytest.approx(0.01)
        ei = src.read(1, masked=True) * 0.01
        assert 0 <= ei.min() and ei.max() <= 1

    app = create_app([integrity], f"sqlite:///{tmp_path / 'api.sqlite'}", tmp_path / "animations",
                     ApiSettings(secret="test"))
    with TestClient(app) as client:
        products = {p["product"]: p for p in client.get("/api/products").json()}
        ei = products["ecosystem-integrity"]
        assert ei["years"] == list(range(1996, 2026)) and ei["kind"] == "continuous"
        z, n = 13, 2 ** 13
        x = int((-88.40 + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(18.65))) / math.pi) / 2 * n)
        tile = client.get(f"/api/tiles/ecosystem-integrity/2025/{z}/{x}/{y}.png")
        assert tile.status_code == 200
        assert Image.open(io.BytesIO(tile.content)).convert("RGBA").getextrema()[3][1] == 255


def test_integrity_map_and_report_commands(demo_run, tmp_path):
    import geopandas as gpd
    import numpy as np
    from rasterio.transform import from_bounds
    from shapely.geometry import box

    _, out = demo_run
    maps = tmp_path / "ei"
    # a DEM and a life-zone raster in WGS84, on another grid than the products
    for name, values in (("dem.tif", np.linspace(0, 120, 100 * 100, dtype=np.float32).reshape(100, 100)),
                         ("zones.tif", np.repeat(np.array([1, 2], np.float32), 50)[None, :].repeat(100, 0))):
        with rasterio.open(tmp_path / name, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32",
                           crs="EPSG:4326", transform=from_bounds(-88.44, 18.61, -88.36, 18.69, 100, 100),
                           nodata=-9999) as dst:
            dst.write(values, 1)
    result = runner.invoke(app, ["integrity", "map", "--bbox=-88.43,18.62,-88.37,18.68", "--years", "2022/2023",
                                 "--dem", str(tmp_path / "dem.tif"), "--zones", str(tmp_path / "zones.tif"),
                                 "--scheme", "simulator-8", "--hemeroby-table", "simulator-8-hemeroby",
                                 "--products-catalog", str(out / "products"), "--landcover-catalog", str(out / "landcover"),
                                 "--evidence", str(out / "acoustics" / "site-evidence.parquet"), "--out", str(maps),
                                 "--no-report"])
    assert result.exit_code == 0, result.output
    assert "spatially blocked 5-fold cross-validation" in result.output and not (maps / "reports").exists()
    model = json.loads((maps / "model.json").read_text())
    assert {"elevation_mean", "zone"} <= set(model["metadata"]["context"])
    assert model["discretiser"]["categories"]["zone"] == [1.0, 2.0]
    regions = tmp_path / "areas.gpkg"
    gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[box(-88.43, 18.62, -88.40, 18.68), box(-88.40, 18.62, -88.37, 18.68)],
                     crs="EPSG:4326").to_file(regions)
    reports = tmp_path / "reports"
    result = runner.invoke(app, ["report", "integrity", str(maps), "--out", str(reports),
                                 "--regions", str(regions), "--name-column", "name", "--dem", str(tmp_path / "dem.tif"),
                                 "--area-name", "Bacalar"])
    assert result.exit_code == 0, result.output
    text = (reports / "integrity.es.html").read_text()
    assert "west" in text and "east" in text and "Bacalar" in text and (reports / "integrity.en.pdf").exists()
    bad = runner.invoke(app, ["report", "integrity", str(tmp_path), "--out", str(reports)])
    assert bad.exit_code == 2 and "no catalog.json" in bad.output and not (tmp_path / "catalog.json").exists()
    bad = runner.invoke(app, ["report", "integrity", str(maps), "--out", str(reports), "--regions", str(regions),
                              "--name-column", "nombre"])
    assert bad.exit_code == 2 and "no column 'nombre'" in bad.output
    bad = runner.invoke(app, ["report", "integrity", str(maps), "--lang", "fr"])
    assert bad.exit_code == 2 and "--lang 'fr'" in bad.output
    bad = runner.invoke(app, ["report", "integrity", str(out / "landcover"), "--out", str(reports)])
    assert bad.exit_code == 2 and "no ecosystem-integrity items" in bad.output


def test_demo_writes_every_report_in_both_languages(demo_run):
    """The integrity report, the land-cover validation, the region cards and the acoustic
    report, each as HTML and PDF in Spanish and English; the validation's figures are the
    estimates recomputed here from its sample and its map; every table fits its page."""
    import geopandas as gpd
    import numpy as np
    from reports_pdf import pdf_text, screenshots, words_outside_margins

    from ecointegrity.cli.demo_job import demo_geobox
    from ecointegrity.cube import COUNTRIES, LocalCatalog, read_product
    from ecointegrity.landcover import (
        confusion_matrix,
        landcover_spec,
        mapped_area_ha,
        stratified_estimates,
    )
    from ecointegrity.reports import read_index

    result, out = demo_run
    reports = out / "reports"
    assert re.search(r"land-cover validation 2025: 4\d\d stratified points, overall accuracy 0\.\d{3} ± 0\.0\d\d",
                     result.output), result.output
    assert re.search(r"reports: \d+ PDF and \d+ HTML documents \(es, en\)", " ".join(result.output.split()))
    index = read_index(reports)
    names = {e["name"] for e in index}
    assert {"integrity", "landcover-validation-2025", "landcover-change-1996-2025", "regions",
            "acoustic-sites"} <= names
    cards = {e["region"] for e in index if e.get("region")}
    assert cards == {"Mitad norte (demo)", "Mitad sur (demo)", "Núcleo (demo)"}
    assert len(index) == 2 * len(names)  # every report in es and en
    for entry in index:
        assert (reports / entry["html"]).stat().st_size > 2000 and (reports / entry["pdf"]).stat().st_size > 2000
    # the validation document's figures, recomputed from the sample and the map
    sample = gpd.read_file(reports / "landcover-sample-2025.gpkg")
    class_map = read_product(LocalCatalog(out / "landcover"), landcover_spec("simulator-8").name, 2025,
                             demo_geobox(COUNTRIES["mexico"]), ["class"])["class"]
    area = mapped_area_ha(class_map)
    counts = confusion_matrix(sample.reference.to_numpy(), sample.map_class.to_numpy(), classes=list(area.index))
    est = stratified_estimates(counts, area)
    es_text = pdf_text(reports / "landcover-validation-2025.es.pdf")
    assert f"{est.overall_accuracy * 100:.1f}% ± {est.overall_accuracy_ci * 100:.1f}%" in es_text
    i = int(np.argmax(est.area))
    assert f"{est.area[i]:,.0f} ± {est.area_ci[i]:,.0f}" in es_text
    assert "Matriz de error" in es_text and "Diseño de muestreo" in es_text
    assert "Error matrix" in pdf_text(reports / "landcover-validation-2025.en.pdf")
    card = pdf_text(reports / "region-nucleo-demo.es.pdf")
    assert "Núcleo (demo)" in card and "Cobertura del suelo" in card and "Integridad por año" in card
    for pdf in sorted(reports.glob("*.pdf")):
        assert not words_outside_margins(pdf), pdf.name
    change = pdf_text(reports / "landcover-change-1996-2025.es.pdf")
    assert "Transiciones" in change and "cambió de clase" in change
    for name in ("integrity.es", "landcover-validation-2025.es", "landcover-change-1996-2025.es",
                 "region-nucleo-demo.es", "regions.en", "acoustic-sites.es"):
        assert screenshots(reports / f"{name}.pdf", "reports/demo")


def test_report_commands_on_the_demo(demo_run, tmp_path):
    import geopandas as gpd

    _, out = demo_run
    bbox = "--bbox=-88.43,18.62,-88.37,18.68"
    sample = tmp_path / "sample.gpkg"
    result = runner.invoke(app, ["landcover", "sample", "--scheme", "simulator-8", "--year", "2025", bbox,
                                 "--n", "120", "--min-per-class", "10", "--out", str(sample),
                                 "--maps-catalog", str(out / "landcover")])
    assert result.exit_code == 0, result.output
    points = gpd.read_file(sample)
    assert len(points) == 120 and points.reference.isna().all() and "fill the 'reference' column" in result.output
    # the interpreters' labels: here, the map's own class, except for 12 points
    points["reference"] = points.map_class
    points.loc[:11, "reference"] = 1
    points.to_file(sample, layer="sample")
    reports = tmp_path / "reports"
    result = runner.invoke(app, ["report", "landcover", str(out / "landcover"), "--scheme", "simulator-8",
                                 "--year", "2025", bbox, "--sample", str(sample), "--out", str(reports),
                                 "--reference-source", "photo-interpretation (test)"])
    assert result.exit_code == 0, result.output
    assert "photo-interpretation (test)" in (reports / "landcover-validation-2025.en.html").read_text()
    bad = runner.invoke(app, ["report", "landcover", str(out / "landcover"), "--scheme", "simulator-8",
                              "--year", "2025", bbox, "--sample", str(sample), "--reference-column", "truth",
                              "--out", str(reports)])
    assert bad.exit_code == 2 and "no column 'truth'" in bad.output
    result = runner.invoke(app, ["report", "regions", str(out / "integrity"), "--regions",
                                 str(out / "reports" / "regions.gpkg"), "--name-column", "nombre",
                                 "--landcover", str(out / "landcover"), "--scheme", "simulator-8", bbox,
                                 "--evidence", str(out / "acoustics" / "site-evidence.parquet"),
                                 "--out", str(reports), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert (reports / "region-mitad-norte-demo.en.pdf").exists() and not (reports / "regions.es.pdf").exists()
    change = out / "change" / "change-simulator-8-1996-2025.tif"
    result = runner.invoke(app, ["report", "landcover-change", str(out / "landcover"), "--scheme", "simulator-8",
                                 "--years", "2020/2025", bbox, "--change", str(change), "--out", str(reports),
                                 "--lang", "es"])
    assert result.exit_code == 0, result.output
    assert "Cobertura del suelo y su cambio" in (reports / "landcover-change-2020-2025.es.html").read_text()
    result = runner.invoke(app, ["report", "acoustics", str(out / "acoustics" / "site-evidence.csv"),
                                 "--integrity-catalog", str(out / "integrity"), "--out", str(reports)])
    assert result.exit_code == 0, result.output
    assert "Monitoreo acústico" in (reports / "acoustic-sites.es.html").read_text()
