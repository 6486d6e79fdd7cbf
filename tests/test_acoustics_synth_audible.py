"""The synthetic audible soundscapes of the demo: deterministic, what is inserted is what
the table says, and the recordings table reads their GUANO site, time and place."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ecointegrity.acoustics import scan_recordings
from ecointegrity.acoustics.anthropogenic.synth_audible import synth_soundscape, write_soundscape
from ecointegrity.acoustics.io import EVENT_COLUMNS


def test_deterministic_and_events_where_said():
    a, table = synth_soundscape(30, 16000, events=[("gunshot", 10.0), ("vehicle", 15.0)], seed=3)
    b, _ = synth_soundscape(30, 16000, events=[("gunshot", 10.0), ("vehicle", 15.0)], seed=3)
    quiet, _ = synth_soundscape(30, 16000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and len(a) == 30 * 16000 and np.abs(a).max() <= 1
    assert list(table.columns) == EVENT_COLUMNS and list(table.label) == ["gunshot", "vehicle"]
    inserted = np.abs(a.astype(float) - quiet)  # the same background under both
    assert inserted[: 10 * 16000].max() == 0  # nothing before the shot
    assert inserted[10 * 16000 : int(10.1 * 16000)].max() > 0.01  # the blast
    row = table.iloc[1]
    assert inserted[int(row.end_time * 16000) + 1 :].max() == 0  # nothing after the vehicle has passed


def test_unknown_event_type():
    with pytest.raises(ValueError, match="unknown audible event type 'tractor'"):
        synth_soundscape(5, events=[("tractor", 1.0)])


def test_written_metadata_is_scanned(tmp_path):
    audio, _ = synth_soundscape(5, 16000, hour=22, seed=1)
    write_soundscape(tmp_path / "edge" / "20240110_220000.WAV", audio, 16000, timestamp=dt.datetime(2024, 1, 10, 22),
                     location=(18.64, -88.38), site="forest-edge")
    table = scan_recordings(tmp_path, progress=False).table
    row = table.iloc[0]
    assert row.site == "forest-edge" and row.sample_rate == 16000 and row.duration_s == pytest.approx(5)
    assert row.latitude == pytest.approx(18.64) and row.longitude == pytest.approx(-88.38)
    assert str(row.timestamp_local) == "2024-01-10T22:00:00"


def test_real_demo_recordings_replace_the_background_and_the_shots():
    from ecointegrity.acoustics.anthropogenic import demo_sounds

    real = demo_sounds(16000)
    assert len(real.gunshots) == 4 and sorted(real.soundscapes) == [6, 13, 22]
    assert real.soundscape_at(23.5) is real.soundscapes[22]  # across midnight: 22h is nearest
    assert real.soundscape_at(1) is real.soundscapes[22]
    assert all(abs(len(g) / 16000 - 1.0) < 0.01 for g in real.gunshots)
    background = real.soundscape_at(22)
    audio, events = synth_soundscape(
        30.0, 16000, events=[("gunshot", 5.0), ("gunshot", 20.0)], background=background,
        sounds={"gunshot": real.gunshots},
    )
    assert len(audio) == 30 * 16000
    # outside the shots the recording is the soundscape, repeated every 10 s
    np.testing.assert_allclose(audio[: 5 * 16000], background[: 5 * 16000], atol=1e-6)
    np.testing.assert_allclose(audio[12 * 16000 : 13 * 16000], background[2 * 16000 : 3 * 16000],
                               atol=1e-6)
    # two different rounds, each ending with its recording
    assert events.end_time.tolist() == pytest.approx(
        [5.0 + len(real.gunshots[0]) / 16000, 20.0 + len(real.gunshots[1]) / 16000])
    shot = audio[5 * 16000 : 6 * 16000] - background[5 * 16000 : 6 * 16000]
    assert np.corrcoef(shot, real.gunshots[0][:16000])[0, 1] > 0.99
