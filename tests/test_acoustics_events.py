"""Sound event table: schema, and round trips through every format it reads and writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import require_data

from ecointegrity.acoustics.io import (
    EVENT_COLUMNS,
    UNKNOWN_LABEL,
    detect_format,
    empty_events,
    read_events,
    validate_events,
    write_events,
)

# counts of batdetect2 1.3.1 detections at threshold 0.3, from PROVENANCE.md of the data set
EXPECTED_COUNTS = {
    "20170701_213954-MYOMYS-LR_0_0.5.wav": 15,
    "20180530_213516-EPTSER-LR_0_0.5.wav": 20,
    "20180627_215323-RHIFER-LR_0_0.5.wav": 9,
    "Audiomoth.WAV": 59,
    "AudiomothNoBatCalls.WAV": 0,
    "Echometer.wav": 39,
    "0166_20240531_223911.wav": 86,
    "0166_20240603_033731.wav": 23,
    "20230322_172000_selec2.wav": 17,
}


@pytest.fixture
def predictions() -> pd.DataFrame:
    """One model's detections on two recordings (every event has a class score)."""
    return validate_events(pd.DataFrame({
        "recording": ["site1/rec_a.wav"] * 3 + ["site2/rec_b.wav"] * 2,
        "start_time": [0.0125, 0.25, 1.5, 0.1, 0.3333333333333333],
        "end_time": [0.02, 0.2571, 1.5123, 0.11, 0.34],
        "low_freq": [40000.0, 45500.5, 20000.0, 30000.0, 28000.0],
        "high_freq": [90000.0, 80000.0, 35000.0, 60000.0, 61000.25],
        "label": ["Pipistrellus pipistrellus", "Myotis daubentonii", "Nyctalus noctula",
                  "Pipistrellus pipistrellus", "bat"],
        "score": [0.91, 0.42, 0.77, 0.3, 0.555],
        "class_score": [0.8, 0.35, 0.6, 0.25, 0.5],
        "model": "ecointegrity-bat",
        "model_version": "0.3.1",
    }))


@pytest.fixture
def annotations() -> pd.DataFrame:
    """A person's annotations: score 1, no class score, no model; one event without bounds."""
    return validate_events(pd.DataFrame({
        "recording": ["rec_a.wav", "rec_a.wav", "rec_c.wav"],
        "start_time": [0.0125, 0.9, 2.0],
        "end_time": [0.02, 0.95, 2.5],
        "low_freq": [40000.0, np.nan, 1000.0],
        "high_freq": [90000.0, np.nan, 8000.0],
        "label": ["Pipistrellus pipistrellus", "Myotis daubentonii", "chainsaw"],
    }))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    out = df[EVENT_COLUMNS].sort_values(["recording", "start_time"], kind="stable")
    out = out.reset_index(drop=True)
    out.attrs = {}
    return out


def assert_events_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_sorted(actual), _sorted(expected), check_exact=False, rtol=1e-9)


# --------------------------------------------------------------------------- schema


def test_empty_events_has_the_schema():
    df = empty_events()
    assert list(df.columns) == EVENT_COLUMNS
    assert len(df) == 0
    assert df.start_time.dtype == float and df.score.dtype == float


def test_validate_coerces_and_fills_defaults():
    raw = pd.DataFrame({"recording": ["r.wav"], "start_time": ["0.5"], "end_time": [1],
                        "note": ["kept"]})
    df = validate_events(raw)
    assert list(df.columns) == EVENT_COLUMNS + ["note"]
    row = df.iloc[0]
    assert row.start_time == 0.5 and row.end_time == 1.0
    assert row.label == UNKNOWN_LABEL and row.score == 1.0
    assert np.isnan(row.class_score) and np.isnan(row.low_freq)
    assert row.model is None and row.model_version is None


def test_validate_keeps_none_for_missing_model():
    raw = pd.DataFrame({"recording": ["a", "b"], "start_time": [0, 1], "end_time": [1, 2],
                        "model": ["m", np.nan], "model_version": [None, ""]})
    df = validate_events(raw)
    assert df.model.tolist() == ["m", None]
    assert df.model_version.tolist() == [None, None]


