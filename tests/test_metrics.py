"""Production probes and metrics of the React-2-EO API: readiness beside liveness, Prometheus
metrics by route template, and ``ecointegrity serve --workers 2`` as two processes (on SQLite,
and on PostgreSQL at $ECOINTEGRITY_TEST_POSTGRES) whose metrics are summed."""

from __future__ import annotations

import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ecointegrity.web import ApiSettings, create_app
from ecointegrity.web.asgi import app_from_environment, environment_for
from ecointegrity.web.metrics import ANIMATIONS_ROUTE, REACTIONS_ROUTE, TILES_ROUTE

BBOX = {"west": -88.42, "south": 18.63, "east": -88.38, "north": 18.67}
PG_ADMIN_URL = os.environ.get(
    "ECOINTEGRITY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HISTOGRAM = "ecointegrity_http_request_duration_seconds"


def _settings() -> ApiSettings:
    return ApiSettings(reactions_per_minute=1000, animations_per_minute=1000, secret="test")


@pytest.fixture(scope="module")
def client(demo_outputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics")
    app = create_app(demo_outputs / "products", f"sqlite:///{root / 'm.sqlite'}", root / "animations",
                     _settings())
    with TestClient(app) as c:
        yield c


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition as {(name, labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _requests(samples, route: str, method: str = "GET", status: str = "2xx") -> float:
    key = (f"{HISTOGRAM}_count", frozenset({"route": route, "method": method, "status": status}.items()))
    return samples.get(key, 0.0)


def _value(samples, name: str) -> float:
    return samples.get((name, frozenset()), 0.0)


# --- probes ----------------------------------------------------------------------------------


def test_ready_on_the_demo_products_and_both_probes_documented(client):
    ready = client.get("/api/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["products"] >= 3
    assert client.get("/api/health").json() == {"status": "ok"}  # liveness unchanged
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/health" in paths and "/api/ready" in paths
    assert "503" in paths["/api/ready"]["get"]["responses"]
    assert "/metrics" not in paths  # outside the schema (and so outside schemathesis)


def test_not_ready_without_products(tmp_path):
    empty = tmp_path / "empty-catalog"
    empty.mkdir()
    app = create_app(empty, f"sqlite:///{tmp_path / 'e.sqlite'}", tmp_path / "a", _settings(), site=None)
    with TestClient(app) as c:
        ready = c.get("/api/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "not ready" and "catalog" in ready.json()["reason"]
        assert c.get("/api/health").status_code == 200  # alive, only not ready


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_by_route_template_animations_and_reactions(client):
    before = _samples(client.get("/metrics").text)
    x, y = _tile_of(-88.40, 18.65, 14)
    urls = [f"/api/tiles/ndvi/2023/14/{x + dx}/{y}.png" for dx in range(3)]
    etags = [client.get(u).headers["etag"] for u in urls]
    assert client.get(urls[0], headers={"If-None-Match": etags[0]}).status_code == 304
    assert client.get(urls[1]).status_code == 200  # drawn a moment ago: from the tile cache
    assert client.get("/api/tiles/ndvi/2023/1/5/0.png").status_code == 404  # beyond 2**z
    assert client.get("/no/such/path/12345").status_code == 404

    body = {"product": "ndvi", "bbox": BBOX, "year_from": 2022, "year_to": 2023, "size": 64}
    first = client.post("/api/animations", json=body)
    assert first.status_code == 201, first.text
    assert client.post("/api/animations", json=body).status_code == 200  # exists: not drawn again
    url = f"/api/animations/{first.json()['id']}/reactions"
    for i in range(2):
        assert client.post(url, json={"value": "like", "token": f"metrics-{i:04d}"}).status_code == 200
    assert client.post(url, json={"value": "meh", "token": "metrics-x"}).status_code == 422

    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    after = _samples(scrape.text)
    assert TILES_ROUTE == "/api/tiles/{product}/{year}/{z}/{x}/{y}.{fmt}"
    assert _requests(after, TILES_ROUTE) - _requests(before, TILES_ROUTE) == 4
    assert _requests(after, TILES_ROUTE, status="3xx") - _requests(before, TILES_ROUTE, status="3xx") == 1
    assert _requests(after, TILES_ROUTE, status="4xx") - _requests(before, TILES_ROUTE, status="4xx") == 1
    assert _requests(after, "<unmatched>", status="4xx") >= 1
    assert _requests(after, ANIMATIONS_ROUTE, "POST") - _requests(before, ANIMATIONS_ROUTE, "POST") == 2
    assert _requests(after, REACTIONS_ROUTE, "POST", "4xx") - _requests(before, REACTIONS_ROUTE, "POST", "4xx") == 1
    delta = {name: _value(after, name) - _value(before, name) for name in (
        "ecointegrity_animations_rendered_total", "ecointegrity_reactions_stored_total",
        "ecointegrity_tiles_not_modified_total")}
    assert delta == {"ecointegrity_animations_rendered_total": 1, "ecointegrity_reactions_stored_total": 2,
                     "ecointegrity_tiles_not_modified_total": 1}
    assert _value(after, "ecointegrity_tile_cache_hits_total") - _value(
        before, "ecointegrity_tile_cache_hits_total") >= 1
    assert _value(after, "ecointegrity_tile_cache_misses_total") - _value(
        before, "ecointegrity_tile_cache_misses_total") >= 1
    assert _value(after, "ecointegrity_tile_cache_entries") >= 1
    # bounded label values: route templates only, never a raw path
    routes = {dict(labels).get("route") for name, labels in after if name.startswith(HISTOGRAM)}
    assert not any(r and ("12345" in r or f"/{x}/" in r) for r in routes), routes


def test_each_app_counts_in_its_own_registry(tmp_path):
    apps = [create_app(tmp_path / f"c{i}", f"sqlite:///{tmp_path / f'{i}.sqlite'}", tmp_path / "a",
                       _settings(), site=None) for i in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        for _ in range(3):
            one.get("/api/version")
        assert _requests(_samples(one.get("/metrics").text), "/api/version") == 3
        assert _requests(_samples(two.get("/metrics").text), "/api/version") == 0


def test_app_from_environment(demo_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("ECOINTEGRITY_API_SECRET", "env-secret")
    env = environment_for([str(demo_outputs / "products")], f"sqlite:///{tmp_path / 'f.sqlite'}",
                          tmp_path / "animations")
    with TestClient(app_from_environment(env)) as c:
        assert c.get("/api/ready").json()["products"] >= 3
        assert c.app.state.settings.secret == "env-secret"


# --- several workers -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_url():
    """A throw-away PostgreSQL database; skip (or fail in CI) when the server is unreachable."""
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            name = f"eco_test_{secrets.token_hex(6)}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        admin.dispose()
        msg = f"PostgreSQL not reachable (set ECOINTEGRITY_TEST_POSTGRES): {type(exc).__name__}"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pids(folder: Path, kind: str) -> set[int]:
    """Processes that wrote multiprocess metrics of ``kind`` (counter, histogram)."""
    return {int(p.stem.split("_")[-1]) for p in folder.glob(f"{kind}_*.db")}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_serve_with_two_workers(database, demo_outputs, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")  # must be wiped
    port = _free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "ECOINTEGRITY_DATA_ROOT": str(tmp_path / "data"), "ECOINTEGRITY_API_SECRET": "w"}
    cmd = [sys.executable, "-m", "ecointegrity", "serve", "--workers", "2", "--port", str(port),
           "--products-catalog", str(demo_outputs / "products"), "--database-url", url]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no answer from /api/health in 30 s"
            time.sleep(0.2)

        workers = {p.pid for p in psutil.Process(server.pid).children(recursive=True)
                   if "multiprocessing" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())}
        deadline = time.monotonic() + 15  # until both workers built the app
        while len(_pids(metrics_dir, "counter")) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _pids(metrics_dir, "counter") == workers and len(workers) == 2, (workers, list(metrics_dir.iterdir()))

        # fresh connections until both workers have answered /api/health
        def probe(_):
            with httpx.Client(timeout=5) as c:
                return c.get(f"{base}/api/health", headers={"Connection": "close"}).status_code

        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while _pids(metrics_dir, "histogram") != workers and time.monotonic() < deadline + 10:
                assert set(pool.map(probe, range(16))) == {200}
                sent += 16
        assert _pids(metrics_dir, "histogram") == workers, "one worker never answered"
        assert httpx.get(f"{base}/api/ready").json()["status"] == "ready"

        # either worker's /metrics sums both
        samples = _samples(httpx.get(f"{base}/metrics").text)
        assert _requests(samples, "/api/health") >= sent + 1
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                   for p in map(_process_or_none, workers) if p), "a worker outlived the server"


def _process_or_none(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
