"""AOEF (soundevent/whombat JSON): annotation sets, model runs and prediction sets.

Real time by definition: ``Recording.duration`` and ``samplerate`` are "the real" ones, and
geometries are relative to them.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .event_table import (
    EVENT_COLUMNS,
    UNKNOWN_LABEL,
    Recordings,
    events_by_recording,
    validate_events,
    with_recordings,
    write_json,
)

__all__ = ["AOEF_LABEL_KEY", "AOEF_LABEL_KEYS", "AOEF_VERSION", "read_aoef", "write_aoef"]

AOEF_VERSION = "1.1.0"
# tag keys that name what an event is, most specific first ("class" is batdetect2's key;
# soundevent maps it to dwc:class, "species" to dwc:scientificName)
AOEF_LABEL_KEYS = ("dwc:scientificName", "species", "label", "class", "dwc:class",
                   "dwc:vernacularName", "category")
AOEF_LABEL_KEY = "dwc:scientificName"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/ecointegrity/events")
_ANNOTATION_TYPES = ("annotation_set", "annotation_project", "dataset")
_PREDICTION_TYPES = ("prediction_set", "model_run")


def _flat_points(coords: Any) -> list[tuple[float, float]]:
    """(time, freq) pairs of any nested geometry coordinates."""
    if not isinstance(coords, (list, tuple)):
        return []
    if coords and all(isinstance(c, (int, float)) for c in coords):
        return [(coords[i], coords[i + 1]) for i in range(0, len(coords) - 1, 2)]
    out: list[tuple[float, float]] = []
    for c in coords:
        out.extend(_flat_points(c))
    return out


def _geometry_bounds(geometry: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """start, end, low, high of an AOEF geometry; NaN frequencies where it has none."""
    kind = geometry.get("type")
    # Untyped JSON (nested lists or a number); a missing one fails below by itself
    coords: Any = geometry.get("coordinates")
    if kind == "BoundingBox":
        start, low, end, high = coords
        return start, end, low, high
    if kind == "TimeInterval":
        return coords[0], coords[1], np.nan, np.nan
    if kind == "TimeStamp":
        t = coords[0] if isinstance(coords, list) else coords
        return t, t, np.nan, np.nan
    points = _flat_points(coords)
    if not points:
        raise ValueError(f"AOEF geometry without coordinates: {geometry}")
    times, freqs = zip(*points, strict=True)
    return min(times), max(times), min(freqs), max(freqs)


def _aoef_label(tags: list[tuple[str, str, float]]) -> tuple[str, float]:
    """The label tag (by key preference, then highest score) and its score."""
    for key in AOEF_LABEL_KEYS:
        found = [t for t in tags if t[0] == key]
        if found:
            _, value, score = max(found, key=lambda t: t[2])
            return value, score
    return UNKNOWN_LABEL, np.nan


def read_aoef(path: Path, **_: Any) -> pd.DataFrame:
    obj = json.loads(path.read_text(encoding="utf-8"))
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, dict) or "collection_type" not in data:
        raise ValueError(f"{path}: not an AOEF file (no data.collection_type)")
    kind = data["collection_type"]
    tags = {t["id"]: (t["key"], t["value"]) for t in data.get("tags") or []}
    recordings = {r["uuid"]: r for r in data.get("recordings") or []}
    sound_events = {s["uuid"]: s for s in data.get("sound_events") or []}
    if kind in _ANNOTATION_TYPES:
        items = data.get("sound_event_annotations") or []
        model = version = None
    elif kind in _PREDICTION_TYPES:
        items = data.get("sound_event_predictions") or []
        info = data.get("model") or {}
        # a prediction set has no model field: ours are named after the model
        model = info.get("name") or data.get("name") or UNKNOWN_LABEL
        version = info.get("version") or data.get("version")
    else:
        raise ValueError(f"{path}: AOEF collection {kind!r} holds no sound events to read; "
                         f"expected one of {_ANNOTATION_TYPES + _PREDICTION_TYPES}")
    rows = []
    for item in items:
        event = sound_events.get(item["sound_event"])
        if event is None or event.get("recording") not in recordings:
            raise ValueError(f"{path}: sound event {item['sound_event']} or its recording missing")
        if kind in _ANNOTATION_TYPES:
            item_tags = [(*tags[i], 1.0) for i in item.get("tags") or [] if i in tags]
            score = 1.0
        else:
            item_tags = [(*tags[i], s) for i, s in item.get("tags") or [] if i in tags]
            score = item["score"]
        label, class_score = _aoef_label(item_tags)
        start, end, low, high = _geometry_bounds(event["geometry"])
        rows.append({
            "recording": str(recordings[event["recording"]]["path"]),
            "start_time": start, "end_time": end, "low_freq": low, "high_freq": high,
            "label": label, "score": score,
            "class_score": np.nan if kind in _ANNOTATION_TYPES else class_score,
            "model": model, "model_version": version,
        })
    df = validate_events(pd.DataFrame(rows, columns=EVENT_COLUMNS))
    meta = {
        str(r["path"]): {"duration": r.get("duration"), "samplerate": r.get("samplerate"),
                         "channels": r.get("channels"),
                         "time_expansion": r.get("time_expansion") or 1.0}
        for r in recordings.values()
    }
    return with_recordings(df, meta)


def _uid(*parts: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


def _aoef_geometry(ev: Any) -> dict[str, Any]:
    if math.isnan(ev.low_freq) or math.isnan(ev.high_freq):
        return {"type": "TimeInterval", "coordinates": [ev.start_time, ev.end_time]}
    coords = [ev.start_time, ev.low_freq, ev.end_time, ev.high_freq]
    return {"type": "BoundingBox", "coordinates": coords}


def _aoef_recording(rec: str, events: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    duration = meta.get("duration")
    if duration is None:
        duration = float(events.end_time.max()) if len(events) else 0.0
    out = {
        "uuid": _uid("recording", rec),
        "path": rec,
        "duration": float(duration),
        "channels": int(meta.get("channels") or 1),
        # AOEF requires a sample rate; 0 says "unknown" when the caller did not give one
        "samplerate": int(meta.get("samplerate") or 0),
    }
    te = meta.get("time_expansion")
    if te not in (None, 1, 1.0):
        out["time_expansion"] = float(te)
    return out


def write_aoef(events: pd.DataFrame, path: Path, *, recordings: Recordings, **_: Any) -> None:
    sources = set(zip(events.model, events.model_version, strict=True))
    if len(sources) > 1:
        raise ValueError("an AOEF file holds one annotation set or one model run; "
                         f"got {sorted(map(str, sources))}")
    model, version = next(iter(sources), (None, None))
    predicted = model is not None
    labels = list(dict.fromkeys(events.label))
    tag_id = {label: i for i, label in enumerate(labels)}
    seed = _uid("set", path.name, model, version, len(events))
    # soundevent's model run needs a version: without one, a prediction set named after the model
    kind = "annotation_set" if not predicted else "model_run" if version else "prediction_set"
    data: dict[str, Any] = {
        "uuid": seed,
        "name": model if kind == "prediction_set" else path.stem,
        "collection_type": kind,
        "tags": [{"id": i, "key": AOEF_LABEL_KEY, "value": label} for label, i in tag_id.items()],
        "recordings": [], "clips": [], "sound_events": [],
    }
    items, clip_items = [], []
    for rec, evs in events_by_recording(events, recordings):
        recording = _aoef_recording(rec, evs, recordings.get(rec, {}))
        clip = {"uuid": _uid(seed, "clip", rec), "recording": recording["uuid"],
                "start_time": 0.0, "end_time": recording["duration"]}
        data["recordings"].append(recording)
        data["clips"].append(clip)
        ids = []
        for i, ev in enumerate(evs.itertuples(index=False)):
            event = {"uuid": _uid(seed, rec, i, "event"), "recording": recording["uuid"],
                     "geometry": _aoef_geometry(ev)}
            data["sound_events"].append(event)
            item = {"uuid": _uid(seed, rec, i, "item"), "sound_event": event["uuid"]}
            if predicted:
                # a predicted tag needs a score; with no class score the label is certain
                tag_score = 1.0 if math.isnan(ev.class_score) else ev.class_score
                item.update(score=ev.score, tags=[[tag_id[ev.label], tag_score]])
            else:
                item["tags"] = [tag_id[ev.label]]
            items.append(item)
            ids.append(item["uuid"])
        clip_items.append(
            {"uuid": _uid(seed, "clip-items", rec), "clip": clip["uuid"], "sound_events": ids})
    if predicted:
        data.update(sound_event_predictions=items, clip_predictions=clip_items)
        if kind == "model_run":
            data["model"] = {"name": model, "version": version}
    else:
        data.update(sound_event_annotations=items, clip_annotations=clip_items)
    created = datetime.datetime.now(datetime.UTC).isoformat()
    write_json({"version": AOEF_VERSION, "created_on": created, "data": data}, path)