@pytest.mark.parametrize("change, message", [
    ({"start_time": [2.0]}, "start_time must be <= end_time"),
    ({"low_freq": [9000.0], "high_freq": [1000.0]}, "low_freq must be <= high_freq"),
    ({"score": [1.5]}, "score must be in [0, 1]"),
    ({"class_score": [-0.1]}, "class_score"),
    ({"start_time": [-0.5]}, "start_time must be >= 0"),
    ({"start_time": ["soon"]}, "'start_time' must be numeric"),
    ({"recording": [None]}, "'recording' has missing values"),
])
def test_validate_rejects_bad_events(change, message):
    base = {"recording": ["r.wav"], "start_time": [0.1], "end_time": [0.2]}
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_events(pd.DataFrame({**base, **change}))


def test_validate_names_missing_columns():
    with pytest.raises(ValueError, match="end_time"):
        validate_events(pd.DataFrame({"recording": ["r"], "start_time": [0.0]}))


# --------------------------------------------------------------------------- round trips

ROUND_TRIPS = [("csv", "events.csv"), ("parquet", "events.parquet"), ("raven", "events.txt"),
               ("aoef", "events.json"), ("batdetect2", "batdetect2")]


@pytest.mark.parametrize("fmt, name", ROUND_TRIPS)
@pytest.mark.parametrize("which", ["predictions", "annotations"])
def test_round_trip(fmt, name, which, request, tmp_path):
    events = request.getfixturevalue(which)
    path = write_events(events, tmp_path / name, format=fmt)
    assert detect_format(path) == fmt
    back = read_events(path)
    assert_events_equal(back, events)


@pytest.mark.parametrize("fmt, name", ROUND_TRIPS)
def test_format_from_extension(fmt, name, predictions, tmp_path):
    path = write_events(predictions, tmp_path / name)
    assert detect_format(path) == fmt
    assert_events_equal(read_events(path, fmt), predictions)


def test_empty_table_round_trips(tmp_path):
    for name in ("e.csv", "e.parquet", "e.txt", "e.json"):
        back = read_events(write_events(empty_events(), tmp_path / name))
        assert len(back) == 0 and list(back.columns) == EVENT_COLUMNS


