"""Human speech in recordings, found with Silero VAD: the privacy gate of audio exports.

Recorders in forests and towns pick up people talking. Their words must never leave the
project as audio: every clip the project writes (``acoustics.clips``) has its speech silenced
first, and the run says how much was masked. Speech is found by Silero VAD (MIT licence; its
weights ship inside the ``silero-vad`` wheel, so nothing is downloaded at run time), a
voice-activity model trained on speech in many languages (its authors report over 6,000),
at 8 or 16 kHz.

Segments are padded (``pad_s``, 0.25 s by default, longer than Silero's own 30 ms) because a
privacy mask that clips the first syllable of a sentence leaks words.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ._audio import open_audio, read_first_channel, resample
from .io.event_table import EVENT_COLUMNS

__all__ = ["SPEECH_LABEL", "SpeechDetector", "mask_speech"]

SPEECH_LABEL = "voice"
_RATE = 16000  # Silero's rate (8 kHz also works; 16 kHz is its best)


def _load_silero() -> Any:
    threads = torch.get_num_threads()
    import silero_vad  # sets torch's threads to 1 when first imported

    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        # the wheel's model is TorchScript; torch 2.13 deprecates loading it, still supported
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
        return silero_vad.load_silero_vad()


@dataclass
class SpeechDetector:
    """Speech segments of a recording as voice events of the event table.

    Args:
        threshold: Silero's speech probability that starts a segment (it ends below
            ``threshold - 0.15``).
        min_speech_s: shorter speech is ignored (a click is not a word).
        min_silence_s: pauses shorter than this join two segments.
        pad_s: added at both ends of a segment (see the module docstring).
        block_s: seconds read and scored at once (bounded memory for 24 h files).
    """

    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3
    pad_s: float = 0.25
    block_s: float = 600.0
    model_: Any = field(default=None, repr=False)

    name: ClassVar[str] = "silero-vad"

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.block_s < 10:
            raise ValueError(f"block_s must be at least 10 s, got {self.block_s}")
        if self.model_ is None:
            self.model_ = _load_silero()

    @property
    def version(self) -> str:
        return version("silero-vad")

    @torch.inference_mode()
    def _probabilities(self, audio: np.ndarray) -> np.ndarray:
        """Speech probability of every 512-sample (32 ms) frame of 16 kHz audio."""
        if len(audio) < 512:
            audio = np.pad(audio, (0, 512 - len(audio)))
        probs = self.model_.audio_forward(torch.from_numpy(audio.astype(np.float32)), _RATE)
        return probs[0].numpy()

    def _segments(self, probs: np.ndarray, offset_s: float, duration_s: float) -> list[dict]:
        from silero_vad.utils_vad import get_speech_timestamps_from_probs

        spans = get_speech_timestamps_from_probs(
            probs.tolist(),
            sampling_rate=_RATE,
            threshold=self.threshold,
            min_speech_duration_ms=int(self.min_speech_s * 1000),
            min_silence_duration_ms=int(self.min_silence_s * 1000),
            speech_pad_ms=0,
            return_seconds=False,
            audio_length_samples=int(round(duration_s * _RATE)),
        )
        rows = []
        for span in spans:
            first, stop = span["start"] // 512, -(-span["end"] // 512)
            rows.append(
                {
                    "start_time": max(0.0, offset_s + span["start"] / _RATE - self.pad_s),
                    "end_time": offset_s + min(span["end"] / _RATE + self.pad_s, duration_s),
                    "score": float(probs[first : max(stop, first + 1)].max()),
                }
            )
        return rows

    def _table(self, rows: list[dict], recording: str) -> pd.DataFrame:
        table = pd.DataFrame(rows, columns=["start_time", "end_time", "score"])
        table = _merge_overlaps(table)
        events = pd.DataFrame(
            {
                "recording": recording,
                "start_time": table["start_time"].astype(float),
                "end_time": table["end_time"].astype(float),
                "low_freq": np.nan,
                "high_freq": np.nan,
                "label": SPEECH_LABEL,
                "score": table["score"].astype(float),
                "class_score": table["score"].astype(float),
                "model": self.name,
                "model_version": self.version,
            },
            columns=EVENT_COLUMNS,
        )
        return events.reset_index(drop=True)

    def detect_audio(
        self, audio: np.ndarray, sample_rate: float, *, recording: str = ""
    ) -> pd.DataFrame:
        """Speech events (label ``"voice"``) of samples at ``sample_rate``; times in seconds."""
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 2:
            audio = audio[:, 0]
        rows: list[dict] = []
        step = int(round(self.block_s * sample_rate))
        for first in range(0, max(len(audio), 1), step):
            piece = resample(audio[first : first + step], sample_rate, _RATE)
            rows += self._segments(
                self._probabilities(piece), first / sample_rate, len(piece) / _RATE
            )
        return self._table(rows, recording)

    def detect_file(
        self, path: str | os.PathLike, *, recording: str | None = None
    ) -> pd.DataFrame:
        """Speech events of an audio file, read ``block_s`` at a time."""
        rows: list[dict] = []
        with open_audio(path) as f:
            step = int(round(self.block_s * f.samplerate))
            for first in range(0, f.frames, step):
                piece = read_first_channel(f, path, first, step)
                piece = resample(piece, f.samplerate, _RATE)
                rows += self._segments(
                    self._probabilities(piece), first / f.samplerate, len(piece) / _RATE
                )
        return self._table(rows, str(path) if recording is None else recording)


def _merge_overlaps(table: pd.DataFrame) -> pd.DataFrame:
    """Segments whose padding made them overlap (or touch across a block border) as one."""
    if table.empty:
        return table
    table = table.sort_values("start_time", ignore_index=True)
    group = (table["start_time"] > table["end_time"].cummax().shift(fill_value=-np.inf)).cumsum()
    return table.groupby(group).agg(
        start_time=("start_time", "min"), end_time=("end_time", "max"), score=("score", "max")
    )


def mask_speech(
    audio: np.ndarray, sample_rate: float, speech: pd.DataFrame, *, offset_s: float = 0.0
) -> tuple[np.ndarray, float]:
    """A copy of ``audio`` (which starts at ``offset_s`` in its recording) with the spans of
    ``speech`` (events, recording time) set to zero, and the seconds silenced."""
    out = np.array(audio, dtype=np.float32, copy=True)
    silenced = np.zeros(len(out), bool)
    for start, end in zip(speech["start_time"], speech["end_time"], strict=True):
        first = max(0, int(np.floor((start - offset_s) * sample_rate)))
        stop = min(len(out), int(np.ceil((end - offset_s) * sample_rate)))
        if stop > first:
            silenced[first:stop] = True
    out[silenced] = 0.0
    return out, float(silenced.sum() / sample_rate)
