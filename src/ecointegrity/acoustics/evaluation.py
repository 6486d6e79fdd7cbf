"""Detection and classification evaluation of sound events (any format `read_events` reads).

Matching follows batdetect2's evaluation: an event is found when a prediction's start time
lies within ``tolerance_s`` (10 ms) of a true event's start in the same recording. Predictions
are taken greedily by descending score; each takes the *closest still-unmatched* true event
within tolerance, and each true event is matched at most once. (batdetect2 1.x looks only at
the closest true event and counts the prediction as a false alarm if that one is taken; ours
may fall back to the next one within tolerance, which only matters for calls < 20 ms apart.)

Average precision (AP) is the area under the *interpolated* precision-recall curve, as in
PASCAL VOC 2010+ ("all points") and batdetect2: the curve has one point per distinct score
(every prediction scoring at least that much counts), precision at recall r is replaced by the
best precision at any recall >= r (a monotone envelope), and AP = sum over points of
(recall step) x (interpolated precision). This is *not* scikit-learn's
``average_precision_score``, which does not interpolate and so is lower on the same data.
True events never matched count in recall's denominator, so AP < 1 when they exist.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_path, json_ready
from .io.event_table import validate_events

__all__ = [
    "MATCH_COLUMNS",
    "EvaluationReport",
    "match_events",
    "precision_recall_curve",
    "average_precision",
    "evaluate",
    "plot_precision_recall",
]

MATCH_COLUMNS = [
    "recording",
    "pred_index",
    "truth_index",
    "score",
    "pred_label",
    "truth_label",
    "pred_start",
    "truth_start",
    "offset_s",
    "tp",
]
MISSED = "missed"
_CURVE = ("threshold", "precision", "recall")
FALSE_ALARM = "false alarm"


# --------------------------------------------------------------------------- matching


def _nearest_free(starts: np.ndarray, taken: np.ndarray, t: float, tolerance: float) -> int:
    """Index of the unmatched start closest to ``t`` within ``tolerance``, or -1.

    ``starts`` is sorted, so only the tolerance window is scanned; ties go to the earlier
    event, which keeps the result independent of input order.
    """
    best, best_offset = -1, math.inf
    i = int(np.searchsorted(starts, t - tolerance, side="left"))
    while i < len(starts) and starts[i] <= t + tolerance:
        offset = abs(starts[i] - t)
        if not taken[i] and offset <= tolerance and offset < best_offset:
            best, best_offset = i, offset
        i += 1
    return best


def _file_name(recording: str) -> str:
    return recording.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _align_recordings(pred: pd.DataFrame, true: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detections name recordings by path (``/data/site3/rec.wav``), annotations often by file
    name (``rec.wav``): when no name is shared as is but file names are (and are unique on
    both sides), match by file name."""
    p_names, t_names = set(pred.recording), set(true.recording)
    if not p_names or not t_names or p_names & t_names:
        return pred, true
    p_files = {_file_name(r) for r in p_names}
    t_files = {_file_name(r) for r in t_names}
    if len(p_files) < len(p_names) or len(t_files) < len(t_names) or not p_files & t_files:
        return pred, true
    return (pred.assign(recording=pred.recording.map(_file_name)),
            true.assign(recording=true.recording.map(_file_name)))


def _match_keys(df: pd.DataFrame, same_recording: bool) -> pd.Series:
    return df.recording if same_recording else pd.Series("", index=df.index)


