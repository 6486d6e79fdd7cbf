"""Hostile and careless requests against the API on the demo's products: each one's cost is
bounded before work starts, answered with a 4xx that says why, and never stalls the server.

Each test reproduces a finding of the hardening review (see the issue "Hardening").
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import shutil
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import rasterio
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ecointegrity.cli import app
from ecointegrity.cube import LocalCatalog, check_catalog
from ecointegrity.web import ApiSettings, create_app

BBOX = {"west": -88.42, "south": 18.63, "east": -88.38, "north": 18.67}
PRODUCTS = ["geomedian", "ndvi", "landcover-simulator-8"]


def _app(demo_outputs, root, products=None, **settings):
    defaults = {"reactions_per_minute": 1000, "animations_per_minute": 1000, "secret": "test"}
    return create_app(
        products or [demo_outputs / "products", demo_outputs / "landcover"],
        f"sqlite:///{root / 'api.sqlite'}",
        root / "animations",
        ApiSettings(**{**defaults, **settings}),
        site=None,
    )


@pytest.fixture(scope="module")
def client(demo_outputs, tmp_path_factory):
    with TestClient(_app(demo_outputs, tmp_path_factory.mktemp("hardening"))) as c:
        yield c


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def uncached(demo_outputs, tmp_path_factory):
    """A client whose every tile is drawn (no tile cache)."""
    root = tmp_path_factory.mktemp("uncached")
    with TestClient(_app(demo_outputs, root, tile_cache_mb=0)) as c:
        yield c


@pytest.mark.parametrize("product", PRODUCTS)
def test_a_tile_at_every_zoom_is_cheap(uncached, product, report):
    """Zooming out froze the server: a z5 true-colour tile took 60 s (GDAL warped the tile's
    whole extent at the product's 30 m). Each tile is now read only where the data lie."""
    x, y = _tile_of(-88.40, 18.65, 10)  # one tile over all of the demo: opens every file
    assert uncached.get(f"/api/tiles/{product}/2022/10/{x}/{y}.png").status_code == 200
    slowest = (0.0, -1)
    for z in range(0, 20):
        x, y = _tile_of(-88.40, 18.65, z)
        times = []
        for _ in range(3):  # the median of three: one hiccup of a shared machine is not a finding
            t0 = time.perf_counter()
            r = uncached.get(f"/api/tiles/{product}/2022/{z}/{x}/{y}.png")
            times.append(time.perf_counter() - t0)
        took = sorted(times)[1]
        assert r.status_code == 200, (z, r.text)
        slowest = max(slowest, (took, z))
    report(f"hardening: {product} tiles z0-19 (no cache, median of 3), slowest z{slowest[1]} "
           f"{slowest[0] * 1000:.0f} ms")
    assert slowest[0] < 0.2, f"z{slowest[1]} tile took {slowest[0]:.2f} s"


def test_absurd_wms_bbox_is_refused_at_once_while_health_answers(client):
    """A GetMap with a 1e30 bbox looped inside GDAL for over 10 minutes holding the GIL."""
    url = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ndvi&STYLES=&FORMAT=image/png"
           "&TIME=2022&CRS=EPSG:3857&BBOX=-1e30,-1e30,1e30,1e30&WIDTH=256&HEIGHT=256")
    health: list[int] = []

    def poll() -> None:
        for _ in range(10):
            health.append(client.get("/api/health").status_code)
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    t0 = time.perf_counter()
    r = client.get(url)
    took = time.perf_counter() - t0
    poller.join(timeout=10)
    assert r.status_code == 400 and "outside what EPSG:3857 can show" in r.text
    assert took < 1.0
    assert health == [200] * 10
    for bbox in ("-1e16,-1e16,1e16,1e16", "-2e7,-3e7,2e7,3e7"):
        assert client.get(url.replace("-1e30,-1e30,1e30,1e30", bbox)).status_code in (200, 400)


