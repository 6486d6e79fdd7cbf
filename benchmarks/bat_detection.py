"""Our bat-call detector against batdetect2 1.3.1, on the same shared real files, in one run.

Needs the shared data (../shared/data/audio or $ECOINTEGRITY_SHARED_DATA/audio) and the optional,
non-commercial batdetect2 (`pip install -e ".[batdetect2]"`).

- speed: real-time factor (seconds of work per second of audio, both models loaded and warm,
  median of --repeats passes) over the example and contrib files;
- detection AP against the batdetect2-example annotations (10 ms start tolerance). Those
  annotations are batdetect2's own output ("Automatically generated. Example data do not
  assume correct!"), so batdetect2 scores ~1 on them by construction: for us the figure is
  agreement with batdetect2, not accuracy;
- agreement on the contrib files: the share of batdetect2's detections scoring >= 0.5 that we
  also detect (recall at each model's own operating threshold, 10 ms tolerance);
- precision and recall at each model's shipped threshold against the example annotations, and
  the duplicate rate: detections per matched call (1.0 = each call reported once; harmonics
  and echoes reported as calls raise it), on the example files and against batdetect2's
  >= 0.5 detections on the contrib files. "previous rule" is our model with the duplicate rule
  of model v1 (split parts only: overlapping in time and sharing a band), the baseline of the
  harmonic and echo rule.

    python benchmarks/bat_detection.py [--repeats 3] [--model PATH]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import pandas as pd
import soundfile as sf
import torch


def _audio_root() -> Path:
    env = os.environ.get("ECOINTEGRITY_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / "audio"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav")


def _run(detector, files: list[Path], repeats: int) -> tuple[pd.DataFrame, float]:
    audio_s = sum(sf.info(str(f)).duration for f in files)
    detector.detect_file(files[0], recording=files[0].name)  # warm up (first call allocates)
    times, events = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        events = pd.concat(
            [detector.detect_file(f, recording=f.name) for f in files], ignore_index=True
        )
        times.append(time.perf_counter() - t)
    return events, statistics.median(times) / audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="our model (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    from ecointegrity.acoustics import evaluate, load_detector, read_events
    from ecointegrity.acoustics.bats.batdetect2_backend import BatDetect2Backend
    from ecointegrity.acoustics.bats.duplicates import DuplicateRule

    root = _audio_root()
    example, contrib = (
        _files(root / "batdetect2-example" / "audio"),
        _files(root / "batdetect2-contrib"),
    )
    truth = read_events(root / "batdetect2-example" / "anns")
    truth["recording"] = truth["recording"].map(lambda r: Path(r).name)
    ours = load_detector(args.model, device="cpu")
    theirs = BatDetect2Backend(device="cpu")  # the CLI's settings: threshold 0.3, 2 s chunks
    # Speed at each model's operating threshold; AP over the whole score range (down to 0.05)
    # for ours (batdetect2's example "truth" is its own output at 0.3).
    ours_all = load_detector(args.model, device="cpu", threshold=0.05)
    split_only = DuplicateRule(
        onset_window_s=0.0, harmonic_ratios=(), harmonic_tolerance=0.0, sweep_gap_s=0.0
    )
    previous = load_detector(args.model, device="cpu", duplicates=split_only)
    previous_all = load_detector(args.model, device="cpu", threshold=0.05, duplicates=split_only)
    results = {}
    for name, model, scored in (
        ("ecointegrity", ours, ours_all),
        ("previous rule", previous, previous_all),
        ("batdetect2 1.3.1", theirs, theirs),
    ):
        ex_events, ex_rtf = _run(model, example, args.repeats)
        co_events, co_rtf = _run(model, contrib, args.repeats)
        ex_scored = ex_events if scored is model else _run(scored, example, 1)[0]
        ap = evaluate(ex_scored, truth, threshold=model.threshold).detection_ap
        at = evaluate(ex_events, truth, threshold=model.threshold)
        results[name] = {
            "precision": at.precision,
            "recall": at.recall,
            "duplicates_example": at.duplicate_rate,
            "example": ex_events,
            "contrib": co_events,
            "rtf_example": ex_rtf,
            "rtf_contrib": co_rtf,
            "ap": ap,
            "threshold": model.threshold,
        }
    reference = results["batdetect2 1.3.1"]["contrib"]
    reference = reference[reference.score >= 0.5]
    for r in results.values():
        agreement = evaluate(r["contrib"], reference, threshold=r["threshold"])
        r["agreement"], r["duplicates_contrib"] = agreement.recall, agreement.duplicate_rate
    audio_s = sum(sf.info(str(f)).duration for f in example + contrib)
    print(
        f"\n{len(example)} example files + {len(contrib)} contrib files, {audio_s:.1f} s of audio, "
        f"{torch.get_num_threads()} CPU threads\n"
    )
    print(
        f"{'model':<18}{'thr':>5}{'RTF ex.':>9}{'RTF contrib':>12}{'AP ex.':>8}{'P ex.':>7}"
        f"{'R ex.':>7}{'dup ex.':>8}{'agreement':>10}{'dup contrib':>12}{'detections':>11}"
    )
    for name, r in results.items():
        n = len(r["contrib"]) + len(r["example"])
        print(
            f"{name:<18}{r['threshold']:>5.2f}{r['rtf_example']:>9.4f}{r['rtf_contrib']:>12.4f}"
            f"{r['ap']:>8.3f}{r['precision']:>7.3f}{r['recall']:>7.3f}"
            f"{r['duplicates_example']:>8.3f}{r['agreement']:>10.3f}"
            f"{r['duplicates_contrib']:>12.3f}{n:>11}"
        )
    ours_r, theirs_r = results["ecointegrity"], results["batdetect2 1.3.1"]
    speedup = (theirs_r["rtf_contrib"] + theirs_r["rtf_example"]) / (
        ours_r["rtf_contrib"] + ours_r["rtf_example"]
    )
    print(
        f"\nspeed-up vs batdetect2: {speedup:.1f}x; the example 'truth' is batdetect2's own "
        "output, so its AP is agreement with itself"
    )
    print(
        json.dumps(
            {
                "benchmark": "bat_detection",
                "speedup_vs_batdetect2": round(speedup, 2),
                "ap_ours": round(ours_r["ap"], 3),
                "ap_batdetect2": round(theirs_r["ap"], 3),
                "precision_example": round(ours_r["precision"], 3),
                "recall_example": round(ours_r["recall"], 3),
                "duplicates_per_call_example": round(ours_r["duplicates_example"], 3),
                "duplicates_per_call_contrib": round(ours_r["duplicates_contrib"], 3),
                "duplicates_per_call_previous_rule_contrib": round(
                    results["previous rule"]["duplicates_contrib"], 3
                ),
                "agreement_contrib_recall": round(ours_r["agreement"], 3),
                "rtf_ours": round(ours_r["rtf_contrib"], 4),
                "rtf_batdetect2": round(theirs_r["rtf_contrib"], 4),
            }
        )
    )


if __name__ == "__main__":
    main()