def match_events(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    tolerance_s: float = 0.01,
    same_recording: bool = True,
) -> pd.DataFrame:
    """Match predicted events to true events by start time, greedily by descending score.

    Args:
        predictions: predicted events (an event table; ``score`` ranks them).
        truth: true events (an event table).
        tolerance_s: largest |prediction start - true start| of a match, seconds.
        same_recording: match only within a recording (else across the whole table).

    Returns:
        One row per prediction, in matching order (score descending, ties in input order),
        then one row per true event left unmatched; columns `MATCH_COLUMNS`: ``pred_index``
        and ``truth_index`` are row positions in the validated inputs (<NA> where absent),
        ``offset_s`` is prediction start - true start, ``tp`` is True for matched pairs.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    pred, true = validate_events(predictions), validate_events(truth)
    if same_recording:
        pred, true = _align_recordings(pred, true)
    order = np.argsort(-pred.score.to_numpy(), kind="stable")
    matched_truth = _greedy_match(pred, true, order, tolerance_s, same_recording)
    out_pred = _prediction_rows(pred, true, order, matched_truth[order])
    out_missed = _missed_rows(true.drop(index=matched_truth[matched_truth >= 0]))
    parts = [p for p in (out_pred, out_missed) if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else out_pred
    out["offset_s"] = out.pred_start - out.truth_start
    out["tp"] = out.tp.astype(bool)
    for col in ("pred_label", "truth_label", "recording"):
        out[col] = out[col].astype(object)
    return out[MATCH_COLUMNS]


def _greedy_match(pred: pd.DataFrame, true: pd.DataFrame, order: np.ndarray, tolerance_s: float,
                  same_recording: bool) -> np.ndarray:
    """Row of ``true`` matched by each prediction (-1: none), predictions taken in ``order``."""
    groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for rec, g in true.groupby(_match_keys(true, same_recording), sort=False):
        by_start = np.argsort(g.start_time.to_numpy(), kind="stable")
        starts, index = g.start_time.to_numpy()[by_start], g.index.to_numpy()[by_start]
        groups[rec] = (starts, index, np.zeros(len(g), bool))

    pred_keys = _match_keys(pred, same_recording).to_numpy()
    pred_starts = pred.start_time.to_numpy()
    matched_truth = np.full(len(pred), -1)
    for i in order:
        group = groups.get(pred_keys[i])
        if group is None:
            continue
        starts, index, taken = group
        j = _nearest_free(starts, taken, float(pred_starts[i]), tolerance_s)
        if j >= 0:
            taken[j] = True
            matched_truth[i] = index[j]
    return matched_truth


def _prediction_rows(pred: pd.DataFrame, true: pd.DataFrame, order: np.ndarray,
                     t_idx: np.ndarray) -> pd.DataFrame:
    """One row per prediction in matching order; ``t_idx`` its matched true row or -1."""
    rows_pred = pred.iloc[order]
    hit = t_idx >= 0
    t_rows = true.reindex(np.where(hit, t_idx, -1))
    out = pd.DataFrame({
        "recording": rows_pred.recording.to_numpy(),
        "pred_index": pd.array(order, dtype="Int64"),
        "truth_index": pd.array(np.where(hit, t_idx, 0), dtype="Int64"),
        "score": rows_pred.score.to_numpy(),
        "pred_label": rows_pred.label.to_numpy(dtype=object),
        "truth_label": np.where(hit, t_rows.label.to_numpy(dtype=object), None),
        "pred_start": rows_pred.start_time.to_numpy(),
        "truth_start": np.where(hit, t_rows.start_time.to_numpy(), np.nan),
        "tp": hit,
    })
    out.loc[~hit, "truth_index"] = pd.NA
    return out


def _missed_rows(missed: pd.DataFrame) -> pd.DataFrame:
    """One row per true event no prediction matched."""
    return pd.DataFrame({
        "recording": missed.recording.to_numpy(),
        "pred_index": pd.array([pd.NA] * len(missed), dtype="Int64"),
        "truth_index": pd.array(missed.index.to_numpy(), dtype="Int64"),
        "score": np.nan,
        "pred_label": None,
        "truth_label": missed.label.to_numpy(dtype=object),
        "pred_start": np.nan,
        "truth_start": missed.start_time.to_numpy(),
        "tp": False,
    })


# --------------------------------------------------------------------------- precision / recall


def _n_truth(matches: pd.DataFrame) -> int:
    return int(matches.truth_index.notna().sum())


def precision_recall_curve(matches: pd.DataFrame) -> pd.DataFrame:
    """Precision and recall at every distinct prediction score, from `match_events` output.

    Args:
        matches: the output of `match_events`.

    Returns:
        Columns ``threshold`` (descending), ``precision``, ``recall``, ``tp``, ``fp``: counts
        over predictions scoring >= threshold. Recall is NaN without true events.
    """
    preds = matches[matches.pred_index.notna()]
    n_truth = _n_truth(matches)
    if preds.empty:
        floats = {c: pd.Series(dtype=float) for c in ("threshold", "precision", "recall")}
        return pd.DataFrame(floats | {c: pd.Series(dtype=int) for c in ("tp", "fp")})
    by_score = preds.groupby("score", sort=True).tp.agg(["sum", "count"]).iloc[::-1]
    tp = by_score["sum"].cumsum().to_numpy()
    fp = by_score["count"].cumsum().to_numpy() - tp
    recall = tp / n_truth if n_truth else np.full(len(tp), np.nan)
    return pd.DataFrame({
        "threshold": by_score.index.to_numpy(dtype=float),
        "precision": tp / (tp + fp),
        "recall": recall,
        "tp": tp.astype(int),
        "fp": fp.astype(int),
    })


def _ap_from_curve(curve: pd.DataFrame, n_truth: int) -> float:
    if n_truth == 0:
        return math.nan
    if curve.empty:
        return 0.0
    recall = np.concatenate([[0.0], curve.recall.to_numpy()])
    envelope = np.maximum.accumulate(curve.precision.to_numpy()[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope))


def average_precision(matches: pd.DataFrame) -> float:
    """Average precision (VOC all-point interpolated) of `match_events` output.

    Args:
        matches: the output of `match_events`; its unmatched true events count in recall.

    Returns:
        AP in [0, 1]; NaN when there are no true events, 0.0 when there are no predictions.
    """
    return _ap_from_curve(precision_recall_curve(matches), _n_truth(matches))


# --------------------------------------------------------------------------- report


@dataclass
class EvaluationReport:
    """Detection and classification scores of one set of predictions against the truth.

    Attributes:
        detection_ap: class-agnostic AP (labels ignored, ranked by ``score``).
        precision, recall, f1: class-agnostic, over predictions with score >= ``threshold``.
        threshold, tolerance_s: the operating point and the matching tolerance used.
        n_truth, n_predictions: true events; predictions (all scores).
        tp, fp, fn: matched predictions, unmatched predictions and missed true events at the
            threshold.
        per_class_ap: AP per class, predictions of that label scored by
            ``score * class_score`` against true events of that label (NaN class_score
            counts as 1); NaN for a class without true events.
        class_counts: true events per class.
        mean_ap: mean of ``per_class_ap`` over classes with true events (NaN if none).
        classification_accuracy: share of matched pairs at the threshold whose labels agree.
        duplicate_rate: detections per matched true event at the threshold: predictions above
            it starting within tolerance of a true event that one of them matched, divided by
            those events (1.0 when each call is reported once; harmonics and echoes reported
            as calls raise it).
        confusion: true label x predicted label over matched pairs at the threshold, a
            ``"missed"`` column (true events without a match) and a ``"false alarm"`` row
            (unmatched predictions, by predicted label).
        pr_curve: class-agnostic ``threshold``, ``precision``, ``recall`` (+ ``tp``, ``fp``).
        name: label of these predictions in summaries and plots.
    """

    detection_ap: float
    precision: float
    recall: float
    f1: float
    threshold: float
    tolerance_s: float
    n_truth: int
    n_predictions: int
    tp: int
    fp: int
    fn: int
    per_class_ap: dict[str, float]
    class_counts: dict[str, int]
    mean_ap: float
    classification_accuracy: float
    duplicate_rate: float
    confusion: pd.DataFrame = field(repr=False)
    pr_curve: pd.DataFrame = field(repr=False)
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None; confusion as rows/columns/counts, curve as lists)."""
        scalars = {k: getattr(self, k) for k in (
            "name", "detection_ap", "precision", "recall", "f1", "threshold", "tolerance_s",
            "n_truth", "n_predictions", "tp", "fp", "fn", "mean_ap", "classification_accuracy",
            "duplicate_rate")}
        return json_ready({
            **scalars,
            "per_class_ap": dict(self.per_class_ap),
            "class_counts": dict(self.class_counts),
            "confusion": {
                "rows": [str(i) for i in self.confusion.index],
                "columns": [str(c) for c in self.confusion.columns],
                "counts": self.confusion.to_numpy().tolist(),
            },
            "pr_curve": {c: self.pr_curve[c].tolist() for c in _CURVE},
        })

    def summary(self) -> str:
        """A plain-text table of the scores."""
        def f(x: float) -> str:
            return "   n/a" if x is None or math.isnan(x) else f"{x:6.3f}"

        title = f"{self.name}: " if self.name else ""
        lines = [
            f"{title}detection AP {f(self.detection_ap)}   at score >= {self.threshold:g}: "
            f"precision {f(self.precision)}  recall {f(self.recall)}  F1 {f(self.f1)}",
            f"truth {self.n_truth}  predictions {self.n_predictions}  TP {self.tp}  FP {self.fp}  "
            f"FN {self.fn}  (tolerance {self.tolerance_s * 1000:g} ms)  "
            f"detections per matched event {f(self.duplicate_rate)}",
        ]
        if self.per_class_ap:
            width = max(12, *(len(c) for c in self.per_class_ap))
            lines.append(f"{'class':<{width}}  n_truth      AP")
            for cls, ap in self.per_class_ap.items():
                lines.append(f"{cls:<{width}}  {self.class_counts.get(cls, 0):7d}  {f(ap)}")
            lines.append(f"{'mean AP':<{width}}           {f(self.mean_ap)}")
            accuracy = f(self.classification_accuracy)
            lines.append(f"classification accuracy of matched events {accuracy}")
        return "\n".join(lines)


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall):
        return math.nan
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _confusion(matches: pd.DataFrame, threshold: float) -> pd.DataFrame:
    above = matches.pred_index.notna() & (matches.score >= threshold)
    pairs = matches[above & matches.tp]
    false_alarms = matches[above & ~matches.tp]
    # a true event is missed at this threshold unless a prediction above it matched it
    missed = matches[matches.truth_index.notna() & ~(above & matches.tp)]
    truth_labels = sorted(set(matches.truth_label.dropna()))
    pred_labels = sorted(set(matches.pred_label.dropna()))
    rows = truth_labels + [FALSE_ALARM]
    cols = sorted(set(truth_labels) | set(pred_labels)) + [MISSED]
    index, columns = pd.Index(rows, name="truth"), pd.Index(cols, name="predicted")
    table = pd.DataFrame(0, index=index, columns=columns)
    for (t, p), n in pairs.groupby(["truth_label", "pred_label"]).size().items():
        table.loc[t, p] = n
    for p, n in false_alarms.groupby("pred_label").size().items():
        table.loc[FALSE_ALARM, p] = n
    for t, n in missed.groupby("truth_label").size().items():
        table.loc[t, MISSED] = n
    return table