def test_wms_latitude_beyond_the_pole_is_refused(client):
    url = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ndvi&STYLES=&FORMAT=image/png"
           "&TIME=2022&CRS=EPSG:4326&BBOX=-200,-100,200,100&WIDTH=256&HEIGHT=256")
    r = client.get(url)
    assert r.status_code == 400 and "EPSG:4326" in r.text
    # a world map in lon/lat order is fine (CRS:84)
    ok = url.replace("CRS=EPSG:4326&BBOX=-200,-100,200,100", "CRS=CRS:84&BBOX=-180,-90,180,90")
    assert client.get(ok).status_code == 200


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"fps": 0.001}, "fps"),
        ({"bbox": {**BBOX, "north": BBOX["south"] + 1e-9}}, "bbox"),
        ({"bbox": {"west": -100.0, "south": 18.63, "east": -80.0, "north": 18.64}}, "wide"),
        ({"year_from": "2021"}, "year_from"),
        ({"size": "128"}, "size"),
    ],
)
def test_bad_animation_requests_are_4xx_not_5xx(client, change, fragment):
    body = {"product": "ndvi", "bbox": BBOX, "year_from": 2021, "year_to": 2023, "size": 128,
            **change}
    r = client.post("/api/animations", json=body)
    assert r.status_code == 422, r.text
    assert fragment in r.text


def test_world_wide_slice_is_refused_by_its_size(client):
    """A world-wide slice was an OverflowError (500) while building its pixel grid."""
    world = {"west": -180, "south": -90, "east": 180, "north": 90, "year_from": 2021,
             "year_to": 2021}
    r = client.get("/api/slices/ndvi", params=world)
    assert r.status_code == 422 and "exceeds" in r.text
    outside = {"west": 10, "south": 10, "east": 11, "north": 11, "year_from": 2021,
               "year_to": 2021}
    r = client.get("/api/slices/ndvi", params=outside)
    assert r.status_code == 422 and "does not meet ndvi" in r.text


def test_identical_slices_at_once_all_succeed(client):
    params = {**BBOX, "year_from": 2021, "year_to": 2023}
    answers: list[int] = []

    def get() -> None:
        answers.append(client.get("/api/slices/ndvi", params=params).status_code)

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 8