def test_writes_are_atomic_and_leave_no_temporaries(predictions, tmp_path):
    write_events(predictions, tmp_path / "a.csv")
    with pytest.raises(ValueError):
        write_events(predictions.assign(score=2.0), tmp_path / "b.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_unknown_formats_are_refused(predictions, tmp_path):
    with pytest.raises(ValueError, match="format"):
        write_events(predictions, tmp_path / "events.xlsx")
    with pytest.raises(ValueError, match="cannot write"):
        write_events(predictions, tmp_path / "x", format="batdetect2-csv")
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(ValueError, match="format"):
        read_events(tmp_path / "notes.md")
    with pytest.raises(FileNotFoundError):
        read_events(tmp_path / "missing.csv")


def test_recording_override(predictions, tmp_path):
    path = write_events(predictions[predictions.recording == "site2/rec_b.wav"], tmp_path / "b.txt")
    back = read_events(path, recording="renamed.wav")
    assert set(back.recording) == {"renamed.wav"}


def test_csv_keeps_recording_named_na(tmp_path):
    df = validate_events(pd.DataFrame({"recording": ["NA"], "start_time": [0], "end_time": [1],
                                       "label": ["None"]}))
    back = read_events(write_events(df, tmp_path / "e.csv"))
    assert back.recording.tolist() == ["NA"] and back.label.tolist() == ["None"]


# --------------------------------------------------------------------------- batdetect2


def test_batdetect2_folder_has_one_file_per_recording(predictions, tmp_path):
    out = write_events(predictions, tmp_path / "anns", format="batdetect2")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["rec_a.wav.json", "rec_b.wav.json"]
    obj = json.loads((out / "rec_a.wav.json").read_text())
    assert set(obj) == {"id", "duration", "time_exp", "class_name", "annotated", "issues",
                        "notes", "annotation"}
    assert obj["id"] == "site1/rec_a.wav" and obj["annotated"] is False
    assert obj["class_name"] == "Pipistrellus pipistrellus"
    first = obj["annotation"][0]
    assert first["class"] == "Pipistrellus pipistrellus"
    assert first["det_prob"] == 0.91 and first["class_prob"] == 0.8
    assert {"start_time", "end_time", "low_freq", "high_freq", "event", "individual"} <= set(first)


def test_batdetect2_single_file_and_merged_file(predictions, annotations, tmp_path):
    one = predictions[predictions.recording == "site2/rec_b.wav"]
    path = write_events(one, tmp_path / "one.json", format="batdetect2")
    assert isinstance(json.loads(path.read_text()), dict)
    assert_events_equal(read_events(path), one)
    merged = write_events(annotations, tmp_path / "merged.json", format="batdetect2")
    assert len(json.loads(merged.read_text())) == 2
    assert_events_equal(read_events(merged), annotations)


def test_batdetect2_keeps_recording_metadata_and_empty_recordings(predictions, tmp_path):
    meta = {"site1/rec_a.wav": {"duration": 3.0, "time_expansion": 10},
            "site2/rec_b.wav": {"duration": 0.5},
            "site3/silent.wav": {"duration": 0.1}}
    out = write_events(predictions, tmp_path / "anns", format="batdetect2", recordings=meta)
    silent = json.loads((out / "silent.wav.json").read_text())
    assert silent["annotation"] == [] and silent["duration"] == 0.1
    back = read_events(out)
    assert back.attrs["recordings"]["site1/rec_a.wav"] == {"duration": 3.0, "time_expansion": 10.0}
    assert "site3/silent.wav" in back.attrs["recordings"]
    # time_exp is metadata only: the numbers are real time already
    assert_events_equal(back, predictions)


def test_batdetect2_refuses_clashing_file_names(tmp_path):
    df = validate_events(pd.DataFrame({"recording": ["a/x.wav", "b/x.wav"], "start_time": [0, 0],
                                       "end_time": [1, 1]}))
    with pytest.raises(ValueError, match="share file names"):
        write_events(df, tmp_path / "anns", format="batdetect2")


def test_batdetect2_example_annotations():
    anns = require_data("audio/batdetect2-example/anns")
    df = read_events(anns)
    assert detect_format(anns) == "batdetect2"
    counts = df.recording.value_counts().to_dict()
    assert counts == {k: v for k, v in EXPECTED_COUNTS.items() if "LR_0_0.5" in k}
    myomys = df[df.recording.str.contains("MYOMYS")]
    assert len(myomys) == 15 and (myomys.score >= 0.3).all()
    assert myomys.label.value_counts().to_dict() == {"Myotis mystacinus": 11,
                                                     "Pipistrellus pipistrellus": 4}
    # "Automatically generated" notes: model output, not a person's annotation
    assert set(df.model) == {"batdetect2"}
    assert df.attrs["recordings"]["20170701_213954-MYOMYS-LR_0_0.5.wav"] == {
        "duration": 0.5, "time_expansion": 1.0}
    first = myomys.iloc[0]
    assert (first.start_time, first.end_time, first.low_freq, first.high_freq) == (
        0.0225, 0.028, 33203.0, 107492.0)
    assert (first.score, first.class_score) == (0.658, 0.55)


def test_batdetect2_expected_outputs_json_and_csv():
    root = require_data("audio/batdetect2-expected-1.3.1")
    js = read_events(root, "batdetect2")
    assert js.recording.value_counts().to_dict() == {k: v for k, v in EXPECTED_COUNTS.items() if v}
    assert set(js.attrs["recordings"]) == set(EXPECTED_COUNTS)  # the empty file too
    assert len(js) == sum(EXPECTED_COUNTS.values()) == 268
    assert (js.score >= 0.3).all()
    audiomoth = js[js.recording == "Audiomoth.WAV"]
    assert (audiomoth.label == "Pipistrellus pygmaeus").sum() == 50
    assert set(js[js.recording == "Echometer.wav"].label) == {"Pipistrellus pipistrellus"}
    csv = read_events(root, "batdetect2-csv")
    assert_events_equal(csv, js)
    one = root / "batdetect2-example/audio/20170701_213954-MYOMYS-LR_0_0.5.wav.csv"
    assert detect_format(one) == "batdetect2-csv"
    assert len(read_events(one)) == 15


def test_batdetect2_expected_equals_example_annotations():
    example = read_events(require_data("audio/batdetect2-example/anns"))
    expected = read_events(require_data("audio/batdetect2-expected-1.3.1/batdetect2-example"))
    assert_events_equal(expected, example)


def test_batdetect2_real_files_round_trip(tmp_path):
    root = require_data("audio/batdetect2-expected-1.3.1")
    js = read_events(root, "batdetect2")
    meta = js.attrs["recordings"]
    out = write_events(js, tmp_path / "anns", format="batdetect2", recordings=meta)
    assert len(list(out.iterdir())) == 9
    back = read_events(out)
    assert_events_equal(back, js)
    assert back.attrs["recordings"] == js.attrs["recordings"]


# --------------------------------------------------------------------------- raven


def _raven(tmp_path: Path, header: list[str], rows: list[list], name="t.selections.txt",
           encoding="utf-8") -> Path:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in r) for r in rows]
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.mark.parametrize("label_column", ["Species", "Annotation", "Label", "class"])
def test_raven_tolerant_columns(label_column, tmp_path):
    header = ["Selection", "View", "Channel", "Begin Time (S)", "End Time (S)", "Low Freq (Hz)",
              "High Freq (Hz)", label_column]
    rows = [[1, "Waveform 1", 1, 1.0, 2.0, 0, 22050, "wren"],
            [1, "Spectrogram 1", 1, 1.0, 2.0, 2000, 8000, "wren"],
            [2, "Spectrogram 1", 1, 3.5, 3.75, 1500.5, 4000, "robin"]]
    df = read_events(_raven(tmp_path, header, rows, name="dawn.Table.1.selections.txt"))
    # one row per selection (the spectrogram view), recording from the table's name
    assert df.label.tolist() == ["wren", "robin"]
    assert df.low_freq.tolist() == [2000.0, 1500.5]
    assert set(df.recording) == {"dawn"}
    assert df.score.tolist() == [1.0, 1.0] and df.model.tolist() == [None, None]


