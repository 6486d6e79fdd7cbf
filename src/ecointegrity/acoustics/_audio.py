"""Audio helpers the detectors share: resampling, and block-by-block reading of a file with
every failure turned into an :class:`~.errors.AudioFileError` (a broken file is the file's
problem, recorded by the batch runner, never a crash)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .. import io as _io
from .errors import AudioFileError

__all__ = ["audio_duration", "open_audio", "read_first_channel", "resample"]


def resample(audio: np.ndarray, rate: float, target: int) -> np.ndarray:
    """``audio`` (samples along the last axis) from ``rate`` to ``target`` Hz (polyphase FIR)."""
    if abs(rate - target) < 1e-6:
        return np.asarray(audio).astype(np.float32, copy=False)
    ratio = Fraction(target / rate).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


@contextmanager
def open_audio(path: str | os.PathLike) -> Iterator[sf.SoundFile]:
    """An open audio file with at least one frame, on disk or object storage (fsspec URL).

    A remote file is read through fsspec's seekable file object, block by block as the
    detectors ask, never downloaded whole first.
    """
    with ExitStack() as stack:
        try:
            source: Any = str(path)
            if not _io.is_local(source):
                fs, remote = _io.filesystem(source)
                source = stack.enter_context(fs.open(remote, "rb"))
            f = stack.enter_context(sf.SoundFile(source))
        except Exception as exc:  # libsndfile reports every problem as a RuntimeError subclass
            raise AudioFileError(str(path), f"cannot read audio: {exc}") from None
        if f.frames == 0:
            raise AudioFileError(str(path), "no samples")
        yield f


def audio_duration(path: str | os.PathLike) -> float:
    """Seconds of audio in a file (its header's frames over its rate), local or remote."""
    with open_audio(path) as f:
        return f.frames / f.samplerate


def read_first_channel(f: sf.SoundFile, path: str | os.PathLike, start: int,
                       frames: int) -> np.ndarray:
    """``frames`` samples of the first channel (recorders' left/mono) from frame ``start``."""
    try:
        f.seek(start)
        return f.read(frames, dtype="float32", always_2d=True)[:, 0]
    except Exception as exc:
        raise AudioFileError(str(path), f"cannot decode audio at frame {start}: {exc}") from None
