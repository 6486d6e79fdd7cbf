"""Anthropogenic sounds (gunshot, chainsaw, vehicle, voice, ...) in audible recordings.

``AnthropogenicDetector`` scores fixed windows (``window_s`` long, every ``hop_s``) of a
recording with a small log-mel CNN, one sigmoid per class (multi-label: a dog barking over a
voice is both), and merges consecutive windows above a class's threshold into one timed event
of the project's event table. Files are read block by block: a 24 h recording never sits in
memory. The class list, spectrogram settings and thresholds are data saved with the weights.

Modules: ``network`` <- ``detector`` (windows, events, saving) <- ``dataset`` (the shared
labelled clips), ``training`` (mixing clips into backgrounds), ``thresholds`` (per-class
thresholds from held-out clips); ``synth_audible`` makes test soundscapes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._audio import open_audio, read_first_channel, resample
from .._checkpoint import load_checkpoint, model_version, save_checkpoint, torch_device
from ..detector import AudioFile, detect_each, model_identity
from ..io.event_table import EVENT_COLUMNS
from .network import AnthropogenicNet, MelFrontEnd

__all__ = [
    "ANTHROPOGENIC_CLASSES",
    "DEFAULT_ANTHROPOGENIC_MODEL",
    "MODEL_NAME",
    "AnthropogenicDetector",
    "is_anthropogenic_model",
    "merge_windows",
]

ANTHROPOGENIC_CLASSES = ["gunshot", "chainsaw", "vehicle", "voice", "dog", "domestic_animal",
                         "machinery", "siren"]
DEFAULT_ANTHROPOGENIC_MODEL = Path(__file__).parent.parent / "models" / "anthropogenic-v2.pt"
MODEL_NAME = "ecointegrity-anthropogenic"
_BLOCK_WINDOWS = 64  # windows scored per file read (64 s of audio at a 1 s hop)


def is_anthropogenic_model(model: str | Path) -> bool:
    """Whether a model name or path means this detector: ``"anthropogenic"`` (the shipped
    model) or a saved ``anthropogenic-*.pt``."""
    return str(model) == "anthropogenic" or Path(model).name.startswith("anthropogenic")


# -- window merging --------------------------------------------------------------------------
def merge_windows(
    windows: pd.DataFrame,
    classes: Sequence[str],
    threshold: Mapping[str, float] | float,
    *,
    recording: str = "",
    model: str = MODEL_NAME,
    version: str = "",
) -> pd.DataFrame:
    """Events of a window score table: consecutive windows at or above a class's threshold
    make one event from the first window's start to the last one's end, scored by their max."""
    rows = []
    for label in classes:
        thr = threshold[label] if isinstance(threshold, Mapping) else float(threshold)
        scores = windows[label].to_numpy(float)
        on = np.concatenate([[False], scores >= thr, [False]])
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        for first, stop in zip(edges[::2], edges[1::2], strict=True):  # runs [first, stop)
            best = float(scores[first:stop].max())
            rows.append(
                {
                    "recording": recording,
                    "start_time": float(windows.window_start.iat[first]),
                    "end_time": float(windows.window_end.iat[stop - 1]),
                    "low_freq": np.nan,
                    "high_freq": np.nan,
                    "label": label,
                    "score": best,
                    "class_score": best,
                    "model": model,
                    "model_version": version,
                }
            )
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
        self.front_ = MelFrontEnd(self.sample_rate, self.n_fft, self.hop, self.n_mels, self.fmin)
        self._device = torch_device(self.device)
        self.net_.to(self._device)
        self.front_.to(self._device)

    @property
    def _net(self) -> AnthropogenicNet:
        """The network: the one given, or the untrained one ``__post_init__`` built."""
        if self.net_ is None:  # only if ``net_`` was set to None after construction
            raise RuntimeError("AnthropogenicDetector has no network (net_ is None)")
        return self.net_

    @property
    def version(self) -> str:
        return model_version(self.metadata)

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
        return {
            **model_identity(self),
            "threshold": self.thresholds,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop": self.hop,
            "n_mels": self.n_mels,
            "classes": list(self.classes),
        }

    # -- scoring ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _scores(self, windows: np.ndarray) -> np.ndarray:
        """Sigmoid scores (n, classes) of windows (n, window_samples) at the model's rate."""
        net = self._net
        net.eval()
        out = []
        for i in range(0, len(windows), self.batch_size):
            x = torch.from_numpy(windows[i : i + self.batch_size]).to(self._device)
            out.append(torch.sigmoid(net(self.front_(x))).cpu().numpy())
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
        audio = resample(piece, rate, self.sample_rate)
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

    def iter_file_windows(
        self, path: str | os.PathLike, *, time_expansion: float = 1.0
    ) -> Iterator[pd.DataFrame]:
        """Window scores of an audio file, one block of windows per read (bounded memory)."""
        with open_audio(path) as f:
            rate = f.samplerate * time_expansion
            size = int(round(self.window_s * rate))
            starts = self._starts(f.frames, rate)
            for i in range(0, len(starts), _BLOCK_WINDOWS):
                s = starts[i : i + _BLOCK_WINDOWS]
                piece = read_first_channel(f, path, int(s[0]), int(s[-1] - s[0] + size))
                yield self._table(s, rate, self._scores(self._window_block(piece, rate, s)))

    def file_windows(self, path: str | os.PathLike, *, time_expansion: float = 1.0) -> pd.DataFrame:
        """Window scores of a whole audio file (read block by block)."""
        return pd.concat(
            list(self.iter_file_windows(path, time_expansion=time_expansion)), ignore_index=True
        )

    def events(self, windows: pd.DataFrame, recording: str = "") -> pd.DataFrame:
        """The event table of a window score table."""
        return merge_windows(
            windows, self.classes, self.thresholds, recording=recording, version=self.version
        )

    def detect_audio(
        self,
        audio: np.ndarray,
        sample_rate: float,
        *,
        time_expansion: float = 1.0,
        recording: str = "",
    ) -> pd.DataFrame:
        """Events in samples recorded at ``sample_rate`` (times are real: divided by
        ``time_expansion``)."""
        return self.events(self.predict_windows(audio, sample_rate * time_expansion), recording)

    def detect_file(
        self, path: str | os.PathLike, *, time_expansion: float = 1.0, recording: str | None = None
    ) -> pd.DataFrame:
        """Events in one audio file, read block by block."""
        name = str(path) if recording is None else recording
        return self.events(self.file_windows(path, time_expansion=time_expansion), name)

    def detect_files(
        self, files: Iterable[AudioFile], on_error: Callable[[str, Exception], None]
    ) -> pd.DataFrame:
        """Events in several files, one file at a time (see ``detector.detect_each``)."""
        return detect_each(self, files, on_error)

    # -- persistence ---------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "sample_rate": self.sample_rate,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "n_fft": self.n_fft,
            "hop": self.hop,
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "width": self.width,
            "threshold": self.threshold,
        }

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """Weights and metadata in ``path`` (.pt), a JSON card beside it; atomic."""
        self.metadata = save_checkpoint(
            path, self._settings(), {**self.metadata, **metadata}, self._net
        )
        return Path(path)

    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_ANTHROPOGENIC_MODEL,
        *,
        device: str | None = None,
        **overrides: Any,
    ) -> AnthropogenicDetector:
        """A saved detector; ``overrides`` replace saved settings (threshold, hop_s, batch_size...).

        Overrides that are None or that this detector has no use for (the batch runner passes
        the bat detector's ``chunk_s``) are ignored."""
        state = load_checkpoint(path, "anthropogenic detector")
        settings = {
            k: state[k]
            for k in (
                "classes",
                "sample_rate",
                "window_s",
                "hop_s",
                "n_fft",
                "hop",
                "n_mels",
                "fmin",
                "width",
                "threshold",
            )
        }
        known = set(settings) | {"batch_size"}
        settings.update({k: v for k, v in overrides.items() if v is not None and k in known})
        net = AnthropogenicNet(len(state["classes"]), state["width"])
        net.load_state_dict(state["weights"])
        return cls(**settings, device=device, metadata=dict(state["metadata"]), net_=net)
