"""A national viewer over a state: tile latency at every zoom and a 30-year GIF, with the
overview pyramid (``ecointegrity.cube.overviews``) and the renderer's sampling
(``ecointegrity.web.sampling``), against GDAL's warper and against the product's own tiles only.

Data: a state-sized product set, Quintana Roo's size (a 200 x 220 km box, 44,000 km2, centred
on the state, EPSG:6372), at 30 m on the national grid's 1024-pixel tiles (56 tiles), 30 years
(1991-2020) of one int16 NDVI-like band (a smooth field that drifts from year to year, the
sea east of a coast line as nodata), written by the project's own ``write_product`` (the files
production writes), then its overviews by ``update_overviews``, as the product runs do. Built
once into ``--data`` (default: a temporary folder) and reused on later runs.

Timed through ``ProductRenderer`` (what the API's tile, WMS and animation routes call, without
HTTP): PNG tiles of 256 px at zooms 4, 6, 8, 10, 12, 14 on random tiles inside the state and
random years, the tile cache off (``tile_cache_mb=0``) and a fresh renderer per zoom and mode,
so no picture is ever served from memory; files read per tile counted at the renderer's dataset
pool. Baselines in the same run, on the same tiles:

* "GDAL warp": the same files read as the renderer read them before ``web.sampling``: each
  item through rio-tiler's ``Reader.part`` (a GDAL warped VRT) over the item's footprint;
* "base tiles only": the renderer reading the product's own tiles, no overviews.

Then the 30-year GIF of the whole state (512 px), the three ways.

    python benchmarks/national_viewer.py [--data DIR] [--tiles 40] [--workers 2]

Prints a table, then one JSON line: goals are p95 under 50 ms at every zoom and the GIF under
2 s, with the overviews.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

YEARS = list(range(1991, 2021))
CENTRE = (-88.05, 19.55)  # Quintana Roo, lon/lat
SIZE_KM = (200.0, 220.0)  # 44,000 km2
ZOOMS = (4, 6, 8, 10, 12, 14)
PRODUCT = "ndvi"


def _spec():
    from ecointegrity.cube import ProductBand, ProductSpec

    return ProductSpec(
        PRODUCT, "NDVI", "NDVI of the annual geomedian (synthetic, benchmark)",
        (ProductBand(PRODUCT, "int16", -32768, 1e-4, units="1", description="NDVI"),),
        colormap="rdylgn", value_range=(-0.2, 0.9),
    )


def _state_box():
    """The state's box in EPSG:6372 (an odc-geo Geometry)."""
    from odc.geo.geom import box, point

    x, y = point(*CENTRE, "epsg:4326").to_crs("EPSG:6372").coords[0]
    w, h = SIZE_KM[0] * 500, SIZE_KM[1] * 500
    return box(x - w, y - h, x + w, y + h, "EPSG:6372")


def _field(geobox, year: int) -> np.ndarray:
    """A smooth NDVI field that changes every year; the sea (east of a coast line) missing."""
    x = geobox.coords["x"].values[None, :]
    y = geobox.coords["y"].values[:, None]
    t = year - YEARS[0]
    v = (0.55 + 0.25 * np.sin(x / 21_000.0 + 0.2 * t) * np.cos(y / 27_000.0 - 0.1 * t)
         + 0.1 * np.sin((x + y) / 6_000.0) - 0.004 * t)
    v = np.broadcast_to(v, geobox.shape).astype(np.float32).copy()
    x0, y0 = _centre_6372()
    coast = (x - x0) > 60_000 + 0.3 * (y - y0)  # the Caribbean
    v[np.broadcast_to(coast, geobox.shape)] = np.nan
    return v


def _centre_6372() -> tuple[float, float]:
    from odc.geo.geom import point

    return point(*CENTRE, "epsg:4326").to_crs("EPSG:6372").coords[0]


