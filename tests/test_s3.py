"""Object storage end to end against a real S3-compatible server (SeaweedFS, started by the
`s3_server` fixture): catalogs, products (COGs + STAC items) and the tile API on `s3://`,
GDAL reading the COGs through /vsis3, atomic writes keeping their meaning, and a detection run
over recordings on S3 resuming after a kill."""

from __future__ import annotations

import io as _bytes_io
import math
import time
import uuid

import numpy as np
import pytest
from odc.geo.geobox import GeoBox

from ecointegrity import io
from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset, national_grid, tiles_for
from ecointegrity.cube.products import read_product
from ecointegrity.cube.simulate import simulate

BBOX = (-88.42, 18.63, -88.39, 18.66)


def _prefix(s3_server, name: str) -> str:
    _, _, _, bucket = s3_server
    return f"s3://{bucket}/{name}-{uuid.uuid4().hex[:8]}"


def test_s3_settings_reach_fsspec_and_gdal(s3_server, monkeypatch):
    endpoint, *_ = s3_server
    assert io.s3_endpoint() == endpoint
    assert io.storage_options("s3://b/k")["client_kwargs"] == {"endpoint_url": endpoint}
    assert io.storage_options("/local/path") == {}
    gdal = io.gdal_s3_options()
    assert gdal == {"AWS_S3_ENDPOINT": endpoint.split("://")[1], "AWS_HTTPS": "NO",
                    "AWS_VIRTUAL_HOSTING": "FALSE"}
    assert io.gdal_path("s3://b/x/y.tif") == "/vsis3/b/x/y.tif"
    monkeypatch.setenv("ECOINTEGRITY_S3_ENDPOINT", "https://store.example.org:9000/")
    assert io.gdal_s3_options()["AWS_S3_ENDPOINT"] == "store.example.org:9000"
    assert io.gdal_s3_options()["AWS_HTTPS"] == "YES"


def test_s3_atomic_writes_and_stat(s3_server):
    root = _prefix(s3_server, "atomic")
    target = io.join(root, "a", "x.json")
    assert not io.exists(target) and io.stat(target) is None
    io.write_json_atomic(target, {"a": 1})
    assert io.read_json(target) == {"a": 1}
    first = io.stat(target)
    io.write_json_atomic(target, {"a": 2, "b": [1, 2]})
    assert io.read_json(target) == {"a": 2, "b": [1, 2]}
    assert io.stat(target) != first, "a rewrite changes the stamp (ETag) within the same second"
    # a failed block uploads nothing
    broken = io.join(root, "a", "broken.bin")
    with pytest.raises(RuntimeError), io.atomic_path(broken) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise RuntimeError("crash mid-write")
    assert not io.exists(broken)


