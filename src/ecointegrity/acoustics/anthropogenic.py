"""Anthropogenic sounds (gunshot, chainsaw, vehicle, voice, ...) in audible recordings.

``AnthropogenicDetector`` scores fixed windows (``window_s`` long, every ``hop_s``) of a
recording with a small log-mel CNN, one sigmoid per class (multi-label: a dog barking over a
voice is both), and merges consecutive windows above a class's threshold into one timed event
of the project's event table. Files are read block by block: a 24 h recording never sits in
memory. The class list, spectrogram settings and thresholds are data saved with the weights.

``load_shared_dataset`` reads the shared labelled clips with their source groups (folds);
``train_anthropogenic`` trains a detector by mixing event clips into forest backgrounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly
from torch import nn

from ._checkpoint import save_checkpoint, torch_device
from .errors import AudioFileError
from .events import EVENT_COLUMNS

__all__ = ["ANTHROPOGENIC_CLASSES", "AnthropogenicDetector", "DEFAULT_ANTHROPOGENIC_MODEL",
           "clip_scores", "is_anthropogenic_model", "load_shared_dataset", "merge_windows", "train_anthropogenic", "tune_thresholds",
           "HELD_OUT_FOLDS"]

ANTHROPOGENIC_CLASSES = ["gunshot", "chainsaw", "vehicle", "voice", "dog", "domestic_animal",
                         "machinery", "siren"]
DEFAULT_ANTHROPOGENIC_MODEL = Path(__file__).parent / "models" / "anthropogenic-v1.pt"
MODEL_NAME = "ecointegrity-anthropogenic"
BACKGROUND = "natural_background"
# ESC-50/UrbanSound8K folds 2 and 5, one FSDD speaker and one chainsaw capture are held out
HELD_OUT_FOLDS = ("2", "5", "fsdd:theo", "capture:ChainSaw 2022-05-14 02_34_20")
_BLOCK_WINDOWS = 64  # windows scored per file read (64 s of audio at a 1 s hop)


# -- audio helpers ---------------------------------------------------------------------------
def _resample(audio: np.ndarray, rate: float, target: int) -> np.ndarray:
    if abs(rate - target) < 1e-6:
        return np.asarray(audio, np.float32)
    ratio = Fraction(target / rate).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)


def _read_mono(path: str | Path, target: int) -> np.ndarray:
    """A whole (short) file as mono float32 at ``target`` Hz; for training clips only."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return _resample(data.mean(axis=1), rate, target)


