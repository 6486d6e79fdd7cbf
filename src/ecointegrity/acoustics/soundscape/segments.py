"""Reading an audible recording one segment at a time (a 24 h file never sits in memory), and
the start time written in SM4/AudioMoth-style file names."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from ..errors import AudioFileError

__all__ = ["Segment", "iter_segments", "parse_filename_timestamp", "start_times"]

# a recording shorter than one segment is analysed whole, if maad has enough frames for it
_MIN_WHOLE_S = 1.0


# --- file-name times -------------------------------------------------------------------------

_NAME_TIME = re.compile(r"(?:^|[_-])(\d{8})[_-](\d{6})(?=$|[_.-])")


def parse_filename_timestamp(path: str | os.PathLike) -> datetime | None:
    """The start time written in an SM4/AudioMoth-style file name, as naive wall-clock time.

    Args:
        path: e.g. ``S4A03895_20190522_030000.wav`` or ``20240903_202615.WAV``.

    Returns:
        The datetime, or None when the name holds no valid ``YYYYMMDD_HHMMSS``.
    """
    stem = Path(os.fspath(path)).name.rsplit(".", 1)[0]
    for match in _NAME_TIME.finditer(stem):
        try:
            return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S")
        except ValueError:
            continue
    return None


def start_times(timestamp: Any, path: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(naive wall-clock start, UTC start) from a given time, else from the file name."""
    if timestamp is None or (not isinstance(timestamp, str) and pd.isna(timestamp)):
        timestamp = parse_filename_timestamp(path)
        if timestamp is None:
            return None, None
    stamp = pd.Timestamp(timestamp)
    if stamp.tzinfo is None:
        return stamp, None
    return stamp.tz_localize(None), stamp.tz_convert("UTC")


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Samples of the first channel (DC removed) from ``start_s`` to ``end_s`` of a recording."""

    start_s: float
    end_s: float
    samples: np.ndarray
    sample_rate: int


def _segment_bounds(
    frames: int, rate: int, segment_s: float, min_segment_s: float
) -> list[tuple[int, int]]:
    """Frame ranges of the segments: full ones, then the last partial one if long enough."""
    step = max(1, int(round(segment_s * rate)))
    bounds = [(a, min(a + step, frames)) for a in range(0, frames, step)]
    keep_partial = min(min_segment_s, segment_s) * rate
    if len(bounds) == 1:
        keep_partial = min(keep_partial, _MIN_WHOLE_S * rate)
    if bounds and bounds[-1][1] - bounds[-1][0] < min(step, keep_partial):
        bounds.pop()
    return bounds


def _open(path: str) -> sf.SoundFile:
    if not os.path.exists(path):
        raise AudioFileError(path, "file not found")
    try:
        snd = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = getattr(exc, "error_string", None) or str(exc)
        raise AudioFileError(path, f"not a readable audio file ({detail})") from None
    if snd.frames <= 0 or snd.samplerate <= 0:
        snd.close()
        raise AudioFileError(path, "no audio samples")
    return snd


def iter_segments(path: str, segment_s: float, min_segment_s: float) -> Iterator[Segment]:
    """Segments of the first channel, read one at a time (never the whole file)."""
    with _open(path) as snd:
        rate = int(snd.samplerate)
        for a, b in _segment_bounds(int(snd.frames), rate, segment_s, min_segment_s):
            snd.seek(a)
            block = snd.read(b - a, dtype="float64", always_2d=True)
            if len(block) < b - a:
                raise AudioFileError(
                    path, f"truncated: read {a + len(block)} of {snd.frames} frames"
                )
            # maad.sound.load keeps the left channel and removes the DC offset; do the same
            samples = block[:, 0] - block[:, 0].mean()
            yield Segment(a / rate, b / rate, samples, rate)
