"""The React-2-EO API through its HTTP interface (FastAPI TestClient), on the demo's products."""

import io
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ecointegrity.web import ApiSettings, create_app

BBOX = {"west": -88.42, "south": 18.63, "east": -88.38, "north": 18.67}


@pytest.fixture(scope="module")
def client(demo_outputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    # the annual products and the land-cover maps, as `demo --serve` serves them
    app = create_app([demo_outputs / "products", demo_outputs / "landcover"], f"sqlite:///{root / 'api.sqlite'}",
                     root / "animations", ApiSettings(reactions_per_minute=1000, animations_per_minute=1000, secret="test"))
    with TestClient(app) as c:
        yield c


def _tile_of(lon, lat, z):
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_land_cover_catalog_is_served_beside_the_products(client):
    products = {p["product"]: p for p in client.get("/api/products").json()}
    landcover = products["landcover-simulator-8"]
    assert landcover["kind"] == "classes" and landcover["years"] == [2021, 2022, 2023]
    assert set(landcover["legend"]) == set(landcover["legend_colors"])
    assert all(c.startswith("#") and len(c) == 7 for c in landcover["legend_colors"].values())
    x, y = _tile_of(-88.40, 18.65, 14)
    tile = client.get(f"/api/tiles/landcover-simulator-8/2023/14/{x}/{y}.png")
    assert tile.status_code == 200
    assert Image.open(io.BytesIO(tile.content)).convert("RGBA").getextrema()[3][1] == 255, "classes drawn"
    cut = client.get("/api/slices/landcover-simulator-8", params={**BBOX, "year_from": 2021, "year_to": 2023})
    assert cut.status_code == 200 and cut.headers["content-type"] == "image/tiff"
    assert products["geomedian"]["kind"] == "rgb" and products["geomedian"]["default_style"] == "true_colour"
    assert len(products["ndvi"]["colormap_stops"]) >= 2


def test_false_colour_animation(client):
    body = {"product": "geomedian", "bbox": BBOX, "year_from": 2021, "year_to": 2023, "size": 128, "band": "false_colour"}
    r = client.post("/api/animations", json=body)
    assert r.status_code in (200, 201), r.text
    gif = Image.open(io.BytesIO(client.get(r.json()["url"]).content))
    assert gif.n_frames == 3
    true = client.post("/api/animations", json={**body, "band": "true_colour"}).json()
    assert true["id"] != r.json()["id"]
    assert client.post("/api/animations", json={**body, "band": "nonsense"}).status_code == 422


def test_health_version_and_products(client):
    assert client.get("/api/health").json() == {"status": "ok"}
    assert "version" in client.get("/api/version").json()
    products = {p["product"]: p for p in client.get("/api/products").json()}
    assert {"geomedian", "ndvi", "wofs"} <= set(products)
    ndvi = products["ndvi"]
    assert ndvi["years"] == [2021, 2022, 2023] and ndvi["colormap"] == "rdylgn"
    assert ndvi["value_range"] == [-0.2, 0.9]
    w, s, e, n = ndvi["bounds"]
    assert w < -88.4 < e and s < 18.65 < n


def test_tiles_png_webp_cache_and_outside(client):
    x, y = _tile_of(-88.40, 18.65, 13)
    r = client.get(f"/api/tiles/ndvi/2022/13/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert "max-age" in r.headers["cache-control"]
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert img.shape == (256, 256, 4) and (img[..., 3] > 0).mean() > 0.2
    again = client.get(f"/api/tiles/ndvi/2022/13/{x}/{y}.png", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    webp = client.get(f"/api/tiles/geomedian/2022/13/{x}/{y}.webp")
    assert webp.status_code == 200 and Image.open(io.BytesIO(webp.content)).format == "WEBP"
    outside = client.get("/api/tiles/ndvi/2022/13/100/100.png")
    assert outside.status_code == 200
    assert (np.asarray(Image.open(io.BytesIO(outside.content)).convert("RGBA"))[..., 3] == 0).all()


@pytest.mark.parametrize("url, status, words", [
    ("/api/tiles/nope/2022/13/1/1.png", 404, "nope"),
    ("/api/tiles/ndvi/1999/13/1/1.png", 404, "1999"),
    ("/api/tiles/ndvi/2022/3/9/1.png", 404, "below 2**z"),
    ("/api/tiles/ndvi/2022/13/1/1.gif", 422, ""),
])
def test_tile_errors_are_clear(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status and words in r.text


def test_wms_capabilities_and_getmap(client):
    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
    assert caps.status_code == 200 and b"<Name>ndvi</Name>" in caps.content and b'name="time"' in caps.content
    # EPSG:4326 in WMS 1.3.0 is latitude first
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "ndvi", "STYLES": "",
              "CRS": "EPSG:4326", "BBOX": "18.63,-88.42,18.67,-88.38", "WIDTH": "200", "HEIGHT": "200",
              "FORMAT": "image/png", "TIME": "2022"}
    r = client.get("/wms", params=params)
    assert r.status_code == 200, r.text
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert img.shape == (200, 200, 4) and (img[..., 3] > 0).mean() > 0.9
    swapped = client.get("/wms", params={**params, "BBOX": "-88.42,18.63,-88.38,18.67"})  # lon first: far away
    assert swapped.status_code == 400 or (np.asarray(Image.open(io.BytesIO(swapped.content)).convert("RGBA"))[..., 3] == 0).all()
    bad = client.get("/wms", params={**params, "TIME": "1990"})
    assert bad.status_code == 400 and "1990" in bad.text


def test_slices(client):
    q = {**BBOX, "year_from": 2021, "year_to": 2023}
    tif = client.get("/api/slices/ndvi", params=q)
    assert tif.status_code == 200 and tif.content[:2] in (b"II", b"MM")
    import rasterio
    from rasterio.io import MemoryFile

    with MemoryFile(tif.content) as mem, mem.open() as src:
        assert src.count == 3 and src.crs.to_epsg() == 6372
        assert np.nanmean(src.read(1)) > 0.2
    assert client.get("/api/slices/ndvi", params={**q, "format": "nc"}).content[:3] == b"CDF"
    frames = zipfile.ZipFile(io.BytesIO(client.get("/api/slices/ndvi", params={**q, "format": "png"}).content))
    assert len(frames.namelist()) == 3
    huge = client.get("/api/slices/ndvi", params={**q, "west": -100, "east": -80, "south": 10, "north": 25})
    assert huge.status_code == 422 and "exceeds" in huge.text
    flipped = client.get("/api/slices/ndvi", params={**q, "west": -88.38, "east": -88.42})
    assert flipped.status_code == 422 and "west < east" in flipped.text
    assert rasterio  # imported for MemoryFile


def test_animation_content_addressed_limits_and_reactions(client):
    body = {"product": "ndvi", "bbox": BBOX, "year_from": 2021, "year_to": 2023, "fps": 2, "size": 256}
    first = client.post("/api/animations", json=body)
    assert first.status_code == 201, first.text
    info = first.json()
    again = client.post("/api/animations", json=body)
    assert again.status_code == 200 and again.json()["id"] == info["id"]
    gif = Image.open(io.BytesIO(client.get(info["url"]).content))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.info.get("loop") == 0
    assert max(gif.size) == 256
    english = client.post("/api/animations", json={**body, "lang": "en"})
    assert english.status_code == 201 and english.json()["id"] != info["id"]  # its own words
    assert client.post("/api/animations", json={**body, "lang": "fr"}).status_code == 422
    too_many = client.post("/api/animations", json={**body, "year_from": 1980})
    assert too_many.status_code == 422 and "at most 40" in too_many.text
    too_big = client.post("/api/animations", json={**body, "size": 2048})
    assert too_big.status_code == 422 and "1024" in too_big.text

    url = f"/api/animations/{info['id']}/reactions"
    for i in range(6):
        assert client.post(url, json={"value": "like", "token": f"browser-{i:04d}"}).status_code == 200
    changed = client.post(url, json={"value": "dislike", "token": "browser-0000", "location": {"lat": 18.6512345, "lon": -88.4012345}})
    assert changed.status_code == 200
    assert changed.json()["lat"] != 18.6512345  # coarsened before storage
    assert client.post("/api/animations/0123456789abcdef01234567/reactions", json={"value": "like", "token": "browser-x"}).status_code == 404
    summary = client.get("/api/reactions/summary").json()
    assert summary["totals"]["likes"] == 5 and summary["totals"]["dislikes"] == 1
    stats = client.get("/api/reactions/stats", params={"zoom": 6}).json()
    assert stats["type"] == "FeatureCollection"
    assert sum(f["properties"]["total"] for f in stats["features"]) >= 5


def test_rate_limit_and_body_limit(demo_outputs, tmp_path):
    app = create_app(demo_outputs / "products", f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path / "a",
                     ApiSettings(reactions_per_minute=3, secret="x"))
    with TestClient(app) as c:
        info = c.post("/api/animations", json={"product": "ndvi", "bbox": BBOX, "year_from": 2022, "year_to": 2022,
                                               "size": 64}).json()
        url = f"/api/animations/{info['id']}/reactions"
        codes = [c.post(url, json={"value": "like", "token": f"token-{i:03d}"}).status_code for i in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        limited = c.post(url, json={"value": "like", "token": "token-999"})
        assert int(limited.headers["retry-after"]) > 0
        big = c.post(url, content=b"x" * 20_000, headers={"content-type": "application/json"})
        assert big.status_code == 413


def test_animation_outside_web_mercator_is_a_clear_422(client):
    body = {"product": "ndvi", "bbox": {"west": -10, "south": 80, "east": 10, "north": 89}, "year_from": 2022,
            "year_to": 2022, "size": 64}
    r = client.post("/api/animations", json=body)
    assert r.status_code == 422 and "mercator" in r.text