def test_raven_birdnet_style_table(tmp_path):
    header = ["Selection", "View", "Channel", "Begin Path", "File Offset (s)", "Begin Time (s)",
              "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)", "Common Name", "Confidence"]
    rows = [[1, "Spectrogram 1", 1, "/data/b.wav", 2.0, 62.0, 65.0, 150, 12000, "Wren", 0.81]]
    df = read_events(_raven(tmp_path, header, rows))
    row = df.iloc[0]
    # Begin Time counts from the first file of a sequence; the file offset is what we want
    assert (row.recording, row.start_time, row.end_time) == ("/data/b.wav", 2.0, 5.0)
    assert (row.label, row.score) == ("Wren", 0.81)


def test_raven_khz_and_latin1(tmp_path):
    header = ["Selection", "Begin Time (s)", "End Time (s)", "Low Freq (kHz)", "High Freq (kHz)",
              "Species"]
    rows = [[1, 0.5, 0.6, 20.5, 45, "Pipistrellus pygmæus"]]
    df = read_events(_raven(tmp_path, header, rows, encoding="latin-1"), recording="x.wav")
    assert df.low_freq.tolist() == [20500.0] and df.high_freq.tolist() == [45000.0]
    assert df.label.tolist() == ["Pipistrellus pygmæus"]


def test_raven_time_expansion(predictions, tmp_path):
    path = write_events(predictions, tmp_path / "te.txt", time_expansion=10)
    raw = pd.read_csv(path, sep="\t")
    assert raw["Begin Time (s)"].iloc[0] == pytest.approx(0.125)
    assert raw["Low Freq (Hz)"].iloc[0] == pytest.approx(4000.0)
    assert_events_equal(read_events(path, time_expansion=10), predictions)
    with pytest.raises(ValueError, match="raven"):
        read_events(write_events(predictions, tmp_path / "e.csv"), time_expansion=10)


def test_raven_written_columns(predictions, tmp_path):
    path = write_events(predictions, tmp_path / "p.txt")
    raw = pd.read_csv(path, sep="\t")
    assert list(raw.columns[:7]) == ["Selection", "View", "Channel", "Begin Time (s)",
                                     "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)"]
    assert {"Species", "Score", "Begin Path", "Begin File"} <= set(raw.columns)
    assert raw["Begin File"].iloc[0] == "rec_a.wav"


def test_raven_folder(predictions, tmp_path):
    folder = tmp_path / "tables"
    for rec, group in predictions.groupby("recording"):
        write_events(group, folder / f"{Path(rec).stem}.selections.txt")
    assert detect_format(folder) == "raven"
    assert_events_equal(read_events(folder), predictions)


