"""Benchmark: our numba geomedian + MADs against Geoscience Australia's ``geomad`` (1.0.0).

Both run on the same arrays, with the same ``eps`` and ``maxiters``: geomad takes
(y, x, band, time) float32, ours (band, time, y, x); the transposed copy is made once, outside
the timings. Cases:

- a synthetic reflectance tile (``--size`` squared pixels, 6 bands, ``--obs`` observations,
  30 % of observations missing, 3 % bright cloud-like outliers missed by the mask), seeded;
- the real Landsat series of ``yatsm`` (row 50 of p013r030, 300 pixels, 1985-2013): one
  annual composite per pixel and year, all 29 years in one batch (years side by side along
  the pixel axis as one image row per year, padded with NaN to the largest yearly
  observation count).

For 1 and 2 threads it times the geomedian alone and the geomedian with the three MADs
(numba compilation excluded; median of ``--repeats`` runs), and reports the differences to
geomad. When odc-algo is installed (the ``test`` extra has it) it also times odc-algo's
current geomedian, ``odc.algo.geomedian_with_mads`` (geomedian, 3 MADs and count on a Dask
array in its YXBT layout, one chunk, computed with Dask's synchronous scheduler). odc-algo
1.2.2 (the newest on PyPI) runs ``geomad`` 1.0.0's Cython kernels underneath: there is no Rust
backend in any wheel that installs. The last line printed is a JSON summary.

Run:  PYTHONPATH=src python benchmarks/geomedian.py [--size 512] [--obs 20 30 40] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ecointegrity.mosaics.geomedian import EPS, MAXITERS, geomedian_mads  # noqa: E402

YATSM = "eo/yatsm/tests/data/p013r030_r50_n423_b8.npz"
MADS = ("emad", "smad", "bcmad")


def synthetic(size: int, nobs: int, seed: int = 0) -> np.ndarray:
    """(6, nobs, size, size) float32 reflectance: a per-pixel spectrum + noise, 3 % of the
    observations brightened by 0.3 (clouds the mask missed), 30 % of them NaN (masked)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.02, 0.45, (6, 1, size, size)).astype(np.float32)
    x = base + rng.normal(0, 0.02, (6, nobs, size, size)).astype(np.float32)
    x += np.float32(0.3) * (rng.random((1, nobs, size, size)) < 0.03)
    x[:, rng.random((nobs, size, size)) < 0.3] = np.nan
    return x


def yatsm_years(path: Path, first: int = 1985, last: int = 2013) -> np.ndarray:
    """(6, max yearly obs, years, 300) float32 reflectance of the yatsm series: one image row
    per year (so that both libraries, parallel over rows, can use their threads), NaN where
    Fmask is not clear (0 land, 1 water) or a band is outside its valid range 0..10000, and
    as padding up to the largest yearly observation count."""
    z = np.load(path)
    y, dates = z["Y"], z["dates"]
    years = np.array([dt.date.fromordinal(int(o)).year for o in dates])
    sr = y[:6].astype(np.float32)
    clear = np.isin(y[7], (0, 1)) & ((y[:6] >= 0) & (y[:6] <= 10000)).all(axis=0)
    sr = np.where(clear, sr * np.float32(1e-4), np.float32(np.nan))
    per_year = [sr[:, years == yr] for yr in range(first, last + 1)]
    nt = max(a.shape[1] for a in per_year)
    padded = [np.pad(a, ((0, 0), (0, nt - a.shape[1]), (0, 0)), constant_values=np.nan) for a in per_year]
    return np.stack(padded, axis=2).astype(np.float32)


