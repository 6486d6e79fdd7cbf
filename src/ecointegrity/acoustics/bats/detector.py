"""The bat-call detector and classifier: chunking, batched inference, decoding, saving.

``BatDetector`` holds a trained :class:`~.network.CallNet`, the spectrogram grid it was
trained on, its class list and its provenance. ``detect_audio``/``detect_file`` cut a
recording into chunks of ``chunk_s`` seconds overlapping by ``overlap_s`` (longer than the
longest call, so a call on a border is whole in one chunk), run them in batches and keep each
detection only from the chunk whose own span (the chunk minus half the overlap at each
inner edge) holds its centre: no call lost at a border, none reported twice.

Saved models are one ``.pt`` file (weights and metadata: classes, spectrogram config,
training recipe, evaluation, versions) with a ``.json`` card beside it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .._audio import open_audio, read_first_channel, resample
from .._checkpoint import load_checkpoint, model_version, save_checkpoint, torch_device
from ..detector import AudioFile, model_identity
from ..io.event_table import EVENT_COLUMNS
from .duplicates import DuplicateRule, suppress_duplicates
from .network import STRIDE_F, STRIDE_T, CallNet
from .spectrogram import SpectrogramConfig, spectrogram_batch

__all__ = ["BatDetector", "DEFAULT_MODEL", "Chunk", "load_detector"]

DEFAULT_MODEL = Path(__file__).parent.parent / "models" / "bat-detector-v1.pt"
MODEL_NAME = "ecointegrity-bats"


@dataclass(frozen=True)
class Chunk:
    """A piece of a recording at the model's sample rate, and the span it reports for."""

    recording: str
    offset_s: float  # start of the chunk in the recording (real time)
    keep_from_s: float  # detections with centres in [keep_from_s, keep_to_s) are this chunk's
    keep_to_s: float
    audio: np.ndarray  # float32 at the model's sample rate, padded to the chunk length


