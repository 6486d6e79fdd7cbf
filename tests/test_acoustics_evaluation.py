"""Event matching, average precision, per-class scores and the precision-recall plot."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import require_data

from ecointegrity.acoustics.evaluation import (
    MATCH_COLUMNS,
    EvaluationReport,
    average_precision,
    evaluate,
    match_events,
    plot_precision_recall,
    precision_recall_curve,
)
from ecointegrity.acoustics.io import read_events

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def events(*rows: tuple, recording: str = "r.wav") -> pd.DataFrame:
    """Events from (start, label, score[, class_score[, recording]]) tuples; 5 ms long."""
    out = []
    for row in rows:
        start, label, score, *rest = row
        class_score = rest[0] if rest else np.nan
        rec = rest[1] if len(rest) > 1 else recording
        out.append({"recording": rec, "start_time": start, "end_time": start + 0.005,
                    "low_freq": 20000.0, "high_freq": 60000.0, "label": label, "score": score,
                    "class_score": class_score, "model": "m", "model_version": "1"})
    return pd.DataFrame(out)


def truth(*starts_labels: tuple, recording: str = "r.wav") -> pd.DataFrame:
    return pd.DataFrame({
        "recording": recording,
        "start_time": [s for s, _ in starts_labels],
        "end_time": [s + 0.005 for s, _ in starts_labels],
        "label": [label for _, label in starts_labels],
    })


# --------------------------------------------------------------------------- matching


def test_perfect_predictions():
    t = truth((0.1, "a"), (0.2, "a"), (0.3, "b"))
    p = events((0.1, "a", 0.9), (0.2, "a", 0.8), (0.3, "b", 0.7))
    report = evaluate(p, t)
    assert report.detection_ap == 1.0
    assert (report.precision, report.recall, report.f1) == (1.0, 1.0, 1.0)
    assert report.per_class_ap == {"a": 1.0, "b": 1.0} and report.mean_ap == 1.0
    assert (report.tp, report.fp, report.fn) == (3, 0, 0)
    assert report.classification_accuracy == 1.0


def test_half_false_alarms_at_high_score():
    t = truth((0.1, "a"), (0.2, "a"))
    p = events((0.5, "a", 0.9), (0.6, "a", 0.8), (0.1, "a", 0.7), (0.2, "a", 0.6))
    report = evaluate(p, t)
    # PR points (p, r): (0, 0) (0, 0) (1/3, .5) (.5, 1); envelope .5 over the whole recall:
    # AP = .5 * .5 + .5 * .5. Without interpolation (scikit-learn) it would be .4167
    assert report.detection_ap == pytest.approx(0.5)
    assert (report.precision, report.recall) == (0.5, 1.0)
    assert report.f1 == pytest.approx(2 / 3)
    curve = report.pr_curve
    assert curve.threshold.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert curve.precision.tolist() == pytest.approx([0, 0, 1 / 3, 0.5])
    assert curve.recall.tolist() == [0, 0, 0.5, 1.0]


@pytest.mark.parametrize("offset, matched", [(0.009, True), (-0.009, True), (0.011, False),
                                             (-0.011, False)])
def test_tolerance_edge(offset, matched):
    t = truth((0.5, "a"))
    p = events((0.5 + offset, "a", 0.9))
    m = match_events(p, t)
    assert bool(m.tp.iloc[0]) is matched
    assert evaluate(p, t).detection_ap == (1.0 if matched else 0.0)


def test_custom_tolerance():
    t, p = truth((0.5, "a")), events((0.53, "a", 0.9))
    assert not match_events(p, t).tp.any()
    assert match_events(p, t, tolerance_s=0.05).tp.iloc[0]


def test_greedy_higher_score_wins_even_if_farther():
    t = truth((0.100, "a"))
    p = events((0.1001, "a", 0.5), (0.105, "a", 0.9))
    m = match_events(p, t)
    assert m.pred_index.tolist()[:2] == [1, 0]  # matching order: score descending
    assert m.tp.tolist() == [True, False]
    assert m.offset_s.iloc[0] == pytest.approx(0.005)
    report = evaluate(p, t)
    assert report.detection_ap == 1.0  # the false alarm comes after full recall
    assert (report.precision, report.recall) == (0.5, 1.0)


def test_greedy_falls_back_to_next_unmatched_truth():
    t = truth((0.100, "a"), (0.108, "a"))
    # X takes the closer 0.108; Y's closest (0.108) is taken, so it takes 0.100 (7 ms away)
    p = events((0.105, "a", 0.9), (0.107, "a", 0.8))
    m = match_events(p, t)
    assert m.tp.tolist() == [True, True]
    assert m.truth_start.tolist() == [0.108, 0.100]
    assert evaluate(p, t).detection_ap == 1.0


def test_each_truth_matched_once():
    t = truth((0.1, "a"))
    p = events((0.1, "a", 0.9), (0.1, "a", 0.8), (0.1, "a", 0.7))
    m = match_events(p, t)
    assert m.tp.sum() == 1 and m.truth_index.notna().sum() == 1


def test_recordings_are_kept_apart():
    t = truth((0.1, "a"), recording="one.wav")
    p = events((0.1, "a", 0.9, np.nan, "two.wav"))
    assert not match_events(p, t).tp.any()
    assert match_events(p, t, same_recording=False).tp.all()


def test_match_table_lists_missed_truth():
    t = truth((0.1, "a"), (0.2, "b"), (0.3, "a"))
    p = events((0.2, "b", 0.9), (0.9, "a", 0.4))
    m = match_events(p, t)
    assert list(m.columns) == MATCH_COLUMNS
    assert len(m) == 4  # 2 predictions + 2 missed truth
    missed = m[m.pred_index.isna()]
    assert missed.truth_start.tolist() == [0.1, 0.3] and missed.score.isna().all()
    assert not missed.tp.any()


# --------------------------------------------------------------------------- AP details


def test_unmatched_truth_limits_recall_and_ap():
    t = truth((0.1, "a"), (0.2, "a"), (0.3, "a"), (0.4, "a"))
    p = events((0.1, "a", 0.9), (0.2, "a", 0.8))
    assert average_precision(match_events(p, t)) == pytest.approx(0.5)
    report = evaluate(p, t)
    assert (report.recall, report.fn) == (0.5, 2)


def test_tied_scores_are_one_threshold():
    t = truth((0.1, "a"), (0.2, "a"))
    one = events((0.1, "a", 0.8), (0.5, "a", 0.8), (0.2, "a", 0.8))
    other = events((0.5, "a", 0.8), (0.2, "a", 0.8), (0.1, "a", 0.8))
    for p in (one, other):
        curve = precision_recall_curve(match_events(p, t))
        assert curve.threshold.tolist() == [0.8]
        assert average_precision(match_events(p, t)) == pytest.approx(2 / 3)


def test_edge_cases_without_truth_or_predictions():
    t, p = truth((0.1, "a")), events((0.1, "a", 0.9))
    assert math.isnan(average_precision(match_events(p, t.iloc[:0])))
    assert average_precision(match_events(p.iloc[:0], t)) == 0.0
    empty = evaluate(p.iloc[:0], t)
    assert empty.detection_ap == 0.0 and math.isnan(empty.precision) and empty.recall == 0.0
    assert empty.confusion.loc["a", "missed"] == 1


# --------------------------------------------------------------------------- classes


def test_per_class_ap_and_confusion():
    t = truth((0.1, "A"), (0.2, "A"), (0.3, "B"))
    p = events((0.1, "A", 0.9, 1.0), (0.2, "B", 0.8, 1.0), (0.3, "B", 0.7, 1.0),
               (0.5, "A", 0.6, 1.0))
    report = evaluate(p, t, threshold=0.5)
    assert report.detection_ap == pytest.approx(1.0)  # 3 hits, then the false alarm
    # A: hit (.9) then false alarm (.6), 1 of 2 truths -> AP .5
    # B: false alarm (.8, the misclassified A) then hit (.7) -> envelope .5 over recall 1
    assert report.per_class_ap == pytest.approx({"A": 0.5, "B": 0.5})
    assert report.mean_ap == pytest.approx(0.5)
    assert report.class_counts == {"A": 2, "B": 1}
    assert report.classification_accuracy == pytest.approx(2 / 3)
    c = report.confusion
    assert list(c.index) == ["A", "B", "false alarm"]
    assert list(c.columns) == ["A", "B", "missed"]
    assert c.loc["A"].tolist() == [1, 1, 0]
    assert c.loc["B"].tolist() == [0, 1, 0]
    assert c.loc["false alarm"].tolist() == [1, 0, 0]


def test_confusion_counts_truth_matched_below_threshold_as_missed():
    t = truth((0.1, "A"), (0.2, "A"))
    p = events((0.1, "A", 0.9), (0.2, "A", 0.3))
    report = evaluate(p, t, threshold=0.5)
    assert report.confusion.loc["A", "A"] == 1 and report.confusion.loc["A", "missed"] == 1
    assert (report.tp, report.fp, report.fn) == (1, 0, 1)


def test_class_score_ranks_per_class_predictions():
    t = truth((0.1, "A"))
    # by score alone the false alarm comes first (AP .5); by score * class_score the hit does
    p = events((0.5, "A", 0.9, 0.2), (0.1, "A", 0.8, 0.9))
    report = evaluate(p, t)
    assert report.detection_ap == pytest.approx(0.5)
    assert report.per_class_ap["A"] == pytest.approx(1.0)


def test_classes_argument_and_nan_for_absent_classes():
    t = truth((0.1, "A"))
    p = events((0.1, "A", 0.9))
    report = evaluate(p, t, classes=["A", "C"])
    assert report.per_class_ap["A"] == 1.0 and math.isnan(report.per_class_ap["C"])
    assert report.mean_ap == 1.0  # classes without truth do not count


# --------------------------------------------------------------------------- report


def test_report_to_dict_is_json_and_summary_is_readable():
    t = truth((0.1, "Myotis"), (0.2, "Pipistrellus"))
    p = events((0.1, "Myotis", 0.9, 0.8), (0.7, "Pipistrellus", 0.6, 0.5))
    report = evaluate(p, t, name="run-1", classes=["Myotis", "Pipistrellus", "Nyctalus"])
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["per_class_ap"]["Nyctalus"] is None
    assert d["confusion"]["rows"][-1] == "false alarm" and d["confusion"]["columns"][-1] == "missed"
    assert d["pr_curve"]["threshold"] == [0.9, 0.6]
    assert d["name"] == "run-1" and d["n_truth"] == 2 and d["n_predictions"] == 2
    s = report.summary()
    assert "run-1" in s and "detection AP" in s and "Pipistrellus" in s and "mean AP" in s
    assert "n/a" in s  # Nyctalus has no truth


# --------------------------------------------------------------------------- plot


def _check_png(path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_plot_one_and_several_reports(tmp_path):
    t = truth((0.1, "a"), (0.2, "a"), (0.3, "a"))
    good = evaluate(events((0.1, "a", 0.9), (0.2, "a", 0.8), (0.3, "a", 0.7)), t, name="good")
    poor = evaluate(events((0.6, "a", 0.9), (0.2, "a", 0.5)), t, name="poor")
    empty = evaluate(events((0.1, "a", 0.9)), t.iloc[:0])
    one = plot_precision_recall(good, tmp_path / "one.png", title="Bats")
    _check_png(one)
    _check_png(plot_precision_recall([good, poor, empty], tmp_path / "many.png"))
    _check_png(plot_precision_recall({"A": good, "B": poor}, tmp_path / "sub" / "named.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.png", "one.png", "sub"]
    assert isinstance(good, EvaluationReport)


# --------------------------------------------------------------------------- real data


def test_batdetect2_outputs_against_the_example_annotations(tmp_path, report):
    anns = read_events(require_data("audio/batdetect2-example/anns"))
    root = require_data("audio/batdetect2-expected-1.3.1")
    preds = read_events(root / "batdetect2-example", "batdetect2-csv")
    # same model, same clips: the 1.3.1 run reproduces the example annotations exactly
    result = evaluate(preds, anns, threshold=0.3, name="batdetect2 1.3.1")
    assert result.detection_ap == pytest.approx(1.0)
    assert (result.precision, result.recall, result.n_truth) == (1.0, 1.0, 44)
    assert all(ap == pytest.approx(1.0) for ap in result.per_class_ap.values())
    classes = list(result.per_class_ap)
    pairs = result.confusion.loc[classes, classes].to_numpy()
    assert pairs.sum() == np.trace(pairs) == 44  # every call matched, with its own label
    assert result.confusion.loc["false alarm"].sum() == 0
    assert result.confusion["missed"].sum() == 0
    # at 0.5 the lower-scored calls drop out of the operating point, not out of AP
    strict = evaluate(preds, anns, threshold=0.5)
    assert strict.recall < 1.0 and strict.detection_ap == pytest.approx(1.0)
    _check_png(plot_precision_recall([result, strict], tmp_path / "bd2.png"))
    report(f"acoustics evaluation: batdetect2 1.3.1 vs example anns: AP {result.detection_ap:.3f}, "
           f"recall@0.5 {strict.recall:.3f}")
