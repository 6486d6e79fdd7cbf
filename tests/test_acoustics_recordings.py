"""Recordings scan: real bat-detector files (AudioMoth, Echo Meter, BATLOGGER), broken files,
AudioMoth comment wordings, GUANO time expansion, sources (folder, glob, list, fsspec URL) and
Parquet storage. True metadata of the real files: PROVENANCE.md beside them."""

from __future__ import annotations

import json
import os
import pickle
import struct
import uuid
from datetime import datetime, timedelta, timezone

import fsspec
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import require_data
from guano import GuanoFile

from ecointegrity.acoustics.errors import AcousticsError, AudioFileError
from ecointegrity.acoustics.io import (
    RECORDING_COLUMNS,
    ScanResult,
    parse_audiomoth_comment,
    read_recording_metadata,
    read_recordings,
    scan_recordings,
    write_recordings,
)

# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contrib():
    return require_data("audio/batdetect2-contrib")


@pytest.fixture(scope="module")
def example():
    return require_data("audio/batdetect2-example/audio")


@pytest.fixture(scope="module")
def real(contrib, example):
    """The scan of every real file, by file name."""
    result = scan_recordings([contrib, example], progress=False)
    assert result.problems.empty, str(result)
    return result.table.assign(name=result.table["path"].map(os.path.basename)).set_index("name")


def _chunk(chunk_id: bytes, payload: bytes, declared: int | None = None) -> bytes:
    size = len(payload) if declared is None else declared
    return chunk_id + struct.pack("<I", size) + payload + (b"\x00" if len(payload) % 2 else b"")


