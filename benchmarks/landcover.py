"""Land-cover training and prediction throughput on a 2000 x 2000 px tile.

Features: the `madmex-landsat` recipe computed from a year of the scene simulator (2000 x 2000
px, 30 m, one date a month) with the annual products; labels: the simulator's truth. Compared in
the same run: our default LightGBM model and scikit-learn's random forest (the classifier of
MAD-Mex's earlier implementations), same samples, same threads; the same LightGBM booster
twice: through its own predictor as predict_map used it before ("lightgbm-before") and through
the fast predictor predict_map now uses (ecointegrity.landcover.predictor), with the fraction of
identical class pixels. Each prediction is timed by the wall clock and by this process's CPU
time: on a shared machine the second says how much of the 2 cores the run really had.

    python benchmarks/landcover.py [--size 2000] [--per-class 2000] [--repeats 3] [--fit-repeats 1]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def _prepare(size: int, per_class: int):
    """Features, truth labels and the training sample of the simulated tile."""
    from odc.geo.geobox import GeoBox

    from ecointegrity.cube.simulate import simulate
    from ecointegrity.landcover import build_features, sample_training
    from ecointegrity.mosaics import annual_products

    t = time.perf_counter()
    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * size, 800_000 + 30 * size),
                              "EPSG:6372", resolution=30)
    scenes = simulate(geobox, start_year=2021, end_year=2021, revisit_days=30, seed=3)
    ds = scenes.dataset
    reflectance = {b: (ds[b] * 2.75e-5 - 0.2).where(scenes.truth.clear).astype(np.float32) for b in
                   ("blue", "green", "red", "nir", "swir1", "swir2")}
    import xarray as xr

    products = annual_products(xr.Dataset(reflectance))
    features = build_features(products, "madmex-landsat")
    labels = scenes.truth.land_cover.sel(year=2021).values.astype(np.int32)
    del scenes, ds, reflectance
    training = sample_training(labels, features, per_class=per_class, block_px=64, seed=0)
    print(f"prepared {size}x{size} px, {features.sizes['feature']} features, {len(training)} samples "
          f"in {time.perf_counter() - t:.0f} s")

    return features, labels, training


GOAL_PX_PER_S = 1_000_000  # issue 16: LightGBM prediction at >= 1 million px/s on 2 cores


def _timed(fn):
    """(result, wall seconds, CPU seconds of this process): the CPU time says how much of the
    2 cores the run really had on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="predictions per model (median)")
    parser.add_argument("--fit-repeats", type=int, default=1, help="fits per model (median)")
    args = parser.parse_args()

    from ecointegrity.landcover import LandCoverModel, accuracy_report

    features, labels, training = _prepare(args.size, args.per_class)
    pixels = args.size * args.size
    warm = LandCoverModel("simulator-8", "madmex-landsat", "lightgbm").fit(training, cv_folds=0)
    t = time.perf_counter()
    warm.predict_map(features.isel(y=slice(0, 2)))  # numba compile or cache load, once
    print(f"fast predictor warm-up (numba compile or cache load): {time.perf_counter() - t:.1f} s")
    # one fitted model per algorithm; "lightgbm-before" is the same booster through LightGBM's
    # own predictor (as predict_map used it before: 262,144-row chunks through predict_proba),
    # so the two LightGBM maps must agree pixel for pixel
    fitted, fit_s = {}, {}
    for algorithm in ("lightgbm", "random_forest"):
        times = []
        for _ in range(args.fit_repeats):
            model = LandCoverModel("simulator-8", "madmex-landsat", algorithm)
            _, wall, _ = _timed(lambda m=model: m.fit(training, cv_folds=0))  # final fit only
            times.append(wall)
        fitted[algorithm], fit_s[algorithm] = model, statistics.median(times)
    rows, maps = {}, {}
    for label, algorithm, engine in (("lightgbm-before", "lightgbm", "lightgbm"),
                                     ("lightgbm", "lightgbm", "auto"),
                                     ("random_forest", "random_forest", "auto")):
        model = fitted[algorithm]
        walls, cpus = [], []
        for _ in range(args.repeats):  # includes building the fast predictor's tables
            mapped, wall, cpu = _timed(lambda m=model, e=engine: m.predict_map(features, engine=e))
            walls.append(wall)
            cpus.append(cpu)
        maps[label] = mapped
        accuracy = accuracy_report(labels, mapped["class"].values).overall_accuracy
        rows[label] = (fit_s[algorithm], statistics.median(walls), statistics.median(cpus),
                       accuracy)

    print(f"\n{'model':<17}{'fit s':>7}{'samples/s':>11}{'predict s':>11}{'px/s':>12}"
          f"{'CPU s':>8}{'px/CPU-s':>11}{'map accuracy':>14}")
    for label, (fit, wall, cpu, accuracy) in rows.items():
        print(f"{label:<17}{fit:>7.1f}{len(training) / fit:>11,.0f}{wall:>11.1f}{pixels / wall:>12,.0f}"
              f"{cpu:>8.1f}{pixels / cpu:>11,.0f}{accuracy:>14.3f}")
    before, lgb, rf = rows["lightgbm-before"], rows["lightgbm"], rows["random_forest"]
    same = float((maps["lightgbm"]["class"].values == maps["lightgbm-before"]["class"].values).mean())
    conf_diff = float(np.nanmax(np.abs(maps["lightgbm"]["confidence"].values
                                       - maps["lightgbm-before"]["confidence"].values)))
    lgb_px_s = pixels / lgb[1]
    # what 2 uncontended cores would give: px per CPU-second of this process, times 2 (an
    # upper bound: it assumes perfect scaling; the wall figure is the one measured)
    two_core_px_s = 2 * pixels / lgb[2]
    print(f"\nsame map as LightGBM's predict_proba(...).argmax: {same:.6f} of pixels; "
          f"confidence max |diff| {conf_diff:.2e}")
    print(f"LightGBM predicts {before[1] / lgb[1]:.1f}x as fast as before, {rf[1] / lgb[1]:.2f}x as fast "
          f"as the random forest (median of {args.repeats}; wall clock)")
    print(f"goal {GOAL_PX_PER_S:,} px/s on 2 cores: {'met' if lgb_px_s >= GOAL_PX_PER_S else 'NOT met'} "
          f"({lgb_px_s:,.0f} px/s wall; {two_core_px_s:,.0f} px/s from CPU time x 2 cores, "
          f"this run had {lgb[2] / lgb[1]:.2f} cores busy)")
    print(json.dumps({
        "benchmark": "landcover",
        "tile_px": args.size,
        "training_samples": len(training),
        "fit_samples_per_s": round(len(training) / lgb[0]),
        "predict_pixels_per_s": round(lgb_px_s),
        "lightgbm_px_per_s": round(lgb_px_s),
        "lightgbm_px_per_cpu_s": round(pixels / lgb[2]),
        "lightgbm_baseline_px_per_s": round(pixels / before[1]),
        "random_forest_px_per_s": round(pixels / rf[1]),
        "cores_busy": round(lgb[2] / lgb[1], 2),
        "same_map_fraction": same,
        "confidence_max_abs_diff": conf_diff,
        "map_overall_accuracy": round(lgb[3], 4),
        "predict_speedup_vs_baseline": round(before[1] / lgb[1], 2),
        "predict_speedup_vs_random_forest": round(rf[1] / lgb[1], 2),
        "goal_px_per_s": GOAL_PX_PER_S,
        "goal_met": lgb_px_s >= GOAL_PX_PER_S,
        "goal_met_cpu_time_2_cores": two_core_px_s >= GOAL_PX_PER_S,
    }))


if __name__ == "__main__":
    main()
