"""End-to-end throughput and memory of the annual mosaic pipeline on one simulated tile.

A year of a 1000 x 1000 px Landsat-like tile with ~40 observations (the scene simulator, ingested
as COGs) goes through ``MosaicTask``: load in row blocks, all seven products, COG + STAC writes.
Each run happens in a fresh child process, so its peak memory (max RSS) is its own; before the
timed run the child makes the products of a small tile once, so that numba's compilation and
first imports are not timed. Baselines in the same run:

- the same pipeline with Geoscience Australia's ``geomad`` (geomedian + 3 MADs, as odc-algo
  uses it) in place of our kernel;
- with ``--baseline-ref REF``, the pipeline as it is at git revision ``REF`` (its ``src`` tree,
  exported with ``git archive`` and put first on the child's ``PYTHONPATH``).

For each: seconds, pixels per second, the geomedian kernel's share of the time, the share spent
reading the sources (decoding their COGs into numpy), peak RSS, and the core-hours one year of
Mexico at 30 m (2.2 billion pixels) would take at that rate on the cores used here.

    python benchmarks/mosaic_pipeline.py [--size 1000] [--revisit 9] [--repeats 3]
        [--baseline-ref HEAD] [--catalog DIR]

Prints a table, then one JSON line with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEXICO_PX = 2.2e9  # one year of Mexico at 30 m, land and sea of the national grid's tiles
ISSUE_PX_S = 30_566  # issue 16's figure for this benchmark before the pipeline work


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


def run_task(catalog: str, out: str, year: int, kernel: str) -> dict:
    """One timed MosaicTask in this process (the child's side)."""
    from ecointegrity.cube import LocalCatalog, Tile
    from ecointegrity.cube.load import native_geobox
    from ecointegrity.mosaics import MosaicTask
    from ecointegrity.mosaics import annual as annual_module
    from ecointegrity.mosaics import geomedian as gm_module
    from ecointegrity.mosaics.products import PRODUCT_NAMES, REFLECTANCE_BANDS

    inner = _geomad_backend() if kernel == "geomad" else gm_module.geomedian_mads
    spent = [0.0]

    def timed(inner, spent):
        def call(*a, **kw):
            t = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                spent[0] += time.perf_counter() - t
        return call

    gm_module.geomedian_mads = timed(inner, spent)
    if hasattr(annual_module, "geomedian_mads"):  # annual_products calls it per band of rows
        annual_module.geomedian_mads = gm_module.geomedian_mads
    # reading the sources (decoding the COGs into numpy), the largest part after the kernel
    reading = [0.0]
    load_module = sys.modules["ecointegrity.cube.load"]
    load_module.read_aligned = timed(load_module.read_aligned, reading)
    cat = LocalCatalog(catalog)
    geobox = native_geobox(cat.items("sim"))
    task = MosaicTask(catalog, "sim", out, year, tuple(PRODUCT_NAMES), REFLECTANCE_BANDS, overwrite=True)
    # warm-up on a 64 x 64 px corner: compiles every numba kernel (or loads it from the cache)
    task(Tile("warmup", (1, 1), geobox[:64, :64]))
    spent[0] = reading[0] = 0.0
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    items = task(Tile("bench", (0, 0), geobox))
    total = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak_mib = _peak_rss_mib()
    return {"seconds": total, "cpu_seconds": cpu, "kernel_seconds": spent[0], "read_seconds": reading[0],
            "peak_mib": peak_mib, "items": len(items),
            "platforms": items[0].properties.get("ecointegrity:platforms") if items else None}


def _peak_rss_mib() -> float:
    """This process's peak RSS. Not ``ru_maxrss``: Linux carries that across ``exec`` from the
    parent (the parent simulated the tile, so every child would report the parent's peak);
    ``VmHWM`` belongs to this process's own address space."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(catalog: str, out: str, year: int, kernel: str, src: Path | None) -> dict:
    """run_task in a fresh interpreter (its own peak RSS), with ``src`` first on its path."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, __file__, "--child", catalog, out, str(year), kernel]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {kernel} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _export(ref: str, dest: Path) -> Path:
    """The ``src`` tree of git revision ``ref`` under ``dest`` (read-only use of git)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _prepare(work: Path, size: int, revisit: int, year: int) -> tuple[str, int]:
    from odc.geo.geobox import GeoBox

    from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset
    from ecointegrity.cube.simulate import simulate

    catalog = LocalCatalog(work / "catalog")
    if "sim" in catalog.collections():
        return catalog.root, len(catalog.items("sim"))
    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * size, 800_000 + 30 * size),
                              "EPSG:6372", resolution=30)
    scenes = simulate(geobox, start_year=year, end_year=year, revisit_days=revisit, seed=1)
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(catalog, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    return catalog.root, scenes.dataset.sizes["time"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="tile side in pixels")
    parser.add_argument("--revisit", type=int, default=9, help="days between dates (9 -> ~40 a year)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-ref", help="also time the pipeline of this git revision (e.g. HEAD)")
    parser.add_argument("--catalog", type=Path, help="work folder to reuse (its simulated catalog is kept)")
    args = parser.parse_args()

    year = 2021
    work = args.catalog or Path(tempfile.mkdtemp(prefix="ecointegrity-bench-"))
    t = time.perf_counter()
    catalog, n_obs = _prepare(work, args.size, args.revisit, year)
    print(f"{args.size}x{args.size} px x {n_obs} dates ready in {time.perf_counter() - t:.0f} s ({work})")
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.2f} before starting: other processes may slow the timings")

    variants = [("ecointegrity", "ours", None), ("same, geomad kernel", "geomad", None)]
    if args.baseline_ref:
        variants.append((f"pipeline at {args.baseline_ref}", "ours",
                         _export(args.baseline_ref, work / f"src-{args.baseline_ref}")))
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in variants}
    for i in range(args.repeats):  # interleaved, so that a load change hits every variant alike
        for v, (label, kernel, src) in enumerate(variants):
            runs[label].append(_child(catalog, str(work / f"products-{i}-{v}"), year, kernel, src))
    pixels = args.size * args.size
    rows = {}
    for label, rs in runs.items():
        seconds = statistics.median(r["seconds"] for r in rs)
        rows[label] = {
            "seconds": seconds,
            "px_s": pixels / seconds,
            "share": statistics.median(r["kernel_seconds"] / r["seconds"] for r in rs),
            "read_share": statistics.median(r["read_seconds"] / r["seconds"] for r in rs),
            "peak_mib": max(r["peak_mib"] for r in rs),
            "items": rs[0]["items"],
            "core_hours": MEXICO_PX / (pixels / seconds) * cores / 3600,
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rs),
        }
    print(f"\n{'pipeline':<24}{'median s':>10}{'px/s':>11}{'geomedian share':>17}{'read share':>12}"
          f"{'peak MiB':>10}{'products':>10}{'Mexico 30 m, core-h':>21}{'CPU s':>8}")
    for label, r in rows.items():
        print(f"{label:<24}{r['seconds']:>10.2f}{r['px_s']:>11,.0f}{r['share']:>16.0%}{r['read_share']:>11.0%}"
              f"{r['peak_mib']:>10.0f}{r['items']:>10}{r['core_hours']:>21.1f}{r['cpu_seconds']:>8.1f}")
    ours = rows["ecointegrity"]
    print(f"\n{cores} cores, median of {args.repeats}; core-hours = 2.2e9 px / (px/s) x {cores} cores "
          f"(one year of Mexico at 30 m); ratio to issue 16's {ISSUE_PX_S:,} px/s: "
          f"{ours['px_s'] / ISSUE_PX_S:.2f}x (measured on another day: the same-run rows above are the baseline). "
          "CPU s: user + system time of the task, all threads (less sensitive than wall time to other "
          "processes on the machine). Read share: reading the sources' COGs into numpy (41 dates x 7 bands "
          "of DEFLATE, as Landsat Collection 2 ships them)")
    summary = {
        "benchmark": "mosaic_pipeline",
        "tile_px": args.size,
        "observations": n_obs,
        "cores": cores,
        "pixels_per_second": round(ours["px_s"]),
        "geomedian_share": round(ours["share"], 3),
        "read_share": round(ours["read_share"], 3),
        "peak_rss_mib": round(ours["peak_mib"]),
        "mexico_30m_core_hours": round(ours["core_hours"], 1),
        "cpu_seconds": round(ours["cpu_seconds"], 2),
        "speedup_vs_geomad_kernel": round(rows["same, geomad kernel"]["seconds"] / ours["seconds"], 2),
        "platforms": runs["ecointegrity"][0]["platforms"],
    }
    if args.baseline_ref:
        base = rows[f"pipeline at {args.baseline_ref}"]
        summary["baseline_ref"] = args.baseline_ref
        summary["baseline_pixels_per_second"] = round(base["px_s"])
        summary["speedup_vs_baseline_ref"] = round(base["seconds"] / ours["seconds"], 2)
        summary["cpu_ratio_vs_baseline_ref"] = round(base["cpu_seconds"] / ours["cpu_seconds"], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        catalog_, out_, year_, kernel_ = sys.argv[2:6]
        print(json.dumps(run_task(catalog_, out_, int(year_), kernel_)))
    else:
        main()
