"""Clip-level scores of held-out clips and the per-class thresholds tuned on them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .detector import AnthropogenicDetector
from .sources import read_clip

__all__ = ["clip_scores", "tune_thresholds"]


def clip_scores(
    det: AnthropogenicDetector, clips: pd.DataFrame, *, segment_s: float = 5.0
) -> pd.DataFrame:
    """One row per clip (file, our_class, group) with each class's best window score. A clip
    longer than ``segment_s`` + 1 s is cut into ``segment_s`` segments first, so one long
    capture does not count as one example."""
    rows = []
    for clip in clips.itertuples():
        rate = det.sample_rate
        audio = read_clip(
            clip.path, rate, getattr(clip, "start_s", np.nan), getattr(clip, "end_s", np.nan)
        )
        seg = int(segment_s * rate) if len(audio) > (segment_s + 1) * rate else len(audio)
        for i in range(0, len(audio) - seg + 1, seg):
            best = det.predict_windows(audio[i : i + seg], rate)[det.classes].max()
            rows.append(
                {
                    "file": clip.file,
                    "our_class": clip.our_class,
                    "group": clip.group,
                    **best.to_dict(),
                }
            )
    return pd.DataFrame(rows)


def tune_thresholds(
    scores: pd.DataFrame,
    classes: Sequence[str],
    *,
    default: float = 0.5,
    grid: Sequence[float] = tuple(np.round(np.arange(0.1, 0.951, 0.05), 2)),
    min_positives: int = 1,
) -> dict[str, float]:
    """Per class, the grid threshold with the best F1 on ``scores`` (from ``clip_scores`` of
    clips the model was not trained on); ties go to the threshold nearest ``default``, and a
    class with fewer than ``min_positives`` positives keeps ``default`` (a best F1 over a
    handful of clips is noise)."""
    from sklearn.metrics import f1_score

    out = {}
    for c in classes:
        y = (scores.our_class == c).to_numpy()
        if y.sum() < max(min_positives, 1):
            out[c] = default
            continue
        s = scores[c].to_numpy()
        best = max(grid, key=lambda t: (f1_score(y, s >= t, zero_division=0), -abs(t - default)))
        out[c] = float(best)
    return out
