"""The privacy gate: speech found by Silero VAD on real recordings and silenced in clips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import require_data

from ecointegrity.acoustics._audio import resample
from ecointegrity.acoustics.clips import export_clips
from ecointegrity.acoustics.speech import SpeechDetector, mask_speech

RATE = 16000


@pytest.fixture(scope="module")
def speech() -> SpeechDetector:
    return SpeechDetector()


@pytest.fixture(scope="module")
def soundscape(tmp_path_factory) -> tuple:
    """Rain (ESC-50 fold 3), a spoken digit at 4 s (FSDD, speaker jackson), rain again: 10 s."""
    root = require_data("audio/anthropogenic")
    rain, rain_rate = sf.read(root / "caitlinnguyen0_ESC-50/3-132852-A-10.wav", dtype="float32")
    voice, voice_rate = sf.read(
        root / "Jakobovski_free-spoken-digit-dataset/0_jackson_10.wav", dtype="float32"
    )
    rain, voice = resample(rain, rain_rate, RATE), resample(voice, voice_rate, RATE)
    audio = np.concatenate([rain[: 4 * RATE], voice / np.abs(voice).max() * 0.5, rain])[
        : 10 * RATE
    ]
    path = tmp_path_factory.mktemp("speech") / "site.wav"
    sf.write(path, audio, RATE)
    return path, audio, 4.0, 4.0 + len(voice) / RATE


def test_speech_is_found_where_the_person_speaks_and_nowhere_else(speech, soundscape):
    path, audio, voice_start, voice_end = soundscape
    found = speech.detect_file(path)
    assert len(found) == 1
    event = found.iloc[0]
    assert event["label"] == "voice" and event["score"] > 0.8
    assert event["model"] == "silero-vad" and event["recording"] == str(path)
    # the padded segment covers the digit and stays near it
    assert voice_start - 0.5 < event["start_time"] <= voice_start + 0.1
    assert voice_end - 0.1 <= event["end_time"] < voice_end + 0.6
    # reading in blocks gives the same segment as the whole array
    blocks = SpeechDetector(block_s=10.0, model_=speech.model_).detect_audio(audio, RATE)
    assert np.allclose(blocks[["start_time", "end_time"]], found[["start_time", "end_time"]])


def test_mask_speech_silences_exactly_the_spans():
    audio = np.ones(1000, np.float32)
    spans = pd.DataFrame({"start_time": [10.2, 10.5], "end_time": [10.3, 10.55]})
    masked, seconds = mask_speech(audio, 1000, spans, offset_s=10.0)
    assert seconds == pytest.approx(0.15, abs=0.004)  # rounded outwards: never a sample short
    assert not masked[200:300].any() and not masked[500:550].any()
    assert masked[:199].all() and masked[302:499].all() and masked[552:].all()
    assert audio.all()  # the input is not changed


def test_clips_never_carry_speech(speech, soundscape, tmp_path):
    path, audio, voice_start, voice_end = soundscape
    events = pd.DataFrame(
        {
            "recording": [str(path), str(path), str(path), str(tmp_path / "missing.wav")],
            "start_time": [voice_start, 1.0, voice_start - 1.5, 1.0],
            "end_time": [voice_end, 1.5, voice_start - 0.8, 2.0],
            "label": ["voice", "gunshot", "dog", "gunshot"],
            "score": [0.9, 0.8, 0.7, 0.6],
        }
    )
    export = export_clips(events, tmp_path / "clips", pad_s=1.0, speech=speech)
    status = export.clips["status"].tolist()
    assert status[0] == "withheld: speech" and export.clips["clip"].iloc[0] == ""
    assert status[1] == "written"  # rain only
    assert status[2] == "speech silenced"  # its padding reaches 0.2 s into the voice
    assert status[3].startswith("failed: cannot read audio")
    assert (export.written, export.masked, export.withheld, export.failed) == (2, 1, 1, 1)
    clip, rate = sf.read(tmp_path / "clips" / export.clips["clip"].iloc[2], dtype="float32")
    start = voice_start - 2.5  # the clip's start in the recording
    inside = slice(int((voice_start - start) * rate), int((voice_end - start) * rate))
    assert rate == RATE and not clip[inside].any()
    assert clip[: int(0.5 * rate)].any()  # the rain before it is kept
    listed = pd.read_csv(tmp_path / "clips" / "clips.csv", keep_default_na=False)
    assert listed["status"].tolist() == status
    assert "1 of them with speech silenced" in str(export)


def test_clips_command_reports_what_was_masked(soundscape, tmp_path):
    from typer.testing import CliRunner

    from ecointegrity.cli import app

    path, _, voice_start, voice_end = soundscape
    events = pd.DataFrame(
        {"recording": [str(path)] * 2, "start_time": [1.0, voice_start - 1.5],
         "end_time": [1.5, voice_start - 0.8], "label": ["gunshot", "dog"], "score": [0.8, 0.7]}
    )
    events.to_csv(tmp_path / "events.csv", index=False)
    result = CliRunner().invoke(
        app, ["acoustics", "clips", str(tmp_path / "events.csv"), "--out", str(tmp_path / "c"),
              "--label", "dog"]
    )
    assert result.exit_code == 0, result.output
    assert "1 clips written, 1 of them with speech silenced" in result.output
