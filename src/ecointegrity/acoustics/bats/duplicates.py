"""One detection per call: harmonics, echoes and split parts of a detected call are dropped.

A network that finds call-shaped energy finds more than calls. On real recordings the same
call comes back as

- its **harmonics**: the 2nd (and 3rd) harmonic of a call is a call-shaped sweep or tone at
  twice (three times) the frequency, starting at the same moment or lying within the call (Phyllostomids put most energy in
  the 2nd harmonic: there the fundamental is the weaker copy, at half the frequency);
- its **echoes**: a weaker copy at the same frequency, delayed by the extra path to a wall,
  the ground or foliage (about 1 to 4 ms at 0.2 to 0.7 m);
- **split parts**: the FM sweep and the quasi-constant tail of one call seen as two boxes
  overlapping in time, or a broadband sweep cut in two: its high part, then within
  half a millisecond a lower part continuing it downwards.

Each is a duplicate of the stronger detection it belongs to. Overlapping calls of *other*
bats are kept: their centre frequencies are neither the same nor a harmonic ratio apart, even
where their sweeps share part of a band. The rule is a
greedy non-maximum suppression in score order over candidate pairs close in time, so a long
recording costs time linear in its detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DuplicateRule", "duplicate_pairs", "suppress_duplicates"]


@dataclass(frozen=True)
class DuplicateRule:
    """When a weaker detection is a duplicate of a stronger one of the same recording.

    Args:
        onset_window_s: starts this close (s) make a harmonic or an echo candidate. 4 ms holds
            echoes from reflectors up to ~0.7 m away, and stays below the ~5 ms between the
            calls of a feeding buzz, the fastest a bat calls.
        harmonic_ratios: frequency ratios (higher/lower centre frequency) taken as harmonics.
        harmonic_tolerance: relative tolerance of those ratios, and of the ratio 1 that makes an
            echo (Doppler and the error of predicted boxes).
        split_overlap: share of the shorter one's duration that two detections must overlap to
            be parts of one call (sharing a band), or a harmonic within a long call.
        sweep_gap_s: a detection starting this close (s) to where an earlier one with a
            higher centre frequency ends, sharing its band, continues its downward sweep.
    """

    onset_window_s: float = 0.004
    harmonic_ratios: tuple[float, ...] = (2.0, 3.0)
    harmonic_tolerance: float = 0.1
    split_overlap: float = 0.5
    sweep_gap_s: float = 0.0005

    def __post_init__(self) -> None:
        if self.onset_window_s < 0:
            raise ValueError(f"onset_window_s must be >= 0, got {self.onset_window_s}")
        if not 0 <= self.harmonic_tolerance < 0.25:
            # wider than 25 % the ratios 1.5 and 2 (and 2 and 3) overlap: any pair is "harmonic"
            raise ValueError(
                f"harmonic_tolerance must be in [0, 0.25), got {self.harmonic_tolerance}"
            )
        if not 0 < self.split_overlap <= 1:
            raise ValueError(f"split_overlap must be in (0, 1], got {self.split_overlap}")
        if self.sweep_gap_s < 0:
            raise ValueError(f"sweep_gap_s must be >= 0, got {self.sweep_gap_s}")


def duplicate_pairs(
    start: np.ndarray,
    end: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    rule: DuplicateRule = DuplicateRule(),
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i before j in ``start`` order, of detections of one recording that
    the rule calls one call. ``start`` must be sorted."""
    n = len(start)
    if n < 2:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    # Candidates: j starts before i's horizon (the onset window, or i's end for split parts
    # and sweeps).
    horizon = start + np.maximum(rule.onset_window_s, end - start + rule.sweep_gap_s)
    last = np.searchsorted(start, horizon, side="right")  # exclusive
    counts = np.maximum(last - np.arange(n) - 1, 0)
    i = np.repeat(np.arange(n), counts)
    first_j = np.repeat(np.arange(n) + 1, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    j = first_j + offsets
    if not len(i):
        return i, j
    shared_band = np.minimum(high[i], high[j]) - np.maximum(low[i], low[j]) > 0
    shared_time = np.clip(np.minimum(end[i], end[j]) - np.maximum(start[i], start[j]), 0, None)
    shorter = np.maximum(np.minimum(end[i] - start[i], end[j] - start[j]), 1e-9)
    overlapping = shared_time / shorter > rule.split_overlap
    split = shared_band & overlapping
    # an echo or harmonic starts with its call; a long CF call's harmonics lie within it
    together = (start[j] - start[i] <= rule.onset_window_s) | overlapping
    centre_i, centre_j = (low[i] + high[i]) / 2, (low[j] + high[j]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(centre_i, centre_j) / np.minimum(centre_i, centre_j)
    # An echo has its call's band; a wide FM sweep of another bat merely overlaps it.
    related = np.abs(ratio - 1) <= rule.harmonic_tolerance
    for r in rule.harmonic_ratios:
        related |= np.abs(ratio / r - 1) <= rule.harmonic_tolerance
    # j continues i's downward sweep: it starts about where i ends, lower, in a shared band
    sweep = (
        shared_band
        & (np.abs(start[j] - end[i]) <= rule.sweep_gap_s)
        & (centre_j < centre_i)
    )
    same = split | (together & related) | sweep
    return i[same], j[same]


def suppress_duplicates(events: pd.DataFrame, rule: DuplicateRule = DuplicateRule()) -> pd.DataFrame:
    """The events without duplicates of a stronger detection of the same call (see the module
    docstring); rows keep their order. Detections without frequency bounds can only be split
    parts (overlapping in time) of another."""
    if len(events) < 2:
        return events
    keep = np.ones(len(events), bool)
    columns = ("start_time", "end_time", "low_freq", "high_freq", "score")
    all_start, all_end, all_low, all_high, all_score = (events[c].to_numpy(float) for c in columns)
    for rows in events.groupby("recording", sort=False).indices.values():
        if len(rows) < 2:
            continue
        rows = rows[np.argsort(all_start[rows], kind="stable")]
        start, end, low, high = all_start[rows], all_end[rows], all_low[rows], all_high[rows]
        unbounded = np.isnan(low) | np.isnan(high)
        low, high = np.where(unbounded, -np.inf, low), np.where(unbounded, np.inf, high)
        i, j = duplicate_pairs(start, end, low, high, rule)
        if not len(i):
            continue
        score = all_score[rows]
        # Greedy NMS: visit detections strongest first; a kept one removes its partners.
        # Neighbours as CSR over both directions of each pair.
        a, b = np.concatenate([i, j]), np.concatenate([j, i])
        by = np.argsort(a, kind="stable")
        a, b = a[by], b[by]
        bounds = np.searchsorted(a, np.arange(len(rows) + 1))
        alive = np.ones(len(rows), bool)
        for k in np.argsort(-score, kind="stable"):
            if alive[k]:
                alive[b[bounds[k] : bounds[k + 1]]] = False
                alive[k] = True
        keep[rows[~alive]] = False
    return events[keep]
