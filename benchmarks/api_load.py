"""Load test of the React-2-EO API against TiTiler, on the same COG, in one run.

1. Products from the offline demo (simulator, Bacalar); to animate 20 years, the 2022 items are
   also listed under 2004-2023 in a copy of the product catalog (same COGs, same rendering work).
2. Our API (`ecointegrity serve`) and TiTiler (`titiler.core`'s TilerFactory, benchmark-only
   extra: `pip install titiler.core`) run as uvicorn servers on localhost, one process each.
3. Tile latency p50/p95 for one client, and tiles per second under 32 concurrent clients, on
   distinct zoom-15/16 tiles of one NDVI COG, for both. Our server runs twice: with its tile
   cache off (every request reads and renders, as TiTiler does: the headline comparison) and
   with it on (what a deployment sees when many people look at the same place).
4. An animated GIF of 20 frames at 512 px; 5,000 reactions posted by 50 concurrent clients,
   then counted in the statistics.

    python benchmarks/api_load.py [--requests 300] [--seconds 10]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
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
import time
from pathlib import Path
from urllib.parse import quote

import httpx

TITILER_APP = textwrap.dedent("""
    from fastapi import FastAPI
    from titiler.core.factory import TilerFactory
    app = FastAPI()
    app.include_router(TilerFactory().router, prefix="/cog")
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not start")


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


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="single-client tile requests per server")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each concurrent run")
    args = parser.parse_args()

    from ecointegrity.cli.demo_job import run_demo
    from ecointegrity.cube import LocalCatalog

    work = Path(tempfile.mkdtemp(prefix="ecointegrity-api-"))
    run_demo(work / "demo", offline=True, say=lambda _: None)
    products = LocalCatalog(work / "demo" / "products")
    # 20 "years" for the animation: the 2022 items re-dated 2004-2023 (same COGs)
    for product in products.collections():
        base = [it for it in products.items(product, time=2022)]
        redated = []
        for year in range(2004, 2024):
            if year in (2021, 2022, 2023):
                continue
            for item in base:
                clone = item.clone()
                clone.id = item.id.replace("2022", str(year))
                clone.properties["start_datetime"] = f"{year}-01-01T00:00:00Z"
                clone.properties["end_datetime"] = f"{year}-12-31T23:59:59.999999Z"
                redated.append(clone)
        products.add_items(product, redated)

    ndvi_item = products.items("ndvi", time=2022)[0]
    cog = ndvi_item.assets["ndvi"].get_absolute_href()
    bounds = ndvi_item.bbox
    tiles = _tiles(bounds)[: max(args.requests, 64)]
    ports = {"ecointegrity": _free_port(), "ecointegrity (tile cache)": _free_port(), "titiler": _free_port()}
    env = {**os.environ, "ECOINTEGRITY_DATA_ROOT": str(work / "api"), "ECOINTEGRITY_API_REACTIONS_PER_MINUTE": "1000000",
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
        for name, url in base.items():
            _wait(url + ("/docs" if name == "titiler" else "/api/health"))
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
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'server':<28}{'tile p50 ms':>12}{'tile p95 ms':>12}{'tiles/s (32 clients)':>22}")
    for name, r in results.items():
        print(f"{name:<28}{r['p50']:>12.1f}{r['p95']:>12.1f}{r['tiles_per_s']:>22.0f}")
    ratio = results["ecointegrity"]["tiles_per_s"] / results["titiler"]["tiles_per_s"]
    cached = results["ecointegrity (tile cache)"]["tiles_per_s"] / results["titiler"]["tiles_per_s"]
    print(f"\nthroughput ratio vs TiTiler: {ratio:.2f}x without our tile cache, {cached:.2f}x with it; GIF of 20 frames at 512 px: {gif_s:.2f} s; "
          f"reactions: 5000 posted by 50 clients in {reactions_s:.1f} s, {accepted} accepted, {counted} counted")
    print(json.dumps({
        "benchmark": "api_load",
        "tile_p50_ms": round(results["ecointegrity"]["p50"], 1),
        "tile_p95_ms": round(results["ecointegrity"]["p95"], 1),
        "titiler_tile_p50_ms": round(results["titiler"]["p50"], 1),
        "tiles_per_s_ratio_vs_titiler": round(ratio, 2),
        "tiles_per_s_ratio_vs_titiler_cached": round(cached, 2),
        "gif_20x512_s": round(gif_s, 2),
        "reactions_lost": 5000 - counted,
    }))


if __name__ == "__main__":
    main()
