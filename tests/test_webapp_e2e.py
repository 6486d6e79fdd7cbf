"""React-2-EO web app and dashboard, end to end, in real headless Chromium at a phone's viewport.

The API serves the offline demo's products (2021-2023) and the built front end; Debian's
``chromium`` is driven by Playwright. Each step writes a screenshot under
``test-output/react2eo/`` (or ``$ECOINTEGRITY_TEST_OUTPUT/react2eo``).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecointegrity.web import ApiSettings, create_app
from ecointegrity.web.routers.site import STATIC_DIR

REPO = Path(__file__).resolve().parents[1]
PHONE = {"width": 393, "height": 851}  # a current mid-size phone, CSS pixels
BUDGET_BYTES = 200 * 1024


def _required(message: str) -> None:
    """Skip where a user's clone lacks the browser or the build; fail in CI, which installs both."""
    if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
        pytest.fail(message + " (required in CI: .ci/run installs it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _required("Debian's chromium is not installed (apt-get install chromium)")
    if not (STATIC_DIR / "index.html").is_file():
        _required("the web app is not built (make web)")
    return path


@contextlib.contextmanager
def _serve(app):
    """An ASGI app on a free localhost port, in a thread of this process; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the API server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(demo_outputs: Path, tmp_path_factory):
    """The API with the web app on a free localhost port, in a thread of this process."""
    work = tmp_path_factory.mktemp("react2eo")
    # k = 1 so that the one reaction of the test shows on the reaction map
    settings = ApiSettings(min_reactions_per_cell=1, reactions_per_minute=1000, animations_per_minute=1000)
    app = create_app([demo_outputs / "products", demo_outputs / "landcover"], f"sqlite:///{work / 'r2eo.sqlite'}",
                     work / "animations", settings)
    with _serve(app) as url:
        yield url


YEARS_30 = range(1994, 2024)


@pytest.fixture(scope="module")
def server_30_years(demo_outputs: Path, tmp_path_factory):
    """The API on a copy of the demo's products where every product has 30 years, 1994-2023:
    the 2022 items listed again under each other year (same COGs; tests/relisted_years.py)."""
    from relisted_years import relist_years

    from ecointegrity.cube import LocalCatalog

    work = tmp_path_factory.mktemp("react2eo-30y")
    shutil.copytree(demo_outputs / "products", work / "products")
    relist_years(LocalCatalog(work / "products"), 2022, YEARS_30)
    app = create_app([work / "products", demo_outputs / "landcover"], f"sqlite:///{work / 'r2eo.sqlite'}",
                     work / "animations", ApiSettings())
    with _serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def shots() -> Path:
    root = Path(os.environ.get("ECOINTEGRITY_TEST_OUTPUT", REPO / "test-output")) / "react2eo"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


@contextlib.contextmanager
def _phone_browser(chromium: str, base_url: str, **options):
    """Headless Chromium at a phone's viewport (touch, pixel ratio 2.75, Spanish), service
    workers blocked unless ``options`` say otherwise; yields (page, context, JavaScript errors)."""
    from playwright.sync_api import sync_playwright

    settings = {"viewport": PHONE, "device_scale_factor": 2.75, "is_mobile": True, "has_touch": True,
                "locale": "es-MX", "base_url": base_url, "service_workers": "block", **options}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(**settings)
        # The base map comes from the internet; this machine has none, and the test needs none.
        context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page, context, errors
        finally:
            browser.close()


@pytest.fixture
def phone(chromium: str, server: str):
    with _phone_browser(chromium, server) as opened:
        yield opened


def _settled(page) -> None:
    """Before a screenshot: the year on screen has all its tiles."""
    page.wait_for_function("r2eo.shownReady()", timeout=15_000)


def test_bundle_within_budget(report):
    """What a page loads first (JS and CSS, gzipped) stays under 200 kB; the build enforces it too."""
    site = STATIC_DIR / "size-report.json"
    if not site.is_file():
        _required("the web app is not built (make web)")
    pages = json.loads(site.read_text())["pages"]
    for page, info in pages.items():
        size = sum(len(gzip.compress((STATIC_DIR / f.lstrip("/")).read_bytes(), 9)) for f in info["files"])
        report(f"react2eo bundle {page}: {size / 1024:.1f} kB gzipped JS+CSS (budget {BUDGET_BYTES // 1024} kB)")
        assert size <= BUDGET_BYTES, f"{page} ships {size} bytes gzipped, over the {BUDGET_BYTES} budget"


def test_phone_viewer_export_react_dashboard(phone, server, shots, report):
    page, context, errors = phone
    started = time.perf_counter()
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    first_frame_ms = page.evaluate("window.r2eo.firstFrameMs")
    wall_ms = (time.perf_counter() - started) * 1000
    report(f"react2eo first animation frame at 393x851: {first_frame_ms} ms after navigation start "
           f"({wall_ms:.0f} ms wall, local server)")
    state = page.evaluate("({product: r2eo.product, from: r2eo.yearFrom, to: r2eo.yearTo, playing: r2eo.playing})")
    assert state == {"product": "geomedian", "from": 2021, "to": 2023, "playing": True}
    assert page.locator("html").get_attribute("lang") == "es"
    tabs = page.get_by_role("tab")
    assert tabs.count() >= 7, "a tab per product"
    assert page.locator("#tab-geomedian").get_attribute("aria-selected") == "true"
    page.wait_for_selector("#splash", state="hidden")
    _settled(page)
    page.screenshot(path=shots / "01-viewer.png")

    # a tab switch changes the layer
    page.locator("#tab-ndvi").click()
    page.wait_for_function("r2eo.product === 'ndvi'")
    page.wait_for_selector("img.leaflet-tile[src*='/api/tiles/ndvi/']", state="attached")
    assert page.locator("img.leaflet-tile[src*='/api/tiles/geomedian/']").count() == 0
    assert "Vegetación" in page.locator("#legend").inner_text()
    _settled(page)
    page.screenshot(path=shots / "02-tab-ndvi.png")

    # the slider changes the range (keyboard on the 'from' thumb: input and change events)
    page.locator("#year-from").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("r2eo.yearFrom === 2022")
    assert page.locator("#range-label").inner_text() == "2022–2023"
    page.wait_for_function("r2eo.year >= 2022")
    assert page.locator("img.leaflet-tile[src*='/api/tiles/ndvi/2021/']").count() == 0, "2021 left the animation"
    _settled(page)
    page.screenshot(path=shots / "03-range-2022-2023.png")

    # play advances the year: pause, then play again and watch the big year label change
    page.locator("#play").click()
    assert page.evaluate("r2eo.playing") is False
    paused_year = page.evaluate("r2eo.year")
    page.wait_for_timeout(1500)
    assert page.evaluate("r2eo.year") == paused_year, "paused means paused"
    page.locator("#play").click()
    page.wait_for_function(f"r2eo.year !== {paused_year}", timeout=10_000)
    assert page.locator("#year").inner_text() == str(page.evaluate("r2eo.year"))
    page.screenshot(path=shots / "04-playing.png")

    # export: a GIF of the view, one frame per year of the range
    page.locator("#export").click()
    page.wait_for_function("document.querySelector('#gif').complete && document.querySelector('#gif').naturalWidth > 0"
                           " && !document.querySelector('#gif').hidden", timeout=60_000)
    animation = page.evaluate("r2eo.animation")
    assert (animation["product"], animation["year_from"], animation["year_to"]) == ("ndvi", 2022, 2023)
    gif = page.request.get(animation["url"])
    assert gif.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(gif.body())) as im:
        assert im.format == "GIF"
        assert im.n_frames == 2, "one frame per year of the range"
        assert max(im.size) == 512
    assert page.locator("#download").get_attribute("download").endswith(".gif")
    page.screenshot(path=shots / "05-export.png")

    # like: sent once, stored, can be changed
    page.locator("#like").click()
    page.wait_for_function("r2eo.reaction === 'like'")
    assert page.locator("#like").get_attribute("aria-pressed") == "true"
    summary = page.request.get("/api/reactions/summary").json()
    assert summary["totals"]["likes"] == 1 and summary["totals"]["reactions"] == 1
    page.screenshot(path=shots / "06-liked.png")

    # the dashboard shows it, and updates without a reload
    page.goto("/dashboard?poll=1")
    page.wait_for_function("document.querySelector('#t-likes').textContent === '1'", timeout=15_000)
    page.wait_for_selector("path.leaflet-interactive", state="attached")  # the H3 cell
    assert page.locator(".cell-count").first.inner_text() == "1"  # its count, on the map
    assert page.locator("#top tbody tr").count() == 1
    # the region by its name from the shipped gazetteer (GeoNames), not "18.65, -88.40"
    place = page.locator("#top tbody tr td button").first
    assert "Bacalar, Quintana Roo" in place.inner_text() and place.get_attribute("title").startswith("18.")
    page.screenshot(path=shots / "07-dashboard.png")
    updates = page.evaluate("r2eoDashboard.updates")
    r = page.request.post(f"/api/animations/{animation['id']}/reactions",
                          data={"value": "dislike", "token": "another-browser-token"})
    assert r.ok
    page.wait_for_function("document.querySelector('#t-dislikes').textContent === '1'", timeout=15_000)
    assert page.evaluate("r2eoDashboard.updates") > updates
    page.screenshot(path=shots / "08-dashboard-updated.png")

    # English on request; the offline notice
    assert page.locator(".reports-link a").get_attribute("href") == "/reports?lang=es"
    page.locator("#lang").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_text("Most reacted-to regions").is_visible()
    # the published reports and region cards, in the reader's language
    assert page.locator(".reports-link a").get_attribute("href") == "/reports?lang=en"
    assert page.locator(".reports-link a").inner_text() == "Reports and region cards (PDF)"
    assert page.locator("#top tbody tr td button").first.inner_text().startswith(("near Bacalar", "Bacalar"))
    context.set_offline(True)
    page.wait_for_selector("#offline", state="visible")
    page.screenshot(path=shots / "09-dashboard-en-offline.png")
    context.set_offline(False)

    assert not errors, f"JavaScript errors: {errors}"
    report(f"react2eo screenshots: {shots}")


def test_app_shell_is_installable(server):
    """Manifest with 192/512 px icons, service worker, pages revalidated, hashed assets immutable."""
    import httpx

    if not (STATIC_DIR / "index.html").is_file():
        _required("the web app is not built (make web)")
    with httpx.Client(base_url=server) as client:
        manifest = client.get("/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        sizes = {icon["sizes"] for icon in manifest.json()["icons"]}
        assert {"192x192", "512x512"} <= sizes
        for icon in manifest.json()["icons"]:
            assert client.get(icon["src"]).status_code == 200
        assert client.get("/sw.js").headers["cache-control"] == "no-cache"
        index = client.get("/")
        assert index.headers["cache-control"] == "no-cache"
        asset = next(part.split('"')[0] for part in index.text.split('src="')[1:] if part.startswith("/assets/"))
        assert "immutable" in client.get(asset).headers["cache-control"]
        assert "/" not in client.get("/openapi.json").json()["paths"], "the pages stay out of the API schema"


def _raw(client, path: str, accept: str) -> tuple[dict, bytes]:
    """Headers and body bytes as sent (not decoded) for an ``Accept-Encoding``."""
    with client.stream("GET", path, headers={"Accept-Encoding": accept}) as response:
        assert response.status_code == 200, path
        return dict(response.headers), b"".join(response.iter_raw())


def test_static_files_go_precompressed(server, report):
    """Finding 6: JS and CSS went uncompressed (181 kB instead of 54). The build writes brotli
    and gzip twins; each request gets the one its Accept-Encoding allows, identity otherwise."""
    import httpx

    if not (STATIC_DIR / "index.html").is_file():
        _required("the web app is not built (make web)")
    with httpx.Client(base_url=server) as client:
        index = client.get("/").text
        sw = client.get("/sw.js").text
        shell = json.loads(sw.split("const SHELL = ")[1].split(";")[0])
        assert len(shell) == len(set(shell)), "Cache.addAll() rejects a request named twice"
        # the app's first load: its entry, the chunk both pages share, its CSS
        assets = [p for p in shell if p.startswith("/assets/") and "dashboard" not in p]
        assert all(p in shell for p in index.split('"') if p.startswith("/assets/"))
        sent = {"identity": 0, "gzip": 0, "br": 0}
        for path in [*assets, "/", "/sw.js", "/manifest.webmanifest"]:
            plain_headers, plain = _raw(client, path, "identity")
            assert "content-encoding" not in plain_headers
            assert "Accept-Encoding" in plain_headers["vary"]
            gz_headers, gz = _raw(client, path, "gzip, deflate")
            assert gz_headers["content-encoding"] == "gzip"
            assert gzip.decompress(gz) == plain
            br_headers, br = _raw(client, path, "gzip, deflate, br")
            assert br_headers["content-encoding"] == "br"
            assert len(br) <= len(gz) < len(plain)
            assert br_headers["content-type"] == plain_headers["content-type"]
            assert br_headers["cache-control"] == plain_headers["cache-control"]
            # a coding refused with q=0 is not used
            assert _raw(client, path, "br;q=0, gzip")[0]["content-encoding"] == "gzip"
            if path in assets:
                sent["identity"] += len(plain)
                sent["gzip"] += len(gz)
                sent["br"] += len(br)
        assert client.get("/assets/missing.js").status_code == 404
        assert client.get("/assets/..%2Fsw.js").status_code == 404
    assert sent["br"] < sent["identity"] / 3
    report(f"react2eo app JS+CSS on the wire (first load): {sent['identity'] / 1024:.0f} kB plain, "
           f"{sent['gzip'] / 1024:.0f} kB gzip, {sent['br'] / 1024:.0f} kB brotli")


def test_manifest_allows_any_orientation_and_a_full_bleed_maskable_icon(server):
    """Finding 6: the manifest locked portrait; the 512 maskable icon had transparent corners
    (launchers cut a shape out of it: the corners showed black or white)."""
    import httpx

    if not (STATIC_DIR / "index.html").is_file():
        _required("the web app is not built (make web)")
    with httpx.Client(base_url=server) as client:
        manifest = client.get("/manifest.webmanifest").json()
        assert "orientation" not in manifest
        maskable = [i for i in manifest["icons"] if "maskable" in i.get("purpose", "")]
        assert maskable
        for icon in maskable:
            image = Image.open(io.BytesIO(client.get(icon["src"]).content)).convert("RGBA")
            assert image.size == (512, 512)
            alpha = np.asarray(image)[..., 3]
            assert alpha.min() == 255, f"{icon['src']} has transparent pixels"


def test_service_worker_installs_and_an_offline_reload_shows_the_last_products(chromium, server, shots):
    """Finding 6: sw.js listed one chunk twice, so it never installed and an offline reload gave
    the browser's error page. Now: it installs, and offline the app opens with its notice, the
    product tabs and the map tiles last seen (kept by the service worker)."""
    with _phone_browser(chromium, server, service_workers="allow") as (page, context, errors):
        page.goto("/")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
        caches = page.evaluate("caches.keys()")
        assert any(k.startswith("r2eo-") and k != "r2eo-data-v1" for k in caches), caches
        # Online, under the worker's control: what is seen is kept
        page.reload()
        _settled(page)
        tabs_online = page.locator("#tabs [role=tab]").count()
        assert tabs_online > 0
        kept = page.evaluate("""async () => {
            const cache = await caches.open("r2eo-data-v1");
            return (await cache.keys()).map((r) => new URL(r.url).pathname);
        }""")
        assert "/api/products" in kept and any(k.startswith("/api/tiles/") for k in kept)

        context.set_offline(True)
        page.reload()
        page.wait_for_selector("#offline", state="visible", timeout=15_000)
        page.wait_for_function(
            "document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0", timeout=15_000)
        assert page.locator("#tabs [role=tab]").count() == tabs_online
        # and the base map: our own outlines, from the worker's cache
        page.wait_for_function("document.querySelectorAll('.leaflet-basemap-pane path').length > 5", timeout=15_000)
        page.wait_for_selector("#splash", state="hidden")
        # the splash's icon came from the cache too
        assert page.evaluate("document.querySelector('#splash img').naturalWidth") > 0
        page.screenshot(path=shots / "20-offline-reload-es.png")
        page.click("#lang")
        page.wait_for_function("document.documentElement.lang === 'en'")
        page.screenshot(path=shots / "21-offline-reload-en.png")
        context.set_offline(False)
    assert not errors, f"JavaScript errors: {errors}"


def test_export_dialog_never_mixes_animations(phone, server, shots):
    """Finding 3: while a new GIF was made, the previous one and its reaction buttons stayed
    visible (CSS display overrode ``hidden``); a reaction tapped then went to the old animation;
    the new one showed the old one's pressed button and thanks; a double tap sent two requests;
    Share showed where the browser cannot share."""
    page, context, errors = phone
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    page.wait_for_selector("#splash", state="hidden")
    page.locator("#play").click()  # a still map: the two exports cover the same view
    ready = ("r2eo.exportPhase === 'ready' && document.querySelector('#gif').complete"
             " && document.querySelector('#gif').naturalWidth > 0")

    page.locator("#export").click()
    page.wait_for_function(ready, timeout=60_000)
    first = page.evaluate("r2eo.animation.id")
    page.locator("#like").click()
    page.wait_for_function("r2eo.reaction === 'like'")
    assert page.locator("#react-status").inner_text() != ""
    page.locator("#result form button").click()  # close

    # the next export is held at the network: the dialog shows only that it is being made
    held = []
    context.route("**/api/animations", lambda route: held.append(route))
    page.locator("#export").click()
    page.wait_for_function("r2eo.exportPhase === 'exporting'")
    for hidden in ("#gif", "#download", "#share", "#link-row", "#react", "#like", "#dislike"):
        assert not page.locator(hidden).is_visible(), f"{hidden} is visible during an export"
    assert page.locator("#result-status").inner_text() == "Creando tu GIF…"
    page.screenshot(path=shots / "15-export-in-progress.png")
    assert len(held) == 1
    assert held[0].request.post_data_json["lang"] == "es"  # the GIF's words in the page's language
    held[0].continue_()
    page.wait_for_function(ready, timeout=60_000)
    context.unroute("**/api/animations")
    second = page.evaluate("r2eo.animation.id")
    assert page.locator("#react").get_attribute("data-animation") == str(second)
    if second != first:  # the same view and years may give the same animation back
        assert page.locator("#like").get_attribute("aria-pressed") == "false"
        assert page.locator("#dislike").get_attribute("aria-pressed") == "false"
        assert page.locator("#react-status").inner_text() == ""

    # Share only where the browser can share; otherwise the GIF's link to copy
    can_share = page.evaluate("typeof navigator.share === 'function'")
    assert page.locator("#share").is_visible() == can_share
    assert page.locator("#link-row").is_visible() == (not can_share)
    url = page.evaluate("new URL(r2eo.animation.url, location.href).href")
    if not can_share:
        assert page.locator("#link").input_value() == url

    # a reaction in flight: buttons wait; a double tap and a quick change send nothing more
    reacted = []
    context.route("**/api/animations/*/reactions", lambda route: reacted.append(route))
    before = page.request.get("/api/reactions/summary").json()["totals"]
    pressed = page.evaluate("r2eo.reaction")
    target = "dislike" if pressed != "dislike" else "like"
    other = "like" if target == "dislike" else "dislike"
    page.locator(f"#{target}").click()
    page.wait_for_function(f"document.getElementById('{target}').disabled")
    page.evaluate(f"document.getElementById('{target}').click(); document.getElementById('{other}').click()")
    page.wait_for_timeout(300)
    assert len(reacted) == 1, "one request per tap sequence while one is in flight"
    reacted[0].continue_()
    page.wait_for_function(f"r2eo.reaction === '{target}' && !document.getElementById('{target}').disabled")
    context.unroute("**/api/animations/*/reactions")
    after = page.request.get("/api/reactions/summary").json()["totals"]
    assert after["reactions"] - before["reactions"] == (0 if pressed else 1)
    assert page.locator(f"#{target}").get_attribute("aria-pressed") == "true"
    assert page.locator(f"#{other}").get_attribute("aria-pressed") == "false"
    page.screenshot(path=shots / "16-export-reacted-es.png")
    # the dialog's words follow the language (the modal dialog covers the button: clicked by script)
    page.evaluate("document.getElementById('lang').click()")
    assert page.locator("#react-status").inner_text().startswith("Thank you")
    page.screenshot(path=shots / "17-export-reacted-en.png")
    page.evaluate("document.getElementById('lang').click()")
    assert not errors, f"JavaScript errors: {errors}"


def _seam_lines(page) -> list[tuple[str, int]]:
    """Lines of the map's screenshot (device pixels) unlike the data on both sides of them:
    the hairline seams between tiles at a phone's fractional pixel ratio (finding 2)."""
    # the tiles only: vector overlays (the footprint's outline) are lines on purpose
    page.evaluate("document.querySelector('.leaflet-overlay-pane').style.visibility = 'hidden'")
    img = np.asarray(Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB"))
    page.evaluate("document.querySelector('.leaflet-overlay-pane').style.visibility = ''")
    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()].astype(float)  # the map's background
    pixels = img.astype(float)
    lines = []
    for axis, grid in (("row", pixels), ("column", pixels.transpose(1, 0, 2))):
        data = np.abs(grid - background).sum(axis=2) > 30
        for i in range(2, grid.shape[0] - 2):
            before, after = grid[i - 2], grid[i + 2]
            # where there is data on both sides, and it is alike on both sides ...
            alike = data[i - 2] & data[i + 2] & (np.abs(before - after).sum(axis=1) < 20)
            if alike.sum() < 50:
                continue
            # ... a line that differs from it is a seam, not a feature of the map
            unlike = np.abs(grid[i] - (before + after) / 2).sum(axis=1) > 40
            if unlike[alike].mean() > 0.5:
                lines.append((axis, i))
    return lines


def test_products_in_plain_words_in_both_languages(phone, server, shots):
    """Finding 1: tabs were English jargon inside the Spanish interface ("Tasselled cap",
    "NDBI", the land-cover tab 520 px wide), ramps showed bare numbers, and the legend kept
    the old language after a switch. Now tabs, legends and ramp ends are plain words from the
    API's ``public`` texts, and follow the language."""
    import httpx

    page, context, errors = phone
    products = {p["product"]: p for p in httpx.get(f"{server}/api/products").json()}
    for p in products.values():
        assert set(p["public"]) == {"es", "en"}
        assert p["public"]["es"]["name"] and p["public"]["en"]["name"]
    assert products["ndvi"]["public"]["es"] == {
        "name": "Vegetación", "summary": "Qué tan verde y tupida es la vegetación.",
        "low": "menos verde", "high": "más verde", "classes": None}
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    page.wait_for_selector("#splash", state="hidden")
    tabs = page.get_by_role("tab")
    labels = [tabs.nth(i).inner_text() for i in range(tabs.count())]
    for jargon in ("Tasselled cap", "NDBI", "NDWI", "NDVI", "Geomedian"):
        assert jargon not in labels
    expected_es = [products[k]["public"]["es"]["name"] for k in
                   page.evaluate("r2eo.products.map((p) => p.product)")]
    assert labels == expected_es
    assert "Cobertura del suelo" in labels and "Vegetación" in labels and "Construcción" in labels
    for i in range(tabs.count()):  # no tab wider than a third of the phone
        assert tabs.nth(i).bounding_box()["width"] <= PHONE["width"] / 2
    page.locator("#tab-ndvi").click()
    page.wait_for_function("r2eo.product === 'ndvi'")
    legend = page.locator("#legend")
    assert legend.locator("strong").inner_text() == "Vegetación"
    assert legend.locator(".scale span").all_inner_texts() == ["menos verde", "más verde"]
    assert "-0.2" in legend.locator(".ramp").get_attribute("title")  # the numbers, on demand
    _settled(page)
    page.screenshot(path=shots / "18-plain-ndvi-es.png")
    assert not _seam_lines(page), "hairline seams between tiles (finding 2)"
    page.locator("#lang").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert legend.locator("strong").inner_text() == "Vegetation"
    assert legend.locator(".scale span").all_inner_texts() == ["less green", "greener"]
    assert page.locator("#tab-ndvi").inner_text() == "Vegetation"
    assert page.locator("#tab-ndvi").get_attribute("aria-selected") == "true"
    landcover = next(k for k in products if k.startswith("landcover"))
    page.locator(f"#tab-{landcover}").click()
    page.wait_for_function(f"r2eo.product === '{landcover}'")
    assert legend.locator("strong").inner_text() == "Land cover"
    names_en = list(products[landcover]["public"]["en"]["classes"].values())
    assert legend.locator("li").all_inner_texts() == names_en
    page.screenshot(path=shots / "19-plain-landcover-en.png")
    page.locator("#lang").click()
    page.wait_for_function("document.documentElement.lang === 'es'")
    names_es = list(products[landcover]["public"]["es"]["classes"].values())
    assert legend.locator("li").all_inner_texts() == names_es
    assert not errors, f"JavaScript errors: {errors}"


AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def _axe(page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA rules)."""
    if not AXE.is_file():
        _required("axe-core is not installed (make: npm ci in frontend/)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n")[1]) }));
    }""")
    return result