def _write(args: tuple[str, int, int, int]):
    root, ix, iy, year = args
    import xarray as xr
    from odc.geo.xr import xr_coords

    from ecointegrity.cube import LocalCatalog, national_grid, write_product
    from ecointegrity.cube.grids import Tile

    grid = national_grid("mexico")
    geobox = grid.gridspec.tile_geobox((ix, iy))
    tile = Tile(f"{grid.name}-{grid.resolution:g}m", (ix, iy), geobox)
    ds = xr.Dataset({PRODUCT: (("y", "x"), _field(geobox, year))}, coords=xr_coords(geobox))
    return write_product(LocalCatalog(root), _spec(), tile, year, ds, register=False)


def build(root: Path, workers: int) -> dict:
    """The product set and its overviews (skipped when already there); timings in seconds."""
    from ecointegrity.cube import (
        LocalCatalog,
        national_grid,
        overview_levels,
        prepare_product,
        tiles_for,
        update_overviews,
    )

    cat = LocalCatalog(root)
    tiles = tiles_for(national_grid("mexico"), _state_box())
    if PRODUCT in cat.collections() and len(cat.item_ids(PRODUCT)) == len(tiles) * len(YEARS) \
            and overview_levels(cat, PRODUCT):
        return {"tiles": len(tiles), "cached": True}
    prepare_product(cat, _spec())
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for year in YEARS:
            jobs = [(str(root), t.index[0], t.index[1], year) for t in tiles]
            cat.register_items(PRODUCT, list(pool.map(_write, jobs)))
    t1 = time.perf_counter()
    for year in YEARS:
        update_overviews(cat, PRODUCT, year, workers=workers)
    t2 = time.perf_counter()
    return {"tiles": len(tiles), "cached": False, "write_s": t1 - t0, "overviews_s": t2 - t1}