# -- the network -----------------------------------------------------------------------------
class _MelFrontEnd(nn.Module):
    """Log-mel spectrogram (dB) of waveforms; ``lowpass_hz`` per example mimics a recorder
    with a lower sample rate (8 kHz AudioMoth clips have nothing above 4 kHz)."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, fmin: float) -> None:
        super().__init__()
        import librosa

        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=sample_rate / 2)
        self.register_buffer("mel", torch.from_numpy(mel).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("freqs", torch.linspace(0, sample_rate / 2, n_fft // 2 + 1), persistent=False)
        self.n_fft, self.hop = n_fft, hop

    def forward(self, wave: torch.Tensor, lowpass_hz: torch.Tensor | None = None) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, return_complex=True, center=True)
        power = spec.real ** 2 + spec.imag ** 2  # (batch, freq, time)
        if lowpass_hz is not None:
            keep = (self.freqs[None, :] <= lowpass_hz[:, None]).float()
            power = power * (keep + 1e-8)[:, :, None]
        mel = torch.matmul(self.mel, power)
        return 10 * torch.log10(mel + 1e-10)


class AnthropogenicNet(nn.Module):
    """Four conv blocks over a log-mel window, then mean over frequency and mean+max over time:
    ~100 k parameters, one logit per class."""

    def __init__(self, n_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(1)]  # learns the input level and spread
        c_in = 1
        for c in (width, 2 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * c_in, n_classes))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.features(logmel[:, None]).mean(dim=2)  # (batch, channels, time)
        return self.head(torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1))


def is_anthropogenic_model(model: str | Path) -> bool:
    """Whether a model name or path means this detector: ``"anthropogenic"`` (the shipped
    model) or a saved ``anthropogenic-*.pt``."""
    return str(model) == "anthropogenic" or Path(model).name.startswith("anthropogenic")


# -- window merging --------------------------------------------------------------------------
def merge_windows(windows: pd.DataFrame, classes: Sequence[str], threshold: Mapping[str, float] | float,
                  *, recording: str = "", model: str = MODEL_NAME, version: str = "") -> pd.DataFrame:
    """Events of a window score table: consecutive windows at or above a class's threshold
    make one event from the first window's start to the last one's end, scored by their max."""
    rows = []
    for label in classes:
        thr = threshold[label] if isinstance(threshold, Mapping) else float(threshold)
        scores = windows[label].to_numpy(float)
        on = np.concatenate([[False], scores >= thr, [False]])
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        for first, stop in zip(edges[::2], edges[1::2]):  # runs [first, stop)
            best = float(scores[first:stop].max())
            rows.append({"recording": recording, "start_time": float(windows.window_start.iat[first]),
                         "end_time": float(windows.window_end.iat[stop - 1]), "low_freq": np.nan,
                         "high_freq": np.nan, "label": label, "score": best, "class_score": best,
                         "model": model, "model_version": version})
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return events.sort_values(["start_time", "label"], ignore_index=True)


# -- the detector ----------------------------------------------------------------------------
@dataclass
class AnthropogenicDetector:
    """A trained window classifier for anthropogenic sounds (see the module docstring).

    Args:
        classes: class names, one sigmoid output each.
        sample_rate: the rate the network reads (recordings are resampled to it).
        window_s, hop_s: scored windows and their spacing (seconds).
        n_fft, hop, n_mels, fmin: the log-mel spectrogram.
        threshold: one score threshold, or one per class.
        batch_size: windows per forward pass.
    """

    classes: list[str] = field(default_factory=lambda: list(ANTHROPOGENIC_CLASSES))
    sample_rate: int = 16000
    window_s: float = 2.0
    hop_s: float = 1.0
    n_fft: int = 1024
    hop: int = 320
    n_mels: int = 64
    fmin: float = 50.0
    width: int = 16
    threshold: float | dict[str, float] = 0.5
    batch_size: int = 64
    device: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    net_: AnthropogenicNet | None = None

    name = MODEL_NAME

    def __post_init__(self) -> None:
        if self.net_ is None:
            self.net_ = AnthropogenicNet(len(self.classes), self.width)
        self.front_ = _MelFrontEnd(self.sample_rate, self.n_fft, self.hop, self.n_mels, self.fmin)
        self._device = torch_device(self.device)
        self.net_.to(self._device)
        self.front_.to(self._device)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "untrained"))

    @property
    def thresholds(self) -> dict[str, float]:
        """The threshold of each class."""
        if isinstance(self.threshold, Mapping):
            return {c: float(self.threshold.get(c, 0.5)) for c in self.classes}
        return {c: float(self.threshold) for c in self.classes}

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def run_parameters(self) -> dict[str, Any]:
        """What determines a run's detections (recorded with them, checked on resume)."""
        return {"model": MODEL_NAME, "model_version": self.version, "threshold": self.thresholds,
                "window_s": self.window_s, "hop_s": self.hop_s, "sample_rate": self.sample_rate,
                "n_fft": self.n_fft, "hop": self.hop, "n_mels": self.n_mels, "classes": list(self.classes)}

    # -- scoring ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _scores(self, windows: np.ndarray) -> np.ndarray:
        """Sigmoid scores (n, classes) of windows (n, window_samples) at the model's rate."""
        self.net_.eval()
        out = []
        for i in range(0, len(windows), self.batch_size):
            x = torch.from_numpy(windows[i : i + self.batch_size]).to(self._device)
            out.append(torch.sigmoid(self.net_(self.front_(x))).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def _starts(self, n_frames: int, rate: float) -> np.ndarray:
        """First frame of each window of a recording of ``n_frames`` at real rate ``rate``:
        every hop, the last one reaching the end (a recording shorter than a window is one)."""
        size, step = int(round(self.window_s * rate)), int(round(self.hop_s * rate))
        n = 1 + max(0, math.ceil((n_frames - size) / step))
        return np.arange(n) * step

    def _window_block(self, piece: np.ndarray, rate: float, starts: np.ndarray) -> np.ndarray:
        """Windows (at the model's rate, zero-padded) of a piece read from ``starts[0]``."""
        size = int(round(self.window_s * rate))
        piece = np.pad(piece, (0, max(0, starts[-1] - starts[0] + size - len(piece))))
        audio = _resample(piece, rate, self.sample_rate)
        offsets = np.round((starts - starts[0]) * self.sample_rate / rate).astype(int)
        w = self.window_samples
        audio = np.pad(audio, (0, max(0, offsets[-1] + w - len(audio))))
        return np.stack([audio[o : o + w] for o in offsets]).astype(np.float32)

    def _table(self, starts: np.ndarray, rate: float, scores: np.ndarray) -> pd.DataFrame:
        t0 = starts / rate
        table = pd.DataFrame({"window_start": t0, "window_end": t0 + self.window_s})
        for k, c in enumerate(self.classes):
            table[c] = scores[:, k].astype(float)
        return table

    def predict_windows(self, audio: np.ndarray, sample_rate: float) -> pd.DataFrame:
        """Scores of each window of samples at ``sample_rate``: window_start, window_end (s)
        and one column per class."""
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 2:  # (frames, channels): the first channel, as recorders' left/mono
            audio = audio[:, 0]
        starts = self._starts(len(audio), sample_rate)
        parts = []
        for i in range(0, len(starts), _BLOCK_WINDOWS):
            s = starts[i : i + _BLOCK_WINDOWS]
            stop = s[-1] + int(round(self.window_s * sample_rate))
            parts.append(self._scores(self._window_block(audio[s[0] : stop], sample_rate, s)))
        return self._table(starts, sample_rate, np.concatenate(parts))

    def iter_file_windows(self, path: str | Path, *, time_expansion: float = 1.0) -> Iterator[pd.DataFrame]:
        """Window scores of an audio file, one block of windows per read (bounded memory)."""
        try:
            f = sf.SoundFile(str(path))
        except Exception as exc:  # libsndfile reports every problem as a RuntimeError subclass
            raise AudioFileError(str(path), f"cannot read audio: {exc}") from None
        with f:
            if f.frames == 0:
                raise AudioFileError(str(path), "no samples")
            rate = f.samplerate * time_expansion
            size = int(round(self.window_s * rate))
            starts = self._starts(f.frames, rate)
            for i in range(0, len(starts), _BLOCK_WINDOWS):
                s = starts[i : i + _BLOCK_WINDOWS]
                try:
                    f.seek(int(s[0]))
                    piece = f.read(int(s[-1] - s[0] + size), dtype="float32", always_2d=True)[:, 0]
                except Exception as exc:
                    raise AudioFileError(str(path), f"cannot decode audio at frame {s[0]}: {exc}") from None
                yield self._table(s, rate, self._scores(self._window_block(piece, rate, s)))

    def file_windows(self, path: str | Path, *, time_expansion: float = 1.0) -> pd.DataFrame:
        """Window scores of a whole audio file (read block by block)."""
        return pd.concat(list(self.iter_file_windows(path, time_expansion=time_expansion)), ignore_index=True)

    def events(self, windows: pd.DataFrame, recording: str = "") -> pd.DataFrame:
        """The event table of a window score table."""
        return merge_windows(windows, self.classes, self.thresholds, recording=recording, version=self.version)

    def detect_audio(self, audio: np.ndarray, sample_rate: float, *, time_expansion: float = 1.0,
                     recording: str = "") -> pd.DataFrame:
        """Events in samples recorded at ``sample_rate`` (times are real: divided by
        ``time_expansion``)."""
        return self.events(self.predict_windows(audio, sample_rate * time_expansion), recording)

    def detect_file(self, path: str | Path, *, time_expansion: float = 1.0, recording: str | None = None) -> pd.DataFrame:
        """Events in one audio file, read block by block."""
        name = str(path) if recording is None else recording
        return self.events(self.file_windows(path, time_expansion=time_expansion), name)

    # -- persistence ---------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "sample_rate": self.sample_rate, "window_s": self.window_s,
                "hop_s": self.hop_s, "n_fft": self.n_fft, "hop": self.hop, "n_mels": self.n_mels,
                "fmin": self.fmin, "width": self.width, "threshold": self.threshold}

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """Weights and metadata in ``path`` (.pt), a JSON card beside it; atomic."""
        self.metadata = save_checkpoint(path, self._settings(), {**self.metadata, **metadata}, self.net_)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_ANTHROPOGENIC_MODEL, *, device: str | None = None,
             **overrides: Any) -> AnthropogenicDetector:
        """A saved detector; ``overrides`` replace saved settings (threshold, hop_s, batch_size...).

        Overrides that are None or that this detector has no use for (the batch runner passes
        the bat detector's ``chunk_s``) are ignored."""
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"no anthropogenic detector model at {path}") from None
        settings = {k: state[k] for k in ("classes", "sample_rate", "window_s", "hop_s", "n_fft", "hop",
                                          "n_mels", "fmin", "width", "threshold")}
        known = set(settings) | {"batch_size"}
        settings.update({k: v for k, v in overrides.items() if v is not None and k in known})
        net = AnthropogenicNet(len(state["classes"]), state["width"])
        net.load_state_dict(state["weights"])
        return cls(**settings, device=device, metadata=dict(state["metadata"]), net_=net)