def _duplicate_rate(
    pred: pd.DataFrame, true: pd.DataFrame, matched: pd.Index, threshold: float, tolerance_s: float
) -> float:
    if not len(matched):
        return math.nan
    above = pred[pred.score >= threshold]
    hits = 0
    for recording, calls in true.loc[matched].groupby("recording"):
        starts = np.sort(above.loc[above.recording == recording, "start_time"].to_numpy())
        t = calls["start_time"].to_numpy()
        hits += int(
            (
                np.searchsorted(starts, t + tolerance_s, side="right")
                - np.searchsorted(starts, t - tolerance_s, side="left")
            ).sum()
        )
    return hits / len(matched)


def _class_ap(pred: pd.DataFrame, truth: pd.DataFrame, cls: str, tolerance_s: float) -> float:
    p = pred[pred.label == cls].copy()
    p["score"] = p.score * p.class_score.fillna(1.0)
    return average_precision(match_events(p, truth[truth.label == cls], tolerance_s=tolerance_s))


def evaluate(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    threshold: float = 0.5,
    tolerance_s: float = 0.01,
    classes: Sequence[str] | None = None,
    name: str | None = None,
) -> EvaluationReport:
    """Score predicted events against true events.

    The truth is taken as exhaustive: every prediction without a true event within tolerance
    is a false alarm, also in recordings absent from ``truth``; keep only annotated recordings
    (``predictions[predictions.recording.isin(truth.recording)]``) to score those alone.

    Args:
        predictions: predicted events (any format read by `read_events`).
        truth: true events, same recording ids as the predictions (or the same file names,
            when the predictions carry paths and the truth file names).
        threshold: detection score at which precision, recall, F1 and the confusion table are
            taken.
        tolerance_s: largest start-time difference of a match, seconds (batdetect2: 10 ms).
        classes: classes for per-class AP; default every label in ``truth``.
        name: label of the predictions in summaries and plots.

    Returns:
        An `EvaluationReport`.
    """
    pred, true = _align_recordings(validate_events(predictions), validate_events(truth))
    matches = match_events(pred, true, tolerance_s=tolerance_s)
    curve = precision_recall_curve(matches)
    is_pred = matches.pred_index.notna()
    above = is_pred & (matches.score >= threshold)
    tp = int((above & matches.tp).sum())
    fp = int((above & ~matches.tp).sum())
    fn = len(true) - tp
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, len(true))
    f1 = _f1(precision, recall)
    pairs = matches[above & matches.tp]
    accuracy = _ratio(int((pairs.pred_label == pairs.truth_label).sum()), len(pairs))
    matched = pd.Index(pairs.truth_index.astype(int).unique())
    duplicates = _duplicate_rate(pred, true, matched, threshold, tolerance_s)

    class_list = list(classes) if classes is not None else sorted(set(true.label))
    counts = {c: int((true.label == c).sum()) for c in class_list}
    per_class = {c: _class_ap(pred, true, c, tolerance_s) for c in class_list}
    valid = [ap for c, ap in per_class.items() if counts[c] > 0]
    return EvaluationReport(
        detection_ap=_ap_from_curve(curve, len(true)),
        precision=precision,
        recall=recall,
        f1=f1,
        threshold=threshold,
        tolerance_s=tolerance_s,
        n_truth=len(true),
        n_predictions=len(pred),
        tp=tp,
        fp=fp,
        fn=fn,
        per_class_ap=per_class,
        class_counts=counts,
        mean_ap=float(np.mean(valid)) if valid else math.nan,
        classification_accuracy=accuracy,
        duplicate_rate=duplicates,
        confusion=_confusion(matches, threshold),
        pr_curve=curve,
        name=name,
    )


