"""batdetect2's files: its JSON annotations (one object per recording, or a list of them in a
merged file) and the CSV its ``detect`` command writes beside them.

Times, frequencies and ``duration`` are in real time whatever ``time_exp`` says: batdetect2
multiplies the file's sample rate by ``time_exp`` before detecting
(``batdetect2.utils.audio_utils.load_audio``, v1.3.1), and batdetect2 2.x copies these numbers
unchanged into soundevent geometries, which are real time by soundevent's definition.
``time_exp`` is kept as recording metadata; nothing is rescaled.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .event_table import (
    EVENT_COLUMNS,
    UNKNOWN_LABEL,
    Recordings,
    concat_events,
    events_by_recording,
    validate_events,
    with_recordings,
    write_json,
)

__all__ = ["read_batdetect2", "read_batdetect2_csv", "write_batdetect2"]

_AUTO_NOTE = "Automatically generated"
_MODEL_NOTE = re.compile(r"model: (?P<model>[^;]*); version: (?P<version>[^;]*)$")
_BATDETECT2 = "batdetect2"


def _bd2_model(notes: str) -> tuple[str | None, str | None]:
    """Who made a batdetect2 file: batdetect2 marks its output "Automatically generated"."""
    found = _MODEL_NOTE.search((notes or "").strip())
    if found:
        version = found["version"].strip()
        return found["model"].strip(), (None if version in ("", "None") else version)
    if (notes or "").startswith(_AUTO_NOTE):
        return _BATDETECT2, None
    return None, None


def _bd2_rows(obj: Mapping[str, Any], source: Path) -> pd.DataFrame:
    if "annotation" not in obj or "id" not in obj:
        raise ValueError(f"{source}: not a batdetect2 annotation (needs 'id' and 'annotation')")
    model, version = _bd2_model(str(obj.get("notes", "")))
    rows = []
    for ann in obj["annotation"]:
        det = ann.get("det_prob")
        rows.append({
            "recording": str(obj["id"]),
            "start_time": ann["start_time"],
            "end_time": ann["end_time"],
            "low_freq": np.nan if ann.get("low_freq") is None else ann["low_freq"],
            "high_freq": np.nan if ann.get("high_freq") is None else ann["high_freq"],
            "label": ann.get("class", UNKNOWN_LABEL),
            "score": 1.0 if det is None else det,
            "class_score": np.nan if ann.get("class_prob") is None else ann["class_prob"],
            "model": model,
            "model_version": version,
        })
    df = validate_events(pd.DataFrame(rows, columns=EVENT_COLUMNS))
    meta = {"duration": obj.get("duration"), "time_expansion": float(obj.get("time_exp") or 1)}
    return with_recordings(df, {str(obj["id"]): meta})


def read_batdetect2(path: Path, **_: Any) -> pd.DataFrame:
    obj = json.loads(path.read_text(encoding="utf-8"))
    objs = obj if isinstance(obj, list) else [obj]
    return concat_events([_bd2_rows(o, path) for o in objs])


def read_batdetect2_csv(path: Path, **_: Any) -> pd.DataFrame:
    # batdetect2 names its CSV "<audio file name>.csv" and numbers rows in "id"
    raw = pd.read_csv(path)
    needed = {"det_prob", "start_time", "end_time", "low_freq", "high_freq", "class", "class_prob"}
    if not needed <= set(raw.columns):
        raise ValueError(f"{path}: batdetect2 CSV needs columns {sorted(needed)}")
    name = path.name[: -len(".csv")] if path.name.lower().endswith(".csv") else path.name
    df = pd.DataFrame({
        "recording": name,
        "start_time": raw.start_time,
        "end_time": raw.end_time,
        "low_freq": raw.low_freq,
        "high_freq": raw.high_freq,
        "label": raw["class"],
        "score": raw.det_prob,
        "class_score": raw.class_prob,
        "model": _BATDETECT2,
        "model_version": None,
    }, columns=EVENT_COLUMNS)
    return with_recordings(validate_events(df), {name: {}})


def _json_number(value: float) -> float | int | None:
    if math.isnan(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


def _bd2_object(rec: str, events: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    models = set(zip(events.model, events.model_version, strict=True))
    if len(models) > 1:
        raise ValueError(f"recording {rec!r} mixes events of {sorted(map(str, models))}; "
                         "a batdetect2 file holds one source")
    model, version = next(iter(models), (None, None))
    # the file's class: the label with the largest summed score, as batdetect2 weighs by det_prob
    weights = events.groupby("label").score.sum()
    class_name = str(weights.idxmax()) if len(weights) else "None"
    duration = meta.get("duration")
    if duration is None:
        duration = float(events.end_time.max()) if len(events) else 0.0
    annotation = []
    for ev in events.itertuples(index=False):
        item = {
            "start_time": ev.start_time,
            "end_time": ev.end_time,
            "low_freq": _json_number(ev.low_freq),
            "high_freq": _json_number(ev.high_freq),
            "class": ev.label,
            "det_prob": ev.score,
            "event": getattr(ev, "event", "Echolocation"),
            "individual": str(getattr(ev, "individual", "-1")),
        }
        if not math.isnan(ev.class_score):
            item["class_prob"] = ev.class_score
        annotation.append(item)
    notes = "" if model is None else f"{_AUTO_NOTE}. model: {model}; version: {version}"
    return {
        "id": rec,
        "duration": duration,
        "time_exp": meta.get("time_expansion") or 1,
        "class_name": class_name,
        "annotated": model is None,
        "issues": False,
        "notes": notes,
        "annotation": annotation,
    }



def write_batdetect2(
    events: pd.DataFrame, path: Path, *, recordings: Recordings, **_: Any
) -> None:
    objs = [_bd2_object(rec, evs, recordings.get(rec, {}))
            for rec, evs in events_by_recording(events, recordings)]
    if path.suffix.lower() == ".json":
        write_json(objs[0] if len(objs) == 1 else objs, path)
        return
    names = [Path(o["id"]).name + ".json" for o in objs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"recordings share file names {clashes}; write a merged .json instead")
    path.mkdir(parents=True, exist_ok=True)
    for obj, name in zip(objs, names, strict=True):
        write_json(obj, path / name)