# --------------------------------------------------------------------------- aoef


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_aoef_annotation_set_structure(annotations, tmp_path):
    path = write_events(annotations, tmp_path / "anns.json", recordings={
        "rec_a.wav": {"duration": 5.0, "samplerate": 384000, "time_expansion": 10}})
    doc = json.loads(path.read_text())
    assert doc["version"] == "1.1.0" and "created_on" in doc
    data = doc["data"]
    assert data["collection_type"] == "annotation_set" and _is_uuid(data["uuid"])
    recs = {r["path"]: r for r in data["recordings"]}
    assert recs["rec_a.wav"]["samplerate"] == 384000 and recs["rec_a.wav"]["duration"] == 5.0
    assert recs["rec_a.wav"]["time_expansion"] == 10.0
    assert recs["rec_c.wav"]["duration"] == 2.5  # no metadata: the last event's end
    events = {e["uuid"]: e for e in data["sound_events"]}
    tags = {t["id"]: t for t in data["tags"]}
    first = data["sound_event_annotations"][0]
    geometry = events[first["sound_event"]]["geometry"]
    assert geometry == {"type": "BoundingBox", "coordinates": [0.0125, 40000.0, 0.02, 90000.0]}
    assert tags[first["tags"][0]] == {"id": first["tags"][0], "key": "dwc:scientificName",
                                     "value": "Pipistrellus pipistrellus"}
    no_bounds = events[data["sound_event_annotations"][1]["sound_event"]]["geometry"]
    assert no_bounds == {"type": "TimeInterval", "coordinates": [0.9, 0.95]}
    annotated = {u for c in data["clip_annotations"] for u in c["sound_events"]}
    assert annotated == {a["uuid"] for a in data["sound_event_annotations"]}
    clips = {c["uuid"] for c in data["clips"]}
    assert all(c["clip"] in clips for c in data["clip_annotations"])
    assert all(_is_uuid(e) for e in events)


def test_aoef_model_run_and_prediction_set(predictions, tmp_path):
    run = json.loads(write_events(predictions, tmp_path / "run.json").read_text())["data"]
    assert run["collection_type"] == "model_run"
    assert run["model"] == {"name": "ecointegrity-bat", "version": "0.3.1"}
    first = run["sound_event_predictions"][0]
    assert first["score"] == 0.91 and first["tags"][0][1] == 0.8
    unversioned = predictions.assign(model_version=None)
    path = write_events(unversioned, tmp_path / "set.json")
    data = json.loads(path.read_text())["data"]
    assert data["collection_type"] == "prediction_set" and data["name"] == "ecointegrity-bat"
    assert_events_equal(read_events(path), unversioned)


def test_aoef_is_deterministic_but_for_the_date(predictions, tmp_path):
    a = json.loads(write_events(predictions, tmp_path / "a.json").read_text())
    b = json.loads(write_events(predictions, tmp_path / "a.json").read_text())
    assert a["data"] == b["data"]


def test_aoef_refuses_mixed_sources(predictions, annotations, tmp_path):
    with pytest.raises(ValueError, match="one annotation set or one model run"):
        write_events(pd.concat([predictions, annotations]), tmp_path / "mixed.json")


def test_aoef_reads_other_geometries_and_keys(tmp_path):
    rec = str(uuid.uuid4())
    events = [("TimeStamp", [1.5]), ("Point", [2.0, 3000.0]),
              ("LineString", [[3.0, 1000.0], [3.5, 4000.0], [3.2, 2500.0]])]
    se = [{"uuid": str(uuid.uuid4()), "recording": rec, "geometry": {"type": t, "coordinates": c}}
          for t, c in events]
    doc = {"version": "1.1.0", "data": {
        "uuid": str(uuid.uuid4()), "collection_type": "annotation_project",
        "tags": [{"id": 0, "key": "species", "value": "Troglodytes troglodytes"},
                 {"id": 1, "key": "quality", "value": "good"}],
        "recordings": [{"uuid": rec, "path": "dawn.wav", "duration": 10.0, "channels": 1,
                        "samplerate": 48000}],
        "sound_events": se,
        "sound_event_annotations": [
            {"uuid": str(uuid.uuid4()), "sound_event": s["uuid"], "tags": tags}
            for s, tags in zip(se, [[1, 0], [1], []], strict=False)],
    }}
    path = tmp_path / "project.json"
    path.write_text(json.dumps(doc))
    df = read_events(path)
    assert df.label.tolist() == ["Troglodytes troglodytes", UNKNOWN_LABEL, UNKNOWN_LABEL]
    spans = df[["start_time", "end_time"]].to_numpy().tolist()
    assert spans == [[1.5, 1.5], [2.0, 2.0], [3.0, 3.5]]
    assert np.isnan(df.low_freq.iloc[0]) and df.high_freq.iloc[2] == 4000.0
    assert df.attrs["recordings"]["dawn.wav"]["samplerate"] == 48000