def interleaved_medians(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Median time and last result of each function, run in turns (one of each per round),
    so that a load change on the machine hits all of them alike."""
    times: dict = {k: [] for k in fns}
    out: dict = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            out[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}, out


def odc_algo_geomedian():
    """odc-algo's ``geomedian_with_mads`` as a function of a YXBT array, or None."""
    try:
        import dask
        import dask.array as da
        import xarray as xr
        from odc.algo import geomedian_with_mads
    except ImportError:
        return None

    def run(X: np.ndarray, th: int) -> np.ndarray:
        bands = [f"b{i}" for i in range(X.shape[2])]
        yxbt = xr.DataArray(da.from_array(X, chunks=X.shape), dims=("y", "x", "band", "time"),
                            coords={"band": bands})
        out = geomedian_with_mads(yxbt, eps=EPS, maxiters=MAXITERS, num_threads=th)
        with dask.config.set(scheduler="synchronous"):
            out = out.compute()  # bands, smad, emad, bcmad, count
        return np.stack([out[b].values for b in bands], axis=-1)  # geomedian (y, x, band)

    return run


def run_case(name: str, data: np.ndarray, threads: list[int], repeats: int, geomad) -> tuple[list, dict]:
    """Timing rows and difference statistics for one data set."""
    X = np.ascontiguousarray(data.transpose(2, 3, 0, 1))  # geomad's (y, x, band, time)
    npx = data.shape[2] * data.shape[3]
    rows, diffs = [], {}
    odc_algo = odc_algo_geomedian()

    def theirs(th: int, mads: bool):
        gm = geomad.nangeomedian_pcm(X, maxiters=MAXITERS, eps=EPS, num_threads=th)
        return gm, [getattr(geomad, f"{m}_pcm")(X, gm, num_threads=th) for m in MADS] if mads else None

    def ours(th: int, mads: bool, init_mean: bool = False):
        return geomedian_mads(data, device="cpu", num_threads=th, with_mads=mads, init_mean=init_mean)

    for th in threads:
        fns = {
            "geomad gm": lambda th=th: theirs(th, False),
            "ours gm": lambda th=th: ours(th, False),
            "ours gm init_mean": lambda th=th: ours(th, False, True),
            "geomad gm+mads": lambda th=th: theirs(th, True),
            "ours gm+mads": lambda th=th: ours(th, True),
        }
        if odc_algo is not None:
            fns["odc-algo gm+mads"] = lambda th=th: odc_algo(X, th)
        t, out = interleaved_medians(fns, repeats)
        ref_gm, ref_mads = out["geomad gm+mads"]
        if odc_algo is not None:  # odc-algo's time on the geomad column, ours beside it
            d = np.abs(out["ours gm+mads"].gm - out["odc-algo gm+mads"].transpose(2, 0, 1))
            rows.append((name, "gm+3 MADs (odc-algo)", th, npx / t["odc-algo gm+mads"], npx / t["ours gm+mads"],
                         t["odc-algo gm+mads"] / t["ours gm+mads"], float(np.nanmax(d))))
        for task, ref_key, key in (("gm", "geomad gm", "ours gm"),
                                   ("gm init_mean", "geomad gm", "ours gm init_mean"),
                                   ("gm+3 MADs", "geomad gm+mads", "ours gm+mads")):
            d = np.abs(out[key].gm - ref_gm.transpose(2, 0, 1))
            rows.append((name, task, th, npx / t[ref_key], npx / t[key], t[ref_key] / t[key], float(np.nanmax(d))))
        diffs["default"] = {"gm": np.abs(out["ours gm+mads"].gm - ref_gm.transpose(2, 0, 1)),
                            **{m: np.abs(getattr(out["ours gm+mads"], m) - r) for m, r in zip(MADS, ref_mads, strict=False)}}
        diffs["init_mean"] = {"gm": np.abs(out["ours gm init_mean"].gm - ref_gm.transpose(2, 0, 1))}
    return rows, diffs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=512, help="synthetic tile side, pixels (512)")
    p.add_argument("--obs", type=int, nargs="+", default=[30], help="observations per pixel (30)")
    p.add_argument("--repeats", type=int, default=5, help="timings per measurement; median (5)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (1 2)")
    p.add_argument("--quick", action="store_true", help="128 x 128 tile, 3 repeats")
    args = p.parse_args()
    if args.quick:
        args.size, args.repeats = 128, 3
    try:
        import geomad
    except ImportError:
        sys.exit("geomad is not installed; this benchmark compares against it: pip install geomad==1.0.0")
    import numba

    threads = [t for t in args.threads if t <= numba.config.NUMBA_NUM_THREADS]
    if threads != args.threads:
        print(f"note: numba allows at most {numba.config.NUMBA_NUM_THREADS} threads; running {threads}")

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.2f} before starting: other processes may slow the timings")
    warm = synthetic(8, 10)  # compile numba (cached on disk afterwards), outside all timings
    for th in threads:
        geomedian_mads(warm, device="cpu", num_threads=th)
        geomad.nangeomedian_pcm(np.ascontiguousarray(warm.transpose(2, 3, 0, 1)), num_threads=th)

    cases = [(f"synthetic {args.size}x{args.size}, {n} obs", synthetic(args.size, n)) for n in args.obs]
    shared = Path(os.environ.get("ECOINTEGRITY_SHARED_DATA", REPO.parent / "shared" / "data"))
    if (shared / YATSM).exists():
        real = yatsm_years(shared / YATSM)
        cases.append((f"yatsm p013r030 1985-2013 ({real.shape[2]}x{real.shape[3]} px-years, <={real.shape[1]} obs)", real))
    else:
        print(f"skipping the real-data case: {shared / YATSM} not found (set ECOINTEGRITY_SHARED_DATA)")

    rows, diffs = [], {}
    for name, data in cases:
        r, d = run_case(name, data, threads, args.repeats, geomad)
        rows += r
        diffs[name] = d

    head = ("case", "task", "threads", "theirs px/s", "ours px/s", "speedup", "max|dgm| vs theirs")
    width = max(len(r[0]) for r in rows)
    fmt = f"{{:<{width}}}  {{:<20}}  {{:>7}}  {{:>12}}  {{:>12}}  {{:>8}}  {{:>18}}"
    print(f"\ngeomedian + MADs, eps={EPS}, maxiters={MAXITERS}, median of {args.repeats} runs")
    print(fmt.format(*head))
    for name, task, th, ref, our, sp, d in rows:
        print(fmt.format(name, task, th, f"{ref:,.0f}", f"{our:,.0f}", f"{sp:.2f}x", f"{d:.3g}"))

    print("\ndifferences to geomad (abs; over all bands and pixels with data):")
    for name, per in diffs.items():
        for key, d in per.items():
            stats = ", ".join(f"{m} max {np.nanmax(v):.3g} mean {np.nanmean(v):.3g}" for m, v in d.items())
            print(f"  {name} [{key}]: {stats}")

    headline = 30 if 30 in args.obs else args.obs[0]  # the JSON speedups: this tile's
    tile = cases[args.obs.index(headline)][0]

    def pick(task: str, th: int, field: int):
        return next((round(r[field], 3) for r in rows if r[0] == tile and r[1] == task and r[2] == th), None)

    summary = {
        "benchmark": "geomedian",
        "speedup_vs_geomad_2threads": pick("gm", 2, 5),
        "max_abs_diff": float(max(np.nanmax(d["default"]["gm"]) for d in diffs.values())),
        "speedup_vs_geomad_1thread": pick("gm", 1, 5),
        "speedup_with_mads_2threads": pick("gm+3 MADs", 2, 5),
        "speedup_init_mean_2threads": pick("gm init_mean", 2, 5),
        "speedup_vs_odc_algo_2threads": pick("gm+3 MADs (odc-algo)", 2, 5),
        "init_mean_max_abs_diff": float(max(np.nanmax(d["init_mean"]["gm"]) for d in diffs.values())),
        "mads_max_abs_diff": float(max(np.nanmax(d["default"][m]) for d in diffs.values() for m in MADS)),
        "size": args.size,
        "obs": headline,
        "repeats": args.repeats,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
