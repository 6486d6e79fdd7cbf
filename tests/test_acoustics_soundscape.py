"""Soundscape indices (scikit-maad), batch runs and false-colour spectrograms."""

from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import require_data
from PIL import Image

from ecointegrity.acoustics import soundscape as sc
from ecointegrity.acoustics.errors import AudioFileError
from ecointegrity.acoustics.io import scan_recordings
from ecointegrity.acoustics.soundscape import false_colour, indices, segments
from ecointegrity.acoustics.soundscape import run as batch_run

CORE = ["ACI", "ADI", "AEI", "BI", "NDSI", "Ht", "Hf", "H", "MED", "EVNtCount", "LFC", "MFC"]


@pytest.fixture(scope="module")
def maad_dir():
    return require_data("audio/scikit-maad")


@pytest.fixture(scope="module")
def maad_table(maad_dir):
    return scan_recordings(maad_dir / "indices", progress=False).table


@pytest.fixture(scope="module")
def maad_run(maad_table, tmp_path_factory):
    """The 8 maad excerpts (10 s every 3 h of 2019-05-22) through the batch, once."""
    return sc.indices_for_recordings(maad_table, tmp_path_factory.mktemp("run"), progress=False)


# --- pure helpers ----------------------------------------------------------------------------


def test_parse_filename_timestamp():
    assert sc.parse_filename_timestamp("S4A03895_20190522_030000.wav") == datetime(2019, 5, 22, 3)
    assert sc.parse_filename_timestamp("/x/20240903_202615.WAV") == datetime(2024, 9, 3, 20, 26, 15)
    assert sc.parse_filename_timestamp("SITE-A_20240229_235959_extra.flac") == datetime(
        2024, 2, 29, 23, 59, 59
    )
    assert sc.parse_filename_timestamp("S4A_20190532_000000.wav") is None  # no 32nd of May
    assert sc.parse_filename_timestamp("spinetail.wav") is None
    assert sc.parse_filename_timestamp("x_201905220_000000.wav") is None


def test_segment_bounds():
    rate = 1000
    assert segments._segment_bounds(19_500, rate, 5, 10) == [(0, 5000), (5000, 10000), (10000, 15000)]
    # last partial kept from 10 s on
    assert segments._segment_bounds(130_000, rate, 60, 10)[-1] == (120_000, 130_000)
    assert len(segments._segment_bounds(125_000, rate, 60, 10)) == 2
    # a recording shorter than a segment is analysed whole, unless too short for maad
    assert segments._segment_bounds(9_000, rate, 60, 10) == [(0, 9000)]
    assert segments._segment_bounds(500, rate, 60, 10) == []


def test_column_lists():
    assert sc.INDEX_COLUMNS[:7] == [
        "recording", "site", "segment_start_s", "segment_end_s", "sample_rate",
        "timestamp_local", "timestamp_utc",
    ]  # fmt: skip
    assert len(set(sc.INDEX_COLUMNS)) == len(sc.INDEX_COLUMNS)
    assert set(CORE) <= set(sc.ALPHA_INDICES)


# --- one recording ---------------------------------------------------------------------------


def test_spinetail_segments_and_times(maad_dir):
    df = sc.compute_indices(
        maad_dir / "spinetail.wav", segment_s=5, site="valle", timestamp="2018-09-19T11:00:00-05:00"
    )
    assert list(df.columns) == sc.INDEX_COLUMNS
    assert df["segment_start_s"].tolist() == [0.0, 5.0, 10.0]  # 19.5 s: the 4.5 s tail dropped
    assert df["segment_end_s"].tolist() == [5.0, 10.0, 15.0]
    assert (df["sample_rate"] == 44100).all() and (df["site"] == "valle").all()
    assert df["timestamp_local"].iloc[2] == pd.Timestamp("2018-09-19 11:00:10")
    assert df["timestamp_utc"].iloc[2] == pd.Timestamp("2018-09-19 16:00:10", tz="UTC")
    assert np.isfinite(df[CORE].to_numpy()).all()
    # the spinetail sings at 2-9 kHz: biophony dominates
    assert (df["NDSI"] > 0.5).all()