def test_chunked_body_over_the_limit_is_refused_after_the_limit(demo_outputs, tmp_path):
    """Only Content-Length was checked: a chunked 200 MB body was read and parsed first.

    Through a real server and socket (TestClient buffers the whole body before the app runs).
    """
    app = _app(demo_outputs, tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /api/animations HTTP/1.1\r\nHost: test\r\n"
                         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"x" * 65_536 + b"\r\n"
            try:
                for _ in range(200 * 16):  # 200 MB if all of it were taken
                    conn.sendall(chunk)
                    sent += 65_536
                    if select.select([conn], [], [], 0)[0]:
                        break  # the server has answered
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = conn.recv(65_536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"larger than" in answer
        assert sent < 16 * 2**20, f"{sent:,} bytes were taken before the refusal"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_body_within_the_limit_reaches_the_app(client):
    small = client.post("/api/animations", json={"product": "ndvi"})
    assert small.status_code == 422 and "bbox" in small.text  # parsed and validated as before
    announced = client.post("/api/animations", content=b"{}" + b" " * 20_000,
                            headers={"Content-Type": "application/json"})
    assert announced.status_code == 413


def _damaged_products(demo_outputs, tmp_path):
    """A copy of the demo's products whose ndvi 2022 COGs have a destroyed block."""
    products = tmp_path / "products"
    shutil.copytree(demo_outputs / "products", products)
    cogs = sorted((products / "ndvi").glob("*2022*/*.tif"))
    for cog in cogs:  # every tile of the year, whichever one the map tile falls in
        with rasterio.open(cog) as ds:
            offset = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        data = bytearray(cog.read_bytes())
        data[offset + 10:offset + 200] = b"\xff" * 190  # the first block's deflate stream
        cog.write_bytes(bytes(data))
    return products, cogs


def test_catalog_check_lists_every_damaged_asset(demo_outputs, tmp_path):
    products, cogs = _damaged_products(demo_outputs, tmp_path)
    result = check_catalog(LocalCatalog(products))
    assert sorted(result.problems["href"].map(lambda h: Path(h).name)) == sorted(
        c.name for c in cogs
    )
    assert set(result.problems["collection"]) == {"ndvi"}
    assert result.problems["problem"].str.contains("damaged data").all()
    assert result.table["ok"].sum() == len(result.table) - len(cogs) > 0
    cli = CliRunner().invoke(app, ["catalog", "check", "--catalog", str(products),
                                   "--collection", "ndvi", "--out", str(tmp_path / "check.csv")])
    assert cli.exit_code == 3, cli.output
    assert len(pd.read_csv(tmp_path / "check.csv")) == (result.table["collection"] == "ndvi").sum()
    ok = CliRunner().invoke(app, ["catalog", "check", "--catalog", str(demo_outputs / "products")])
    assert ok.exit_code == 0, ok.output
    unknown = CliRunner().invoke(app, ["catalog", "check", "--catalog", str(products),
                                       "--collection", "nope"])
    assert unknown.exit_code == 2 and "no collection nope" in unknown.output


def test_a_corrupt_product_file_is_a_clear_error_and_the_rest_is_served(demo_outputs, tmp_path):
    products, cogs = _damaged_products(demo_outputs, tmp_path)
    with TestClient(_app(demo_outputs, tmp_path, products=[products])) as client:
        x, y = _tile_of(-88.40, 18.65, 14)
        r = client.get(f"/api/tiles/ndvi/2022/14/{x}/{y}.png")
        assert r.status_code == 500
        assert "ndvi 2022" in r.json()["detail"] and ".tif" not in r.json()["detail"]
        assert client.get(f"/api/tiles/ndvi/2021/14/{x}/{y}.png").status_code == 200
        assert client.get(f"/api/tiles/geomedian/2022/14/{x}/{y}.png").status_code == 200
        for cog in cogs:
            cog.unlink()  # missing altogether
        r = client.get(f"/api/tiles/ndvi/2022/15/{2 * x}/{2 * y}.png")
        assert r.status_code == 500 and "ndvi 2022" in r.text


def test_wms_capabilities_never_echo_a_forged_host(demo_outputs, tmp_path):
    caps = "/wms?SERVICE=WMS&REQUEST=GetCapabilities"
    with TestClient(_app(demo_outputs, tmp_path)) as client:
        forged = client.get(caps, headers={"Host": 'evil.example/"><x a="'})
        assert forged.status_code == 200
        assert b"evil.example" not in forged.content
        plain = client.get(caps, headers={"Host": "maps.example.org:8443"})
        assert b"http://maps.example.org:8443/wms" in plain.content
        assert "Host" in plain.headers["vary"].split(", ")
    public = tmp_path / "public"
    public.mkdir()
    with TestClient(_app(demo_outputs, public, public_url="https://mapas.example.mx/eco/")) as client:
        r = client.get(caps, headers={"Host": "evil.example"})
        assert b"https://mapas.example.mx/eco/wms" in r.content and b"evil" not in r.content


def test_a_full_server_answers_busy_instead_of_queueing(demo_outputs, tmp_path):
    """Reads wait for a slot at most render_wait_s; then 503 with Retry-After, health still 200."""
    with TestClient(_app(demo_outputs, tmp_path, render_wait_s=0.2, tile_cache_mb=0)) as client:
        renderer = client.app.state.renderer
        x, y = _tile_of(-88.40, 18.65, 14)
        with contextlib.ExitStack() as slots:
            for _ in range(os.cpu_count() or 1):  # every read slot taken (local catalog: one a core)
                slots.enter_context(renderer._read_slot())
            r = client.get(f"/api/tiles/ndvi/2022/14/{x}/{y}.png")
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert "busy" in r.json()["detail"]
            assert client.get("/api/health").status_code == 200
        assert client.get(f"/api/tiles/ndvi/2022/14/{x}/{y}.png").status_code == 200
