"""The anthropogenic-sound detector: the shipped model, multi-label scores, window merging,
bounded reads of long files, the event schema."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from conftest import require_data

from ecointegrity.acoustics.anthropogenic import (
    ANTHROPOGENIC_CLASSES,
    DEFAULT_ANTHROPOGENIC_MODEL,
    HELD_OUT_FOLDS,
    AnthropogenicDetector,
    load_shared_dataset,
    merge_windows,
)
from ecointegrity.acoustics.io import EVENT_COLUMNS, validate_events


@pytest.fixture(scope="module")
def detector() -> AnthropogenicDetector:
    return AnthropogenicDetector.load(device="cpu")


def _read(path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def test_shipped_model_loads(detector):
    assert DEFAULT_ANTHROPOGENIC_MODEL.exists() and DEFAULT_ANTHROPOGENIC_MODEL.with_suffix(".json").exists()
    assert detector.classes == ANTHROPOGENIC_CLASSES
    assert detector.version != "untrained"
    params = detector.run_parameters
    assert params["model"] == detector.name and set(params["threshold"]) == set(detector.classes)
    assert "belize-gunshots" in detector.metadata["licences"]


def test_save_load_round_trip(detector, tmp_path):
    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.05
    per_class = {c: 0.4 + 0.01 * i for i, c in enumerate(detector.classes)}
    detector2 = AnthropogenicDetector.load(detector.save(tmp_path / "m.pt"), device="cpu", threshold=per_class)
    assert detector2.thresholds == per_class
    a = detector.predict_windows(audio, 16000)
    b = detector2.predict_windows(audio, 16000)
    pd.testing.assert_frame_equal(a, b)


def test_gunshot_scores_above_background(detector):
    root = require_data("audio/belize-gunshots")
    # held-out files (every 5th); the shipped model never saw any Belize data
    gun = [detector.file_windows(root / "gunshot" / f"gunshot_{i}.wav")["gunshot"].max() for i in range(0, 50, 5)]
    bg = [detector.file_windows(root / "background" / f"no_gunshot_{i}.wav")["gunshot"].max() for i in range(0, 50, 5)]
    assert np.mean(gun) > np.mean(bg)


def test_multi_label_dog_and_voice(detector):
    root = require_data("audio/anthropogenic")
    _, test = load_shared_dataset(root).split()
    dog = test[(test.our_class == "dog") & (test.dataset == "UrbanSound8K")].path.iloc[0]
    voice = test[(test.our_class == "voice") & test.dataset.str.startswith("ESC")].path.iloc[0]
    (a, ra), (b, rb) = _read(dog), _read(voice)
    from ecointegrity.acoustics._audio import resample as _resample

    a, b = _resample(a, ra, 16000), _resample(b, rb, 16000)
    n = min(len(a), len(b))
    mix = a[:n] / np.abs(a[:n]).max() + b[:n] / np.abs(b[:n]).max()
    scores = detector.predict_windows(mix * 0.4, 16000)[detector.classes].max()
    thr = detector.thresholds
    both_on = scores["dog"] >= thr["dog"] and scores["voice"] >= thr["voice"]
    assert both_on or set(scores.nlargest(2).index) == {"dog", "voice"}, scores.round(3).to_dict()


def test_split_keeps_groups_apart():
    ds = load_shared_dataset(require_data("audio/anthropogenic"))
    train, test = ds.split()
    assert not set(train.group) & set(test.group)
    assert set(test.group) == set(HELD_OUT_FOLDS)
    assert set(ANTHROPOGENIC_CLASSES) <= set(test.our_class) | {"chainsaw"}
    assert set(ANTHROPOGENIC_CLASSES) <= set(train.our_class)


def test_merge_windows_into_events():
    starts = np.arange(8.0)
    windows = pd.DataFrame({"window_start": starts, "window_end": starts + 2,
                            "gunshot": [0.1, 0.9, 0.7, 0.2, 0.1, 0.1, 0.8, 0.95],
                            "voice": [0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]})
    ev = merge_windows(windows, ["gunshot", "voice"], {"gunshot": 0.5, "voice": 0.5}, recording="r.wav")
    assert list(ev.columns) == EVENT_COLUMNS
    got = [(r.label, r.start_time, r.end_time, r.score) for r in ev.itertuples()]
    assert got == [("voice", 0.0, 2.0, 0.6), ("gunshot", 1.0, 4.0, 0.9), ("gunshot", 6.0, 9.0, 0.95)]
    validate_events(ev)


def test_long_file_bounded_reads_and_event_schema(detector, tmp_path, monkeypatch):
    root = require_data("audio/anthropogenic")
    rate = 16000
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(300 * rate) * 0.003).astype(np.float32)  # 5 min of quiet noise
    siren = _read(root / "Alejandro-131004_AC-II/159743-8-0-0.wav")
    from ecointegrity.acoustics._audio import resample as _resample

    s = _resample(siren[0], siren[1], rate)
    audio[120 * rate : 120 * rate + len(s)] += 0.5 * s / np.abs(s).max()
    path = tmp_path / "long.wav"
    sf.write(path, audio, rate, subtype="PCM_16")

    reads: list[int] = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    windows = detector.file_windows(path)
    assert len(reads) > 1 and all(0 < n <= 70 * rate for n in reads)  # never the whole file
    assert windows.window_start.iloc[0] == 0 and windows.window_end.iloc[-1] >= 300
    events = detector.detect_file(path, recording="long.wav")
    assert list(events.columns) == EVENT_COLUMNS
    validate_events(events)
    assert (events.recording == "long.wav").all() and (events.model_version == detector.version).all()
    siren_events = events[(events.label == "siren") & (events.end_time > 120) & (events.start_time < 124)]
    assert len(siren_events) == 1


def test_batch_runner_isolates_resumes_and_records_the_model(tmp_path):
    from ecointegrity.acoustics import read_file_ledger, runner, synth_soundscape

    paths = []
    for i in range(3):
        audio, _ = synth_soundscape(20, 16000, events=[("gunshot", 8.0)], seed=i)
        paths.append(tmp_path / f"r{i}.wav")
        sf.write(paths[-1], audio, 16000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEfmt nonsense")
    files = [str(p) for p in [*paths, broken]]
    full = runner.detect_recordings(files, tmp_path / "full", model="anthropogenic", batch_files=1)
    assert full.processed == 4 and list(full.failed) == [str(broken)]
    assert full.parameters["model"] == "ecointegrity-anthropogenic"
    assert full.parameters["threshold"] == AnthropogenicDetector.load().thresholds
    assert full.cpu_s > 0 and full.audio_hours_per_cpu_hour > 0
    ledger = read_file_ledger(tmp_path / "full")
    assert (ledger.cpu_s > 0).all() and ledger.set_index("path").loc[str(broken), "status"] == "failed"

    # a run killed after two batches, the third between its two writes, resumes to the same
    # detections, none twice
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    for name in ("part-00002", "part-00003"):
        (tmp_path / "resumed" / "files" / f"{name}.parquet").unlink()
    (tmp_path / "resumed" / "detections" / "part-00003.parquet").unlink()
    resumed = runner.detect_recordings(files, tmp_path / "resumed", model="anthropogenic", batch_files=1)
    assert resumed.skipped == 2 and resumed.processed == 2
    pd.testing.assert_frame_equal(runner.read_detections(tmp_path / "resumed"), runner.read_detections(tmp_path / "full"))
    events = runner.read_detections(tmp_path / "full")
    assert list(events.columns)[: len(EVENT_COLUMNS)] == EVENT_COLUMNS


def test_model_path_and_threshold_override(tmp_path, detector):
    from ecointegrity.acoustics import runner

    saved = detector.save(tmp_path / "anthropogenic-mine.pt")
    wav = tmp_path / "quiet.wav"
    sf.write(wav, np.zeros(16000 * 3, np.float32), 16000)
    run = runner.detect_recordings([str(wav)], tmp_path / "run", model=str(saved), threshold=0.99)
    assert run.parameters["threshold"] == {c: 0.99 for c in detector.classes}


def test_tune_thresholds_picks_the_best_f1():
    scores = pd.DataFrame({"our_class": ["gunshot"] * 3 + ["dog"] * 3 + ["natural_background"] * 2,
                           "gunshot": [0.9, 0.8, 0.35, 0.3, 0.1, 0.2, 0.05, 0.3],
                           "dog": [0.1, 0.2, 0.1, 0.6, 0.7, 0.8, 0.1, 0.1],
                           "siren": [0.0] * 8})
    from ecointegrity.acoustics.anthropogenic import tune_thresholds

    got = tune_thresholds(scores, ["gunshot", "dog", "siren"])
    assert 0.3 < got["gunshot"] <= 0.35  # all three shots, none of the 0.3 scores
    assert got["dog"] == 0.5  # a tie over 0.25-0.6 goes to the threshold nearest 0.5
    assert got["siren"] == 0.5  # no positives: the default
    few = tune_thresholds(scores, ["gunshot", "dog"], min_positives=4)
    assert few == {"gunshot": 0.5, "dog": 0.5}  # three positives each: too few to tune on


def test_fine_tune_keeps_classes_and_records_the_base(detector, tmp_path):
    import datetime as dt

    from ecointegrity.acoustics import synth_soundscape, write_soundscape
    from ecointegrity.acoustics.anthropogenic import train_anthropogenic

    rows = []
    for i, label in enumerate(ANTHROPOGENIC_CLASSES + ["natural_background"]):
        kind = "gunshot" if label == "gunshot" else "vehicle"
        audio, _ = synth_soundscape(3, 16000, events=[] if label == "natural_background" else [(kind, 0.5)], seed=i)
        path = write_soundscape(tmp_path / f"{label}.wav", audio, 16000, timestamp=dt.datetime(2024, 1, 1))
        rows.append({"path": str(path), "our_class": label})
    before = {k: v.clone() for k, v in detector.net_.state_dict().items()}
    fine = train_anthropogenic(pd.DataFrame(rows), steps=2, batch_size=4, lr=1e-3, log_every=0, init=detector)
    assert fine.classes == detector.classes and fine.metadata["base_model"] == detector.version
    assert fine.net_ is not detector.net_
    assert all(torch.equal(before[k], v) for k, v in detector.net_.state_dict().items())  # the base is untouched
    with pytest.raises(ValueError, match="keeps the classes"):
        train_anthropogenic(pd.DataFrame(rows), classes=["gunshot"], steps=1, init=detector)


def test_training_draws_each_source_equally_and_hears_events_far_away():
    from ecointegrity.acoustics.anthropogenic.training import _Clip, _Mixer

    rng = np.random.default_rng(0)
    many = [_Clip(np.ones(100, np.float32), np.array([50]), "big") for _ in range(99)]
    one = [_Clip(np.ones(100, np.float32), np.array([50]), "small")]
    mixer = _Mixer({0: many + one}, [np.zeros(32000, np.float32)], 32000, 1)
    picks = [mixer._pick(0, rng).source for _ in range(2000)]
    assert 0.45 < picks.count("small") / len(picks) < 0.55  # not 1 in 100
    click = np.zeros(16000, np.float32)
    click[1000] = 1.0
    far = mixer._far(click, rng)
    spectrum = np.abs(np.fft.rfft(far))
    freqs = np.fft.rfftfreq(len(far), 1 / 16000)
    assert spectrum[freqs > 6000].mean() < 0.1 * spectrum[freqs < 500].mean()  # absorbed highs
    assert np.abs(far[4000:8000]).max() > 0  # a reverberant tail long after the click
    assert len(far) == len(click) and far.dtype == np.float32


def test_distractors_are_mixed_in_without_a_target():
    from ecointegrity.acoustics.anthropogenic.training import _Clip, _Mixer

    silent = {c: [_Clip(np.zeros(100, np.float32), np.array([50]), "a")] for c in (0, 1)}
    knock = _Clip(np.ones(8000, np.float32), np.array([4000]), "b")  # a step: a mean far from 0
    noise = np.random.default_rng(1).standard_normal(64000).astype(np.float32)
    plain = _Mixer(silent, [noise], 32000, 2, far_p=0.0)
    busy = _Mixer(silent, [noise], 32000, 2, far_p=0.0, distractors=[knock], distractor_p=1.0)
    offset = lambda x: abs(x.mean()) / np.sqrt(np.mean(x**2))  # noqa: E731
    for seed in range(20):
        (a, ya), (b, yb) = plain.example(np.random.default_rng(seed)), busy.example(np.random.default_rng(seed))
        assert np.array_equal(ya, yb)  # a distractor never sets a target
        assert offset(a) < 0.05 < 0.1 < offset(b)  # but it is in the window


def test_recording_parts_keep_recordings_together():
    from ecointegrity.acoustics.anthropogenic import recording_parts

    clips = pd.DataFrame({"freesound_id": [7, 7, 7, 8, np.nan, np.nan, np.nan],
                          "group": ["1", "1", "2", "1", "fsdd:jackson", "fsdd:jackson", "shotspotter:FP3"]})
    parts = recording_parts(clips, 2)
    assert parts[0] == parts[1] == parts[2]  # slices of one Freesound recording, even across folds
    assert parts[4] == parts[5]  # one speaker
    assert set(parts) <= {0, 1} and np.array_equal(parts, recording_parts(clips, 2))  # stable
    many = pd.DataFrame({"freesound_id": np.arange(400), "group": "1"})
    assert 0.4 < (recording_parts(many, 2) == 0).mean() < 0.6
    with pytest.raises(ValueError, match="folds must be at least 2"):
        recording_parts(clips, 1)


def test_cross_fitted_scores_come_from_models_that_never_saw_the_recording(tmp_path, monkeypatch):
    import datetime as dt

    from ecointegrity.acoustics import synth_soundscape, write_soundscape
    from ecointegrity.acoustics.anthropogenic import crossfit

    rows = []
    for i in range(12):
        label = ["gunshot", "vehicle", "natural_background", "other"][i % 4]
        events = [] if label in ("natural_background", "other") else [(label, 0.5)]
        audio, _ = synth_soundscape(3, 16000, events=events, seed=i)
        path = write_soundscape(tmp_path / f"{i}.wav", audio, 16000, timestamp=dt.datetime(2024, 1, 1))
        rows.append({"file": path.name, "path": str(path), "our_class": label, "group": "1",
                     "freesound_id": 100 + i // 2, "dataset": "synthetic"})
    clips = pd.DataFrame(rows)
    seen: list[set[str]] = []
    real_train = crossfit.train_anthropogenic

    def train(train_clips, **kwargs):
        seen.append(set(train_clips.file))
        return real_train(train_clips, **kwargs)

    monkeypatch.setattr(crossfit, "train_anthropogenic", train)
    classes = ["gunshot", "vehicle"]
    scores = crossfit.cross_fitted_scores(clips, 2, classes=classes, steps=1, batch_size=4, log_every=0)
    assert sorted(scores.file) == sorted(clips.file[clips.our_class != "other"])  # each once, no distractor
    parts = dict(zip(clips.file, crossfit.recording_parts(clips, 2), strict=True))
    for row in scores.itertuples():
        assert row.file not in seen[row.part] and parts[row.file] == row.part
    assert scores[classes].to_numpy().min() >= 0 and scores[classes].to_numpy().max() <= 1
