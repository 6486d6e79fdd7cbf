"""Call sequences ("passes"): the calls a bat makes while flying past the microphone, and the
one species answer per pass that surveys report.

Single calls are ambiguous (many species share a call shape); a pass holds tens of calls of
one animal, so its class probabilities, averaged with each call's detection score as weight,
are steadier than any one call's. Calls belong to one pass while the gap between the end of
one and the start of the next stays under ``max_gap_s`` (1 s by default: bats call 5 to 20
times a second while passing, and bat surveys commonly end a pass after about a second of
silence).

Two bats calling in the same seconds make one pass by this rule; their classes then share its
averaged probabilities, which the ``class_score_<class>`` columns show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PASS_SUMMARY_COLUMNS", "pass_ids", "summarise_passes"]

PASS_SUMMARY_COLUMNS = [
    "recording",
    "pass_id",
    "start_time",
    "end_time",
    "n_calls",
    "label",
    "class_score",
    "mean_score",
    "max_score",
    "median_low_freq",
    "median_high_freq",
]


def pass_ids(events: pd.DataFrame, max_gap_s: float = 1.0) -> pd.Series:
    """The pass (0, 1, ... within each recording) of every call, aligned with ``events``."""
    if max_gap_s < 0:
        raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s}")
    ids = pd.Series(np.zeros(len(events), np.int64), index=events.index)
    for _, group in events.groupby("recording", sort=False):
        group = group.sort_values("start_time", kind="stable")
        # a call's end may lie past the next call's start (overlaps): the pass's end so far
        reach = group["end_time"].cummax().shift(fill_value=-np.inf)
        starts_new = group["start_time"].to_numpy() - reach.to_numpy() > max_gap_s
        ids[group.index] = np.cumsum(starts_new) - 1  # the first call always starts one
    return ids


def summarise_passes(
    events: pd.DataFrame, *, max_gap_s: float = 1.0, min_calls: int = 1
) -> pd.DataFrame:
    """One row per pass (:data:`PASS_SUMMARY_COLUMNS`, then the mean ``class_score_<class>``
    of its calls when the events carry them).

    ``label`` is the class with the highest score-weighted mean probability over the pass's
    calls and ``class_score`` that mean; without per-class columns, the label with the largest
    summed detection score and its share of the sum. Passes of fewer than ``min_calls`` calls
    are left out (2 or 3 is common to drop lone calls)."""
    if min_calls < 1:
        raise ValueError(f"min_calls must be >= 1, got {min_calls}")
    class_columns = [c for c in events.columns if c.startswith("class_score_")]
    if events.empty:
        return pd.DataFrame(columns=PASS_SUMMARY_COLUMNS + class_columns)
    table = events.assign(pass_id=pass_ids(events, max_gap_s))
    weight = table["score"].astype(float).clip(lower=1e-6)
    keys = ["recording", "pass_id"]
    grouped = table.assign(_w=weight).groupby(keys, sort=True)
    summary = grouped.agg(
        start_time=("start_time", "min"),
        end_time=("end_time", "max"),
        n_calls=("start_time", "size"),
        mean_score=("score", "mean"),
        max_score=("score", "max"),
        median_low_freq=("low_freq", "median"),
        median_high_freq=("high_freq", "median"),
    )
    if class_columns:
        weighted = table[class_columns].mul(weight, axis=0).groupby([table[k] for k in keys])
        probs = weighted.sum().div(weight.groupby([table[k] for k in keys]).sum(), axis=0)
        best = probs.to_numpy().argmax(axis=1)
        summary["label"] = [class_columns[k].removeprefix("class_score_") for k in best]
        summary["class_score"] = probs.to_numpy()[np.arange(len(best)), best]
        summary = summary.join(probs)
    else:
        votes = weight.groupby([table[k] for k in keys + ["label"]]).sum()
        share = votes / votes.groupby(level=keys).transform("sum")
        top = share.groupby(level=keys).idxmax()
        summary["label"] = [t[-1] for t in top]
        summary["class_score"] = share.loc[list(top)].to_numpy()
    summary = summary.reset_index()
    summary = summary[summary["n_calls"] >= min_calls]
    return summary[PASS_SUMMARY_COLUMNS + class_columns].reset_index(drop=True)