@pytest.mark.parametrize("path, lang", [("/", "es"), ("/", "en"), ("/dashboard", "es")])
def test_accessibility_axe_scan(phone, path, lang, report):
    """Finding 7: an axe-core scan (its npm package, WCAG 2.1 AA and best practices) of the
    viewer and the dashboard, Spanish and English, finds no serious or critical violation."""
    page, context, errors = phone
    page.goto(path)
    if path == "/":
        page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
    else:
        page.wait_for_selector("#tabs [role=tab]")
    if lang == "en":
        page.locator("#lang").click()
        page.wait_for_function("document.documentElement.lang === 'en'")
    violations = _axe(page)
    if path == "/" and lang == "es":  # and the export dialog, GIF and reactions showing
        page.locator("#export").click()
        page.wait_for_function("r2eo.exportPhase === 'ready'", timeout=60_000)
        violations += _axe(page)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    report(f"react2eo axe-core {path} ({lang}): {len(violations)} violations, "
           f"{len(serious)} serious or critical"
           + "".join(f"; {v['id']} ({v['impact']})" for v in violations))
    assert not serious, json.dumps(serious, indent=1, ensure_ascii=False)


def test_targets_motion_and_tab_panel(chromium, server, shots):
    """Finding 7: small targets ("Tablero" 60 x 16, zoom buttons 30 x 30), autoplay that ignored
    reduced motion, the year announced every second, tabs without a panel."""
    with _phone_browser(chromium, server, reduced_motion="reduce") as (page, context, errors):
        page.goto("/")
        page.wait_for_function("window.r2eo && window.r2eo.product !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
        assert page.evaluate("r2eo.playing") is False, "reduced motion: no autoplay"
        year = page.evaluate("r2eo.year")
        page.wait_for_timeout(1500)
        assert page.evaluate("r2eo.year") == year
        assert page.locator("#year").get_attribute("aria-live") is None, "the year is not announced"
        # every tab names the panel, and the panel the selected tab
        tab = page.locator("#tabs [role=tab][aria-selected=true]")
        assert tab.get_attribute("aria-controls") == "map"
        assert page.locator("#map").get_attribute("role") == "tabpanel"
        assert page.locator("#map").get_attribute("aria-labelledby") == tab.get_attribute("id")
        # 44 x 44 px targets: header, tabs, zoom, controls (the year sliders are finding 4's)
        small = page.evaluate("""() => [...document.querySelectorAll(
                'header a, header button, header select, #tabs [role=tab], .leaflet-bar a, .controls button')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => ({ id: e.id || e.className || e.textContent, ...e.getBoundingClientRect().toJSON() }))
            .filter((r) => r.width < 44 || r.height < 44)""")
        assert not small, small
        page.screenshot(path=shots / "22-targets-reduced-motion.png")
    assert not errors


def test_first_view_fits_the_data_and_asks_location_only_on_request(chromium, server, shots):
    """Finding 2: the data was a ~195 px square on a 390 px screen (a 6 px speck without outline
    at zoom 7), the location prompt fired unasked at 0.8 s and granting it zoomed out."""
    with _phone_browser(chromium, server, permissions=["geolocation"],
                        geolocation={"latitude": 18.65, "longitude": -88.40}) as (page, context, errors):
        context.add_init_script("""(() => {
            window.__locationAsks = 0;
            const real = navigator.geolocation.getCurrentPosition.bind(navigator.geolocation);
            navigator.geolocation.getCurrentPosition = (...args) => { window.__locationAsks++; return real(...args); };
        })()""")
        page.goto("/")
        page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
        page.wait_for_timeout(1500)
        assert page.evaluate("window.__locationAsks") == 0, "no location prompt unasked"
        # the data fills most of the phone's width, outlined
        box = page.evaluate("""() => {
            const b = r2eo.products.map((p) => p.bounds).reduce((a, c) =>
                [Math.min(a[0], c[0]), Math.min(a[1], c[1]), Math.max(a[2], c[2]), Math.max(a[3], c[3])]);
            return { width: r2eo.pointOf(b[2], b[1]).x - r2eo.pointOf(b[0], b[1]).x,
                     map: document.getElementById('map').clientWidth };
        }""")
        assert box["width"] >= 0.5 * box["map"], box
        assert page.locator("path.footprint[stroke-dasharray]").count() == 1  # the outline
        zoom = page.evaluate("r2eo.zoom()")
        page.locator("#near").click()
        page.wait_for_function("r2eo.deviceLocation !== undefined && r2eo.deviceLocation !== null")
        page.wait_for_timeout(800)  # the map's move
        assert page.evaluate("window.__locationAsks") == 1
        assert page.evaluate("r2eo.zoom()") >= zoom, "the location never zooms out"
        centre = page.evaluate("r2eo.mapCentre()")
        assert abs(centre["lat"] - 18.65) < 0.01 and abs(centre["lng"] + 88.40) < 0.01
        # zoomed out to the minimum, the footprint is still outlined, bounded to the countries
        page.evaluate("r2eo.setZoom(1)")
        page.wait_for_timeout(300)
        assert page.evaluate("r2eo.zoom()") == 4
        # the data is a speck at zoom 4: a ring marks it
        assert page.locator("path.footprint").count() == 1
        assert page.locator("path.footprint[stroke-dasharray]").count() == 0
        page.screenshot(path=shots / "25-zoom-4-ring.png")
    assert not errors


def test_country_switch_flies_the_map(phone, shots):
    """The header's switch lists the API's countries (Spanish first, English on request) and
    flies the map to the chosen one."""
    page, _, errors = phone
    page.goto("/")
    page.wait_for_selector("#country option[value='colombia']", state="attached", timeout=30_000)
    assert page.locator("#country").is_visible()
    assert page.locator("#country").input_value() == "mexico", "the demo's products lie in Mexico"
    assert page.locator("#country option[value='mexico']").inner_text() == "México"
    page.select_option("#country", "colombia")
    page.wait_for_function("r2eo.country === 'colombia'")
    # Bogotá's longitude and latitude lie in the middle of Colombia's view
    page.wait_for_function("(c => c.lng > -76 && c.lng < -70 && c.lat > 2 && c.lat < 7)(r2eo.mapCentre())",
                           timeout=10_000)
    page.screenshot(path=shots / "10-country-colombia.png")
    page.locator("#lang").click()
    assert page.locator("#country option[value='mexico']").inner_text() == "Mexico"
    assert not errors, f"JavaScript errors: {errors}"


# Chromium's emulation of a 4G phone connection (about the median of mobile networks in Mexico):
# 100 ms added round trip, 9 Mbit/s down, 1.5 Mbit/s up.
MOBILE_4G = {"offline": False, "latency": 100, "downloadThroughput": 9_000_000 / 8,
             "uploadThroughput": 1_500_000 / 8, "connectionType": "cellular4g"}
PREFETCH_YEARS = 2  # frontend/src/app.js: the years fetched ahead of the one on screen

_SAMPLE_PLAY = """async (ms) => {
  const samples = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    samples.push({t: Math.round(performance.now()), ready: r2eo.shownReady(), year: r2eo.year,
                  layers: r2eo.layerCount(), playing: r2eo.playing,
                  dom: document.querySelectorAll('.leaflet-tile-pane > .leaflet-layer[class*="year-"]').length});
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return samples;
}"""


def test_thirty_years_on_a_phone_over_4g(phone, server_30_years, shots, report):
    """Issue 16: the default view plays all 30 years with a bounded window of layers (the year on
    screen, the one before and PREFETCH_YEARS ahead), over an emulated 4G connection: the time to
    the first frame and the bytes of the first 10 s reported, never a blank frame while playing."""
    import httpx

    page, context, errors = phone
    # A server in service has listed its products before (the first listing of 30 years of STAC
    # items reads them all: 0.6-1.7 s on this machine) and rendered a tile (the first one opens
    # GDAL): measure the app, not the server's cold start. The tile is another product's, at
    # zoom 0, so none of the tiles of the default view is cached.
    with httpx.Client(base_url=server_30_years, timeout=60) as client:
        cold = time.perf_counter()
        client.get("/api/products").raise_for_status()
        cold_ms = (time.perf_counter() - cold) * 1000
        client.get("/api/tiles/ndvi/2022/0/0/0.png").raise_for_status()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", MOBILE_4G)
    sent: dict[str, tuple[float, str]] = {}
    finished: list[tuple[float, float, str]] = []  # (timestamp, bytes on the wire, url)
    cdp.on("Network.requestWillBeSent", lambda e: sent.setdefault(e["requestId"], (e["timestamp"], e["request"]["url"])))
    cdp.on("Network.loadingFinished",
           lambda e: finished.append((e["timestamp"], e["encodedDataLength"], sent.get(e["requestId"], (0, ""))[1])))

    page.goto(f"{server_30_years}/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    first_frame_ms = page.evaluate("r2eo.firstFrameMs")
    state = page.evaluate("({product: r2eo.product, from: r2eo.yearFrom, to: r2eo.yearTo, playing: r2eo.playing})")
    assert state == {"product": "geomedian", "from": 1994, "to": 2023, "playing": True}, "the whole range plays"
    samples = page.evaluate(_SAMPLE_PLAY, 10_000)
    page.screenshot(path=shots / "11-thirty-years-4g.png")
    peak = page.evaluate("r2eo.peakLayerCount")

    t0 = min(ts for ts, _ in sent.values())  # the page's own request
    first_10s = [(ts, size, url) for ts, size, url in finished if ts - t0 <= 10]
    bytes_10s = sum(size for _, size, _ in first_10s)
    tiles_10s = sum(1 for *_, url in first_10s if "/api/tiles/" in url)
    years = [s["year"] for s in samples]
    frames = sum(1 for a, b in zip(years, years[1:], strict=False) if a != b)
    blank = [s for s in samples if not s["ready"]]
    report(f"react2eo 30 years, 393x851 over emulated 4G (100 ms RTT, 9 Mbit/s down, 1.5 up): first frame "
           f"{first_frame_ms} ms after navigation start; {bytes_10s / 1e6:.2f} MB received in the first 10 s "
           f"({tiles_10s} tiles); at most {max(peak, max(s['layers'] for s in samples))} year layers at once "
           f"(window {PREFETCH_YEARS + 2}, was 30: one per year); {frames} year changes in 10 s of play, "
           f"{len(blank)} of {len(samples)} samples blank (the API's first product listing, before: {cold_ms:.0f} ms)")
    # The timings (first frame, year changes in 10 s) are measured and reported above, against
    # the goal of under 2 s, not asserted: a test must not fail because the machine is busy.
    assert all(s["playing"] for s in samples)
    assert not blank, f"blank frames while playing: {blank[:3]}"
    assert peak <= PREFETCH_YEARS + 2, f"{peak} year layers at once"
    assert max(s["layers"] for s in samples) <= PREFETCH_YEARS + 2
    assert max(s["dom"] for s in samples) <= PREFETCH_YEARS + 2, "removed layers leave the map"
    assert frames >= 1, "the animation did not advance over 4G"
    assert not errors, f"JavaScript errors: {errors}"


def test_year_slider_taps_drags_and_ticks(phone, server_30_years, shots):
    """Finding 4: the slider was 156 x 24 px with 26 px thumbs; tapping the track did nothing;
    with both thumbs on one year only the top one could be grabbed; no year ticks."""
    page, context, errors = phone
    page.goto(f"{server_30_years}/")
    page.wait_for_function("window.r2eo && window.r2eo.product !== null", timeout=30_000)
    page.wait_for_selector("#splash", state="hidden")
    page.locator("#play").click()
    assert (page.evaluate("r2eo.yearFrom"), page.evaluate("r2eo.yearTo")) == (1994, 2023)
    track = page.locator("#range-track").bounding_box()
    assert track["height"] >= 44 and track["width"] >= 120
    ticks = page.locator("#range-ticks span")
    assert ticks.count() == 30 and page.locator("#range-ticks span.major").count() == 6
    y = track["y"] + track["height"] / 2

    def x(year: int) -> float:
        return page.evaluate(f"r2eo.rangeX({year})")

    def tap(year: int) -> None:
        page.mouse.click(x(year), y)

    def drag(start: int, end: int) -> None:
        page.mouse.move(x(start), y)
        page.mouse.down()
        page.mouse.move((x(start) + x(end)) / 2, y, steps=3)
        page.mouse.move(x(end), y, steps=3)
        page.mouse.up()

    def years() -> tuple[int, int]:
        return page.evaluate("r2eo.yearFrom"), page.evaluate("r2eo.yearTo")

    tap(2000)  # a tap jumps: the nearer thumb ("from")
    assert years() == (2000, 2023)
    assert page.locator("#range-label").inner_text() == "2000–2023"
    page.wait_for_function("r2eo.year >= 2000")  # the animation's layers follow the new range
    tap(2020)  # nearer to "to"
    assert years() == (2000, 2020)
    drag(2000, 2010)
    drag(2020, 2010)  # both thumbs on 2010
    assert years() == (2010, 2010)
    page.screenshot(path=shots / "23-slider-one-year.png")
    drag(2010, 2005)  # pulled left: "from" comes off
    assert years() == (2005, 2010)
    drag(2005, 2010)
    assert years() == (2010, 2010)
    drag(2010, 2016)  # pulled right: "to" comes off
    assert years() == (2010, 2016)
    # the keyboard still works on each thumb
    page.locator("#year-to").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("r2eo.yearTo === 2017")
    page.screenshot(path=shots / "24-slider-2010-2017.png")
    assert not errors, f"JavaScript errors: {errors}"


def test_dashboard_table_empty_state_and_k_anonymity(chromium, demo_outputs, tmp_path, shots):
    """Finding 5: the ranking shared the header's class (a green flexbox, rows cut to "18. -88"),
    had no empty state, and showed the counts of an animation whose few reactions the map hid;
    one hexagon was wider than the whole area."""
    import httpx

    settings = ApiSettings(reactions_per_minute=1000, animations_per_minute=1000)  # k = 5
    app = create_app([demo_outputs / "products", demo_outputs / "landcover"],
                     f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path / "animations", settings)
    with _serve(app) as url, _phone_browser(chromium, url) as (page, context, errors):
        page.goto("/dashboard?poll=1")
        empty = page.locator("#top td.empty")
        empty.wait_for()
        assert "5 reacciones" in empty.inner_text()
        table = page.evaluate("(() => { const s = getComputedStyle(document.getElementById('top'));"
                              " return [s.display, s.backgroundColor]; })()")
        assert table[0] == "table" and table[1] in ("rgba(0, 0, 0, 0)", "transparent"), table
        page.screenshot(path=shots / "26-dashboard-empty.png")
        with httpx.Client(base_url=url) as client:
            animation = client.post("/api/animations", json={
                "product": "ndvi", "bbox": {"west": -88.42, "south": 18.63, "east": -88.38, "north": 18.67},
                "year_from": 2021, "year_to": 2023}).json()
            react = f"/api/animations/{animation['id']}/reactions"
            location = {"lat": 18.65, "lon": -88.40}
            for i in range(4):
                client.post(react, json={"value": "like", "token": f"browser-{i:04d}",
                                         "location": location}).raise_for_status()
            page.wait_for_function("document.querySelector('#t-reactions').textContent === '4'")
            assert empty.is_visible(), "4 reactions < k: no row, as the map shows no cell"
            assert page.locator("path.leaflet-interactive").count() == 0
            client.post(react, json={"value": "dislike", "token": "browser-0004",
                                     "location": location}).raise_for_status()
        # five reactions, but all from this machine's network: one contributor, as the map counts
        page.wait_for_function("document.querySelector('#t-reactions').textContent === '5'")
        page.wait_for_timeout(1500)  # another poll
        assert empty.is_visible() and page.locator("path.leaflet-interactive").count() == 0
        page.screenshot(path=shots / "27-dashboard-one-network.png")
    assert not errors


def test_base_map_is_served_by_us_and_osm_is_an_option(phone, server, shots):
    """Finding 2: the base map came from tile.openstreetmap.org at run time (nothing where that
    is not reachable). Now the app's own country outlines (Natural Earth, /basemap.json, cached
    by the service worker) are the base map; OpenStreetMap is a choice in the layer switch."""
    page, context, errors = phone
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.leaflet-basemap-pane path').length > 5")
    assert not any("openstreetmap" in url for url in requested), "no OSM tile unless chosen"
    assert any(url.endswith("/basemap.json") for url in requested)
    page.evaluate("r2eo.setZoom(5)")
    page.wait_for_timeout(300)
    page.screenshot(path=shots / "30-own-base-map-es.png")
    assert page.locator(".leaflet-control-layers-toggle").get_attribute("aria-label") == "Mapa base"
    page.locator(".leaflet-control-layers").hover()  # Leaflet opens the switch on hover or tap
    labels = page.locator(".leaflet-control-layers-base label").all_inner_texts()
    assert [x.strip() for x in labels] == ["Mapa simple (sin conexión)", "OpenStreetMap (en línea)"]
    page.locator(".leaflet-control-layers-base label", has_text="OpenStreetMap").click()
    page.wait_for_timeout(500)
    assert any("tile.openstreetmap.org" in url for url in requested)  # asked for (aborted here)
    assert not errors, f"JavaScript errors: {errors}"


def test_before_and_after_side_by_side(phone, server, shots):
    """Finding 1: no before/after comparison. Now one tap splits the map between the first and
    the last year of the range; the line moves by drag or arrow keys; play returns to the
    animation."""
    page, context, errors = phone
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
    page.wait_for_selector("#splash", state="hidden")
    years = page.evaluate("r2eo.products.find((p) => p.product === r2eo.product).years")
    page.locator("#compare").click()
    assert page.evaluate("r2eo.comparing()") and page.evaluate("r2eo.playing") is False
    assert page.locator("#compare").get_attribute("aria-pressed") == "true"
    assert page.locator(".compare-year.before").inner_text() == str(years[0])
    assert page.locator(".compare-year.after").inner_text() == str(years[-1])
    assert page.evaluate("r2eo.layerCount()") == 0  # the animation's layers are gone meanwhile
    page.wait_for_function("document.querySelectorAll('.leaflet-compare-before-pane img.leaflet-tile-loaded').length > 0")
    page.wait_for_function("document.querySelectorAll('.leaflet-compare-after-pane img.leaflet-tile-loaded').length > 0")

    def right_edge_of_before() -> float:
        clip = page.evaluate("r2eo.compareClip()")[0]
        return float(clip.split("(")[1].split(",")[1].strip().removesuffix("px"))

    middle = right_edge_of_before()
    page.screenshot(path=shots / "31-before-after-es.png")
    page.locator("#compare-range").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert right_edge_of_before() > middle + 20, "the line moved right: more of the before year"
    label = page.locator("#compare-range").get_attribute("aria-label")
    assert label == f"Línea entre {years[0]} y {years[-1]}"
    page.click("#lang")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("#compare").inner_text() == "Back to the animation"
    page.screenshot(path=shots / "32-before-after-en.png")
    page.locator("#compare").click()
    assert not page.evaluate("r2eo.comparing()") and page.evaluate("r2eo.layerCount()") > 0
    page.locator("#compare").click()
    page.locator("#play").click()  # play: back to the animation
    assert not page.evaluate("r2eo.comparing()") and page.evaluate("r2eo.playing") is True
    assert not errors, f"JavaScript errors: {errors}"


def test_stories_open_in_one_tap(phone, server, shots):
    """Finding 1: the seed's stories (deforestation, city growth, integrity) were not reachable.
    Now the server finds where the data show them most (/api/stories) and one tap plays the
    story's product and years there."""
    page, context, errors = phone
    page.goto("/")
    page.wait_for_function("window.r2eo && window.r2eo.stories.length > 0", timeout=30_000)
    page.wait_for_selector("#splash", state="hidden")
    stories = page.evaluate("r2eo.stories")
    keys = [s["key"] for s in stories]
    assert "deforestation" in keys, keys  # the simulator clears forest in 2021-2023
    story = next(s for s in stories if s["key"] == "deforestation")
    button = page.locator("#stories [data-story=deforestation]")
    assert button.inner_text() == "Deforestación"
    button.click()
    page.wait_for_timeout(1500)  # the flight
    assert page.evaluate("r2eo.product") == story["product"] == "ndvi"
    assert page.evaluate("[r2eo.yearFrom, r2eo.yearTo]") == [story["year_from"], story["year_to"]]
    assert page.evaluate("r2eo.playing") is True
    w, s, e, n = story["bbox"]
    centre = page.evaluate("r2eo.mapCentre()")
    assert w <= centre["lng"] <= e and s <= centre["lat"] <= n
    assert page.locator("#map-status").inner_text().startswith("Deforestación: donde más bajó la vegetación")
    assert page.locator("#tab-ndvi").get_attribute("aria-selected") == "true"
    _settled(page)
    page.screenshot(path=shots / "33-story-deforestation-es.png")
    page.click("#lang")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("#stories [data-story=deforestation]").inner_text() == "Deforestation"
    assert page.locator("#map-status").inner_text().startswith("Deforestation: where vegetation fell the most")
    page.screenshot(path=shots / "34-story-deforestation-en.png")
    assert not errors, f"JavaScript errors: {errors}"


def test_landscape_legend_clears_the_zoom_buttons(chromium, server, shots):
    """Finding 7: in landscape the land-cover legend covered the zoom buttons."""
    with _phone_browser(chromium, server, viewport={"width": PHONE["height"], "height": PHONE["width"]}) as (page, context, errors):
        page.goto("/")
        page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
        landcover = page.evaluate("r2eo.products.find((p) => p.kind === 'classes').product")
        page.locator(f"#tab-{landcover}").click()
        page.wait_for_function(f"r2eo.product === '{landcover}'")
        boxes = page.evaluate("""() => Object.fromEntries(['#legend', '.leaflet-control-zoom', '#near']
            .map((s) => [s, document.querySelector(s)?.getBoundingClientRect().toJSON()]))""")

        def overlap(a, b) -> bool:
            return not (a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"])

        legend = boxes["#legend"]
        assert not overlap(legend, boxes[".leaflet-control-zoom"]), boxes
        if boxes["#near"] and boxes["#near"]["width"] > 0:
            assert not overlap(legend, boxes["#near"]), boxes
        page.screenshot(path=shots / "35-landscape-land-cover.png")
    assert not errors


TOUR_WORDS = {
    "es": {"export": "Exportar GIF", "compare": "Antes y después", "dashboard": "Tablero", "question": "¿Qué te parece"},
    "en": {"export": "Export GIF", "compare": "Before and after", "dashboard": "Dashboard", "question": "How do you feel"},
}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_step_in_both_languages(chromium, server, shots, lang):
    """Every step a member of the public takes, once in each language, as screenshots
    (``tour-<lang>-NN-<step>.png``), with the interface's words checked on the way."""
    words = TOUR_WORDS[lang]
    with _phone_browser(chromium, server, locale="es-MX" if lang == "es" else "en-US") as (page, context, errors):
        context.add_init_script(f"localStorage.setItem('r2eo-lang', '{lang}')")
        shot = lambda n, step: page.screenshot(path=shots / f"tour-{lang}-{n:02d}-{step}.png")  # noqa: E731
        page.goto("/")
        page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("#export").inner_text() == words["export"]
        _settled(page)
        shot(1, "viewer")
        page.locator("#tab-ndvi").click()
        page.wait_for_function("r2eo.product === 'ndvi'")
        _settled(page)
        shot(2, "product")
        page.locator("#compare").click()
        page.wait_for_function("r2eo.comparing()")
        shot(3, "before-after")
        page.locator("#compare").click()
        assert page.locator("#compare").inner_text() == words["compare"]
        story = page.locator("#stories [data-story]").first
        if story.count():
            story.click()
            page.wait_for_timeout(1200)
            shot(4, "story")
        page.locator("#export").click()
        page.wait_for_function("r2eo.exportPhase === 'ready'", timeout=60_000)
        page.wait_for_function("document.querySelector('#gif').complete && document.querySelector('#gif').naturalWidth > 0")
        assert page.locator("#react p").first.inner_text().startswith(words["question"])
        shot(5, "gif")
        page.locator("#like").click()
        page.wait_for_function("r2eo.reaction === 'like'")
        shot(6, "liked")
        page.goto("/dashboard")
        page.wait_for_function("document.querySelector('#t-reactions').textContent !== '0'", timeout=15_000)
        assert page.locator(".brand span").inner_text() == words["dashboard"]
        shot(7, "dashboard")
        page.set_viewport_size({"width": PHONE["height"], "height": PHONE["width"]})
        page.goto("/")
        page.wait_for_function("window.r2eo && window.r2eo.firstFrameMs !== null", timeout=30_000)
        page.wait_for_selector("#splash", state="hidden")
        shot(8, "landscape")
    assert not errors, f"JavaScript errors: {errors}"
