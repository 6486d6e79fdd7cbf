"""One detection per call (harmonics, echoes, split parts) and pass-level summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecointegrity.acoustics.bats.duplicates import (
    DuplicateRule,
    duplicate_pairs,
    suppress_duplicates,
)
from ecointegrity.acoustics.bats.sequences import pass_ids, summarise_passes


def _events(rows: list[tuple], recording: str = "r.wav") -> pd.DataFrame:
    """(start ms, duration ms, low kHz, high kHz, score) rows."""
    return pd.DataFrame(
        {
            "recording": recording,
            "start_time": [r[0] / 1000 for r in rows],
            "end_time": [(r[0] + r[1]) / 1000 for r in rows],
            "low_freq": [r[2] * 1000 for r in rows],
            "high_freq": [r[3] * 1000 for r in rows],
            "label": "bat",
            "score": [r[4] for r in rows],
        }
    )


def test_the_second_and_third_harmonic_of_a_call_are_dropped():
    call = (100, 4, 40, 60, 0.9)
    second = (100.5, 4, 80, 120, 0.5)  # same onset, twice the frequency
    third = (101, 3, 120, 180, 0.4)
    kept = suppress_duplicates(_events([call, second, third]))
    assert kept["score"].tolist() == [0.9]


def test_a_weaker_dominant_harmonic_keeps_the_stronger_one():
    # Phyllostomids: the 2nd harmonic is the loud one; the fundamental is the duplicate
    fundamental, dominant = (200, 2, 30, 45, 0.35), (200.2, 2, 60, 90, 0.8)
    kept = suppress_duplicates(_events([fundamental, dominant]))
    assert kept["score"].tolist() == [0.8]


def test_an_echo_at_the_same_frequency_is_dropped_but_a_feeding_buzz_is_kept():
    call, echo = (100, 3, 40, 55, 0.9), (102.5, 3, 40, 55, 0.4)
    assert len(suppress_duplicates(_events([call, echo]))) == 1
    # buzz calls 5.5 ms apart (the fastest bats call) are separate calls
    buzz = [(300 + 5.5 * k, 1.5, 30, 45, 0.6 + 0.01 * k) for k in range(6)]
    assert len(suppress_duplicates(_events(buzz))) == 6


def test_the_harmonic_of_a_long_constant_frequency_call_is_dropped():
    # Rhinolophus: a 50 ms tone at 75 kHz; its (weaker, detected later) half-frequency copy
    cf, lower = (100, 46, 69, 81, 0.7), (104.7, 23, 28, 41, 0.37)
    assert suppress_duplicates(_events([cf, lower]))["score"].tolist() == [0.7]


def test_overlapping_calls_of_two_bats_in_other_bands_are_kept():
    # 45 kHz and 26 kHz (ratio 1.73: not a harmonic), overlapping in time
    a, b = (100, 8, 40, 50, 0.9), (101, 10, 22, 30, 0.5)
    assert len(suppress_duplicates(_events([a, b]))) == 2


def test_split_parts_of_a_long_call_are_one_call():
    fm, cf_tail = (100, 20, 60, 90, 0.7), (105, 12, 60, 64, 0.5)
    assert suppress_duplicates(_events([fm, cf_tail]))["score"].tolist() == [0.7]


def test_a_broadband_sweep_cut_in_two_is_one_call_but_another_bat_rising_is_not():
    high_part, low_part = (183.0, 1.9, 44, 88, 0.41), (185.2, 2.2, 26, 59, 0.33)
    assert suppress_duplicates(_events([high_part, low_part]))["score"].tolist() == [0.41]
    # a higher call starting as a lower one ends is another bat (a sweep goes down)
    other = (185.2, 2.2, 60, 95, 0.33)
    assert len(suppress_duplicates(_events([(183.0, 1.9, 44, 70, 0.41), other]))) == 2


def test_recordings_are_judged_apart_and_rows_keep_their_order():
    a = _events([(100, 4, 40, 60, 0.9)], "a.wav")
    b = _events([(100, 4, 80, 120, 0.5), (100.2, 4, 40, 60, 0.3)], "b.wav")
    events = pd.concat([b, a], ignore_index=True)
    kept = suppress_duplicates(events)
    assert kept.index.tolist() == [0, 2]  # b's harmonic pair: its stronger one; a untouched


def test_no_duplicate_rule_keeps_everything():
    events = _events([(100, 4, 40, 60, 0.9), (100, 4, 80, 120, 0.5)])
    rule = DuplicateRule(onset_window_s=0.0, harmonic_ratios=(), split_overlap=1.0, sweep_gap_s=0)
    assert len(suppress_duplicates(events, rule)) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"onset_window_s": -1}, {"harmonic_tolerance": 0.3}, {"split_overlap": 0}, {"sweep_gap_s": -1}],
)
def test_rule_parameters_are_checked(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DuplicateRule(**kwargs)


def _pairs_reference(start, end, low, high, rule):
    """Every pair by the rule, written out pair by pair."""
    out = set()
    for i in range(len(start)):
        for j in range(i + 1, len(start)):
            band = min(high[i], high[j]) - max(low[i], low[j]) > 0
            overlap = max(0.0, min(end[i], end[j]) - max(start[i], start[j]))
            shorter = max(min(end[i] - start[i], end[j] - start[j]), 1e-9)
            ci, cj = (low[i] + high[i]) / 2, (low[j] + high[j]) / 2
            ratio = max(ci, cj) / min(ci, cj)
            related = any(abs(ratio / r - 1) <= rule.harmonic_tolerance
                          for r in (1.0, *rule.harmonic_ratios))
            together = (abs(start[j] - start[i]) <= rule.onset_window_s
                        or overlap / shorter > rule.split_overlap)
            sweep = band and abs(start[j] - end[i]) <= rule.sweep_gap_s and cj < ci
            if (band and overlap / shorter > rule.split_overlap) or (together and related) or sweep:
                out.add((i, j))
    return out


def test_windowed_pairs_equal_the_all_pairs_reference():
    rng = np.random.default_rng(3)
    rule = DuplicateRule()
    for _ in range(20):
        n = 60
        start = np.sort(rng.uniform(0, 0.3, n))
        end = start + rng.uniform(0.001, 0.03, n)
        low = rng.uniform(15e3, 100e3, n)
        high = low * rng.uniform(1.05, 2.0, n)
        i, j = duplicate_pairs(start, end, low, high, rule)
        assert set(zip(i.tolist(), j.tolist(), strict=True)) == _pairs_reference(
            start, end, low, high, rule
        )


def test_detector_reports_every_class_score_and_one_detection_per_call(detector_and_audio):
    detector, audio, rate = detector_and_audio
    events = detector.detect_audio(audio, rate, recording="x")
    columns = detector.class_score_columns
    assert columns and set(columns) <= set(events.columns)
    assert np.allclose(events[columns].sum(axis=1), 1.0, atol=1e-4)
    best = events[columns].to_numpy().argmax(axis=1)
    assert (np.asarray(detector.classes)[best] == events["label"].to_numpy()).all()
    assert np.allclose(events[columns].to_numpy().max(axis=1), events["class_score"])
    detector.duplicates = None
    try:
        every_peak = detector.detect_audio(audio, rate, recording="x")
    finally:
        detector.duplicates = DuplicateRule()
    assert len(every_peak) >= len(events)
    i, _ = duplicate_pairs(*(events.sort_values("start_time")[c].to_numpy() for c in (
        "start_time", "end_time", "low_freq", "high_freq")))
    assert len(i) == 0  # nothing left that the rule calls one call


@pytest.fixture(scope="module")
def detector_and_audio():
    from ecointegrity.acoustics.bats import CALL_TYPES, load_detector, synth_recording

    rec = synth_recording(
        3.0, 256000, call_types=list(CALL_TYPES)[:4], rng=np.random.default_rng(11)
    )
    return load_detector(device="cpu"), rec.audio, rec.sample_rate


# -- passes ------------------------------------------------------------------------------------
def test_calls_a_second_apart_start_a_new_pass():
    calls = _events([(0, 5, 40, 50, 0.9), (100, 5, 40, 50, 0.8), (1500, 5, 40, 50, 0.7)])
    calls = pd.concat([calls, _events([(0, 5, 40, 50, 0.5)], "other.wav")], ignore_index=True)
    assert pass_ids(calls).tolist() == [0, 0, 1, 0]
    assert pass_ids(calls, max_gap_s=2.0).tolist() == [0, 0, 0, 0]


def test_a_pass_takes_the_class_with_the_highest_score_weighted_mean():
    calls = _events([(0, 5, 40, 50, 0.9), (100, 5, 40, 50, 0.3), (200, 5, 40, 50, 0.3)])
    # the strong call says myotis, two weak ones say pipistrellus: weights 0.9 vs 0.6
    calls["class_score_myotis"] = [0.9, 0.2, 0.2]
    calls["class_score_pipistrellus"] = [0.1, 0.8, 0.8]
    summary = summarise_passes(calls)
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row["label"] == "myotis" and row["n_calls"] == 3
    assert row["class_score"] == pytest.approx((0.9 * 0.9 + 0.6 * 0.2) / 1.5)
    assert row["start_time"] == 0 and row["end_time"] == pytest.approx(0.205)
    assert row["class_score_pipistrellus"] == pytest.approx(1 - row["class_score"])


def test_passes_without_class_columns_vote_with_detection_scores():
    calls = _events([(0, 5, 40, 50, 0.9), (100, 5, 40, 50, 0.4), (200, 5, 40, 50, 0.4)])
    calls["label"] = ["a", "b", "b"]
    row = summarise_passes(calls).iloc[0]
    assert row["label"] == "a" and row["class_score"] == pytest.approx(0.9 / 1.7)


def test_lone_calls_can_be_left_out_and_empty_input_gives_the_columns():
    calls = _events([(0, 5, 40, 50, 0.9), (100, 5, 40, 50, 0.8), (3000, 5, 40, 50, 0.7)])
    assert summarise_passes(calls)["n_calls"].tolist() == [2, 1]
    assert summarise_passes(calls, min_calls=2)["n_calls"].tolist() == [2]
    empty = summarise_passes(calls.iloc[:0])
    assert empty.empty and "pass_id" in empty.columns
    with pytest.raises(ValueError, match="min_calls"):
        summarise_passes(calls, min_calls=0)


def test_passes_command_writes_a_table_pandas_reads(tmp_path):
    from typer.testing import CliRunner

    from ecointegrity.cli import app

    calls = _events([(0, 5, 40, 50, 0.9), (100, 5, 40, 50, 0.8), (3000, 5, 40, 50, 0.7)])
    calls.to_csv(tmp_path / "calls.csv", index=False)
    out = tmp_path / "passes.parquet"
    result = CliRunner().invoke(
        app, ["acoustics", "passes", str(tmp_path / "calls.csv"), "--out", str(out),
              "--min-calls", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "1 passes in 1 recordings" in result.output
    table = pd.read_parquet(out)
    assert table["n_calls"].tolist() == [2] and table["recording"].tolist() == ["r.wav"]
