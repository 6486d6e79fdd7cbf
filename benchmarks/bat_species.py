"""Species training and evaluation end to end on real labelled bat calls.

Data: the soundClass example library (github.com/bmsasilva/soundClass, GPL-3): 15 recordings
of Barbastella barbastellus (Bbar001-010) and Myotis escalerai (Mesc001-005), time-expanded
x10 at 44.1 kHz, with one labelled position (the call's energy peak, in file samples) per
call in demo_db.sqlite3. Bring it with the search tool's ``fetch`` and copy
``inst/recordings/`` from the commit that holds it (see docs/bat-detector.md).

What it does, as an institution with its own library would:

1. writes each recording at its real rate (x10: the same samples declared at 441 kHz) and
   turns each labelled peak into a call box (time and band where the call is within 15 dB of
   its peak), as an annotation CSV that ``ecointegrity acoustics train`` reads;
2. splits by recording (every third recording of each species is held out);
3. scores the held-out recordings with the shipped detector (call types; detection only) and
   with the shipped detector fine-tuned on the training recordings with a species head
   (``train_detector(base=...)``, the same as ``ecointegrity acoustics train --base default``);
4. prints detection AP, precision and recall at the shipped threshold, species accuracy of
   matched calls and per-species AP (10 ms tolerance on the start), and one JSON line.

    python benchmarks/bat_species.py --library DIR [--steps 600] [--save PATH]

The fine-tuned weights are not shipped (GPL-3 data); ``--save`` writes them where you say.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

TIME_EXPANSION = 10
SPECIES = {"Bbar": "Barbastella barbastellus", "Mesc": "Myotis escalerai"}


def call_box(audio: np.ndarray, rate: float, peak: int, *, window_s: float = 0.006,
             floor_db: float = 15.0) -> tuple[float, float, float, float]:
    """(start s, end s, low Hz, high Hz) of the call whose energy peaks at sample ``peak``:
    the frames, and the frequency bins of those frames, within ``floor_db`` of the strongest
    bin around it (above 15 kHz: below is wind and handling, not these bats)."""
    n_fft, hop = 256, 32
    half = int(window_s * rate)
    first = max(0, peak - half)
    piece = audio[first : peak + half]
    if len(piece) < n_fft:
        piece = np.pad(piece, (0, n_fft - len(piece)))
    frames = np.lib.stride_tricks.sliding_window_view(piece, n_fft)[::hop] * np.hanning(n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    band = freqs >= 15_000
    db = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1))[:, band] ** 2 + 1e-20)
    loud_frames = np.flatnonzero(db.max(axis=1) >= db.max() - floor_db)
    loud_bins = np.flatnonzero(db[loud_frames].max(axis=0) >= db.max() - floor_db)
    start = (first + loud_frames.min() * hop + n_fft / 2) / rate
    end = (first + loud_frames.max() * hop + n_fft / 2) / rate
    f = freqs[band]
    return start, end, float(f[loud_bins.min()]), float(f[loud_bins.max()])


def library(root: Path, out: Path) -> pd.DataFrame:
    """Real-rate copies of the recordings in ``out`` and their call annotations."""
    labels = pd.read_sql("select * from labels", sqlite3.connect(root / "demo_db.sqlite3"))
    rows = []
    for name, calls in labels.groupby("recording"):
        path = root / f"{name}.wav"
        if not path.exists() or path.stat().st_size == 0:
            print(f"skipped {name}: no audio in this snapshot")
            continue
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        real_rate = rate * TIME_EXPANSION
        dest = out / f"{name}.wav"
        sf.write(dest, audio[:, 0], int(real_rate), subtype="PCM_16")
        for peak in calls.label_position.astype(int):
            start, end, low, high = call_box(audio[:, 0], real_rate, peak)
            rows.append({"recording": dest.name, "start_time": start, "end_time": end,
                         "low_freq": low, "high_freq": high, "label": calls.label_class.iloc[0]})
    return pd.DataFrame(rows)


def split(annotations: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(train, test) recordings: every third recording of each species is a test one."""
    test = []
    for _, names in annotations.groupby("label").recording:
        ordered = sorted(names.unique())
        test += ordered[2::3]
    train = sorted(set(annotations.recording) - set(test))
    return train, sorted(test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, required=True,
                    help="soundClass inst/recordings/ (WAVs and demo_db.sqlite3)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--save", type=Path, help="where to write the fine-tuned model (not shipped)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from ecointegrity.acoustics import evaluate, load_detector, load_training_recordings
    from ecointegrity.acoustics.bats import train_detector

    with tempfile.TemporaryDirectory() as tmp:
        audio_dir = Path(tmp)
        annotations = library(args.library, audio_dir)
        annotations.to_csv(audio_dir / "annotations.csv", index=False)
        train_names, test_names = split(annotations)
        train_ann = annotations[annotations.recording.isin(train_names)]
        test_ann = annotations[annotations.recording.isin(test_names)]
        print(f"{len(annotations)} labelled calls in {annotations.recording.nunique()} recordings; "
              f"train {len(train_ann)} calls ({len(train_names)} recordings), "
              f"test {len(test_ann)} calls ({', '.join(Path(n).stem for n in test_names)})")
        print("call boxes: median duration "
              f"{(annotations.end_time - annotations.start_time).median() * 1000:.1f} ms, "
              f"band {annotations.low_freq.median() / 1000:.0f}-"
              f"{annotations.high_freq.median() / 1000:.0f} kHz (medians)")

        shipped = load_detector(device="cpu")
        threshold = shipped.threshold
        recordings, problems = load_training_recordings(train_ann, audio_dir)
        if problems:
            print("not read:", problems)
        started = time.perf_counter()
        # train_detector fine-tunes the detector it is given in place: a copy of the shipped one
        fine = train_detector(recordings, sorted(SPECIES), base=load_detector(device="cpu"),
                              steps=args.steps, seed=0)
        train_s = time.perf_counter() - started

        def detections(det) -> pd.DataFrame:  # down to 0.05, for AP
            return pd.concat([det.detect_file(audio_dir / n, recording=n) for n in test_names],
                             ignore_index=True)

        shipped.threshold = fine.threshold = 0.05
        shipped_events, fine_events = detections(shipped), detections(fine)
        shipped.threshold = fine.threshold = threshold
    truth = test_ann.reset_index(drop=True)
    agnostic = truth.assign(label="bat")
    base_report = evaluate(shipped_events.assign(label="bat"), agnostic, threshold=threshold)
    fine_detect = evaluate(fine_events.assign(label="bat"), agnostic, threshold=threshold)
    fine_species = evaluate(fine_events, truth, threshold=threshold, classes=sorted(SPECIES))

    print(f"\n{'model':<34}{'det. AP':>8}{'P':>7}{'R':>7}{'dup':>6}{'accuracy':>10}"
          + "".join(f"{'AP ' + s:>10}" for s in sorted(SPECIES)))
    print(f"{'shipped (call types)':<34}{base_report.detection_ap:>8.3f}{base_report.precision:>7.3f}"
          f"{base_report.recall:>7.3f}{base_report.duplicate_rate:>6.2f}{'-':>10}"
          + "".join(f"{'-':>10}" for _ in SPECIES))
    print(f"{'fine-tuned, species head':<34}{fine_detect.detection_ap:>8.3f}{fine_detect.precision:>7.3f}"
          f"{fine_detect.recall:>7.3f}{fine_detect.duplicate_rate:>6.2f}"
          f"{fine_species.classification_accuracy:>10.3f}"
          + "".join(f"{fine_species.per_class_ap[s]:>10.3f}" for s in sorted(SPECIES)))
    print(f"\nfine-tuning: {args.steps} steps in {train_s:.0f} s; threshold {threshold}; "
          "labels mark every call the library's author kept, so faint calls they skipped count "
          "as false alarms")
    print(fine_species.confusion.to_string())
    if args.save:
        fine.save(args.save, version="species-demo", licences={
            "training_data": "soundClass example library (GPL-3): not for shipped weights"})
        print(f"saved {args.save}")
    print(json.dumps({
        "benchmark": "bat_species",
        "test_calls": len(truth),
        "shipped_detection_ap": round(base_report.detection_ap, 3),
        "finetuned_detection_ap": round(fine_detect.detection_ap, 3),
        "finetuned_precision": round(fine_detect.precision, 3),
        "finetuned_recall": round(fine_detect.recall, 3),
        "species_accuracy": round(fine_species.classification_accuracy, 3),
        "species_mean_ap": round(fine_species.mean_ap, 3),
    }))


if __name__ == "__main__":
    main()
