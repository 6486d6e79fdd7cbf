"""Audible soundscapes with known anthropogenic events, for demos and tests without shared
data (a fresh clone).

Two kinds of parts, both returned with an event table of what was inserted, so a run can be
checked against it:

- **real recordings** shipped with the package (``demo_audio/``, attributed in its
  ATTRIBUTION.md): handgun rounds from the ShotSpotter live-fire test (CC BY 4.0) and forest
  soundscapes at dawn, midday and night from scikit-maad (BSD-3-Clause), see
  ``demo_sounds``; pass them as ``background`` and ``sounds``;
- **physical caricatures**, not recordings, used for what has no shippable recording (a
  detector trained on real clips may well miss them):

- background: pink noise (about -50 dBFS), dawn birdsong (2-5 kHz FM chirps) before 09:00,
  and night insects (a 4-6 kHz band pulsed at ~30 Hz) after 19:00;
- ``vehicle``: an engine passing by, harmonics of a 25-40 Hz firing rate with broadband road
  noise under a 10-16 s swell;
- ``gunshot``: a muzzle blast (2 ms rise, ~40 ms decay, low-passed broadband) with a 0.4 s
  reverberant forest tail.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from guano import GuanoFile
from scipy.signal import butter, sosfilt

from ...io import atomic_path
from .._audio import resample
from ..io.event_table import EVENT_COLUMNS

__all__ = ["AUDIBLE_EVENT_TYPES", "DemoSounds", "demo_sounds", "synth_soundscape",
           "write_soundscape"]

AUDIBLE_EVENT_TYPES = ("vehicle", "gunshot")
MODEL = "ecointegrity-synth-audible"
DEMO_AUDIO = Path(__file__).parent.parent / "demo_audio"


@dataclass(frozen=True)
class DemoSounds:
    """The real recordings shipped for the demo, at one sample rate: ``gunshots`` (one round
    each) and ``soundscapes`` by the hour they were recorded."""

    sample_rate: int
    gunshots: list[np.ndarray]
    soundscapes: dict[int, np.ndarray]

    def soundscape_at(self, hour: float) -> np.ndarray:
        """The soundscape recorded nearest ``hour`` of the day (on a 24 h clock)."""
        return self.soundscapes[min(self.soundscapes, key=lambda h: min(abs(h - hour),
                                                                      24 - abs(h - hour)))]


def demo_sounds(sample_rate: int = 16000) -> DemoSounds:
    """The package's real demo recordings (see ``demo_audio/ATTRIBUTION.md``) at ``sample_rate``."""
    def read(path: Path) -> np.ndarray:
        audio, rate = sf.read(str(path), dtype="float32")
        return resample(audio, rate, sample_rate)

    gunshots = [read(p) for p in sorted(DEMO_AUDIO.glob("gunshot-*.flac"))]
    soundscapes = {int(p.stem.rsplit("-", 1)[1][:2]): read(p)
                   for p in sorted(DEMO_AUDIO.glob("soundscape-*.flac"))}
    if not gunshots or not soundscapes:
        raise FileNotFoundError(f"the demo recordings are missing from {DEMO_AUDIO}")
    return DemoSounds(sample_rate, gunshots, soundscapes)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    out = np.fft.irfft(spectrum, n)
    return out / (np.std(out) + 1e-12)


def _band(x: np.ndarray, low: float | None, high: float | None, rate: int) -> np.ndarray:
    if low and high:
        sos = butter(4, [low, high], "bandpass", fs=rate, output="sos")
    elif high:
        sos = butter(4, high, "lowpass", fs=rate, output="sos")
    else:
        sos = butter(4, low, "highpass", fs=rate, output="sos")
    return sosfilt(sos, x)


def _db(level_dbfs: float) -> float:
    return float(10 ** (level_dbfs / 20))


def _birds(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for _ in range(int(n / rate * 1.5)):  # ~1.5 chirps a second
        length = int(rng.uniform(0.05, 0.25) * rate)
        start = int(rng.integers(0, max(1, n - length)))
        f0, f1 = rng.uniform(2000, 5000, 2)
        t = np.arange(length) / rate
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1]))
        out[start : start + length] += np.sin(phase) * np.hanning(length) * rng.uniform(0.2, 1.0)
    return out