@dataclass
class BatDetector:
    """A trained bat-call detector/classifier (see the module docstring).

    Args:
        classes: class names of the class head (species codes or call types).
        config: the spectrogram grid the network reads.
        width: channels of the network (32: ~42 k parameters).
        chunk_s, overlap_s: inference chunks and their overlap (seconds, real time).
        threshold: minimum detection score reported.
        duplicates: when a weaker detection is a harmonic, echo or part of a stronger one's
            call and dropped (:class:`~.duplicates.DuplicateRule`); None keeps every peak.
        batch_size: chunks per forward pass.
        device: "cpu", "cuda", or None (CUDA when available).
    """

    classes: list[str]
    config: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    width: int = 32
    chunk_s: float = 2.0
    overlap_s: float = 0.2
    threshold: float = 0.3
    duplicates: DuplicateRule | None = field(default_factory=DuplicateRule)
    batch_size: int = 8
    device: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    net_: CallNet | None = None

    name: ClassVar[str] = MODEL_NAME

    def __post_init__(self) -> None:
        if self.net_ is None:
            self.net_ = CallNet(len(self.classes), self.width)
        if not self.overlap_s < self.chunk_s:
            raise ValueError(
                f"overlap_s ({self.overlap_s}) must be shorter than chunk_s ({self.chunk_s})"
            )
        self._torch_device = torch_device(self.device)
        self.net_.to(self._torch_device)

    @property
    def _net(self) -> CallNet:
        """The network: the one given, or the untrained one ``__post_init__`` built."""
        if self.net_ is None:  # only if ``net_`` was set to None after construction
            raise RuntimeError("BatDetector has no network (net_ is None)")
        return self.net_

    # -- identity ---------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return model_version(self.metadata)

    @property
    def run_parameters(self) -> dict[str, Any]:
        """What determines a run's detections (recorded with them, checked on resume)."""
        return {
            **model_identity(self),
            "threshold": self.threshold,
            "chunk_s": self.chunk_s,
            "overlap_s": self.overlap_s,
            "duplicates": None if self.duplicates is None else asdict(self.duplicates),
            "config": self.config.to_dict(),
            "classes": list(self.classes),
        }

    # -- chunking ---------------------------------------------------------------------------
    @property
    def chunk_samples(self) -> int:
        # A whole number of output cells: columns divisible by the network's time stride.
        cfg = self.config
        columns = max(STRIDE_T, round(self.chunk_s / cfg.seconds_per_column) // STRIDE_T * STRIDE_T)
        return (columns - 1) * cfg.hop + cfg.n_fft

    def _spans(self, n_frames: int, rate: float) -> Iterator[tuple[int, int, float, float, float]]:
        """(first frame, frames, offset s, keep from s, keep to s) of each chunk of a recording
        of ``n_frames`` at real rate ``rate``."""
        size = int(round(self.chunk_samples / self.config.sample_rate * rate))
        step = size - int(round(self.overlap_s * rate))
        half = self.overlap_s / 2
        start = 0
        while True:
            last = start + size >= n_frames
            t0 = start / rate
            keep_from = 0.0 if start == 0 else t0 + half
            if last and start > 0:
                # The last chunk ends at the recording's end instead of running into padding
                # (silence would skew the chunk's noise estimate); it reports from where the
                # previous chunk stopped.
                start = max(0, n_frames - size)
                t0 = start / rate
            yield start, size, t0, keep_from, (math.inf if last else t0 + size / rate - half)
            if last:
                return
            start += step

    def _samples_for(self, n: int) -> int:
        """The shortest whole-cell length holding ``n`` samples (at the model's rate)."""
        cfg = self.config
        columns = max(1, -(-(n - cfg.n_fft) // cfg.hop) + 1)
        columns = -(-columns // STRIDE_T) * STRIDE_T
        return (columns - 1) * cfg.hop + cfg.n_fft

    def _chunk(self, piece: np.ndarray, rate: float, recording: str, span: tuple) -> Chunk:
        data = resample(piece, rate, self.config.sample_rate)[: self.chunk_samples]
        # A recording shorter than a chunk (triggered recorders write 0.1-1 s files) is one
        # short chunk, not a chunk of mostly padding.
        size = (
            self.chunk_samples
            if span[0] > 0 or not math.isinf(span[4])
            else self._samples_for(len(data))
        )
        if len(data) < size:
            data = np.pad(data, (0, size - len(data)))
        return Chunk(recording, span[2], span[3], span[4], data)

    def chunks(self, audio: np.ndarray, rate: float, recording: str = "") -> Iterator[Chunk]:
        """Overlapping chunks of a recording in memory; ``rate`` is the real sample rate."""
        audio = np.asarray(audio, np.float32)
        for span in self._spans(len(audio), rate):
            yield self._chunk(audio[span[0] : span[0] + span[1]], rate, recording, span)

    def file_chunks(
        self, path: str | os.PathLike, *, time_expansion: float = 1.0, recording: str | None = None
    ) -> Iterator[Chunk]:
        """Overlapping chunks of an audio file, read one at a time: a 24 h recording never sits
        in memory."""
        name = str(path) if recording is None else recording
        with open_audio(path) as f:
            rate = f.samplerate * time_expansion
            for span in self._spans(f.frames, rate):
                piece = read_first_channel(f, path, span[0], span[1])
                yield self._chunk(piece, rate, name, span)

    @property
    def class_score_columns(self) -> list[str]:
        """The event table's columns holding every class's probability for each call, as
        ``class_score_<class>`` (``class_score`` is the one of ``label``)."""
        return [f"class_score_{c}" for c in self.classes]

    # -- inference --------------------------------------------------------------------------
    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        spec = spectrogram_batch(batch, self.config)
        pad = (-spec.shape[-1]) % STRIDE_T
        x = torch.from_numpy(np.pad(spec, ((0, 0), (0, 0), (0, pad))))[:, None].to(
            self._torch_device
        )
        net = self._net
        net.eval()
        out = net(x)
        heat = torch.sigmoid(out["heat"])
        peaks = (heat == F.max_pool2d(heat, 3, stride=1, padding=1)) & (heat >= self.threshold)
        return {
            "heat": heat.cpu().numpy()[:, 0],
            "peaks": peaks.cpu().numpy()[:, 0],
            "size": out["size"].cpu().numpy(),
            "offset": out["offset"].cpu().numpy(),
            "classes": torch.softmax(out["classes"], dim=1).cpu().numpy(),
        }

    def _decode(self, out: dict[str, np.ndarray], chunks: Sequence[Chunk]) -> pd.DataFrame:
        cfg = self.config
        b, f, t = np.nonzero(out["peaks"])
        offset_s = np.array([c.offset_s for c in chunks])[b]
        centre_t = offset_s + cfg.time_at((t + out["offset"][b, 0, f, t]) * STRIDE_T)
        keep_from = np.array([c.keep_from_s for c in chunks])[b]
        keep_to = np.array([c.keep_to_s for c in chunks])[b]
        own = (centre_t >= keep_from) & (centre_t < keep_to)  # the chunk's own span only
        b, f, t, centre_t = b[own], f[own], t[own], centre_t[own]
        centre_f = cfg.freq_at((f + out["offset"][b, 1, f, t]) * STRIDE_F)
        duration = np.exp(out["size"][b, 0, f, t]) * cfg.seconds_per_column
        bandwidth = np.exp(out["size"][b, 1, f, t]) * cfg.hz_per_bin
        probs = out["classes"][b, :, f, t]  # (n, classes)
        k = probs.argmax(axis=1)
        return pd.DataFrame(
            {
                "recording": [chunks[int(i)].recording for i in b],
                "start_time": np.maximum(0.0, centre_t - duration / 2),
                "end_time": centre_t + duration / 2,
                "low_freq": np.maximum(0.0, centre_f - bandwidth / 2),
                "high_freq": centre_f + bandwidth / 2,
                "label": np.asarray(self.classes, dtype=object)[k] if self.classes else "bat",
                "score": out["heat"][b, f, t].astype(float),
                "class_score": probs[np.arange(len(k)), k].astype(float)
                if self.classes
                else np.nan,
                "model": MODEL_NAME,
                "model_version": self.version,
            },
            columns=EVENT_COLUMNS,
        ).join(pd.DataFrame(probs.astype(float), columns=self.class_score_columns))

    def detect_chunks(self, chunks: Iterable[Chunk]) -> pd.DataFrame:
        """Detections of any chunks (of one or many recordings), in batches of ``batch_size``."""
        parts: list[pd.DataFrame] = []
        batch: list[Chunk] = []

        def flush() -> None:
            if batch:
                parts.append(self._decode(self._forward(np.stack([c.audio for c in batch])), batch))
                batch.clear()

        for chunk in chunks:
            if batch and len(chunk.audio) != len(batch[0].audio):
                flush()  # a batch stacks chunks of one length
            batch.append(chunk)
            if len(batch) == self.batch_size:
                flush()
        flush()
        parts = [p for p in parts if len(p)]
        events = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=EVENT_COLUMNS + self.class_score_columns)
        )
        # After all chunks: an echo may lie across a chunk border from its call.
        if self.duplicates is not None:
            events = suppress_duplicates(events, self.duplicates)
        return events.sort_values(["recording", "start_time"], ignore_index=True)

    def detect_audio(
        self,
        audio: np.ndarray,
        sample_rate: float,
        *,
        time_expansion: float = 1.0,
        recording: str = "",
    ) -> pd.DataFrame:
        """Detections in samples recorded at ``sample_rate`` (the file's rate: a time-expanded
        file's real rate is ``sample_rate * time_expansion``); times and frequencies are real."""
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 2:  # (frames, channels): the first channel, as recorders' left/mono
            audio = audio[:, 0]
        return self.detect_chunks(self.chunks(audio, sample_rate * time_expansion, recording))

    def detect_file(
        self, path: str | os.PathLike, *, time_expansion: float = 1.0, recording: str | None = None
    ) -> pd.DataFrame:
        """Detections in one audio file (read block by block: hours-long files never sit in
        memory at once)."""
        return self.detect_chunks(
            self.file_chunks(path, time_expansion=time_expansion, recording=recording)
        )

    def detect_files(
        self, files: Iterable[AudioFile], on_error: Callable[[str, Exception], None]
    ) -> pd.DataFrame:
        """Detections in several files, their chunks batched together (a batch of short
        triggered recordings fills the network's batches). A file that fails is passed to
        ``on_error``; chunks it yielded before failing may leave events, which the caller
        drops."""

        def chunks() -> Iterator[Chunk]:
            for path, time_expansion in files:
                try:
                    yield from self.file_chunks(path, time_expansion=time_expansion, recording=path)
                except Exception as exc:
                    on_error(path, exc)

        return self.detect_chunks(chunks())

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, **metadata: Any) -> Path:
        """Weights and metadata in ``path`` (.pt), a JSON card beside it; atomic."""
        settings = {
            "classes": list(self.classes),
            "config": self.config.to_dict(),
            "width": self.width,
            "chunk_s": self.chunk_s,
            "overlap_s": self.overlap_s,
            "threshold": self.threshold,
        }
        self.metadata = save_checkpoint(path, settings, {**self.metadata, **metadata}, self._net)
        return Path(path)

    @classmethod
    def load(
        cls, path: str | Path = DEFAULT_MODEL, *, device: str | None = None, **overrides: Any
    ) -> BatDetector:
        """A saved detector; ``overrides`` replace saved inference settings (threshold,
        chunk_s..., duplicates)."""
        state = load_checkpoint(path, "bat detector")
        settings = {k: state[k] for k in ("chunk_s", "overlap_s", "threshold")}
        # None means "the saved setting", except for duplicates, where it means "keep all"
        settings.update({k: v for k, v in overrides.items() if v is not None or k == "duplicates"})
        net = CallNet(len(state["classes"]), state["width"])
        net.load_state_dict(state["weights"])
        return cls(
            classes=list(state["classes"]),
            config=SpectrogramConfig(**state["config"]),
            width=state["width"],
            device=device,
            metadata=dict(state["metadata"]),
            net_=net,
            **settings,
        )


def load_detector(model: str | Path | None = None, **overrides: Any) -> BatDetector:
    """The shipped default detector, or a saved one."""
    return BatDetector.load(model or DEFAULT_MODEL, **overrides)