@pytest.fixture(scope="module")
def s3_products(s3_server, tmp_path_factory):
    """Source scenes and the mosaic pipeline's products, both catalogs on S3."""
    from ecointegrity.mosaics import run_mosaics

    grid = national_grid("mexico", 30, 64)
    tiles = tiles_for(grid, BBOX)
    left = min(t.geobox.boundingbox.left for t in tiles)
    top = max(t.geobox.boundingbox.top for t in tiles)
    right = max(t.geobox.boundingbox.right for t in tiles)
    bottom = min(t.geobox.boundingbox.bottom for t in tiles)
    full = GeoBox.from_bbox((left, bottom, right, top), grid.crs, resolution=30)
    scenes = simulate(full, start_year=2021, end_year=2021, seed=2)
    source = LocalCatalog(_prefix(s3_server, "source"))
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(source, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    out = _prefix(s3_server, "products")
    run = run_mosaics(source.root, "sim", out, tiles, [2021], products=["ndvi", "geomedian"],
                      progress=False)
    assert not run.failed, run.failed
    assert run.written == 2 * len(tiles)
    # the same run on local disk, to compare pixels and tile latency
    local = str(tmp_path_factory.mktemp("s3-local") / "products")
    run_mosaics(source.root, "sim", local, tiles, [2021], products=["ndvi", "geomedian"],
                progress=False)
    return out, local, tiles, full


def test_s3_mosaic_products_are_listed_and_read_back(s3_products):
    out, local, tiles, full = s3_products
    cat = LocalCatalog(out)
    assert set(cat.collections()) >= {"ndvi", "geomedian"}
    items = cat.items("ndvi")
    assert len(items) == len(tiles)
    href = items[0].assets["ndvi"].get_absolute_href()
    assert href.startswith(out + "/ndvi/") and io.exists(href)
    s3 = read_product(cat, "ndvi", 2021, full)
    disk = read_product(LocalCatalog(local), "ndvi", 2021, full)
    assert np.isfinite(s3["ndvi"].values).mean() > 0.5
    np.testing.assert_array_equal(s3["ndvi"].values, disk["ndvi"].values)
    # resume: every product is found on S3, nothing is recomputed
    from ecointegrity.mosaics import run_mosaics

    again = run_mosaics(_source_root(cat), "sim", out, tiles, [2021], products=["ndvi"], progress=False)
    assert again.written == 0 and again.skipped == len(tiles)


def _source_root(products: LocalCatalog) -> str:
    """The source catalog beside a products catalog made by the fixture."""
    fs, path = io.filesystem(products.root)
    bucket = path.split("/")[0]
    roots = [p for p in fs.ls(bucket) if p.split("/")[-1].startswith("source-")]
    assert roots
    return "s3://" + roots[0]


def test_s3_item_is_listed_only_once_complete(s3_server):
    """A crash after the COGs and the item JSON but before the collection is rewritten leaves
    an unlisted item: readers never meet it; registering it lists it."""
    from ecointegrity.cube import ProductBand, ProductSpec, write_product

    grid = national_grid("mexico", 30, 64)
    tile = tiles_for(grid, BBOX)[0]
    spec = ProductSpec("flat", "Flat", "a constant", (ProductBand("v", "int16", nodata=-1),))
    x = tile.geobox.coords["x"].values
    y = tile.geobox.coords["y"].values
    import xarray as xr

    data = xr.Dataset({"v": (("y", "x"), np.full((len(y), len(x)), 7.0))}, coords={"y": y, "x": x})
    cat = LocalCatalog(_prefix(s3_server, "partial"))
    from ecointegrity.cube import prepare_product

    prepare_product(cat, spec)
    item = write_product(cat, spec, tile, 2021, data, register=False)
    assert io.exists(io.join(cat.item_dir("flat", item.id), f"{item.id}.json"))
    assert LocalCatalog(cat.root).items("flat") == [], "written but not listed: invisible"
    cat.register_items("flat", [item])
    listed = LocalCatalog(cat.root).items("flat")
    assert [i.id for i in listed] == [item.id]
    import rasterio

    with rasterio.open(listed[0].assets["v"].get_absolute_href()) as src:
        assert int(src.read(1).max()) == 7


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _client(products, tmp_path, animations=None, database=None):
    from fastapi.testclient import TestClient

    from ecointegrity.web import create_app
    from ecointegrity.web.settings import ApiSettings

    tmp_path.mkdir(parents=True, exist_ok=True)
    app = create_app(products, database or f"sqlite:///{tmp_path / 'api.sqlite'}",
                     animations or tmp_path / "animations", ApiSettings(secret="test"), site=None)
    return TestClient(app)


def test_s3_animations_are_shared_by_replicas(s3_products, s3_server, tmp_path):
    """The GIF renderer writes animations to object storage; another replica (its own process
    in a deployment: here a second app, nothing shared but the database and the bucket)
    serves the file. No pod keeps an animation on its disk."""
    out, _, _, _ = s3_products
    animations = _prefix(s3_server, "animations")
    database = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    bbox = dict(zip(("west", "south", "east", "north"), BBOX, strict=True))
    body = {"product": "ndvi", "bbox": bbox, "year_from": 2021, "year_to": 2021,
            "size": 256, "fps": 2}
    with _client(out, tmp_path / "renderer", animations, database) as renderer:
        made = renderer.post("/api/animations", json=body)
        assert made.status_code == 201, made.text
        anim_id = made.json()["id"]
    gif = io.join(animations, f"{anim_id}.gif")
    assert io.exists(gif)
    assert not list((tmp_path / "renderer").rglob("*.gif")), "nothing on the renderer's disk"
    with _client(out, tmp_path / "api", animations, database) as api:
        served = api.get(f"/api/animations/{anim_id}/file")
        assert served.status_code == 200 and served.headers["content-type"] == "image/gif"
        assert served.content == io.read_bytes(gif) and served.content[:6] == b"GIF89a"
        assert "immutable" in served.headers["cache-control"]
        again = api.post("/api/animations", json=body)
        assert again.status_code == 200, "already made: found on S3, not rendered again"


def test_s3_landcover_stage_reads_products_and_writes_maps(demo_outputs, s3_server, tmp_path):
    """The chain's next stage on object storage: the demo's products, uploaded as they are
    (asset hrefs are relative to their item), mapped from S3 by the demo's land-cover model (on
    S3 too) into a catalog on S3: the same maps as on disk, and the API serves a land-cover
    tile from them."""
    from ecointegrity.cli.demo_job import DEMO_BBOX, demo_geobox
    from ecointegrity.cli.demo_job import QUICK_YEARS as DEMO_YEARS  # demo_outputs' years
    from ecointegrity.landcover import LandCoverModel, landcover_spec, run_landcover

    products = _prefix(s3_server, "demo-products")
    fs, path = io.filesystem(products)
    fs.put(str(demo_outputs / "products"), path, recursive=True)
    (local_model,) = (demo_outputs / "models").glob("landcover-*.joblib")
    # the model too lives on object storage: saved there (with its card), read back by the task
    model = LandCoverModel.load(local_model).save(io.join(_prefix(s3_server, "models"),
                                                          local_model.name))
    assert isinstance(model, str) and io.exists(model) and io.exists(model + ".json")
    assert io.read_json(model + ".json")["scheme"] == "simulator-8"
    tiles = tiles_for(national_grid("mexico"), DEMO_BBOX, clip=True)
    maps = _prefix(s3_server, "demo-landcover")
    years = range(DEMO_YEARS[0], DEMO_YEARS[1] + 1)
    run = run_landcover(model, products, maps, tiles, years, progress=False)
    assert not run.failed, run.failed
    assert len(run.written) == len(tiles) * len(years)
    name = landcover_spec("simulator-8").name
    on_s3 = read_product(LocalCatalog(maps), name, DEMO_YEARS[1], demo_geobox(), ["class"])
    on_disk = read_product(LocalCatalog(demo_outputs / "landcover"), name, DEMO_YEARS[1],
                           demo_geobox(), ["class"])
    np.testing.assert_array_equal(on_s3["class"].values, on_disk["class"].values)
    lon, lat = (DEMO_BBOX[0] + DEMO_BBOX[2]) / 2, (DEMO_BBOX[1] + DEMO_BBOX[3]) / 2
    x, y = _tile_of(lon, lat, 14)
    with _client([maps, products], tmp_path / "api") as client:
        r = client.get(f"/api/tiles/{name}/{DEMO_YEARS[1]}/14/{x}/{y}.png")
        assert r.status_code == 200, r.text[:300]


def test_settings_with_the_data_root_on_object_storage(monkeypatch):
    from ecointegrity.config import Settings
    from ecointegrity.web.asgi import _products

    monkeypatch.delenv("ECOINTEGRITY_DATABASE_URL", raising=False)
    monkeypatch.setenv("ECOINTEGRITY_DATA_ROOT", "s3://ecointegrity-mexico/v1")
    settings = Settings()
    assert settings.data_root == "s3://ecointegrity-mexico/v1"
    assert settings.catalog_location == "s3://ecointegrity-mexico/v1/catalog"
    assert settings.location("animations") == "s3://ecointegrity-mexico/v1/animations"
    assert _products(None, settings.data_root)[0] == "s3://ecointegrity-mexico/v1/products"
    with pytest.raises(ValueError, match="ECOINTEGRITY_DATABASE_URL"):
        _ = settings.database
    monkeypatch.setenv("ECOINTEGRITY_DATABASE_URL", "postgresql+psycopg://db/eco")
    assert Settings().database == "postgresql+psycopg://db/eco"


def test_s3_api_serves_tiles_from_cogs_on_s3(s3_products, tmp_path, report):
    from PIL import Image

    out, local, tiles, _ = s3_products
    lon, lat = (BBOX[0] + BBOX[2]) / 2, (BBOX[1] + BBOX[3]) / 2
    times: dict[str, list[float]] = {}
    for name, root in (("s3", out), ("local", local)):
        with _client(root, tmp_path / name) as client:
            products = {p["product"] for p in client.get("/api/products").json()}
            assert {"ndvi", "geomedian"} <= products
            latencies = []
            for z in (13, 14, 15):
                x, y = _tile_of(lon, lat, z)
                for product in ("ndvi", "geomedian"):  # one band; an RGB stack (a VRT over S3)
                    t0 = time.perf_counter()
                    r = client.get(f"/api/tiles/{product}/2021/{z}/{x}/{y}.png")
                    latencies.append(time.perf_counter() - t0)
                    assert r.status_code == 200, (name, product, z, r.text[:300])
                    alpha = Image.open(_bytes_io.BytesIO(r.content)).convert("RGBA").getextrema()[3]
                    assert alpha[1] == 255, f"{name} {product} z{z}: no pixels drawn"
            times[name] = latencies
    p50 = {k: float(np.median(v)) * 1000 for k, v in times.items()}
    report(f"tiles, first render (cold), S3 (SeaweedFS, localhost) vs local disk: "
           f"p50 {p50['s3']:.0f} ms vs {p50['local']:.0f} ms over {len(times['s3'])} tiles")


class Killed(RuntimeError):
    pass


def test_s3_detection_run_over_recordings_on_s3_resumes_after_a_kill(s3_server, tmp_path):
    """Recordings on S3 (an s3:// glob); the run's folder is local (the runner writes its
    ledger to a local Path)."""
    from ecointegrity.acoustics import (
        detect_recordings,
        read_detections,
        read_file_ledger,
        write_synthetic_dataset,
    )

    pool = tmp_path / "pool"
    write_synthetic_dataset(pool, 12, duration_s=(0.5, 1.0), seed=5)
    prefix = _prefix(s3_server, "recordings")
    fs, path = io.filesystem(prefix)
    for wav in sorted(pool.glob("*.wav")):
        fs.put_file(str(wav), f"{path}/{wav.name}")
    glob = f"{prefix}/*.wav"
    reference = read_detections(detect_recordings(glob, tmp_path / "whole", batch_files=6).out_dir)

    def kill_after(n: int):
        def progress(done: int, total: int) -> None:
            if done >= n:
                raise Killed(f"killed after {done} of {total}")
        return progress

    out = tmp_path / "killed"
    with pytest.raises(Killed):
        detect_recordings(glob, out, batch_files=2, progress=kill_after(4))
    resumed = detect_recordings(glob, out, batch_files=6)
    assert (resumed.skipped, resumed.processed, resumed.files) == (4, 8, 12)
    ledger = read_file_ledger(out)
    assert len(ledger) == 12 and ledger["path"].str.startswith(prefix).all()
    assert (ledger["status"] == "ok").all(), ledger.iloc[0].to_dict()
    got = read_detections(out)
    assert len(reference) > 0
    key = [c for c in ("path", "start_time", "end_time", "low_freq", "high_freq") if c in got]
    a = got.sort_values(key).reset_index(drop=True)
    b = reference.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    import pandas as pd

    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
