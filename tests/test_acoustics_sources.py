"""Public datasets as clip tables: UrbanSound8K and ESC-50 names, ShotSpotter pulses, soundscapes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from ecointegrity.acoustics.anthropogenic.sources import (
    CLIP_TABLE_COLUMNS,
    esc50_clips,
    read_clip,
    shotspotter_clips,
    soundscape_clips,
    urbansound8k_clips,
)


def _wav(path, seconds=1.0, rate=8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * rate), np.float32), rate)


def test_urbansound8k_classes_come_from_the_file_names(tmp_path):
    for name in ("100-6-0-0.wav", "101-5-1-2.wav", "102-0-0-0.wav", "103-9-0-0.wav"):
        _wav(tmp_path / "fold1" / name)
    _wav(tmp_path / "fold2" / "104-2-0-0.wav")
    table = urbansound8k_clips(tmp_path, folds=(1, 2))
    assert list(table.columns) == CLIP_TABLE_COLUMNS
    # air conditioner (0) and street music (9) are not our classes
    assert table.set_index("file").our_class.to_dict() == {
        "100-6-0-0.wav": "gunshot", "101-5-1-2.wav": "vehicle", "104-2-0-0.wav": "voice"}
    assert table.group.tolist() == ["1", "1", "2"] and table.freesound_id.tolist() == [100, 101, 104]
    _wav(tmp_path / "fold3" / "not-a-name.wav")
    with pytest.raises(ValueError, match="not-a-name.wav"):
        urbansound8k_clips(tmp_path, folds=(3,))
    with pytest.raises(FileNotFoundError, match="fold4"):
        urbansound8k_clips(tmp_path, folds=(4,))


def test_esc50_classes_come_from_the_file_names_and_fold_4_is_never_read(tmp_path):
    for name in ("1-100-A-0.wav", "1-101-A-48.wav", "1-102-B-21.wav", "2-103-A-5.wav", "5-104-A-42.wav"):
        _wav(tmp_path / "audio" / name)
    (tmp_path / "audio" / "4-105-A-0.wav").write_bytes(b"not audio: a reserved clip is never opened")
    table = esc50_clips(tmp_path, folds=(1, 2))
    assert list(table.columns) == CLIP_TABLE_COLUMNS
    # fireworks (48) distract; sneezing (21) is left out; a cat (5) is a domestic animal
    assert table.set_index("file").our_class.to_dict() == {
        "1-100-A-0.wav": "dog", "1-101-A-48.wav": "other", "2-103-A-5.wav": "domestic_animal"}
    assert table.group.tolist() == ["1", "1", "2"] and table.freesound_id.tolist() == [100, 101, 103]
    assert esc50_clips(tmp_path).our_class.tolist() == ["dog", "other", "domestic_animal", "siren"]
    with pytest.raises(ValueError, match="fold 4 is reserved"):
        esc50_clips(tmp_path, folds=(4,))
    _wav(tmp_path / "audio" / "odd name.wav")
    with pytest.raises(ValueError, match="odd name.wav"):
        esc50_clips(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        esc50_clips(tmp_path / "nowhere")


def test_shotspotter_bursts_are_cut_from_each_sensors_pulses(tmp_path):
    test = tmp_path / "FP2" / "test_007"
    _wav(test / "test_007.audio.S1.wav", seconds=10.0, rate=12000)
    _wav(test / "test_007.audio.S2.wav", seconds=10.0, rate=12000)
    for serial in ("S1", "S2"):
        (test / f"test_007.audio.{serial}.json").write_text(
            json.dumps({"serial_number": serial, "timestamp": "2018-12-19T00:49:26.000Z"}))
    pulses = [
        {"serial_number": "S1", "arrival_time_utc": "2018-12-19T00:49:29.500Z", "signal_to_noise_dB": 20},
        {"serial_number": "S1", "arrival_time_utc": "2018-12-19T00:49:29.800Z", "signal_to_noise_dB": 15},
        {"serial_number": "S1", "arrival_time_utc": "2018-12-19T00:49:33.000Z", "signal_to_noise_dB": 2},
        {"serial_number": "S2", "arrival_time_utc": "2018-12-19T00:49:30.000Z", "signal_to_noise_dB": 3},
        {"serial_number": "S9", "arrival_time_utc": "2018-12-19T00:49:30.000Z", "signal_to_noise_dB": 30},
    ]
    (test / "test_007.allpulses.json").write_text(json.dumps(pulses))
    table = shotspotter_clips(tmp_path)
    # S2 heard only a faint pulse: left out; S1's faint late pulse does not stretch its clip
    assert len(table) == 1
    row = table.iloc[0]
    assert row.file == "test_007.audio.S1.wav" and row.group == "shotspotter:FP2"
    assert row.start_s == pytest.approx(3.0) and row.end_s == pytest.approx(4.8)
    assert row.our_class == "gunshot" and row.licence == "CC BY 4.0"


def test_soundscapes_are_grouped_by_their_minute_and_clips_read_in_part(tmp_path):
    for stamp in ("003000", "004500", "013000"):
        _wav(tmp_path / f"S4A_20190522_{stamp}.wav", seconds=2.0, rate=22050)
    _wav(tmp_path / "dawn.wav")
    table = soundscape_clips(tmp_path, "maad", "BSD-3-Clause")
    assert table.set_index("file").group.to_dict() == {
        "S4A_20190522_003000.wav": "minute:30", "S4A_20190522_004500.wav": "minute:45",
        "S4A_20190522_013000.wav": "minute:30", "dawn.wav": "other"}
    ramp = np.linspace(-0.5, 0.5, 8000, dtype=np.float32)
    sf.write(tmp_path / "ramp.wav", np.stack([ramp, ramp], axis=1), 8000)
    part = read_clip(tmp_path / "ramp.wav", 8000, 0.25, 0.5)
    assert len(part) == 2000 and part[0] == pytest.approx(ramp[2000], abs=1e-4)
    assert len(read_clip(tmp_path / "ramp.wav", 16000)) == 16000
