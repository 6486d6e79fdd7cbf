"""Cross-fitted clip scores: every training clip scored by a model that never saw its
recording, so thresholds can be tuned on all the data instead of a small validation part.

The recipe of scikit-learn's ``TunedThresholdClassifierCV``: the training clips are cut into
``folds`` parts, a model is trained on all parts but one and scores the one left out; the
pooled out-of-fold scores choose the thresholds (``tune_thresholds``) for the model trained on
everything. Parts keep whole recordings together (all slices of one Freesound recording, one
firing position, one speaker, one soundscape slot): slices of one recording are near copies,
and a model that trained on a slice would score its sibling too well.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from .sources import OTHER
from .thresholds import clip_scores
from .training import train_anthropogenic

__all__ = ["cross_fitted_scores", "recording_parts"]


def recording_parts(clips: pd.DataFrame, folds: int) -> np.ndarray:
    """The part (0 .. ``folds``-1) of each clip: a stable hash of its recording, the Freesound
    id where it has one, else its source group."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, not {folds}")
    ids = clips["freesound_id"] if "freesound_id" in clips else pd.Series(np.nan, clips.index)
    keys = [
        f"freesound:{int(fs)}" if pd.notna(fs) else f"group:{group}"
        for fs, group in zip(ids, clips["group"].astype(str), strict=True)
    ]
    return np.array([zlib.crc32(k.encode()) % folds for k in keys])


def cross_fitted_scores(
    train_clips: pd.DataFrame, folds: int = 2, *, segment_s: float = 5.0, **train_args: Any
) -> pd.DataFrame:
    """``clip_scores`` of every event and background clip of ``train_clips``, each from a model
    (``train_anthropogenic(**train_args)``) trained on the other parts; a ``part`` column says
    which. Distractor (``other``) clips train but are not scored: they have no class."""
    parts = recording_parts(train_clips, folds)
    scored = []
    for part in range(folds):
        model = train_anthropogenic(train_clips[parts != part], **train_args)
        held = train_clips[(parts == part) & (train_clips.our_class != OTHER)]
        scores = clip_scores(model, held, segment_s=segment_s)
        scored.append(scores.assign(part=part))
    return pd.concat(scored, ignore_index=True)
