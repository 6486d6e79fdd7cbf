"""Vectorised posterior of hemeroby against pgmpy's exact inference, and a national-size grid.

A network of CONABIO's shape (drivers -> hemeroby -> signs; no arcs between signs) is fitted on
synthetic cells: drivers are crop, urban and bare-soil shares, recent change, elevation and a
life zone; signs are NDVI median and 10th percentile, tasselled-cap wetness, WOfS frequency and
two acoustic nodes (bat activity, anthropogenic event rate) that only cells with a recorder
observe, entered as soft evidence weighted by effort. Then, on the same network and rows:

- pgmpy 1.x VariableElimination, one query per row (the way CONABIO's scripts run), against
  ``latent_posterior`` (numba): largest absolute difference and the speed-up per row;
- a 31-million-cell grid (Mexico at 250 m) from raw layer values: discretisation on the frozen
  bins plus ``latent_summary`` (EI, its sd, entropy, most probable hemeroby) in chunks.

    python benchmarks/integrity_inference.py [--rows 300] [--cells 31000000]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

from ecointegrity.integrity import IntegrityNetwork, effort_likelihood
from ecointegrity.integrity._inference import latent_posterior, latent_summary

DRIVERS = ["crops", "urban", "bare", "change", "elevation"]
SIGNS = ["ndvi_p50", "ndvi_p10", "tc_wetness", "wofs"]
ACOUSTIC = ["bat_activity", "anthropogenic_rate"]


def layers(n: int, seed: int, *, with_label: bool = True) -> pd.DataFrame:
    """Synthetic cells whose signs depend on a hemeroby driven by land use (float32 layers)."""
    rng = np.random.default_rng(seed)
    f = np.float32
    crops, urban, bare = rng.beta(0.6, 1.5, n).astype(f), (rng.beta(0.3, 4, n)).astype(f), rng.beta(0.3, 6, n).astype(f)
    change = rng.exponential(0.05, n).astype(f)
    elevation = rng.gamma(2, 500, n).astype(f)
    zone = rng.integers(0, 8, n).astype(np.int16)
    hem = np.clip(np.round(3 + 11 * crops + 16 * urban + 8 * bare + 20 * change + rng.normal(0, 1.5, n)), 0, 18)
    out = {"crops": crops, "urban": urban, "bare": bare, "change": change, "elevation": elevation, "life_zone": zone,
           "ndvi_p50": (0.85 - 0.03 * hem - 5e-5 * elevation + rng.normal(0, 0.05, n)).astype(f),
           "ndvi_p10": (0.6 - 0.025 * hem + rng.normal(0, 0.07, n)).astype(f),
           "tc_wetness": (-0.05 - 0.004 * hem + 0.01 * (zone % 3) + rng.normal(0, 0.02, n)).astype(f),
           "wofs": (rng.random(n) * (rng.random(n) < 0.1)).astype(f)}
    site = rng.random(n) < 0.002
    out["bat_activity"] = np.where(site, rng.poisson(np.maximum(40 - 2 * hem, 1)), np.nan).astype(f)
    out["anthropogenic_rate"] = np.where(site, rng.poisson(1 + 0.8 * hem), np.nan).astype(f)
    out["hours"] = np.where(site, rng.uniform(5, 300, n), 0).astype(f)
    if with_label:
        out["hemeroby"] = hem.astype(f)
    return pd.DataFrame(out)


def structure() -> list[tuple[str, str]]:
    edges = [(d, "hemeroby") for d in DRIVERS]
    edges += [("hemeroby", s) for s in SIGNS + ACOUSTIC]
    edges += [("elevation", "ndvi_p50"), ("life_zone", "tc_wetness"), ("life_zone", "ndvi_p10")]
    return edges


def soft_evidence(net: IntegrityNetwork, codes: dict[str, np.ndarray], hours: np.ndarray) -> dict[str, np.ndarray]:
    return {a: effort_likelihood(codes.pop(a), hours, net.cardinality(a), half_effort=50) for a in ACOUSTIC}


def pgmpy_rows(net: IntegrityNetwork, codes: dict[str, np.ndarray], likelihoods: dict[str, np.ndarray],
               rows: np.ndarray) -> tuple[np.ndarray, float]:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    engine = VariableElimination(net.to_pgmpy())
    out = []
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row in rows:
            evidence = {v: int(c[row]) for v, c in codes.items() if c[row] >= 0}
            virtual = [TabularCPD(a, len(lik[row]), lik[row][:, None]) for a, lik in likelihoods.items()
                       if np.ptp(lik[row]) > 0]
            out.append(engine.query(["hemeroby"], evidence=evidence, virtual_evidence=virtual or None,
                                    show_progress=False).values)
    return np.array(out), (time.perf_counter() - started) / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300, help="rows queried with pgmpy")
    ap.add_argument("--cells", type=int, default=31_000_000, help="cells of the national grid")
    ap.add_argument("--train", type=int, default=200_000, help="training cells")
    args = ap.parse_args()

    train = layers(args.train, 0)
    net = IntegrityNetwork(structure=structure(), acoustic=ACOUSTIC, hemeroby_table="benchmark@1")
    started = time.perf_counter()
    net.fit(train, numeric=DRIVERS + SIGNS + ACOUSTIC, categorical=["life_zone"])
    fit_s = time.perf_counter() - started

    test = layers(100_000, 1, with_label=False)
    codes = net.codes(test)
    likelihoods = soft_evidence(net, codes, test.hours.to_numpy())
    rng = np.random.default_rng(2)
    sites = np.flatnonzero(np.isfinite(test.bat_activity.to_numpy()))
    rows = np.concatenate([rng.choice(sites, min(len(sites), args.rows // 3), replace=False),
                           rng.choice(len(test), args.rows - min(len(sites), args.rows // 3), replace=False)])
    expected, pgmpy_s = pgmpy_rows(net, codes, likelihoods, rows)
    blanket = net.blanket()
    latent_posterior(blanket, {k: v[:10] for k, v in codes.items()},
                     likelihoods={k: v[:10] for k, v in likelihoods.items()})  # compile
    started = time.perf_counter()
    ours = latent_posterior(blanket, codes, likelihoods=likelihoods)
    ours_s = (time.perf_counter() - started) / len(test)
    max_abs_diff = float(np.abs(ours[rows] - expected).max())

    del test, codes, likelihoods, ours
    grid = layers(args.cells, 3, with_label=False)
    values = np.asarray(net.hemeroby_values, float)
    started = time.perf_counter()
    grid_codes = net.codes(grid)
    hours = grid.pop("hours").to_numpy()
    grid_likelihoods = soft_evidence(net, grid_codes, hours)
    prepared_s = time.perf_counter() - started
    summary = latent_summary(blanket, grid_codes, values, net.hemeroby_max, likelihoods=grid_likelihoods)
    national_s = time.perf_counter() - started

    table = pd.DataFrame([
        {"what": "pgmpy VariableElimination, per row", "seconds": pgmpy_s, "rows": len(rows)},
        {"what": "ours (numba), per row", "seconds": ours_s, "rows": 100_000},
        {"what": f"national grid: discretise + soft evidence ({args.cells:,} cells)", "seconds": prepared_s,
         "rows": args.cells},
        {"what": f"national grid: total with EI, sd, entropy, mode ({args.cells:,} cells)", "seconds": national_s,
         "rows": args.cells},
    ])
    print(f"network: {len(net.edges_)} arcs, hemeroby {len(values)} states, Markov blanket {len(blanket.inputs)} "
          f"variables; fitted on {args.train:,} cells in {fit_s:.1f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"max |ours - pgmpy| over {len(rows)} rows ({min(len(sites), args.rows // 3)} with soft acoustic "
          f"evidence): {max_abs_diff:.2e}")
    print(f"speed-up per row vs pgmpy: {pgmpy_s / ours_s:,.0f}x; national EI mean {np.nanmean(summary['ei']):.3f}")
    print(json.dumps({"benchmark": "integrity_inference", "speedup_vs_pgmpy": round(pgmpy_s / ours_s, 1),
                      "max_abs_diff": max_abs_diff, "national_grid_s": round(national_s, 2)}))


if __name__ == "__main__":
    main()
