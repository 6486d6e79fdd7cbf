"""The anthropogenic-sound detector on held-out shared data.

Trains the default model (or loads one with --load) on the training groups of the shared
anthropogenic clips (ESC-50/UrbanSound8K folds 1 and 3, three FSDD speakers, three chainsaw
captures) mixed into scikit-maad forest soundscapes, then reports:

- per-class AP, precision/recall/F1 at the model's thresholds and macro-F1 over the classes, on
  the held-out groups (folds 2 and 5, FSDD speaker "theo", one chainsaw capture). A clip (or
  5 s segment of a clip longer than 6 s) scores a class by its best window;
- gunshot F1 on the held-out (test) part of belize-gunshots (every 5th file of each folder): a
  clip is a gunshot if any window's gunshot score reaches the threshold. The shipped model never
  sees Belize data (no verified licence): it is used for evaluation only;
- throughput: audio hours per CPU-hour (time.process_time) on a 10 min file read block by block;
- unless --belize-steps 0: the same model fine-tuned with 3/5 of the Belize clips, its gunshot
  threshold tuned on another 1/5, scored on the same held-out groups and Belize test part. This
  is what an institution's fine-tuning on its own forest recordings buys; the weights are not
  shipped (--belize-save writes them where you say, for internal evaluation).

    python benchmarks/anthropogenic.py [--load PATH] [--steps 3000] [--save PATH] [--tune-thresholds]
                                       [--belize-steps 1000] [--belize-save PATH]

Prints tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from ecointegrity.acoustics.anthropogenic import (
    ANTHROPOGENIC_CLASSES,
    DEFAULT_ANTHROPOGENIC_MODEL,
    HELD_OUT_FOLDS,
    AnthropogenicDetector,
    clip_scores,
    load_shared_dataset,
    train_anthropogenic,
    tune_thresholds,
)
from ecointegrity.acoustics.anthropogenic.dataset import BACKGROUND

INNER_FOLDS = 2  # the training clips split in two by source recording, for threshold tuning

LICENCES = {
    "ESC-50": "CC BY-NC 3.0 (per-clip Freesound licences)",
    "ESC-10 (ESC-50 subset)": "CC BY 3.0",
    "UrbanSound8K": "CC BY-NC 3.0",
    "FSDD": "CC BY-SA 4.0",
    "SensiML capture (altaga)": "MIT",
    "scikit-maad soundscapes": "BSD-3-Clause",
}


def _audio_root() -> Path:
    env = os.environ.get("ECOINTEGRITY_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / "audio"


def _prf(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 (0 where undefined)."""
    p, r, f1, _ = precision_recall_fscore_support(truth, pred, average="binary", zero_division=0)
    return float(p), float(r), float(f1)