# -- the shared data ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SharedDataset:
    """Labelled clips (``clips``: file, our_class, dataset, group) and the split into train and
    held-out groups."""

    root: Path
    clips: pd.DataFrame

    def split(self, held_out: Sequence[str] = HELD_OUT_FOLDS) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, held-out) clips: whole groups go to one side, never single clips."""
        test = self.clips.group.isin([str(g) for g in held_out])
        return self.clips[~test].reset_index(drop=True), self.clips[test].reset_index(drop=True)


def _group(row: pd.Series) -> str:
    """The source group of a clip: its ESC-50/UrbanSound8K fold; an FSDD clip's speaker; a
    chainsaw capture's own file name, as a capture is one source recording."""
    if not pd.isna(row["fold"]):
        return str(int(row["fold"]))
    name = Path(row["file"]).stem
    if row["dataset"] == "FSDD":
        return "fsdd:" + name.split("_")[1]
    return "capture:" + name


def load_shared_dataset(root: str | Path) -> SharedDataset:
    """The shared anthropogenic clips (``root/metadata.csv``) with a ``group`` column for
    group-wise splits; absolute paths in ``path``."""
    root = Path(root)
    meta = pd.read_csv(root / "metadata.csv")
    meta = meta[meta.our_class.isin([*ANTHROPOGENIC_CLASSES, BACKGROUND])].copy()
    meta["group"] = meta.apply(_group, axis=1)
    meta["path"] = [str(root / f) for f in meta.file]
    return SharedDataset(root, meta.reset_index(drop=True))