# --------------------------------------------------------------------------- plot


Reports = EvaluationReport | Sequence[EvaluationReport] | Mapping[str, EvaluationReport]


def _labelled(reports: Reports) -> list[tuple[str, EvaluationReport]]:
    if isinstance(reports, EvaluationReport):
        return [(reports.name or "predictions", reports)]
    if isinstance(reports, Mapping):
        return [(str(k), v) for k, v in reports.items()]
    return [(r.name or f"run {i + 1}", r) for i, r in enumerate(reports)]


def plot_precision_recall(
    report_or_reports: Reports,
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Draw precision-recall curves into a PNG (written atomically).

    Each curve is drawn as the interpolated (monotone) precision that AP integrates, with its
    operating point at the report's threshold marked.

    Args:
        report_or_reports: one report, several (labelled by ``name``), or a mapping
            label -> report.
        path: destination ``.png``.
        title: plot title; default "Precision-recall".

    Returns:
        ``path`` as a Path.
    """
    # Figure + Agg canvas, not pyplot: no global state, safe in servers and threads
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, report in _labelled(report_or_reports):
        curve = report.pr_curve
        if curve.empty or curve.recall.isna().all():
            ax.plot([], [], label=f"{label} (no curve)")
            continue
        envelope = np.maximum.accumulate(curve.precision.to_numpy()[::-1])[::-1]
        recall = np.concatenate([[0.0], curve.recall.to_numpy()])
        precision = np.concatenate([[envelope[0]], envelope])
        name = f"{label} (AP {report.detection_ap:.3f})"
        (line,) = ax.step(recall, precision, where="pre", label=name)
        if not (math.isnan(report.precision) or math.isnan(report.recall)):
            ax.plot([report.recall], [report.precision], "o", color=line.get_color())
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=title or "Precision-recall")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    dest = Path(path)
    with atomic_path(dest, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return dest