def held_out_scores(det: AnthropogenicDetector, test: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    seg = clip_scores(det, test)
    thr = det.thresholds
    rows = []
    for c in det.classes:
        y, s = (seg.our_class == c).to_numpy(), seg[c].to_numpy()
        pred = s >= thr[c]
        p, r, f1 = _prf(y, pred)
        ap = average_precision_score(y, s) if y.any() else float("nan")
        rows.append({"class": c, "positives": int(y.sum()), "ap": ap, "threshold": thr[c],
                     "precision": p, "recall": r, "f1": f1})
    table = pd.DataFrame(rows)
    return table, float(table.f1.mean())


BELIZE_PARTS = {"test": (0,), "validation": (1,), "train": (2, 3, 4)}  # by file number modulo 5


def belize_clips(root: Path, part: str = "test") -> list[tuple[Path, int]]:
    """(path, is_gunshot) of one part of the Belize clips: every 5th file (by the number in its
    name) is the test part; of the rest, one in four validates and three in four train."""
    files = [(p, 1) for p in sorted((root / "gunshot").glob("*.wav"))]
    files += [(p, 0) for p in sorted((root / "background").glob("*.wav"))]
    return [(p, y) for p, y in files if int(p.stem.rsplit("_", 1)[1]) % 5 in BELIZE_PARTS[part]]


def _gunshot_scores(det: AnthropogenicDetector, files: list[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([lab for _, lab in files], bool)
    return y, np.array([det.file_windows(p)["gunshot"].max() for p, _ in files])


def belize_gunshot(det: AnthropogenicDetector, root: Path) -> dict[str, float]:
    """Gunshot vs background on the held-out (test) Belize clips."""
    files = belize_clips(root, "test")
    y, s = _gunshot_scores(det, files)
    pred = s >= det.thresholds["gunshot"]
    p, r, f1 = _prf(y, pred)
    # the best F1 over thresholds, for diagnosis only (chosen on the test clips themselves)
    best = max(_prf(y, s >= t)[2] for t in np.unique(s))
    return {"clips": len(files), "gunshots": int(y.sum()), "precision": p, "recall": r, "f1": f1,
            "ap": float(average_precision_score(y, s)), "oracle_threshold_f1": best}


def throughput(det: AnthropogenicDetector, minutes: float = 10.0) -> float:
    """Audio hours per CPU-hour on a ``minutes`` long 16 kHz noise file with tones."""
    rate = 16000
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        with sf.SoundFile(str(path), "w", rate, 1, "PCM_16") as f:
            for _ in range(int(minutes)):
                f.write((rng.standard_normal(60 * rate) * 0.02).astype(np.float32))
        cpu = time.process_time()
        det.detect_file(path)
        cpu = time.process_time() - cpu
    return (minutes / 60) / (cpu / 3600)


def inner_folds(train: pd.DataFrame, k: int = INNER_FOLDS, seed: int = 0) -> pd.Series:
    """An inner fold (0..k-1) for each training clip, by source recording (Freesound id, FSDD
    speaker, capture file) so that clips of one recording stay together; each class's sources
    are dealt round-robin so every fold gets some of each class."""
    source = train.freesound_id.map(lambda v: f"fs:{int(v)}" if pd.notna(v) else None).fillna(train.group)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    for _, clips in train.groupby("our_class"):
        ids = [i for i in pd.unique(source[clips.index]) if i not in fold_of]
        rng.shuffle(ids)
        fold_of.update({i: j % k for j, i in enumerate(ids)})
    return source.map(fold_of)


def cross_validated_thresholds(train: pd.DataFrame, backgrounds: list[Path], steps: int, threads: int
                               ) -> tuple[dict[str, float], dict]:
    """Per-class thresholds tuned on out-of-fold scores of the training clips: for each inner
    fold, a model trained (same recipe) on the other folds scores it, and the pooled scores
    choose each class's threshold. The held-out groups are never looked at."""
    folds = inner_folds(train)
    parts = []
    for fold in range(INNER_FOLDS):
        inner = train[folds != fold]
        print(f"threshold tuning: inner fold {fold + 1}/{INNER_FOLDS} ({len(inner)} training clips)", flush=True)
        det = train_anthropogenic(inner, backgrounds=backgrounds, steps=steps, threads=threads, log_every=0)
        parts.append(clip_scores(det, train[folds == fold]))
    scores = pd.concat(parts, ignore_index=True)
    thresholds = tune_thresholds(scores, ANTHROPOGENIC_CLASSES)
    info = {"method": f"best F1 on a 0.05 grid over out-of-fold clip scores: training clips in {INNER_FOLDS} "
                      "folds by source recording, a model per fold trained on the others (same recipe)",
            "validation_clips": len(scores),
            "positives": {c: int((scores.our_class == c).sum()) for c in ANTHROPOGENIC_CLASSES}}
    return thresholds, info


def belize_finetune(det: AnthropogenicDetector, train: pd.DataFrame, root: Path, backgrounds: list[Path],
                    steps: int, threads: int) -> AnthropogenicDetector:
    """``det`` fine-tuned with the Belize training part added (gunshots as gunshot events,
    forest backgrounds as backgrounds), its gunshot threshold then tuned on the Belize
    validation part. Never shipped: the Belize data has no verified licence."""
    belize = pd.DataFrame([{"file": p.name, "path": str(p), "group": "belize",
                            "our_class": "gunshot" if y else BACKGROUND} for p, y in belize_clips(root, "train")])
    fine = train_anthropogenic(pd.concat([train, belize], ignore_index=True), backgrounds=backgrounds, steps=steps,
                               lr=1e-3, threads=threads, log_every=0, init=det)
    y, s = _gunshot_scores(fine, belize_clips(root, "validation"))
    validation = pd.DataFrame({"our_class": np.where(y, "gunshot", BACKGROUND), "gunshot": s})
    fine.threshold = {**det.thresholds, "gunshot": tune_thresholds(validation, ["gunshot"])["gunshot"]}
    return fine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=Path, help="evaluate this saved model instead of training one")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--save", type=Path, default=DEFAULT_ANTHROPOGENIC_MODEL, help="where a trained model goes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tune-thresholds", action="store_true",
                    help="per-class thresholds from an inner cross-validation (tried: no better than 0.5)")
    ap.add_argument("--belize-steps", type=int, default=1000,
                    help="also fine-tune on the non-held-out Belize clips for this many steps (0: skip)")
    ap.add_argument("--belize-save", type=Path, help="where the Belize fine-tuned model goes (never the package)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    audio = _audio_root()
    ds = load_shared_dataset(audio / "anthropogenic")
    train, test = ds.split(HELD_OUT_FOLDS)
    maad = sorted((audio / "scikit-maad").rglob("*.wav"))
    tuning = None
    if args.load:
        det = AnthropogenicDetector.load(args.load, device="cpu")
    else:
        thresholds = None
        if args.tune_thresholds:
            thresholds, tuning = cross_validated_thresholds(train, maad, args.steps, args.threads)
            print("cross-validated thresholds: " + ", ".join(f"{c} {t:.2f}" for c, t in thresholds.items()))
        det = train_anthropogenic(train, backgrounds=maad, steps=args.steps, threads=args.threads)
        if thresholds:
            det.threshold = thresholds
        print(f"trained in {det.metadata['training']['wall_s']} s wall, {det.metadata['training']['cpu_s']} s CPU")

    table, macro_f1 = held_out_scores(det, test)
    gun = belize_gunshot(det, audio / "belize-gunshots")
    speed = throughput(det)
    fmt = lambda d: ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())  # noqa: E731
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"macro-F1 (held-out groups {', '.join(HELD_OUT_FOLDS)}): {macro_f1:.3f}")
    print(f"belize gunshot (held-out every 5th file): {fmt(gun)}")
    print(f"throughput: {speed:.0f} audio hours per CPU-hour")

    fine_gun, fine_macro = None, None
    if args.belize_steps:
        fine = belize_finetune(det, train, audio / "belize-gunshots", maad, args.belize_steps, args.threads)
        fine_table, fine_macro = held_out_scores(fine, test)
        fine_gun = belize_gunshot(fine, audio / "belize-gunshots")
        print(f"\nfine-tuned on 3/5 of belize-gunshots ({args.belize_steps} steps), gunshot threshold "
              f"{fine.thresholds['gunshot']:.2f} from 1/5, tested on the held-out 1/5 (not shipped):")
        print(fine_table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"macro-F1 (same held-out groups): {fine_macro:.3f}")
        print(f"belize gunshot (held-out every 5th file): {fmt(fine_gun)}")
        if args.belize_save:
            fine.save(args.belize_save, version="1.0.0+belize", licences={
                "belize-gunshots": "licence not verified: internal evaluation only, do not redistribute"})

    if not args.load:
        evaluation = {
            "held_out_groups": list(HELD_OUT_FOLDS),
            "train_groups": sorted(train.group.unique()),
            "per_class": table.to_dict(orient="records"), "macro_f1": macro_f1,
            "belize_gunshot_every_5th_file": gun, "audio_hours_per_cpu_hour": speed,
            "threshold_tuning": tuning,
            "belize_finetuned_not_shipped": None if fine_gun is None else {
                "steps": args.belize_steps, "gunshot": fine_gun, "macro_f1": fine_macro},
        }
        det.save(args.save, version="1.0.0", evaluation=evaluation, licences={
            "training_data": {d: LICENCES.get(d, "see metadata.csv") for d in sorted(train.dataset.unique())}
            | {"scikit-maad soundscapes": LICENCES["scikit-maad soundscapes"]},
            "weights": "trained on CC BY-NC 3.0 data (ESC-50, UrbanSound8K): non-commercial use only",
            "belize-gunshots": "no licence: used for evaluation only, never for training this model",
        })
        print(f"saved {args.save}")
    headline = {"benchmark": "anthropogenic", "macro_f1": round(macro_f1, 4), "gunshot_f1": round(gun["f1"], 4),
                "audio_hours_per_cpu_hour": round(speed, 1)}
    if fine_gun is not None:
        headline |= {"gunshot_f1_belize_finetuned": round(fine_gun["f1"], 4),
                     "macro_f1_belize_finetuned": round(fine_macro, 4)}
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
