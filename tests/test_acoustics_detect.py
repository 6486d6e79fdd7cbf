"""The bat-call detector and its batch runner: chunk borders, streaming, time expansion,
per-file isolation, resume after kill -9, and the shipped model's quality."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ecointegrity.acoustics import (
    DEFAULT_MODEL,
    RunConflict,
    detect_recordings,
    evaluate,
    export_detections,
    load_detector,
    read_detections,
    read_events,
    read_file_ledger,
    scan_recordings,
    synth_recording,
    write_synthetic_dataset,
)


@pytest.fixture(scope="module")
def detector():
    return load_detector()


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    """Synthetic recordings from the call generator (seed 7: not the training seed) and one
    broken file."""
    root = tmp_path_factory.mktemp("bats")
    write_synthetic_dataset(root, 40, duration_s=(1.0, 2.5), seed=7)
    (root / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    return root


def test_default_model_is_shipped_with_its_card():
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.with_suffix(".json").is_file()
    det = load_detector()
    assert det.version != "untrained" and len(det.classes) >= 8
    card = det.metadata
    assert card["training"]["steps"] >= 1000 and "evaluation" in card


def test_detects_synthetic_calls_on_held_out_recordings(detector, audio_dir, report):
    truth = read_events(audio_dir / "annotations.parquet")
    files = sorted(audio_dir.glob("*.wav"))
    preds = pd.concat([detector.detect_file(f, recording=f.name) for f in files if f.name != "broken.wav"])
    result = evaluate(preds, truth, threshold=0.5)
    report(f"bat detector on 40 held-out synthetic recordings ({len(truth)} calls): AP {result.detection_ap:.3f}, "
           f"precision {result.precision:.3f}, recall {result.recall:.3f} at 0.5, call-type accuracy "
           f"{result.classification_accuracy:.3f}")
    assert result.detection_ap > 0.75
    assert result.precision > 0.85


def test_calls_on_chunk_borders_are_kept_once(detector):
    rng = np.random.default_rng(3)
    rec = synth_recording(6.0, 256_000, call_types=["myotis_fm", "pipistrellus_qcf", "eptesicus_fmqcf"], rng=rng,
                          n_passes=6, snr_db=(15, 30))
    # Chunking alone: every peak kept (which peaks a duplicate rule keeps among the crowded
    # calls of six overlapping passes depends on scores, which shift with the chunk's context).
    long = load_detector(duplicates=None).detect_audio(rec.audio, rec.sample_rate)
    short = load_detector(chunk_s=0.5, duplicates=None).detect_audio(rec.audio, rec.sample_rate)
    # 0.5 s chunks put a dozen borders across the calls: the same calls are found, none twice
    a = evaluate(long, rec.events.assign(recording=""), threshold=0.5)
    b = evaluate(short, rec.events.assign(recording=""), threshold=0.5)
    assert abs(a.recall - b.recall) <= 0.03 and b.recall > 0.7  # none lost at a border
    assert b.precision >= a.precision - 0.03  # none reported twice (a duplicate is a false alarm)


def test_file_streaming_equals_in_memory(detector, audio_dir):
    path = sorted(audio_dir.glob("*.wav"))[3]
    audio, rate = sf.read(path, dtype="float32")
    a = detector.detect_file(path, recording="x")
    b = detector.detect_audio(audio, rate, recording="x")
    pd.testing.assert_frame_equal(a, b)


def test_time_expanded_recordings_give_real_time_events(detector, tmp_path):
    write_synthetic_dataset(tmp_path, 3, duration_s=(1.5, 2.0), seed=11, time_expansion=10, empty_fraction=0)
    table = scan_recordings(tmp_path, progress=False).table
    assert (table.time_expansion == 10).all()
    truth = read_events(tmp_path / "annotations.parquet")
    run = detect_recordings(table, tmp_path / "run")
    preds = read_detections(tmp_path / "run")
    preds["recording"] = preds["recording"].map(lambda p: Path(p).name)
    result = evaluate(preds, truth, threshold=0.5)
    assert run.processed == 3 and result.recall > 0.8 and result.precision > 0.8


def test_batch_run_isolates_broken_files_and_exports(audio_dir, tmp_path):
    run = detect_recordings(audio_dir, tmp_path / "run", batch_files=8)
    ledger = read_file_ledger(tmp_path / "run")
    assert run.files == 41 and run.processed == 41 and len(ledger) == 41
    broken = ledger[ledger.path.str.endswith("broken.wav")].iloc[0]
    assert broken.status == "failed" and broken.reason
    assert set(run.failed) == {broken.path}
    assert run.real_time_factor < 1 and run.recordings_per_hour > 0
    detections = pd.read_parquet(tmp_path / "run" / "detections.parquet")
    assert len(detections) == run.detections > 0
    raven = export_detections(tmp_path / "run", tmp_path / "raven")
    assert len(list(raven.glob("*.selections.txt"))) == detections.recording.nunique()
    with pytest.raises(RunConflict, match="other parameters"):
        detect_recordings(audio_dir, tmp_path / "run", threshold=0.9)
    again = detect_recordings(audio_dir, tmp_path / "run", batch_files=8)
    assert again.processed == 0 and again.skipped == 41


def test_killed_run_resumes_to_exactly_the_uninterrupted_result(audio_dir, tmp_path):
    reference = detect_recordings(audio_dir, tmp_path / "whole", batch_files=2)
    expected = read_detections(tmp_path / "whole")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ecointegrity", "acoustics", "detect", str(audio_dir), "--out", str(out),
           "--batch-files", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "files").glob("part-*.parquet"))) < 3:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list((out / "files").glob("part-*.parquet")))
    assert 3 <= done_at_kill < 21, "the run must be killed part-way"
    assert not (out / "detections.parquet").exists()
    resumed = detect_recordings(audio_dir, out, batch_files=2)
    assert resumed.skipped == 2 * done_at_kill and resumed.processed == reference.files - resumed.skipped
    got = read_detections(out)
    pd.testing.assert_frame_equal(got, expected)
    assert not got.duplicated(["recording", "start_time", "low_freq"]).any()


def test_dask_local_cluster_gives_the_same_detections(audio_dir, tmp_path):
    detect_recordings(audio_dir, tmp_path / "here", batch_files=10)
    run = detect_recordings(audio_dir, tmp_path / "dask", batch_files=10, scheduler="local")
    assert run.processed == 41 and len(run.failed) == 1
    pd.testing.assert_frame_equal(read_detections(tmp_path / "dask"), read_detections(tmp_path / "here"),
                                  check_exact=False, atol=1e-6)


def test_batdetect2_backend_runs_in_the_batch_runner(tmp_path):
    pytest.importorskip("batdetect2", reason="optional, non-commercial backend (pip install -e '.[batdetect2]')")
    from conftest import require_data

    root = require_data("audio/batdetect2-example/audio")
    run = detect_recordings([str(p) for p in sorted(root.glob("*.wav"))], tmp_path / "bd2", model="batdetect2")
    counts = read_detections(tmp_path / "bd2").groupby("recording").size()
    # what `batdetect2 detect DIR OUT 0.3` gives on these files (batdetect2-expected-1.3.1)
    assert sorted(counts.to_numpy()) == [9, 15, 20]
    assert run.parameters["model"] == "batdetect2" and run.parameters["threshold"] == 0.3


def test_spectrogram_grid_and_scalings():
    from ecointegrity.acoustics import SpectrogramConfig
    from ecointegrity.acoustics.bats.spectrogram import spectrogram

    rng = np.random.default_rng(0)
    rec = synth_recording(1.0, 384_000, call_types=["pipistrellus_qcf"], rng=rng, n_passes=1, snr_db=(25, 30))
    for scaling in ("log", "pcen"):
        cfg = SpectrogramConfig(scaling=scaling)
        spec = spectrogram(rec.audio, rec.sample_rate, cfg)
        assert spec.shape == (128, cfg.columns(256_000)) and np.isfinite(spec).all()
        # over a call's span, the spectrogram peaks inside the call's band
        call = rec.events.iloc[0]
        cols = slice(int(cfg.column_at(call.start_time)), int(cfg.column_at(call.end_time)) + 1)
        peak_hz = cfg.freq_at(spec[:, cols].max(axis=1).argmax() + 0.5)
        assert call.low_freq - 2000 <= peak_hz <= call.high_freq + 2000
    assert cfg.row_at(cfg.freq_at(17.25)) == pytest.approx(17.25)
    assert cfg.column_at(cfg.time_at(3.5)) == pytest.approx(3.5)