def _insects(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    pulses = (np.sin(2 * np.pi * rng.uniform(25, 35) * t) > 0.3).astype(float)
    return _band(rng.standard_normal(n), 4000, min(6000, rate / 2 - 100), rate) * pulses


def _vehicle(rate: int, rng: np.random.Generator) -> np.ndarray:
    length = rng.uniform(10, 16)
    t = np.arange(int(length * rate)) / rate
    f0 = rng.uniform(25, 40) * (1 + 0.05 * np.sin(2 * np.pi * t / length))  # a gear change, roughly
    phase = 2 * np.pi * np.cumsum(f0) / rate
    engine = sum(np.sin(k * phase) / k ** 0.7 for k in range(1, 25) if k * f0.max() < rate / 2)
    road = _band(rng.standard_normal(len(t)), None, 2000, rate)
    swell = np.exp(-0.5 * ((t - length / 2) / (length / 6)) ** 2)
    return (engine / np.std(engine) + 0.7 * road / np.std(road)) * swell


def _gunshot(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.6 * rate)) / rate
    blast = (
        rng.standard_normal(len(t))
        * np.minimum(t / 0.002, 1)
        * np.exp(-t / rng.uniform(0.02, 0.06))
    )
    tail = rng.standard_normal(len(t)) * np.exp(-t / 0.4) * 0.08
    boom = np.sin(2 * np.pi * rng.uniform(60, 120) * t) * np.exp(-t / 0.08) * 0.5
    return _band(blast + tail, None, min(3500, rate / 2 - 100), rate) + boom


def synth_soundscape(
    duration_s: float,
    sample_rate: int = 16000,
    *,
    events: Sequence[tuple[str, float]] = (),
    hour: float = 12.0,
    snr_db: float = 15.0,
    seed: int = 0,
    recording: str = "",
    background: np.ndarray | None = None,
    sounds: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """A mono float32 soundscape and the event table of what was inserted.

    Args:
        duration_s, sample_rate: the recording.
        events: (type, start second) pairs; types from `AUDIBLE_EVENT_TYPES`.
        hour: local hour of the start (dawn birds before 9, night insects after 19 or
            before 5).
        snr_db: peak event level over the background RMS.
        seed: random seed (the same seed gives the same audio).
        recording: the ``recording`` value of the event table.
        background: a real recording at ``sample_rate`` to use instead of the synthetic
            background (repeated to ``duration_s``).
        sounds: real recordings per event type at ``sample_rate`` (e.g. ``{"gunshot": [...]}``),
            used in turn (starting at ``seed`` modulo their number) instead of the caricature;
            an event's end is the end of its recording.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    if background is not None:
        reps = -(-n // max(len(background), 1))
        background = np.tile(np.asarray(background, np.float64), reps)[:n]
    else:
        background = _pink(n, rng) * _db(-50)
        if 4 <= hour < 9:
            background += _birds(n, sample_rate, rng) * _db(-38)
        if hour >= 19 or hour < 5:
            background += _insects(n, sample_rate, rng) * _db(-44)
    audio = background.copy()
    rows = []
    noise_rms = float(np.sqrt(np.mean(background**2)))
    used: dict[str, int] = {}
    for kind, start in events:
        if kind not in AUDIBLE_EVENT_TYPES:
            raise ValueError(f"unknown audible event type {kind!r}; known: {AUDIBLE_EVENT_TYPES}")
        real = (sounds or {}).get(kind)
        if real:
            # in turn from a place set by the seed: recordings with other seeds get others
            sound = np.asarray(real[(seed + used.get(kind, 0)) % len(real)], np.float64).copy()
            used[kind] = used.get(kind, 0) + 1
        else:
            sound = (_vehicle if kind == "vehicle" else _gunshot)(sample_rate, rng)
        sound *= noise_rms * 10 ** (snr_db / 20) / (np.abs(sound).max() + 1e-12)
        first = int(start * sample_rate)
        piece = sound[: max(0, n - first)]
        audio[first : first + len(piece)] += piece
        rows.append(
            {
                "recording": recording,
                "start_time": start,
                "end_time": start + len(piece) / sample_rate,
                "low_freq": np.nan,
                "high_freq": np.nan,
                "label": kind,
                "score": 1.0,
                "class_score": 1.0,
                "model": MODEL,
                "model_version": "1",
            }
        )
    audio = np.clip(audio, -1, 1).astype(np.float32)
    return audio, pd.DataFrame(rows, columns=EVENT_COLUMNS)


def write_soundscape(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    *,
    timestamp: dt.datetime,
    location: tuple[float, float] | None = None,
    site: str | None = None,
    note: str = "synthetic",
) -> Path:
    """Write a soundscape as 16-bit WAV with GUANO (Timestamp, Loc Position, Site Name, and
    ``note`` saying what it is made of), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
        meta = GuanoFile(tmp)
        meta["Make"], meta["Model"], meta["Note"] = (
            "ecointegrity",
            "demo soundscape",
            note,
        )
        meta["Timestamp"] = timestamp
        meta["Samplerate"] = sample_rate
        meta["Length"] = len(audio) / sample_rate
        if location is not None:
            meta["Loc Position"] = tuple(location)
        if site:
            meta["Site Name"] = site
        meta.write(make_backup=False)
    return path
