"""End-to-end throughput and memory of the annual mosaic pipeline on one simulated tile.

A year of a 1000 x 1000 px Landsat-like tile with ~40 observations (the scene simulator, ingested
as COGs) goes through ``MosaicTask``: load in row blocks, all seven products, COG + STAC writes.
Each run happens in a fresh child process, so its peak memory (max RSS) is its own. Baseline in
the same run: the same pipeline with Geoscience Australia's ``geomad`` (geomedian + 3 MADs, as
odc-algo uses it) in place of our kernel.

    python benchmarks/mosaic_pipeline.py [--size 1000] [--revisit 9] [--repeats 3]

Prints a table, then one JSON line with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _geomad_backend():
    """geomad in place of our kernel, same inputs and outputs (the baseline)."""
    import geomad

    from ecointegrity.mosaics.geomedian import GeomedianResult

    def geomedian_mads(data, **_):
        x = np.ascontiguousarray(data.transpose(2, 3, 0, 1))
        gm = geomad.nangeomedian_pcm(x, eps=1e-4)
        count = (~np.isnan(data).any(axis=0)).sum(axis=0).astype(np.uint16)
        return GeomedianResult(gm.transpose(2, 0, 1), geomad.emad_pcm(x, gm), geomad.smad_pcm(x, gm),
                               geomad.bcmad_pcm(x, gm), count)

    return geomedian_mads


def _run(args: tuple[str, str, int, str, mp.Queue]) -> None:
    catalog, out, year, kernel, queue = args
    from ecointegrity.cube import LocalCatalog, Tile
    from ecointegrity.cube.load import native_geobox
    from ecointegrity.mosaics import MosaicTask
    from ecointegrity.mosaics import geomedian as gm_module
    from ecointegrity.mosaics.products import PRODUCT_NAMES, REFLECTANCE_BANDS

    inner = _geomad_backend() if kernel == "geomad" else gm_module.geomedian_mads
    spent = [0.0]

    def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return inner(*a, **kw)
        finally:
            spent[0] += time.perf_counter() - t

    gm_module.geomedian_mads = timed
    cat = LocalCatalog(catalog)
    tile = Tile("bench", (0, 0), native_geobox(cat.items("sim")))
    # warm up numba's compiled kernels outside the timing (cached on disk after the first run)
    gm_module.geomedian_mads(np.random.rand(6, 3, 2, 2).astype(np.float32))
    spent[0] = 0.0
    task = MosaicTask(catalog, "sim", out, year, tuple(PRODUCT_NAMES), REFLECTANCE_BANDS, overwrite=True)
    t = time.perf_counter()
    items = task(tile)
    total = time.perf_counter() - t
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"seconds": total, "kernel_seconds": spent[0], "peak_mib": peak_mib, "items": len(items)})


def _child(catalog: str, out: str, year: int, kernel: str) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=((catalog, out, year, kernel, queue),))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="tile side in pixels")
    parser.add_argument("--revisit", type=int, default=9, help="days between dates (9 -> ~40 a year)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from odc.geo.geobox import GeoBox

    from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset
    from ecointegrity.cube.simulate import simulate

    year = 2021
    work = Path(tempfile.mkdtemp(prefix="ecointegrity-bench-"))
    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * args.size, 800_000 + 30 * args.size),
                              "EPSG:6372", resolution=30)
    t = time.perf_counter()
    scenes = simulate(geobox, start_year=year, end_year=year, revisit_days=args.revisit, seed=1)
    n_obs = scenes.dataset.sizes["time"]
    profile = get_profile("landsat-c2-l2")
    catalog = LocalCatalog(work / "catalog")
    ingest_dataset(catalog, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    del scenes
    print(f"prepared {args.size}x{args.size} px x {n_obs} dates in {time.perf_counter() - t:.0f} s ({work})")

    rows = {}
    for kernel in ("ours", "geomad"):
        runs = [_child(catalog.root, str(work / f"products-{kernel}"), year, kernel) for _ in range(args.repeats)]
        rows[kernel] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "kernel_seconds": statistics.median(r["kernel_seconds"] for r in runs),
            "peak_mib": max(r["peak_mib"] for r in runs),
            "items": runs[0]["items"],
        }
    pixels = args.size * args.size
    print(f"\n{'pipeline':<22}{'median s':>10}{'px/s':>12}{'geomedian share':>17}{'peak MiB':>10}{'products':>10}")
    for kernel, r in rows.items():
        label = "ecointegrity" if kernel == "ours" else "same, geomad kernel"
        print(f"{label:<22}{r['seconds']:>10.1f}{pixels / r['seconds']:>12,.0f}"
              f"{r['kernel_seconds'] / r['seconds']:>16.0%}{r['peak_mib']:>10.0f}{r['items']:>10}")
    speedup = rows["geomad"]["seconds"] / rows["ours"]["seconds"]
    print(f"\nend-to-end speedup vs the geomad kernel: {speedup:.2f}x (median of {args.repeats}; 2 cores)")
    print(json.dumps({
        "benchmark": "mosaic_pipeline",
        "tile_px": args.size,
        "observations": n_obs,
        "pixels_per_second": round(pixels / rows["ours"]["seconds"]),
        "geomedian_share": round(rows["ours"]["kernel_seconds"] / rows["ours"]["seconds"], 3),
        "peak_rss_mib": round(rows["ours"]["peak_mib"]),
        "speedup_vs_geomad_pipeline": round(speedup, 2),
    }))


if __name__ == "__main__":
    main()