def _tile_index(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def _requests(z: int, n: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """n (year, x, y) tiles at zoom z whose centre lies in the state (distinct where possible)."""
    west, south, east, north = _state_box().to_crs("epsg:4326").boundingbox
    x0, y1 = _tile_index(west, south, z)
    x1, y0 = _tile_index(east, north, z)
    cells = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    rng.shuffle(cells)
    out = []
    for i in range(n):
        x, y = cells[i % len(cells)]
        out.append((rng.choice(YEARS), x, y))
    return out


class _Counter:
    """Files the renderer takes from its dataset pool (opened, or reused when pooled)."""

    def __init__(self, renderer) -> None:
        self.files: list[str] = []
        original = renderer._pool.dataset

        def dataset(href, opener=None):
            self.files.append(href)
            return original(href, opener)

        renderer._pool.dataset = dataset

    def take(self) -> int:
        n, self.files = len(set(self.files)), []
        return n


def _gdal_warp_item(self, item, style, bounds, crs, width, height):
    """The baseline read of one item: rio-tiler's ``Reader.part`` (GDAL's warper) over the
    item's footprint, snapped outwards to the picture's pixels (the renderer until
    ``web.sampling``)."""
    from rasterio.warp import transform_bounds
    from rio_tiler.io import Reader

    from ecointegrity.web.geometry import WEB_MERCATOR, lonlat_to_mercator

    x0, y0, x1, y1 = bounds
    px, py = (x1 - x0) / width, (y1 - y0) / height
    if crs == WEB_MERCATOR:
        fx0, fy0, fx1, fy1 = lonlat_to_mercator(item.bbox)
    else:
        fx0, fy0, fx1, fy1 = transform_bounds("EPSG:4326", crs, *item.bbox, densify_pts=21)
    col0, col1 = max(0, math.floor((fx0 - x0) / px) - 1), min(width, math.ceil((fx1 - x0) / px) + 1)
    row0, row1 = max(0, math.floor((y1 - fy1) / py) - 1), min(height, math.ceil((y1 - fy0) / py) + 1)
    if col0 >= col1 or row0 >= row1:
        return None
    part = (x0 + col0 * px, y1 - row1 * py, x0 + col1 * px, y1 - row0 * py)
    options = {"unscale": style.unscale, "resampling_method": "nearest",
               "reproject_method": "nearest"}
    parts = []
    for band in style.bands:
        with self._pool.dataset(item.hrefs[band]) as ds:
            img = Reader(None, dataset=ds, options=options).part(
                part, dst_crs=crs, bounds_crs=crs, width=col1 - col0, height=row1 - row0,
                max_size=None, indexes=1)
        parts.append(img.array)
    data = np.ma.concatenate(parts)
    full = np.ma.MaskedArray(np.zeros((data.shape[0], height, width), data.dtype), mask=True)
    full[:, row0:row1, col0:col1] = data
    return full


def _renderer(root: Path, mode: str):
    """The renderer as served ("ours"), with GDAL's warper ("warp") or without overviews
    ("base")."""
    import types

    from ecointegrity.cube import LocalCatalog
    from ecointegrity.web import ProductRenderer

    renderer = ProductRenderer(LocalCatalog(root), tile_cache_mb=0, refresh_s=None)
    if mode == "base":  # base tiles only: the product as it was before the pyramid
        prod = renderer._index.product(PRODUCT)
        prod.levels = ()
    elif mode == "warp":
        renderer._read_item = types.MethodType(_gdal_warp_item, renderer)
    return renderer


def time_tiles(root: Path, z: int, mode: str, requests) -> dict:
    renderer = _renderer(root, mode)
    counter = _Counter(renderer)
    renderer.layer(PRODUCT)  # product state and style: not a tile's work
    counter.take()
    ms, cpu, files, empty = [], [], [], 0
    for year, x, y in requests:
        t, c = time.perf_counter(), time.process_time()
        png = renderer.tile(PRODUCT, year, z, x, y)
        ms.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        files.append(counter.take())
        empty += len(png) < 400
    renderer.close()
    q = statistics.quantiles(ms, n=20, method="inclusive")
    qc = statistics.quantiles(cpu, n=20, method="inclusive")
    return {"p50_ms": statistics.median(ms), "p95_ms": q[18],
            "cpu_p50_ms": statistics.median(cpu), "cpu_p95_ms": qc[18],
            "files_mean": statistics.mean(files), "files_max": max(files), "n": len(ms),
            "empty": empty}


def time_gif(root: Path, mode: str) -> dict:
    renderer = _renderer(root, mode)
    counter = _Counter(renderer)
    renderer.layer(PRODUCT)
    counter.take()
    bbox = list(_state_box().to_crs("epsg:4326").boundingbox)
    t, c = time.perf_counter(), time.process_time()
    gif = renderer.animation(PRODUCT, YEARS, bbox, size=512, attribution="benchmark")
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    files = counter.take()
    renderer.close()
    return {"s": seconds, "cpu_s": cpu, "files": files, "bytes": len(gif)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder for the product set (kept)")
    ap.add_argument("--tiles", type=int, default=40, help="tiles timed per zoom and mode")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="national-viewer-")) / "products"
    root = root.resolve()
    print(f"data: {root}")
    made = build(root, args.workers)
    if made["cached"]:
        print(f"product set found: {made['tiles']} tiles x {len(YEARS)} years (not rebuilt)")
    else:
        print(f"built {made['tiles']} tiles x {len(YEARS)} years in {made['write_s']:.0f} s, "
              f"overviews in {made['overviews_s']:.0f} s ({args.workers} workers)")
    from ecointegrity.cube import LocalCatalog, overview_levels

    cat = LocalCatalog(root)
    levels = overview_levels(cat, PRODUCT)
    per_level = {lv.resolution: len(cat.item_ids(lv.collection)) // len(YEARS) for lv in levels}
    print("overview levels: " + ", ".join(f"{r:g} m ({n} files/year)" for r, n in per_level.items()))

    rng = random.Random(args.seed)
    rows = []
    for z in ZOOMS:
        requests = _requests(z, args.tiles, rng)
        ours = time_tiles(root, z, "ours", requests)
        warp = time_tiles(root, z, "warp", requests)
        base = time_tiles(root, z, "base", requests) if z <= 10 else None
        rows.append((z, ours, warp, base))
    print()
    print("wall ms (CPU ms of this process, what the tile costs without other load)")
    print(f"{'zoom':>4} | {'p50':>13} {'p95':>13} {'files':>7} | GDAL warp: {'p50':>13} "
          f"{'p95':>13} {'p95 ratio':>9} | base tiles only: {'p95':>13} {'files':>7}")

    def cell(r: dict, k: str) -> str:
        return f"{r[k + '_ms']:6.1f} ({r['cpu_' + k + '_ms']:5.1f})"

    for z, ours, warp, base in rows:
        b = (f"{cell(base, 'p95')} {base['files_mean']:4.1f}/{base['files_max']:<2d}"
             if base else "(same files)")
        print(f"{z:>4} | {cell(ours, 'p50')} {cell(ours, 'p95')} "
              f"{ours['files_mean']:4.1f}/{ours['files_max']:<2d} | {'':10} {cell(warp, 'p50')} "
              f"{cell(warp, 'p95')} {warp['p95_ms'] / ours['p95_ms']:8.1f}x | {'':16} {b}")
    print("files: mean/max distinct files read per tile; tiles: "
          f"{args.tiles} per zoom and mode, random years")
    gifs = {mode: time_gif(root, mode) for mode in ("ours", "warp", "base")}
    gif = gifs["ours"]
    print(f"\n30-year GIF of the state, 512 px: {gif['s']:.2f} s (CPU {gif['cpu_s']:.2f} s) "
          f"reading {gif['files']} files ({gif['bytes'] / 1e6:.1f} MB)")
    for mode, name in (("warp", "GDAL warp"), ("base", "base tiles only")):
        g = gifs[mode]
        print(f"  {name}: {g['s']:.2f} s (CPU {g['cpu_s']:.2f} s) reading {g['files']} files "
              f"({g['s'] / gif['s']:.1f}x)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    p95_ok = all(ours["p95_ms"] < 50 for _, ours, _, _ in rows)
    print(json.dumps({
        "benchmark": "national_viewer",
        "through": "ProductRenderer (no HTTP), tile cache off, fresh renderer per zoom",
        "cpus": os.cpu_count(),
        "state_km2": SIZE_KM[0] * SIZE_KM[1],
        "base_tiles": made["tiles"], "years": len(YEARS),
        "build_s": None if made["cached"] else round(made["write_s"] + made["overviews_s"], 1),
        "overview_levels_m": list(per_level),
        "load_average": round(os.getloadavg()[0], 1),
        "tiles": {str(z): {"p50_ms": round(o["p50_ms"], 1), "p95_ms": round(o["p95_ms"], 1),
                           "cpu_p50_ms": round(o["cpu_p50_ms"], 1),
                           "cpu_p95_ms": round(o["cpu_p95_ms"], 1),
                           "files_mean": round(o["files_mean"], 2), "files_max": o["files_max"],
                           "gdal_warp_p50_ms": round(w["p50_ms"], 1),
                           "gdal_warp_p95_ms": round(w["p95_ms"], 1),
                           **({"base_p95_ms": round(b["p95_ms"], 1),
                               "base_files_mean": round(b["files_mean"], 2)} if b else {})}
                  for z, o, w, b in rows},
        "gif_s": round(gif["s"], 2), "gif_cpu_s": round(gif["cpu_s"], 2),
        "gif_files": gif["files"],
        "gif_gdal_warp_s": round(gifs["warp"]["s"], 2),
        "gif_base_s": round(gifs["base"]["s"], 2), "gif_base_files": gifs["base"]["files"],
        "goals": {"tile_p95_under_50ms": p95_ok, "gif_under_2s": gif["s"] < 2.0,
                  "tile_cpu_p95_under_50ms": all(o["cpu_p95_ms"] < 50 for _, o, _, _ in rows),
                  "gif_cpu_under_2s": gif["cpu_s"] < 2.0},
    }))


if __name__ == "__main__":
    main()