# -- training ----------------------------------------------------------------------------------
@dataclass
class _Clip:
    audio: np.ndarray
    anchors: np.ndarray  # sample indices of loud 50 ms frames: a crop keeps one of them


def _clip(audio: np.ndarray, rate: int) -> _Clip:
    frame = rate // 20
    n = max(1, len(audio) // frame)
    energy = np.array([np.mean(audio[i * frame : (i + 1) * frame] ** 2) + 1e-12 for i in range(n)])
    db = 10 * np.log10(energy)
    loud = np.flatnonzero(db >= db.max() - 10)  # the event, not the silence around it
    return _Clip(audio, loud * frame + frame // 2)


def _crop(clip: _Clip, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` piece of an event clip holding one of its loud frames, placed at random."""
    out = np.zeros(size, np.float32)
    anchor = int(rng.choice(clip.anchors))
    pos = int(rng.integers(0, size))  # where the anchor lands in the window
    lo = anchor - pos
    src0, dst0 = max(0, lo), max(0, -lo)
    n = min(len(clip.audio) - src0, size - dst0)
    out[dst0 : dst0 + n] = clip.audio[src0 : src0 + n]
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2) + 1e-12))


@dataclass
class _Mixer:
    """Random training windows: 0-2 event clips of distinct classes mixed into a background
    crop at a random SNR, with random gain."""

    events: dict[int, list[_Clip]]
    backgrounds: list[np.ndarray]
    size: int
    n_classes: int
    snr_db: tuple[float, float] = (-5.0, 20.0)

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        bg_audio = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        if len(bg_audio) >= self.size and rng.random() < 0.9:
            start = int(rng.integers(0, len(bg_audio) - self.size + 1))
            bg = bg_audio[start : start + self.size].copy()
        else:  # plain noise now and then: the model must not need a forest behind an event
            bg = rng.standard_normal(self.size).astype(np.float32)
        bg *= 10 ** (rng.uniform(-60, -25) / 20) / _rms(bg)
        target = np.zeros(self.n_classes, np.float32)
        k = rng.choice([0, 1, 2], p=[0.25, 0.55, 0.2])
        mix = bg
        for c in rng.choice(sorted(self.events), size=k, replace=False):
            clips = self.events[int(c)]
            piece = _crop(clips[int(rng.integers(len(clips)))], self.size, rng)
            snr = rng.uniform(*self.snr_db)
            mix = mix + piece * (_rms(bg) * 10 ** (snr / 20) / _rms(piece))
            target[int(c)] = 1.0
        peak = np.abs(mix).max() + 1e-9
        mix = mix * (10 ** (rng.uniform(-30, -1) / 20) / peak)  # any recording level, never clipped
        return mix.astype(np.float32), target

    def batch(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(self.example(rng) for _ in range(n)))
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def _background_pool(clips: pd.DataFrame, extra: Sequence[str | Path], rate: int) -> list[np.ndarray]:
    pool = [_read_mono(p, rate) for p in clips[clips.our_class == BACKGROUND].path]
    pool += [_read_mono(p, rate) for p in extra]
    return pool


def train_anthropogenic(
    train_clips: pd.DataFrame,
    *,
    backgrounds: Sequence[str | Path] = (),
    classes: Sequence[str] = ANTHROPOGENIC_CLASSES,
    steps: int = 1500,
    batch_size: int = 48,
    lr: float = 3e-3,
    lowpass_p: float = 0.5,
    seed: int = 0,
    threads: int | None = None,
    log_every: int = 100,
    init: AnthropogenicDetector | None = None,
    **detector_args: Any,
) -> AnthropogenicDetector:
    """A detector trained on ``train_clips`` (path, our_class rows; natural_background rows
    and ``backgrounds`` files are backgrounds), multi-label BCE on random mixtures.

    ``lowpass_p`` of the windows lose everything above a random 3-6 kHz cut, so the model does
    not rely on content that 8 kHz recorders never capture. ``init`` fine-tunes a copy of a
    trained detector (same classes) instead of starting from random weights.
    """
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if init is not None:
        if list(init.classes) != list(classes):
            raise ValueError(f"fine-tuning keeps the classes of the model: {init.classes}, not {list(classes)}")
        net = AnthropogenicNet(len(classes), init.width)
        net.load_state_dict(init.net_.state_dict())
        det = AnthropogenicDetector(**{**init._settings(), **detector_args}, device="cpu",
                                    metadata={"base_model": init.version, "base_training": init.metadata.get("training")},
                                    net_=net)
    else:
        det = AnthropogenicDetector(classes=list(classes), device="cpu", **detector_args)
    rate = det.sample_rate
    events: dict[int, list[_Clip]] = {}
    for row in train_clips.itertuples():
        if row.our_class in classes:
            events.setdefault(list(classes).index(row.our_class), []).append(_clip(_read_mono(row.path, rate), rate))
    missing = [c for i, c in enumerate(classes) if i not in events]
    if missing:
        raise ValueError(f"no training clips for {missing}")
    mixer = _Mixer(events, _background_pool(train_clips, backgrounds, rate), det.window_samples, len(classes))
    net, front = det.net_, det.front_
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    started, cpu0 = time.perf_counter(), time.process_time()
    net.train()
    losses: list[float] = []
    for step in range(steps):
        x, y = mixer.batch(batch_size, rng)
        cut = torch.where(torch.rand(batch_size) < lowpass_p, torch.empty(batch_size).uniform_(3000, 6000),
                          torch.full((batch_size,), float(rate)))
        with torch.no_grad():
            spec = front(x, cut)
        loss = F.binary_cross_entropy_with_logits(net(spec), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} loss {np.mean(losses[-log_every:]):.4f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    net.eval()
    det.metadata.update(
        training={"steps": steps, "batch_size": batch_size, "lr": lr, "lowpass_p": lowpass_p, "seed": seed,
                  "snr_db": list(mixer.snr_db), "clips_per_class": {classes[i]: len(v) for i, v in events.items()},
                  "background_sources": len(mixer.backgrounds), "final_loss": float(np.mean(losses[-100:])),
                  "wall_s": round(time.perf_counter() - started, 1),
                  "cpu_s": round(time.process_time() - cpu0, 1)})
    return det


# -- clip-level scoring and thresholds ---------------------------------------------------------
def clip_scores(det: AnthropogenicDetector, clips: pd.DataFrame, *, segment_s: float = 5.0) -> pd.DataFrame:
    """One row per clip (file, our_class, group) with each class's best window score. A clip
    longer than ``segment_s`` + 1 s is cut into ``segment_s`` segments first, so one long
    capture does not count as one example."""
    rows = []
    for clip in clips.itertuples():
        audio, rate = sf.read(clip.path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        seg = int(segment_s * rate) if len(audio) > (segment_s + 1) * rate else len(audio)
        for i in range(0, len(audio) - seg + 1, seg):
            best = det.predict_windows(audio[i : i + seg], rate)[det.classes].max()
            rows.append({"file": clip.file, "our_class": clip.our_class, "group": clip.group, **best.to_dict()})
    return pd.DataFrame(rows)


def tune_thresholds(scores: pd.DataFrame, classes: Sequence[str], *, default: float = 0.5,
                    grid: Sequence[float] = tuple(np.round(np.arange(0.1, 0.951, 0.05), 2))) -> dict[str, float]:
    """Per class, the grid threshold with the best F1 on ``scores`` (from ``clip_scores`` of
    clips the model was not trained on); ties go to the threshold nearest ``default``, and a
    class without positives keeps ``default``."""
    from sklearn.metrics import f1_score

    out = {}
    for c in classes:
        y = (scores.our_class == c).to_numpy()
        if not y.any():
            out[c] = default
            continue
        s = scores[c].to_numpy()
        best = max(grid, key=lambda t: (f1_score(y, s >= t, zero_division=0), -abs(t - default)))
        out[c] = float(best)
    return out