def _wav_bytes(rate: int = 8000, frames: int = 800, chunks: tuple = ()) -> bytes:
    """A 16-bit mono PCM WAV of silence, with extra RIFF chunks (id, payload) after the data."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", b"\x00\x00" * frames)
    body += b"".join(_chunk(cid, payload) for cid, payload in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _icmt(text: str) -> tuple[bytes, bytes]:
    return b"LIST", b"INFO" + _chunk(b"ICMT", text.encode() + b"\x00")


# --- real files --------------------------------------------------------------------------------


def test_real_files_header(real):
    expected = {  # name: (sample rate, frames) - PROVENANCE.md and the files' fmt/data chunks
        "Audiomoth.WAV": (250_000, 1_681_312),
        "AudiomothNoBatCalls.WAV": (250_000, 26_272),
        "Echometer.wav": (256_000, 1_787_520),
        "0166_20240531_223911.wav": (312_500, 1_260_544),
        "0166_20240603_033731.wav": (312_500, 1_260_544),
        "20230322_172000_selec2.wav": (192_000, 384_000),
        "20170701_213954-MYOMYS-LR_0_0.5.wav": (500_000, 250_000),
        "20180530_213516-EPTSER-LR_0_0.5.wav": (384_000, 192_000),
        "20180627_215323-RHIFER-LR_0_0.5.wav": (384_000, 192_000),
    }
    assert sorted(real.index) == sorted(expected)
    for name, (rate, frames) in expected.items():
        row = real.loc[name]
        assert (row.sample_rate, row.frames, row.channels) == (rate, frames, 1), name
        assert row.duration_s == pytest.approx(frames / rate)
        assert (row.format, row.subtype) == ("WAV", "PCM_16")
        assert row.time_expansion == 1.0 and row.real_sample_rate == rate
        assert row.size_bytes == os.path.getsize(row.path)
    assert real.loc["Audiomoth.WAV", "duration_s"] == pytest.approx(6.73, abs=0.01)
    assert real.loc["0166_20240531_223911.wav", "duration_s"] == pytest.approx(4.03, abs=0.01)
    assert list(real.reset_index(drop=True).columns) == RECORDING_COLUMNS


def test_audiomoth_guano_and_comment(real):
    row = real.loc["Audiomoth.WAV"]
    assert row.serial == "24E144055E080032"
    assert (row.device_make, row.device_model) == ("Open Acoustic Devices", "AudioMoth")
    assert "1.10.1" in row.firmware
    assert row.timestamp_local == "2024-09-03T20:26:15"
    assert row.utc_offset == "+01:00"
    assert row.timestamp_utc == pd.Timestamp("2024-09-03T19:26:15Z")
    # gain only the comment gives; battery and temperature both give (and agree)
    assert (row.gain, row.battery_v, row.temperature_c) == ("medium", 4.2, 19.3)
    assert row.comment.startswith("Recorded at 20:26:15 03/09/2024 (UTC+1)")
    assert json.loads(row.guano)["Original Filename"] == "20240903_202615T.WAV"
    assert row.site == "padpadpadpad"  # no site field: the folder's name
    assert np.isnan(row.latitude) and np.isnan(row.longitude)
    assert real["timestamp_utc"].dtype == "datetime64[ns, UTC]"


def test_near_empty_audiomoth_is_a_recording(real):
    row = real.loc["AudiomothNoBatCalls.WAV"]
    assert row.duration_s == pytest.approx(0.105, abs=0.001)
    assert row.timestamp_utc == pd.Timestamp("2024-09-03T18:31:30Z")


def test_echo_meter_ms_length_does_not_win(real):
    row = real.loc["Echometer.wav"]
    assert row.latitude == pytest.approx(50.7179, abs=1e-4)
    assert row.longitude == pytest.approx(-1.7611, abs=1e-4)
    assert row.species_manual_id == "PIPPIP"
    assert row.device_make == "Wildlife Acoustics"
    assert json.loads(row.guano)["Length"] == "6983.00"  # milliseconds, kept raw...
    assert row.duration_s == pytest.approx(6.98, abs=0.01)  # ...but the header decides
    assert row.real_duration_s == pytest.approx(6.98, abs=0.01)
    # "2022-08-15 21:34:14+0100": space separator and basic offset, still understood
    assert (row.timestamp_local, row.utc_offset) == ("2022-08-15T21:34:14", "+01:00")
    assert row.timestamp_utc == pd.Timestamp("2022-08-15T20:34:14Z")


def test_batlogger_naive_timestamp_stays_naive(real):
    row = real.loc["0166_20240531_223911.wav"]
    assert row.latitude == pytest.approx(49.09, abs=0.01)
    assert row.longitude == pytest.approx(5.05, abs=0.01)
    assert row.timestamp_local == "2024-05-31T22:39:11"
    assert pd.isna(row.utc_offset) and pd.isna(row.timestamp_utc)  # no zone guessed
    assert (row.device_make, row.device_model, row.serial) == ("BATLOGGER", "S2", "22060166")
    assert row.temperature_c == 15.4


def test_files_without_metadata(real):
    row = real.loc["20230322_172000_selec2.wav"]
    assert pd.isna(row.guano) and pd.isna(row.timestamp_local) and pd.isna(row.serial)
    assert row.site == "misc"


# --- broken files and sources ------------------------------------------------------------------


def _mixed_folder(tmp_path, contrib):
    card = tmp_path / "card"
    (card / "night2").mkdir(parents=True)
    try:  # the real files are linked, never copied
        os.symlink(contrib / "padpadpadpad" / "Audiomoth.WAV", card / "Audiomoth.WAV")
        os.symlink(contrib / "padpadpadpad" / "Echometer.wav", card / "night2" / "Echometer.wav")
    except OSError:
        pytest.skip("symlinks not available")
    (card / "empty.wav").write_bytes(b"")
    (card / "header_cut.wav").write_bytes(_wav_bytes()[:20])
    good = _wav_bytes(frames=800)
    (card / "data_cut.WAV").write_bytes(good[: len(good) - 600])
    (card / "header_only.wav").write_bytes(_wav_bytes(frames=0))
    (card / "notes.wav").write_text("field notes, not audio\n")
    sf.write(card / "night2" / "good.flac", np.zeros(4_000, np.int16), 96_000)
    (card / "readme.txt").write_text("not listed")
    (card / "._Audiomoth.WAV").write_bytes(b"\x00\x05\x16\x07")  # macOS fork: skipped
    return card


def test_scan_lists_broken_files_and_goes_on(tmp_path, contrib):
    card = _mixed_folder(tmp_path, contrib)
    result = scan_recordings(card, progress=False)

    names = [os.path.relpath(p, card) for p in result.table["path"]]
    assert names == ["Audiomoth.WAV", "night2/Echometer.wav", "night2/good.flac"]
    assert result.table["path"].is_monotonic_increasing
    flac = result.table.iloc[2]
    assert (flac.format, flac.sample_rate, flac.frames) == ("FLAC", 96_000, 4_000)
    assert flac.site == "night2"
    assert result.table.iloc[0].site == "card"  # the link's folder, not the target's

    reasons = dict(zip(map(os.path.basename, result.problems["path"]), result.problems["reason"], strict=False))
    assert sorted(reasons) == ["data_cut.WAV", "empty.wav", "header_cut.wav", "header_only.wav",
                               "notes.wav"]
    assert "empty" in reasons["empty.wav"]
    assert "truncated" in reasons["data_cut.WAV"]
    assert "not a readable audio file" in reasons["header_cut.wav"]
    assert "not a readable audio file" in reasons["notes.wav"]
    assert "no audio samples" in reasons["header_only.wav"]
    assert list(result.problems.columns) == ["path", "reason"]

    text = str(result)
    assert "8 files: 3 recordings, 5 problems" in text and "notes.wav" in text

    flat = scan_recordings(card, recursive=False, progress=False)
    assert [os.path.basename(p) for p in flat.table["path"]] == ["Audiomoth.WAV"]


def test_read_recording_metadata_raises_typed_errors(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioFileError) as info:
        read_recording_metadata(bad)
    err = info.value
    assert isinstance(err, AcousticsError)
    assert err.path == str(bad) and "not a readable audio file" in err.reason
    assert str(bad) in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.reason) == (err.path, err.reason)
    with pytest.raises(AudioFileError, match="file not found"):
        read_recording_metadata(tmp_path / "missing.wav")


def test_glob_and_list_sources(tmp_path, contrib, example):
    moths = scan_recordings(str(contrib / "padpadpadpad" / "*.WAV"), progress=False)
    assert [os.path.basename(p) for p in moths.table["path"]] == [
        "Audiomoth.WAV", "AudiomothNoBatCalls.WAV"]

    every = scan_recordings(str(contrib / "**" / "*"), progress=False)
    assert len(every.table) == 6  # PROVENANCE.md is not audio

    missing = tmp_path / "gone.wav"
    listed = scan_recordings([example / "20180627_215323-RHIFER-LR_0_0.5.wav", missing,
                              f"file://{contrib / 'misc'}"], progress=False)
    assert [os.path.basename(p) for p in listed.table["path"]] == [  # sorted by path
        "20230322_172000_selec2.wav", "20180627_215323-RHIFER-LR_0_0.5.wav"]
    assert listed.problems.to_dict("records") == [{"path": str(missing), "reason": "file not found"}]

    with pytest.raises(FileNotFoundError):
        scan_recordings(tmp_path / "no-such-folder", progress=False)
    assert scan_recordings(tmp_path, progress=False).table.empty


def test_fsspec_url_source(tmp_path):
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{uuid.uuid4().hex}/deployment"
    try:
        fs.pipe(f"{root}/a/one.WAV", _wav_bytes(rate=384_000, frames=3_840))
        fs.pipe(f"{root}/a/broken.wav", b"RIFF")
        fs.pipe(f"{root}/a/._one.WAV", b"\x00\x05\x16\x07")  # macOS fork: skipped
        sf.write(tmp_path / "x.flac", np.zeros(100, np.int16), 48_000)
        fs.pipe(f"{root}/b/two.flac", (tmp_path / "x.flac").read_bytes())
        result = scan_recordings(f"memory://{root}", progress=False)
        assert [p.rsplit("/", 1)[-1] for p in result.table["path"]] == ["one.WAV", "two.flac"]
        assert all(p.startswith("memory://") for p in result.table["path"])
        assert list(result.table["site"]) == ["a", "b"]
        assert result.table.iloc[0].duration_s == pytest.approx(0.01)
        assert [p.rsplit("/", 1)[-1] for p in result.problems["path"]] == ["broken.wav"]
        globbed = scan_recordings(f"memory://{root}/*/*.flac", progress=False)
        assert len(globbed.table) == 1 and globbed.problems.empty
        listed = scan_recordings([f"memory://{root}/a/one.WAV", f"memory://{root}/gone.wav"],
                                 progress=False)
        assert len(listed.table) == 1 and list(listed.problems["reason"]) == ["file not found"]
    finally:
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


def test_progress_bar_on_stderr(tmp_path, capsys):
    folder = tmp_path / "site [A]"  # an existing name is not taken for a glob pattern
    folder.mkdir()
    sf.write(folder / "a.flac", np.zeros(100, np.int16), 48_000)
    assert len(scan_recordings(folder, progress=True).table) == 1
    captured = capsys.readouterr()
    assert "scanning recordings" in captured.err and captured.out == ""


# --- AudioMoth comments ------------------------------------------------------------------------

COMMENTS = [
    (  # firmware 1.5+ (the padpadpadpad file's wording)
        "Recorded at 20:26:15 03/09/2024 (UTC+1) by AudioMoth 24E144055E080032 at medium gain "
        "while battery was 4.1V and temperature was 21.3C. High-pass filter with frequency of "
        "15.0kHz applied.",
        {"timestamp_local": "2024-09-03T20:26:15", "utc_offset": "+01:00",
         "serial": "24E144055E080032", "gain": "medium", "battery_v": 4.1, "temperature_c": 21.3},
    ),
    (  # firmware 1.0-1.2: numbered gain, battery as a bound, no temperature
        "Recorded at 21:00:00 24/02/2019 (UTC) by AudioMoth 0FE081F80FE081F0 at gain setting 2 "
        "while battery state was greater than 4.9V.",
        {"timestamp_local": "2019-02-24T21:00:00", "utc_offset": "+00:00",
         "serial": "0FE081F80FE081F0", "gain": "2", "battery_v": 4.9},
    ),
    (  # firmware 1.3-1.4: "gain setting" after the name, frost
        "Recorded at 05:00:00 13/01/2021 (UTC-5) by AudioMoth 24526B065DA6D37E at low-medium "
        "gain setting while battery state was 3.9V and temperature was -2.5C.",
        {"timestamp_local": "2021-01-13T05:00:00", "utc_offset": "-05:00",
         "serial": "24526B065DA6D37E", "gain": "low-medium", "battery_v": 3.9,
         "temperature_c": -2.5},
    ),
    (  # half-hour zone, low battery, stop reason appended
        "Recorded at 23:59:59 31/12/2022 (UTC+05:30) by AudioMoth 243B1F075C7A5B4A at high gain "
        "while battery was less than 3.6V and temperature was 30.0C. Recording stopped due to "
        "low voltage.",
        {"timestamp_local": "2022-12-31T23:59:59", "utc_offset": "+05:30", "gain": "high",
         "battery_v": 3.6, "temperature_c": 30.0},
    ),
    (  # parts missing: no zone, no gain, no battery
        "Recorded at 01:02:03 04/05/2020 by AudioMoth 243B1F075C7A5B4A.",
        {"timestamp_local": "2020-05-04T01:02:03", "serial": "243B1F075C7A5B4A"},
    ),
    (  # ISO date order, hours-only negative offset written as UTC-3:00
        "Recorded at 12:00:00 2023-06-01 (UTC-3:00) by AudioMoth 243B1F075C7A5B4A",
        {"timestamp_local": "2023-06-01T12:00:00", "utc_offset": "-03:00"},
    ),
]


@pytest.mark.parametrize("comment, expected", COMMENTS)
def test_parse_audiomoth_comment(comment, expected):
    parsed = parse_audiomoth_comment(comment)
    assert parsed["device_model"] == "AudioMoth"
    assert {k: parsed.get(k) for k in expected} == expected
    absent = {"utc_offset", "gain", "battery_v", "temperature_c"} - set(expected)
    assert not absent & set(parsed)


def test_parse_audiomoth_comment_odd_inputs():
    assert parse_audiomoth_comment(None) == {}
    assert parse_audiomoth_comment("Song Meter SM4 recording") == {}
    impossible = parse_audiomoth_comment("Recorded at 10:00:00 31/02/2020 (UTC) by AudioMoth 1234ABCD")
    assert "timestamp_local" not in impossible and impossible["serial"] == "1234ABCD"


# --- GUANO -------------------------------------------------------------------------------------


def test_guano_time_expansion(tmp_path):
    path = tmp_path / "te10.wav"
    sf.write(path, np.zeros(38_400, np.int16), 38_400)  # 1 s file of a 0.1 s call at 384 kHz
    guano = GuanoFile(str(path))
    guano["TE"] = 10
    guano["Samplerate"] = 384_000
    guano["Make"] = "Pettersson"
    guano["Timestamp"] = datetime(2020, 7, 1, 22, 30, tzinfo=timezone(timedelta(hours=2)))
    guano["Loc Position"] = (46.5, 6.6)
    guano["NABat|Site Name"] = "Lake shore"
    guano.write(make_backup=False)

    row = read_recording_metadata(path)
    assert row["time_expansion"] == 10.0
    assert row["sample_rate"] == 38_400 and row["real_sample_rate"] == 384_000
    assert row["duration_s"] == pytest.approx(1.0) and row["real_duration_s"] == pytest.approx(0.1)
    assert (row["latitude"], row["longitude"]) == (46.5, 6.6)
    assert row["site"] == "Lake shore"
    assert row["timestamp_utc"] == pd.Timestamp("2020-07-01T20:30:00Z")


def test_guano_samplerate_implies_time_expansion(tmp_path):
    path = tmp_path / "te.wav"
    path.write_bytes(_wav_bytes(rate=50_000, chunks=[(b"guan", b"GUANO|Version: 1.0\nSamplerate: 500000\n")]))
    row = read_recording_metadata(path)
    assert row["time_expansion"] == 10.0 and row["real_sample_rate"] == 500_000


def test_guano_tolerates_bad_lines_and_fills_from_comment(tmp_path):
    guano = (b"GUANO|Version: 1.0\nMake: Elekon\nthis line has no colon\n"
             b"Timestamp: 2024-09-03T20:26:15\nLoc Position: not a place\n")
    comment = "Recorded at 20:26:15 03/09/2024 (UTC+1) by AudioMoth 24E144055E080032 at low gain"
    path = tmp_path / "mixed.wav"
    path.write_bytes(_wav_bytes(chunks=[_icmt(comment), (b"guan", guano)]))
    row = read_recording_metadata(path)
    assert row["device_make"] == "Elekon"  # GUANO first...
    assert row["serial"] == "24E144055E080032" and row["gain"] == "low"  # ...comment fills gaps
    # the naive GUANO time and the comment's name the same instant: the offset is trusted
    assert row["utc_offset"] == "+01:00"
    assert row["timestamp_utc"] == pd.Timestamp("2024-09-03T19:26:15Z")
    assert row["latitude"] is None
    assert "this line has no colon" not in json.loads(row["guano"])


# --- storage -----------------------------------------------------------------------------------


def test_write_read_roundtrip(tmp_path, contrib):
    card = _mixed_folder(tmp_path, contrib)
    result = scan_recordings(card, progress=False)
    out = tmp_path / "out" / "recordings.parquet"
    written = write_recordings(result, out)
    problems_csv = out.with_name("recordings.problems.csv")
    assert written == [str(out), str(problems_csv)]
    assert sorted(os.listdir(out.parent)) == ["recordings.parquet", "recordings.problems.csv"]

    back = read_recordings(out)
    pd.testing.assert_frame_equal(back, result.table)
    plain = pd.read_parquet(out)  # an ordinary Parquet file, no ecointegrity needed
    assert list(plain.columns) == RECORDING_COLUMNS and len(plain) == 3
    assert str(plain["timestamp_utc"].dtype) == "datetime64[ns, UTC]"
    assert len(pd.read_csv(problems_csv)) == 5

    # a clean rescan replaces the table and drops the stale problems file
    assert write_recordings(result.table, out) == [str(out)]
    assert not problems_csv.exists()

    with pytest.raises(AcousticsError, match="missing"):
        write_recordings(pd.DataFrame({"path": ["x"]}), tmp_path / "bad.parquet")


def test_empty_scan_result_has_typed_columns(tmp_path):
    result = scan_recordings(tmp_path, progress=False)
    assert isinstance(result, ScanResult)
    assert list(result.table.columns) == RECORDING_COLUMNS
    assert result.table["sample_rate"].dtype == "int64"
    assert str(result.table["timestamp_utc"].dtype) == "datetime64[ns, UTC]"
    assert str(result) == "0 files: 0 recordings, 0 problems"
    write_recordings(result, tmp_path / "empty.parquet")
    assert read_recordings(tmp_path / "empty.parquet").empty


def test_truncated_wav_says_how_much_was_read(tmp_path):
    from ecointegrity.acoustics.io.recordings import recording_truncation

    whole = _wav_bytes(rate=8000, frames=int(3.7 * 8000))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: 44 + int(1.2 * 8000) * 2])  # header says 3.7 s, file holds 1.2 s
    (tmp_path / "whole.wav").write_bytes(whole)
    result = scan_recordings(tmp_path, progress=False)
    assert list(map(os.path.basename, result.table["path"])) == ["whole.wav"]
    (reason,) = result.problems["reason"]
    assert reason.startswith("truncated: 1.2 of 3.7 s read") and "declares 59200 bytes" in reason
    assert f"problem: {cut}: truncated: 1.2 of 3.7 s read" in str(result)
    assert recording_truncation(cut) == reason
    assert recording_truncation(tmp_path / "whole.wav") is None
    assert recording_truncation(tmp_path / "missing.wav") is None
