"""Labelled clips from public datasets, as one clip table the training and evaluation read.

A clip table has one row per clip: ``file`` (an id), ``path``, ``our_class`` (one of
``ANTHROPOGENIC_CLASSES`` or ``natural_background``), ``dataset``, ``group`` (the source group:
whole groups go to one side of a split), ``freesound_id``, ``licence``, and ``start_s``/``end_s``
(the part of the file that is the clip; NaN for the whole file).

Readers, each from a folder laid out as its source publishes it:

- ``urbansound8k_clips``: UrbanSound8K (Salamon et al. 2014; CC BY-NC 3.0), ``foldN/`` folders
  of ``fsID-classID-occurrenceID-sliceID.wav``; groups are the folds. Air conditioners and
  street music are left out (neither is one of our classes, and both hold sounds that are).
- ``esc50_clips``: ESC-50 (Piczak 2015; CC BY-NC 3.0, each clip under its Freesound licence),
  a folder of ``fold-freesoundID-take-target.wav``; groups are the folds. Fold 4 is reserved for
  independent evaluation and is never opened. Sounds that are none of our classes and not
  natural (knocks, clapping, glass, fireworks...) come as ``other``: training mixes them in as
  distractors, so the model learns what a gunshot or a dog is *not*. Targets whose class is
  ambiguous (coughs and sneezes, household machines, a hand saw) are left out.
- ``shotspotter_clips``: the ShotSpotter live-fire test of Pittsburgh, 18 December 2018 (CC BY
  4.0): 12 kHz sensor recordings of handgun rounds with each sensor's pulse arrival times; a
  clip is a burst of rounds heard by one sensor; groups are firing positions.
- ``soundscape_clips``: any folder of field recordings used as backgrounds (e.g. the
  scikit-maad 24 h soundscapes, BSD-3-Clause); groups by the file's minute of the hour, so a
  split keeps whole recording slots apart.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .._audio import resample
from .dataset import BACKGROUND

__all__ = [
    "CLIP_TABLE_COLUMNS",
    "ESC50_CLASSES",
    "OTHER",
    "URBANSOUND8K_CLASSES",
    "esc50_clips",
    "read_clip",
    "shotspotter_clips",
    "soundscape_clips",
    "urbansound8k_clips",
]

CLIP_TABLE_COLUMNS = [
    "file", "path", "our_class", "dataset", "group", "freesound_id", "licence", "start_s", "end_s",
]

#: UrbanSound8K class id -> our class (ids 0 air_conditioner and 9 street_music left out)
URBANSOUND8K_CLASSES = {
    1: "vehicle",  # car_horn
    2: "voice",  # children_playing
    3: "dog",  # dog_bark
    4: "machinery",  # drilling
    5: "vehicle",  # engine_idling
    6: "gunshot",  # gun_shot
    7: "machinery",  # jackhammer
    8: "siren",
}


#: a sound that is none of our classes and not a natural background: a training distractor
OTHER = "other"

_DOMESTIC = "domestic_animal"
_NATURAL = BACKGROUND
#: ESC-50 target -> our class; targets not listed are left out (ambiguous for our classes:
#: 21 sneezing, 23 breathing, 24 coughing, 27 brushing teeth, 28 snoring, 29 drinking,
#: 35 washing machine, 36 vacuum cleaner, 49 hand saw)
ESC50_CLASSES = {
    0: "dog", 1: _DOMESTIC, 2: _DOMESTIC, 3: _DOMESTIC, 5: _DOMESTIC, 6: _DOMESTIC, 8: _DOMESTIC,
    4: _NATURAL, 7: _NATURAL, 9: _NATURAL, 10: _NATURAL, 11: _NATURAL, 12: _NATURAL, 13: _NATURAL,
    14: _NATURAL, 16: _NATURAL, 19: _NATURAL,
    20: "voice", 26: "voice",  # crying baby, laughing
    40: "vehicle", 43: "vehicle", 44: "vehicle", 45: "vehicle", 47: "vehicle",
    41: "chainsaw", 42: "siren",
    # water drops, pouring water, toilet flush, clapping, footsteps, door knock, mouse click,
    # keyboard typing, door creaks, can opening, clock alarm, clock tick, glass breaking,
    # church bells, fireworks
    **dict.fromkeys((15, 17, 18, 22, 25, 30, 31, 32, 33, 34, 37, 38, 39, 46, 48), OTHER),
}
ESC50_RESERVED_FOLD = 4  # for independent evaluation: never read


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=CLIP_TABLE_COLUMNS)
    for c in ("start_s", "end_s"):
        table[c] = table[c].astype(float)
    return table


def urbansound8k_clips(root: str | Path, folds: tuple[int, ...] = (1, 2, 3)) -> pd.DataFrame:
    """The clips of ``folds`` under ``root/foldN/`` (see the module docstring)."""
    rows = []
    for fold in folds:
        folder = Path(root) / f"fold{fold}"
        if not folder.is_dir():
            raise FileNotFoundError(f"UrbanSound8K fold folder not found: {folder}")
        for path in sorted(folder.glob("*.wav")):
            parts = path.stem.split("-")
            if len(parts) != 4 or not all(p.isdigit() for p in parts):
                raise ValueError(f"{path}: not an UrbanSound8K name (fsID-classID-occurrence-slice)")
            our = URBANSOUND8K_CLASSES.get(int(parts[1]))
            if our is None:
                continue
            rows.append(
                dict(file=path.name, path=str(path), our_class=our, dataset="UrbanSound8K",
                     group=str(fold), freesound_id=int(parts[0]), licence="CC BY-NC 3.0",
                     start_s=np.nan, end_s=np.nan)
            )
    return _table(rows)


def esc50_clips(root: str | Path, folds: tuple[int, ...] = (1, 2, 3, 5)) -> pd.DataFrame:
    """The ESC-50 clips of ``folds`` found in ``root`` (any layout below it), by their names
    ``fold-freesoundID-take-target.wav`` (see the module docstring). Fold 4 is refused."""
    if ESC50_RESERVED_FOLD in folds:
        raise ValueError("ESC-50 fold 4 is reserved for independent evaluation")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ESC-50 folder not found: {root}")
    rows = []
    for path in sorted(root.rglob("*.wav")):
        parts = path.stem.split("-")
        if len(parts) != 4 or not (parts[0] + parts[1] + parts[3]).isdigit():
            raise ValueError(f"{path}: not an ESC-50 name (fold-freesoundID-take-target)")
        fold, target = int(parts[0]), int(parts[3])
        our = ESC50_CLASSES.get(target)
        if fold not in folds or our is None:
            continue
        rows.append(
            dict(file=path.name, path=str(path), our_class=our, dataset="ESC-50", group=str(fold),
                 freesound_id=int(parts[1]), licence="CC BY-NC 3.0 (per-clip Freesound licence)",
                 start_s=np.nan, end_s=np.nan)
        )
    return _table(rows)


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def shotspotter_clips(
    root: str | Path, *, min_snr_db: float = 6.0, before_s: float = 0.5, after_s: float = 1.0
) -> pd.DataFrame:
    """One gunshot clip per sensor recording of each test under ``root`` (``FPn/test_xxx/``):
    from ``before_s`` before the first pulse with an SNR of at least ``min_snr_db`` at that
    sensor to ``after_s`` after the last one. Recordings without such a pulse are left out."""
    rows = []
    for pulses_file in sorted(Path(root).glob("FP*/test_*/*.allpulses.json")):
        pulses = json.loads(pulses_file.read_text())
        test = pulses_file.name.split(".")[0]
        for meta_file in sorted(pulses_file.parent.glob(f"{test}.audio.*.json")):
            meta = json.loads(meta_file.read_text())
            wav = meta_file.with_suffix(".wav")
            start = _utc(meta["timestamp"])
            times = [
                (_utc(p["arrival_time_utc"]) - start).total_seconds()
                for p in pulses
                if p["serial_number"] == meta["serial_number"]
                and p.get("signal_to_noise_dB", 0.0) >= min_snr_db
            ]
            if not times or not wav.exists():
                continue
            duration = sf.info(str(wav)).duration
            rows.append(
                dict(file=wav.name, path=str(wav), our_class="gunshot", dataset="ShotSpotter",
                     group=f"shotspotter:{pulses_file.parent.parent.name}", freesound_id=np.nan,
                     licence="CC BY 4.0", start_s=max(0.0, min(times) - before_s),
                     end_s=min(duration, max(times) + after_s))
            )
    return _table(rows)


def soundscape_clips(root: str | Path, dataset: str, licence: str) -> pd.DataFrame:
    """Every WAV under ``root`` as a natural background, grouped by the minute in its name
    (``..._HHMMSS.wav``; ``other`` when the name has none)."""
    rows = []
    for path in sorted(Path(root).rglob("*.wav")):
        stamp = path.stem.rsplit("_", 1)[-1]
        group = f"minute:{stamp[2:4]}" if len(stamp) == 6 and stamp.isdigit() else "other"
        rows.append(
            dict(file=path.name, path=str(path), our_class=BACKGROUND, dataset=dataset,
                 group=group, freesound_id=np.nan, licence=licence, start_s=np.nan, end_s=np.nan)
        )
    return _table(rows)


def read_clip(path: str | Path, rate: int, start_s: float = np.nan, end_s: float = np.nan
              ) -> np.ndarray:
    """A clip (a whole short file, or its ``start_s``-``end_s`` part) as mono float32 at
    ``rate`` Hz; for training and evaluation clips only."""
    with sf.SoundFile(str(path)) as f:
        first = 0 if np.isnan(start_s) else int(start_s * f.samplerate)
        stop = f.frames if np.isnan(end_s) else min(f.frames, int(np.ceil(end_s * f.samplerate)))
        f.seek(first)
        data = f.read(max(stop - first, 1), dtype="float32", always_2d=True)
        source_rate = f.samplerate
    return resample(data.mean(axis=1), source_rate, rate)