# soundevent is not a dependency: its loader checks our files when importable here, or when
# ECOINTEGRITY_SOUNDEVENT_PYTHON names an interpreter that has it (e.g. a throwaway venv)

_SOUNDEVENT_LOAD = """
import json, sys
from soundevent import io
out = {}
for path in sys.argv[1:]:
    obj = io.load(path)
    clips = getattr(obj, "clip_annotations", None) or getattr(obj, "clip_predictions", [])
    first = clips[0].sound_events[0]
    tags = getattr(first, "tags", [])
    tag = tags[0] if tags else None
    tag = getattr(tag, "tag", tag)
    out[path] = {"type": type(obj).__name__, "clips": len(clips),
                 "events": sum(len(c.sound_events) for c in clips),
                 "coords": list(first.sound_event.geometry.coordinates),
                 "label": tag.value if tag is not None else None,
                 "score": getattr(first, "score", None)}
print(json.dumps(out))
"""

_SOUNDEVENT_SAVE = """
import sys
from soundevent import data, io
rec = data.Recording(path="dawn.wav", duration=10.0, channels=1, samplerate=48000)
clip = data.Clip(recording=rec, start_time=0.0, end_time=10.0)
events = [data.SoundEventAnnotation(
    sound_event=data.SoundEvent(recording=rec, geometry=data.BoundingBox(
        coordinates=[1.0 + i, 2000.0, 1.5 + i, 8000.0])),
    tags=[data.Tag(term=data.term_from_key("species"), value="Turdus merula")]) for i in range(3)]
ann = data.ClipAnnotation(clip=clip, sound_events=events)
io.save(data.AnnotationSet(clip_annotations=[ann]), sys.argv[1])
"""


def _soundevent_python() -> list[str]:
    try:
        import soundevent  # noqa: F401
    except ImportError:
        other = os.environ.get("ECOINTEGRITY_SOUNDEVENT_PYTHON")
        if not other:
            pytest.skip("soundevent not installed (set ECOINTEGRITY_SOUNDEVENT_PYTHON to check)")
        return [other]
    return [sys.executable]


def _run_soundevent(script: str, *args: str, cwd: Path) -> str:
    cmd = [*_soundevent_python(), "-W", "ignore", "-c", script, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_soundevent_loads_our_aoef(predictions, annotations, tmp_path):
    paths = [write_events(annotations, tmp_path / "anns.json"),
             write_events(predictions, tmp_path / "run.json"),
             write_events(predictions.assign(model_version=None), tmp_path / "set.json")]
    out = json.loads(_run_soundevent(_SOUNDEVENT_LOAD, *map(str, paths), cwd=tmp_path))
    anns, run, pset = (out[str(p)] for p in paths)
    assert (anns["type"], anns["clips"], anns["events"]) == ("AnnotationSet", 2, 3)
    assert anns["coords"] == [0.0125, 40000.0, 0.02, 90000.0]
    assert anns["label"] == "Pipistrellus pipistrellus"
    assert (run["type"], run["events"], run["score"]) == ("ModelRun", 5, 0.91)
    assert pset["type"] == "PredictionSet"


def test_we_read_soundevent_aoef(tmp_path):
    path = tmp_path / "theirs.json"
    _run_soundevent(_SOUNDEVENT_SAVE, str(path), cwd=tmp_path)
    df = read_events(path)
    assert detect_format(path) == "aoef"
    assert df.label.tolist() == ["Turdus merula"] * 3
    assert sorted(df.start_time) == [1.0, 2.0, 3.0]
    assert set(df.recording) == {"dawn.wav"} and df.model.isna().all()