def test_unreadable_file_raises(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        sc.compute_indices(bad)
    with pytest.raises(AudioFileError, match="not found"):
        sc.compute_indices(tmp_path / "missing.wav")


def test_long_file_is_read_one_segment_at_a_time(tmp_path, monkeypatch):
    rate, minutes = 16_000, 10
    t = np.arange(rate * 60 * minutes) / rate
    rng = np.random.default_rng(1)
    tone = 0.2 * np.sin(2 * np.pi * 3000 * t) * (np.floor(t / 60) % 2 == 0)  # odd minutes silent
    path = tmp_path / "LONG_20240601_235500.wav"
    sf.write(path, (0.01 * rng.standard_normal(t.size) + tone).astype(np.float32), rate)

    requested: list[int] = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    def cheap(segment, flims, nperseg, spectral):
        # maad itself is checked on real files; here only reading and segmenting matter
        row = dict.fromkeys(sc.ALPHA_INDICES, float("nan"))
        row["VARt"] = float(np.var(segment.samples))
        bins = {"frequencies": np.arange(4, dtype=np.float32)}
        bins.update({k: np.ones(4, np.float32) for k in sc.FALSE_COLOUR_INDICES})
        return row, bins if spectral else {}

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    monkeypatch.setattr(indices, "_segment_indices", cheap)
    df, spectral = sc.analyse_recording(path)

    assert len(df) == minutes and requested and -1 not in requested
    assert max(requested) <= 60 * rate
    assert df["VARt"].iloc[0] > 10 * df["VARt"].iloc[1]  # segments are the right minutes
    assert df["timestamp_local"].iloc[-1] == pd.Timestamp("2024-06-02 00:04:00")
    assert spectral is not None and spectral.values["ACI_per_bin"].shape == (minutes, 4)


# --- batch -----------------------------------------------------------------------------------


def test_maad_excerpts_indices(maad_run, maad_dir, report):
    df = maad_run.indices
    assert maad_run.computed == 8 and maad_run.skipped == 0 and maad_run.problems.empty
    assert len(df) == 8 and list(df.columns) == sc.INDEX_COLUMNS
    assert (df["site"] == "indices").all()  # the folder name, as scan_recordings gives
    hours = df["timestamp_local"].dt.hour.tolist()
    assert hours == list(range(0, 24, 3))
    assert df["timestamp_utc"].isna().all()  # SM4 names carry no UTC offset
    values = df[CORE]
    assert np.isfinite(values.to_numpy()).all()
    assert (df["ADI"] >= 0).all() and (df["ACI"] > 0).all() and (df["BI"] >= 0).all()
    for name in ("Ht", "Hf", "H", "AEI"):
        assert df[name].between(0, 1).all(), name
    assert df["NDSI"].between(-1, 1).all()
    # loose check against the older maad in indices.csv (ACI of the midnight file: 294.5)
    assert df["ACI"].iloc[0] == pytest.approx(294.5, rel=0.2)
    assert pd.read_parquet(maad_run.out_dir / "indices.parquet").shape == df.shape
    report(
        f"soundscape indices: {maad_run.audio_hours_per_cpu_hour:.0f} audio h per CPU h (22 kHz)"
    )


def test_summarise_indices(maad_run):
    summary = sc.summarise_indices(maad_run.indices)
    assert len(summary) == 8 and (summary["n_segments"] == 1).all()
    assert np.allclose(summary["ACI_mean"], maad_run.indices["ACI"])
    assert {"ADI_median", "NDSI_mean", "analysed_s", "timestamp_local"} <= set(summary.columns)


def test_batch_isolates_broken_files_and_resumes(maad_run, maad_table, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(maad_run.out_dir, out)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    table = pd.concat([maad_table, pd.DataFrame({"path": [str(bad)]})], ignore_index=True)
    parts = sorted((out / "parts").glob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in parts]

    run = sc.indices_for_recordings(table, out, progress=False)
    assert run.skipped == 8 and run.computed == 0
    assert run.problems["path"].tolist() == [str(bad)]
    assert "not a readable audio file" in run.problems["reason"].iloc[0]
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # done parts were not redone
    pd.testing.assert_frame_equal(run.indices, maad_run.indices)

    # a failure inside the analysis (not only at open) is isolated too
    def boom(*args, **kwargs):
        raise ValueError("maad failed")

    monkeypatch.setattr(batch_run, "analyse_recording", boom)
    fresh = sc.indices_for_recordings(
        [maad_table["path"].iloc[0], bad], tmp_path / "f", progress=False
    )
    assert fresh.computed == 0 and len(fresh.problems) == 2 and fresh.indices.empty


# --- false colour ----------------------------------------------------------------------------


def test_false_colour_day(maad_run, maad_table, tmp_path, monkeypatch):
    def no_recompute(*args, **kwargs):
        raise AssertionError("the batch's parts should have been reused")

    monkeypatch.setattr(false_colour, "compute_spectral_indices", no_recompute)
    written = sc.false_colour_by_site_day(maad_table, tmp_path, indices_dir=maad_run.out_dir)
    assert [p.name for p in written] == ["indices_2019-05-22.png"]

    image = np.asarray(Image.open(written[0]).convert("RGB"))
    bins = 512  # nperseg 1024
    assert image.shape[1] == 1440
    body = image[false_colour._TITLE_PX : false_colour._TITLE_PX + bins]
    lit = body.reshape(-1, 1440 * 3).any(axis=0).reshape(1440, 3).any(axis=1)
    assert lit[np.arange(0, 1440, 180)].all()  # the 8 recorded minutes
    assert lit.sum() == 8  # everything else stays black


def test_false_colour_spectrogram_from_recording(maad_dir, tmp_path):
    spectral = sc.compute_spectral_indices(
        maad_dir / "spinetail.wav", segment_s=5, timestamp="2018-09-19T11:00:00"
    )
    assert spectral.values["ACI_per_bin"].shape == (3, 512)
    png = sc.false_colour_spectrogram(spectral, None, tmp_path / "x" / "s.png", title="spinetail")
    image = np.asarray(Image.open(png).convert("RGB"))
    body = image[false_colour._TITLE_PX : false_colour._TITLE_PX + 512]
    # 11:00 is minute 660; three 5 s segments share it (the last one drawn wins)
    assert body[:, 660].any() and not body[:, 661:].any() and not body[:, :660].any()


def test_batch_with_worker_processes(maad_run, maad_table, tmp_path):
    two = maad_table.iloc[[0, 4]]
    run = sc.indices_for_recordings(two, tmp_path, workers=2, progress=False)
    assert run.computed == 2 and run.cpu_s > 0 and run.audio_s == pytest.approx(20.0)
    expected = maad_run.indices[maad_run.indices["recording"].isin(two["path"])]
    pd.testing.assert_frame_equal(run.indices, expected.reset_index(drop=True))


def _cheap_indices(segment, flims, nperseg, spectral):
    """A stand-in for maad where only segmenting and times are under test."""
    row = dict.fromkeys(sc.ALPHA_INDICES, 0.5)
    bins = {"frequencies": np.linspace(0, segment.sample_rate / 2, 8, dtype=np.float32)}
    bins.update({k: np.full(8, segment.start_s + 1, np.float32) for k in sc.FALSE_COLOUR_INDICES})
    return row, bins if spectral else {}


def test_row_timestamp_and_midnight_split(tmp_path, monkeypatch):
    row = pd.Series({"timestamp_local": "2024-06-01T23:59:00", "utc_offset": "+02:00"})
    assert batch_run.row_timestamp(row) == pd.Timestamp("2024-06-01T23:59:00+02:00")
    assert batch_run.row_timestamp(pd.Series({"timestamp_local": pd.NA})) is None

    rate = 8000
    path = tmp_path / "SITE A" / "X_20240601_235900.wav"
    path.parent.mkdir()
    sf.write(path, np.zeros(rate * 180, np.float32), rate)
    monkeypatch.setattr(indices, "_segment_indices", _cheap_indices)
    table = pd.DataFrame({"path": [str(path)], "site": ["SITE A"]})  # time from the name
    written = sc.false_colour_by_site_day(table, tmp_path / "png")
    assert [p.name for p in written] == ["SITE_A_2024-06-01.png", "SITE_A_2024-06-02.png"]
    first = np.asarray(Image.open(written[0]).convert("RGB"))[false_colour._TITLE_PX : false_colour._TITLE_PX + 8]
    second = np.asarray(Image.open(written[1]).convert("RGB"))[false_colour._TITLE_PX : false_colour._TITLE_PX + 8]
    assert first[:, 1439].any() and not first[:, :1439].any()
    assert second[:, 0:2].any() and not second[:, 2:].any()
