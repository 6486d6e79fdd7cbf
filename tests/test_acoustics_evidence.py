"""Acoustic evidence per site and period, on small hand-built tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecointegrity.acoustics.errors import AcousticsError
from ecointegrity.acoustics.evidence import poisson_rate_ci, site_evidence, write_evidence


def _recordings() -> pd.DataFrame:
    rows = [
        # site A, May: a5 starts at 01:00 on 1 June, so it belongs to the night of 31 May
        ("/d/A/a1.wav", "A", "2024-05-01T22:00:00", 3600.0, 50.0, 10.0),
        ("/d/A/a2.wav", "A", "2024-05-02T01:00:00", 3600.0, 50.2, 10.2),
        ("/d/A/a3.wav", "A", "2024-05-03T21:00:00", 3600.0, 50.0, 10.0),
        ("/d/A/a5.wav", "A", "2024-06-01T01:00:00", 3600.0, 50.2, 10.2),
        # site A, June: one short night
        ("/d/A/a4.wav", "A", "2024-06-10T22:00:00", 1800.0, 50.1, 10.1),
        # site B: local time only through UTC + offset; then one file with no time at all
        ("/d/B/b1.wav", "B", None, 36000.0, 51.0, 11.0),
        ("/d/B/b2.wav", "B", None, 7200.0, 51.0, 11.0),
    ]
    df = pd.DataFrame(rows, columns=["path", "site", "timestamp_local", "real_duration_s",
                                     "latitude", "longitude"])
    df["duration_s"] = df["real_duration_s"]
    df["time_expansion"] = 1.0
    df["utc_offset"] = [None] * 5 + ["+02:00", None]
    df["timestamp_utc"] = pd.to_datetime([None] * 5 + ["2024-05-05T18:00:00Z", None], utc=True)
    return df


def _events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["recording", "start_time", "end_time", "label", "score"])


def _bats() -> pd.DataFrame:
    return _events([
        ("/d/A/a1.wav", 0.00, 0.01, "Pippip", 0.9),
        ("/d/A/a1.wav", 0.50, 0.51, "Pippip", 0.9),   # 0.49 s after: same pass
        ("/d/A/a1.wav", 1.51, 1.52, "Nyclei", 0.8),   # exactly 1.0 s after: a new pass
        ("/d/A/a1.wav", 5.00, 5.01, "bat", 0.7),      # new pass; generic label, no call type
        ("/d/A/a1.wav", 9.00, 9.01, "Myodau", 0.3),   # below threshold
        ("a2.wav", 2.00, 2.01, "Eptser", 0.9),        # bare file name, matched to /d/A/a2.wav
        ("a2.wav", 30.0, 30.01, "Eptser", 0.9),
        ("/d/A/a5.wav", 3.00, 3.01, "Pippip", 0.9),
    ])


def _anthro() -> pd.DataFrame:
    return _events([("/d/B/b1.wav", float(t), t + 1.0, "vehicle", 0.9) for t in range(4)]
                   + [("/d/B/b1.wav", 10.0, 11.0, "vehicle", 0.2),
                      ("/d/A/a4.wav", 5.0, 6.0, "Chain saw", 0.9)])


def _indices() -> pd.DataFrame:
    return pd.DataFrame({
        "recording": ["/d/A/a1.wav"] * 4 + ["/d/C/c1.wav"],
        "site": ["A"] * 4 + ["C"],
        "segment_start_s": [0.0, 60.0, 120.0, 180.0, 0.0],
        "segment_end_s": [60.0, 120.0, 180.0, 240.0, 60.0],
        "timestamp_local": pd.to_datetime([None] * 4 + ["2024-05-20T23:00:00"]),
        "sample_rate": [48000] * 5,      # an id column, not an index
        "ACI": [1.0, 2.0, 3.0, 4.0, 7.0],
        "NDSI": [0.5, 0.5, 0.5, 0.5, -0.2],
        "clipped": [False] * 5,          # bool: not an index
        "note": ["x"] * 5,               # text: not an index
    })


def _row(df: pd.DataFrame, site: str, period: str) -> pd.Series:
    match = df[(df.site == site) & (df.period == period)]
    assert len(match) == 1, (site, period, df[["site", "period"]])
    return match.iloc[0]


@pytest.fixture
def evidence() -> pd.DataFrame:
    with pytest.warns(UserWarning, match="not in the recordings table"):
        return site_evidence(
            _recordings(),
            bat_detections=pd.concat([_bats(), _events([("/x/gone.wav", 0, 1, "Pippip", 1)])]),
            anthropogenic=_anthro(), anthro_threshold=0.5, indices=_indices(), classes=["gunshot", "vehicle"],
        )


def test_rows_effort_and_nights(evidence):
    assert list(zip(evidence.site, evidence.period, strict=False)) == [
        ("A", "2024-05"), ("A", "2024-06"), ("B", "2024-05"), ("B", "unknown"), ("C", "2024-05")]
    may = _row(evidence, "A", "2024-05")
    assert may.n_recordings == 4
    assert may.recording_hours == pytest.approx(4.0)
    assert may.n_nights == 3            # 1 May (22:00 and 01:00), 3 May, 31 May (01:00 on 1 June)
    assert may.n_days == 4
    assert may.first_timestamp == pd.Timestamp("2024-05-01T22:00")
    assert may.last_timestamp == pd.Timestamp("2024-06-01T02:00")
    assert (may.latitude, may.longitude) == pytest.approx((50.1, 10.1))
    assert not may.low_effort and may.effort_note == ""
    b = _row(evidence, "B", "2024-05")  # local time from UTC + offset
    assert b.first_timestamp == pd.Timestamp("2024-05-05T20:00")


def test_bat_passes_and_richness(evidence):
    may = _row(evidence, "A", "2024-05")
    assert may.bat_passes == 3 + 2 + 1
    assert may.bat_passes_per_night == pytest.approx(2.0)
    assert may.bat_call_types == 3
    assert may.bat_call_types_list == "Eptser, Nyclei, Pippip"
    june = _row(evidence, "A", "2024-06")
    assert june.bat_passes == 0 and june.bat_call_types == 0 and june.bat_call_types_list == ""


def test_pass_gap_parameter():
    out = site_evidence(_recordings(), bat_detections=_bats(), pass_gap_s=1.1)
    assert _row(out, "A", "2024-05").bat_passes == 2 + 2 + 1


def test_poisson_interval_known_values():
    rate, low, high = poisson_rate_ci([0, 4], [10.0, 100.0])
    assert rate == pytest.approx([0.0, 4.0])
    assert low == pytest.approx([0.0, 1.0899], abs=1e-3)
    assert high == pytest.approx([36.889, 10.2416], abs=1e-3)
    rate, low, high = poisson_rate_ci([3], [0.0])
    assert np.isnan(rate).all() and np.isnan(low).all() and np.isnan(high).all()


def test_anthropogenic_rates(evidence):
    b = _row(evidence, "B", "2024-05")  # 10 h
    assert b.vehicle_events == 4                        # the 0.2 score event does not count
    assert b.vehicle_per_100h == pytest.approx(40.0)
    assert (b.vehicle_per_100h_lo, b.vehicle_per_100h_hi) == pytest.approx((10.899, 102.42),
                                                                           abs=1e-2)
    assert b.gunshot_events == 0 and b.gunshot_per_100h == 0           # absent class
    assert b.gunshot_per_100h_lo == 0 and b.gunshot_per_100h_hi == pytest.approx(36.89, abs=1e-2)
    june = _row(evidence, "A", "2024-06")
    assert june.chain_saw_events == 1                   # label to snake case
    assert june.chain_saw_per_100h == pytest.approx(200.0)
    c = _row(evidence, "C", "2024-05")                  # no recording hours: NaN rates
    assert c.vehicle_events == 0 and np.isnan(c.vehicle_per_100h)
    assert np.isnan(c.vehicle_per_100h_hi)


def test_anthropogenic_events_count_as_given_by_default():
    # the detector has already applied its per-class thresholds
    out = site_evidence(_recordings(), anthropogenic=_anthro(), classes=["vehicle"])
    assert _row(out, "B", "2024-05").vehicle_events == 5


def test_indices_summaries(evidence):
    may = _row(evidence, "A", "2024-05")
    assert may.ACI_median == pytest.approx(2.5) and may.ACI_iqr == pytest.approx(1.5)
    assert may.NDSI_median == pytest.approx(0.5) and may.NDSI_iqr == 0
    assert not any(c.startswith(("clipped", "note", "segment", "sample")) for c in evidence.columns)
    assert np.isnan(_row(evidence, "A", "2024-06").ACI_median)
    c = _row(evidence, "C", "2024-05")                  # indices only: kept, flagged
    assert c.n_recordings == 0 and c.ACI_median == 7.0
    assert c.low_effort and "no recordings" in c.effort_note


def test_low_effort_and_unknown(evidence):
    june = _row(evidence, "A", "2024-06")
    assert june.low_effort
    assert "0.50 h recorded < 2 h" in june.effort_note and "1 night(s) < 2" in june.effort_note
    unknown = _row(evidence, "B", "unknown")
    assert unknown.n_recordings == 1 and unknown.recording_hours == pytest.approx(2.0)
    assert unknown.n_nights == 0 and np.isnan(unknown.bat_passes_per_night)
    assert unknown.low_effort and "no usable timestamp" in unknown.effort_note
    b = _row(evidence, "B", "2024-05")
    assert b.low_effort and "1 night(s) < 2" in b.effort_note and "h recorded" not in b.effort_note
    relaxed = site_evidence(_recordings(), min_hours=0.5, min_nights=1)
    assert not _row(relaxed, "A", "2024-06").low_effort


def test_missing_inputs_give_nan_columns():
    out = site_evidence(_recordings())
    assert out.bat_passes.isna().all() and not any(c.endswith("_events") for c in out.columns)
    out = site_evidence(_recordings(), classes=["gunshot"])
    assert out.gunshot_per_100h.isna().all()


def test_empty_recordings_keep_the_columns():
    empty = _recordings().iloc[:0]
    out = site_evidence(empty, bat_detections=_bats().iloc[:0], anthropogenic=_anthro().iloc[:0],
                        classes=["dog"])
    assert len(out) == 0
    assert {"bat_passes", "dog_per_100h_hi", "low_effort", "effort_note"} <= set(out.columns)


@pytest.mark.parametrize("period, expected", [
    ("day", ["2024-05-01", "2024-05-03", "2024-05-31", "2024-06-10"]),
    ("week", ["2024-W18", "2024-W22", "2024-W24"]),
    ("season", ["2024-MAM", "2024-JJA"]),
    ("year", ["2024"]),
    ("all", ["all"]),
])
def test_period_variants(period, expected):
    out = site_evidence(_recordings(), period=period)
    assert list(out[out.site == "A"].period) == expected
    assert out[out.site == "A"].n_recordings.sum() == 5


def test_day_period_keeps_night_together():
    out = site_evidence(_recordings(), period="day")
    night = _row(out, "A", "2024-05-01")
    assert night.n_recordings == 2 and night.n_nights == 1 and night.n_days == 2


def test_december_opens_next_winter():
    rec = _recordings().iloc[:2].assign(
        timestamp_local=["2023-12-15T22:00:00", "2024-02-10T22:00:00"])
    out = site_evidence(rec, period="season")
    assert list(out.period) == ["2024-DJF"] and out.n_nights.iloc[0] == 2


def test_bad_period():
    with pytest.raises(AcousticsError, match="unknown period"):
        site_evidence(_recordings(), period="fortnight")


@pytest.mark.parametrize("name", ["ev.parquet", "ev.csv"])
def test_write_roundtrip(evidence, tmp_path, name):
    path = tmp_path / "out" / name
    assert write_evidence(evidence, path) == str(path)
    back = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(
        path, keep_default_na=False, na_values=[""],
        parse_dates=["first_timestamp", "last_timestamp"])
    assert list(back.columns) == list(evidence.columns)
    if name.endswith("parquet"):
        pd.testing.assert_frame_equal(back, evidence)
    else:
        pd.testing.assert_series_equal(back.bat_passes, evidence.bat_passes, check_dtype=False)
        assert back.low_effort.tolist() == evidence.low_effort.tolist()
    assert [p.name for p in path.parent.iterdir()] == [name]   # no temporary left behind
    with pytest.raises(AcousticsError):
        write_evidence(evidence, tmp_path / "ev.xlsx")
