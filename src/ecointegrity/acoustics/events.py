"""Sound events: one table for detections and annotations, readers and writers for the formats
people exchange them in.

An event table is a pandas DataFrame with the columns of `EVENT_COLUMNS`:

=============  =====  ========================================================================
recording      str    file path or id of the recording (readers take it from the file)
start_time     float  seconds from the start of the recording, **real time**
end_time       float  seconds, real time
low_freq       float  Hz, real (NaN when the format has no frequency bounds)
high_freq      float  Hz, real
label          str    species or class name; ``"bat"`` for a class-agnostic bat detection
score          float  detection score in [0, 1]; 1.0 for manual annotations
class_score    float  probability of ``label`` given an event, NaN if none
model          str    model that produced the event; None for human annotations
model_version  str    its version; None for human annotations or when unknown
=============  =====  ========================================================================

Real time means time expansion undone: a bat call recorded with a 10x time-expansion detector
lasts 10 times longer in the file, at a tenth of its frequency; the table holds what the bat
did. Per format:

* ``batdetect2`` JSON (and its CSV) are already in real time whatever ``time_exp`` says:
  batdetect2 multiplies the file's sample rate by ``time_exp`` before detecting
  (``batdetect2.utils.audio_utils.load_audio``, v1.3.1), so its times, frequencies and
  ``duration`` are real; and batdetect2 2.x copies these numbers unchanged into soundevent
  geometries, which are real time by soundevent's definition. ``time_exp`` is kept as
  recording metadata, nothing is rescaled.
* ``aoef`` (soundevent/whombat): real time by definition (``Recording.duration`` and
  ``samplerate`` are "the real" ones, geometries are relative to them).
* ``raven``: Raven measures the file as it is, so a table made on time-expanded audio is in
  file time; pass ``time_expansion=`` to `read_events` / `write_events` to convert.
* ``csv`` / ``parquet``: this table as is (real time).

Recording metadata that some formats carry (duration, time expansion, sample rate) travels in
``df.attrs["recordings"]``: ``{recording: {"duration": s, "time_expansion": x, ...}}``. It is
best effort (pandas keeps ``attrs`` through most, not all, operations); writers also take it
explicitly as ``recordings=``, which is also how recordings without events get written.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_path

__all__ = [
    "EVENT_COLUMNS",
    "FORMATS",
    "UNKNOWN_LABEL",
    "BAT_LABEL",
    "empty_events",
    "validate_events",
    "detect_format",
    "read_events",
    "write_events",
]

EVENT_COLUMNS = [
    "recording",
    "start_time",
    "end_time",
    "low_freq",
    "high_freq",
    "label",
    "score",
    "class_score",
    "model",
    "model_version",
]
FORMATS = ("batdetect2", "batdetect2-csv", "raven", "aoef", "csv", "parquet")
UNKNOWN_LABEL = "unknown"
BAT_LABEL = "bat"
RECORDINGS_ATTR = "recordings"

_REQUIRED = ("recording", "start_time", "end_time")
_FLOATS = ("start_time", "end_time", "low_freq", "high_freq", "score", "class_score")
_DEFAULTS: dict[str, Any] = {
    "low_freq": np.nan,
    "high_freq": np.nan,
    "label": UNKNOWN_LABEL,
    "score": 1.0,
    "class_score": np.nan,
    "model": None,
    "model_version": None,
}
# float noise from CSV/JSON round trips must not fail start <= end checks
_EPS = 1e-9

Recordings = Mapping[str, Mapping[str, Any]]


# --------------------------------------------------------------------------- the table


def empty_events() -> pd.DataFrame:
    """An event table with no rows and the right dtypes."""
    return validate_events(pd.DataFrame({c: [] for c in EVENT_COLUMNS}))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _blank_to_nan(values: pd.Series) -> pd.Series:
    """Empty strings (CSV and Raven cells) as NaN, without pandas' replace-downcast warning."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    return values.astype(object).where(values.astype(str).str.strip() != "", np.nan)


def _optional_str(values: pd.Series) -> pd.Series:
    # object dtype so that "no model" stays None (a str dtype would turn it into NaN)
    out = [None if _is_missing(v) or v == "" else str(v) for v in values]
    return pd.Series(out, index=values.index, dtype=object)


def validate_events(df: pd.DataFrame) -> pd.DataFrame:
    """Check an event table and coerce it to the schema of `EVENT_COLUMNS`.

    ``recording``, ``start_time`` and ``end_time`` are required; the other columns get
    defaults when absent (no frequencies, label ``"unknown"``, score 1.0, no class score, no
    model: a manual annotation); a blank label becomes ``"unknown"`` too. Extra columns are
    kept after the schema's.

    Args:
        df: the events.

    Returns:
        A new DataFrame (index reset, ``attrs`` kept) with float times, frequencies and
        scores, str recording and label, and None (not NaN) for missing model fields.

    Raises:
        ValueError: a required column is missing, a value is not a number, a time is negative
            or missing, start > end, low > high, or a score is outside [0, 1].
    """
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"event table lacks required column(s) {missing}; has {list(df.columns)}")
    out = df.reset_index(drop=True).copy()
    for col, default in _DEFAULTS.items():
        if col not in out.columns:
            out[col] = pd.Series([default] * len(out), dtype=object)
    for col in _FLOATS:
        try:
            out[col] = pd.to_numeric(_blank_to_nan(out[col]), errors="raise").astype(float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"column {col!r} must be numeric: {err}") from None
    for col in ("recording", "label"):
        if out[col].isna().any():
            raise ValueError(f"column {col!r} has missing values (rows {_rows(out[col].isna())})")
        out[col] = out[col].astype(str)
    out["label"] = out.label.where(out.label.str.strip() != "", UNKNOWN_LABEL)
    for col in ("model", "model_version"):
        out[col] = _optional_str(out[col])
    _check_values(out)
    extras = [c for c in out.columns if c not in EVENT_COLUMNS]
    result = out[EVENT_COLUMNS + extras]
    result.attrs = dict(df.attrs)
    return result


def _rows(mask: pd.Series, limit: int = 5) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask.to_numpy())[:limit]]


def _check_values(df: pd.DataFrame) -> None:
    start, end, low, high = df.start_time, df.end_time, df.low_freq, df.high_freq
    checks = [
        (start.isna() | end.isna(), "start_time and end_time must not be missing"),
        (start < 0, "start_time must be >= 0 (seconds from the start of the recording)"),
        (start > end + _EPS, "start_time must be <= end_time"),
        ((low < 0) | (high < 0), "frequencies must be >= 0 Hz"),
        (low > high + _EPS, "low_freq must be <= high_freq"),
        (df.score.isna() | (df.score < 0) | (df.score > 1), "score must be in [0, 1]"),
        ((df.class_score < 0) | (df.class_score > 1), "class_score must be in [0, 1] or NaN"),
    ]
    for bad, message in checks:
        if bad.any():
            raise ValueError(f"{message}; offending rows {_rows(bad)} of {len(df)}")


def _with_recordings(df: pd.DataFrame, recordings: Recordings) -> pd.DataFrame:
    df.attrs[RECORDINGS_ATTR] = {k: dict(v) for k, v in recordings.items()}
    return df


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event tables, merging their recording metadata."""
    recordings: dict[str, dict] = {}
    for f in frames:
        recordings.update(f.attrs.get(RECORDINGS_ATTR, {}))
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else empty_events()
    out = validate_events(out)
    out.attrs = {}
    return _with_recordings(out, recordings)


# --------------------------------------------------------------------------- dispatch


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _sniff_csv(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        header = f.readline()
    cols = {c.strip().lower() for c in re.split(r"[,\t]", header)}
    if {"det_prob", "class_prob"} <= cols:
        return "batdetect2-csv"
    if any(c.startswith("begin time") for c in cols):
        return "raven"
    return "csv"


def _sniff_json(path: Path) -> str:
    obj = json.loads(path.read_text(encoding="utf-8"))
    first = obj[0] if isinstance(obj, list) and obj else obj
    if isinstance(first, dict) and "annotation" in first:
        return "batdetect2"
    if isinstance(obj, dict) and isinstance(obj.get("data"), dict) and "version" in obj:
        return "aoef"
    raise ValueError(f"{path}: JSON is neither batdetect2 annotations nor AOEF")


def detect_format(path: str | os.PathLike) -> str:
    """The event format of a file or folder, from its extension and first bytes.

    A folder is read as batdetect2 JSON files if it holds any ``*.json``, else batdetect2
    CSVs or Raven tables (``*.csv`` / ``*.txt``).

    Args:
        path: a file or folder.

    Returns:
        One of `FORMATS`.

    Raises:
        ValueError: the format cannot be told.
    """
    p = Path(path)
    if p.is_dir():
        if next(p.rglob("*.json"), None) is not None:
            return "batdetect2"
        if next((f for f in p.rglob("*.csv") if not _is_feature_csv(f)), None) is not None:
            return "batdetect2-csv"
        if next(p.rglob("*.txt"), None) is not None:
            return "raven"
        raise ValueError(f"{p}: folder has no *.json, *.csv or *.txt event files")
    suffix = _suffix(p)
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".txt", ".tsv"):
        return "raven"
    if suffix == ".csv":
        return _sniff_csv(p)
    if suffix == ".json":
        return _sniff_json(p)
    raise ValueError(f"{p}: cannot tell the event format from {suffix!r}; pass format=")


def _write_format(path: Path) -> str:
    suffix = _suffix(path)
    by_suffix = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".txt": "raven",
                 ".tsv": "raven", ".json": "aoef"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix == "" or path.is_dir():
        return "batdetect2"
    raise ValueError(f"{path}: cannot tell the event format from {suffix!r}; pass format=")


def read_events(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    recording: str | None = None,
    time_expansion: float = 1.0,
) -> pd.DataFrame:
    """Read sound events from a file or folder in any supported format.

    Args:
        path: a file, or a folder of batdetect2 JSON/CSV files or Raven tables (searched
            recursively).
        format: one of `FORMATS`; default `detect_format`.
        recording: use this recording id for every event instead of the one in the file
            (single files only).
        time_expansion: factor of time-expanded audio the file was measured on (Raven only;
            the other formats are in real time already).

    Returns:
        A validated event table; ``attrs["recordings"]`` holds what the file says about its
        recordings (duration, time expansion), including recordings without events.

    Raises:
        ValueError: unknown or undetectable format, malformed content.
        FileNotFoundError: ``path`` does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no events at {p}")
    fmt = format or detect_format(p)
    if fmt not in FORMATS:
        raise ValueError(f"unknown event format {fmt!r}; expected one of {FORMATS}")
    if time_expansion != 1.0 and fmt != "raven":
        raise ValueError(f"{fmt} events are in real time already; time_expansion is for raven")
    if time_expansion <= 0:
        raise ValueError(f"time_expansion must be > 0, got {time_expansion}")
    if p.is_dir():
        if recording is not None:
            raise ValueError("recording= applies to a single file, not a folder")
        return _read_folder(p, fmt, time_expansion)
    df = _READERS[fmt](p, time_expansion=time_expansion)
    if recording is not None:
        df["recording"] = recording
        metas = list(df.attrs.get(RECORDINGS_ATTR, {}).values())
        _with_recordings(df, {recording: metas[0]} if len(metas) == 1 else {})
    return df


def _is_feature_csv(path: Path) -> bool:
    # batdetect2 writes *_spec_features.csv / *_cnn_features.csv beside the detections
    return path.name.endswith("_features.csv")


def _read_folder(folder: Path, fmt: str, time_expansion: float) -> pd.DataFrame:
    patterns = {"batdetect2": ("*.json",), "batdetect2-csv": ("*.csv",),
                "raven": ("*.txt", "*.tsv")}
    if fmt not in patterns:
        raise ValueError(f"{fmt} events are one file, not a folder: {folder}")
    files = sorted(f for pat in patterns[fmt] for f in folder.rglob(pat) if not _is_feature_csv(f))
    return _concat([_READERS[fmt](f, time_expansion=time_expansion) for f in files])


def write_events(
    df: pd.DataFrame,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    recordings: Recordings | None = None,
    time_expansion: float = 1.0,
) -> Path:
    """Write sound events, atomically (each file appears whole or not at all).

    Formats and where they go:

    * ``parquet`` / ``csv``: the table as is (extra columns included).
    * ``raven``: one tab-separated selection table (``.txt``).
    * ``aoef``: one JSON file; an ``annotation_set`` for human annotations (no model), a
      ``model_run`` for one model's predictions, or a ``prediction_set`` named after the model
      when its version is unknown (soundevent's model runs require one).
    * ``batdetect2``: a folder with one ``<recording file name>.json`` per recording; a
      ``.json`` path holds one recording's object, or a list of them (batdetect2's merged
      file) when there are several recordings.

    Format by extension when not given: ``.parquet``, ``.csv``, ``.txt``/``.tsv`` (raven),
    ``.json`` (aoef), no extension (batdetect2 folder).

    Args:
        df: the events (validated here).
        path: destination file or folder.
        format: one of `FORMATS` but ``batdetect2-csv`` (read only).
        recordings: recording metadata (``duration`` s, ``time_expansion``, ``samplerate`` Hz,
            ``channels``) by recording; default ``df.attrs["recordings"]``. Recordings listed
            here without events are written too (batdetect2, aoef).
        time_expansion: write Raven times and frequencies as measured on audio expanded by
            this factor.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: unknown format, invalid events, or events the format cannot hold.
    """
    p = Path(path)
    fmt = format or _write_format(p)
    if fmt not in _WRITERS:
        raise ValueError(f"cannot write event format {fmt!r}; expected one of {tuple(_WRITERS)}")
    if time_expansion != 1.0 and fmt != "raven":
        raise ValueError(f"{fmt} events are written in real time; time_expansion is for raven")
    if time_expansion <= 0:
        raise ValueError(f"time_expansion must be > 0, got {time_expansion}")
    events = validate_events(df)
    given = recordings is not None
    source = recordings if given else df.attrs.get(RECORDINGS_ATTR, {})
    meta = {k: dict(v) for k, v in source.items()}
    if not given:
        # attrs outlive filtering: without an explicit list, only recordings with events
        meta = {k: v for k, v in meta.items() if k in set(events.recording)}
    _WRITERS[fmt](events, p, recordings=meta, time_expansion=time_expansion)
    return p


# --------------------------------------------------------------------------- csv / parquet


def _read_csv(path: Path, **_: Any) -> pd.DataFrame:
    # no default NA parsing: a recording called "NA" stays a string; "" is missing
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_events(raw)


def _write_csv(df: pd.DataFrame, path: Path, **_: Any) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)


def _read_parquet(path: Path, **_: Any) -> pd.DataFrame:
    return validate_events(pd.read_parquet(path))


def _write_parquet(df: pd.DataFrame, path: Path, **_: Any) -> None:
    out = df.copy()
    out.attrs = {}  # parquet stores attrs as JSON; recording metadata need not survive there
    with atomic_path(path, suffix=".parquet") as tmp:
        out.to_parquet(tmp, index=False)


# --------------------------------------------------------------------------- batdetect2

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
    return _with_recordings(df, {str(obj["id"]): meta})


def _read_batdetect2(path: Path, **_: Any) -> pd.DataFrame:
    obj = json.loads(path.read_text(encoding="utf-8"))
    objs = obj if isinstance(obj, list) else [obj]
    return _concat([_bd2_rows(o, path) for o in objs])


def _read_batdetect2_csv(path: Path, **_: Any) -> pd.DataFrame:
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
    return _with_recordings(validate_events(df), {name: {}})


def _json_number(value: float) -> float | int | None:
    if math.isnan(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


def _bd2_object(rec: str, events: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    models = {(m, v) for m, v in zip(events.model, events.model_version)}
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


def _write_json(obj: Any, path: Path) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, allow_nan=False), encoding="utf-8")


def _by_recording(events: pd.DataFrame, recordings: Recordings) -> list[tuple[str, pd.DataFrame]]:
    names = list(dict.fromkeys([*events.recording, *recordings]))
    return [(rec, events[events.recording == rec]) for rec in names]


def _write_batdetect2(
    events: pd.DataFrame, path: Path, *, recordings: Recordings, **_: Any
) -> None:
    objs = [_bd2_object(rec, evs, recordings.get(rec, {}))
            for rec, evs in _by_recording(events, recordings)]
    if _suffix(path) == ".json":
        _write_json(objs[0] if len(objs) == 1 else objs, path)
        return
    names = [Path(o["id"]).name + ".json" for o in objs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"recordings share file names {clashes}; write a merged .json instead")
    path.mkdir(parents=True, exist_ok=True)
    for obj, name in zip(objs, names):
        _write_json(obj, path / name)


# --------------------------------------------------------------------------- raven

# normalised header (lower case, single spaces) -> role; first match wins per role
_RAVEN_COLUMNS = {
    "start": ("begin time (s)", "begin time", "start time (s)", "start time"),
    "end": ("end time (s)", "end time"),
    "offset": ("file offset (s)", "file offset"),
    "low": ("low freq (hz)", "low frequency (hz)", "low freq", "low frequency"),
    "high": ("high freq (hz)", "high frequency (hz)", "high freq", "high frequency"),
    "low_khz": ("low freq (khz)", "low frequency (khz)"),
    "high_khz": ("high freq (khz)", "high frequency (khz)"),
    "label": ("species", "annotation", "label", "class", "common name", "species code",
              "scientific name", "sound type", "call type"),
    "score": ("score", "confidence", "det_prob", "probability"),
    "class_score": ("class score", "class_score", "class_prob"),
    "path": ("begin path", "file path", "begin file", "file", "filename", "file name"),
    "model": ("model",),
    "model_version": ("model version", "model_version"),
}
_RAVEN_STEM = re.compile(r"(\.table\.\d+)?(\.selections)?\.(txt|tsv|csv)$", re.IGNORECASE)


def _norm(name: str) -> str:
    return " ".join(str(name).strip().lower().split())


def _raven_roles(columns: Iterable[str]) -> dict[str, str]:
    by_norm = {_norm(c): c for c in columns}
    roles = {}
    for role, names in _RAVEN_COLUMNS.items():
        found = next((by_norm[n] for n in names if n in by_norm), None)
        if found is not None:
            roles[role] = found
    return roles


def _read_raven_table(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "latin-1"):  # Raven on Windows writes the ANSI code page
        try:
            with open(path, encoding=encoding) as f:
                header = f.readline()
                sep = "\t" if "\t" in header else ","
                f.seek(0)
                return pd.read_csv(f, sep=sep, dtype=str, keep_default_na=False)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: cannot decode the selection table")


def _read_raven(path: Path, *, time_expansion: float = 1.0, **_: Any) -> pd.DataFrame:
    raw = _read_raven_table(path)
    roles = _raven_roles(raw.columns)
    if "start" not in roles or "end" not in roles:
        raise ValueError(f"{path}: not a Raven selection table (no Begin/End Time columns): "
                         f"{list(raw.columns)}")
    view = next((c for c in raw.columns if _norm(c) == "view"), None)
    selection = next((c for c in raw.columns if _norm(c) == "selection"), None)
    if view is not None and selection is not None:
        # Raven lists a selection once per view (waveform, spectrogram): keep one row each
        spectro = raw[view].str.lower().str.startswith("spectrogram")
        raw = raw.assign(_spectro=spectro).sort_values("_spectro", ascending=False, kind="stable")
        raw = raw.drop_duplicates(selection).sort_index().drop(columns="_spectro")

    def num(role: str, default: float = np.nan) -> pd.Series:
        if role not in roles:
            return pd.Series(default, index=raw.index, dtype=float)
        return pd.to_numeric(_blank_to_nan(raw[roles[role]]), errors="raise").astype(float)

    begin, end = num("start"), num("end")
    if "offset" in roles:
        # in a multi-file table Begin Time counts from the first file; the offset is per file
        begin, end = num("offset"), num("offset") + (end - begin)
    low = num("low_khz") * 1000 if "low_khz" in roles and "low" not in roles else num("low")
    high = num("high_khz") * 1000 if "high_khz" in roles and "high" not in roles else num("high")
    if "path" in roles:
        recording = raw[roles["path"]].astype(str)
    else:
        recording = pd.Series(_RAVEN_STEM.sub("", path.name), index=raw.index)
    label = raw[roles["label"]].astype(str) if "label" in roles else UNKNOWN_LABEL
    text = {r: (raw[roles[r]] if r in roles else None) for r in ("model", "model_version")}
    df = pd.DataFrame({
        "recording": recording,
        "start_time": begin / time_expansion,
        "end_time": end / time_expansion,
        "low_freq": low * time_expansion,
        "high_freq": high * time_expansion,
        "label": label,
        "score": num("score", 1.0).fillna(1.0),
        "class_score": num("class_score"),
        "model": text["model"],
        "model_version": text["model_version"],
    }, columns=EVENT_COLUMNS)
    df = validate_events(df)
    return _with_recordings(df, {r: {} for r in dict.fromkeys(df.recording)})


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _write_raven(
    events: pd.DataFrame, path: Path, *, time_expansion: float = 1.0, **_: Any
) -> None:
    te = time_expansion
    offset = events.start_time * te
    # Begin Time is the offset in the recording; Raven reads it so for one-file tables, and
    # "File Offset (s)" keeps multi-recording tables unambiguous for readers (ours included)
    table = pd.DataFrame({
        "Selection": np.arange(1, len(events) + 1),
        "View": "Spectrogram 1",
        "Channel": 1,
        "Begin Time (s)": offset,
        "End Time (s)": events.end_time * te,
        "Low Freq (Hz)": events.low_freq / te,
        "High Freq (Hz)": events.high_freq / te,
        "Begin Path": events.recording,
        "Begin File": [Path(r).name for r in events.recording],
        "File Offset (s)": offset,
        "Species": events.label,
        "Score": events.score,
        "Class Score": events.class_score,
        "Model": [_text(v) for v in events.model],
        "Model Version": [_text(v) for v in events.model_version],
    })
    with atomic_path(path, suffix=".txt") as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="")


# --------------------------------------------------------------------------- aoef

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
    kind, coords = geometry.get("type"), geometry.get("coordinates")
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
    times, freqs = zip(*points)
    return min(times), max(times), min(freqs), max(freqs)


def _aoef_label(tags: list[tuple[str, str, float]]) -> tuple[str, float]:
    """The label tag (by key preference, then highest score) and its score."""
    for key in AOEF_LABEL_KEYS:
        found = [t for t in tags if t[0] == key]
        if found:
            _, value, score = max(found, key=lambda t: t[2])
            return value, score
    return UNKNOWN_LABEL, np.nan


def _read_aoef(path: Path, **_: Any) -> pd.DataFrame:
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
    return _with_recordings(df, meta)


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


def _write_aoef(events: pd.DataFrame, path: Path, *, recordings: Recordings, **_: Any) -> None:
    sources = set(zip(events.model, events.model_version))
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
    for rec, evs in _by_recording(events, recordings):
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
    _write_json({"version": AOEF_VERSION, "created_on": created, "data": data}, path)


_READERS = {
    "batdetect2": _read_batdetect2,
    "batdetect2-csv": _read_batdetect2_csv,
    "raven": _read_raven,
    "aoef": _read_aoef,
    "csv": _read_csv,
    "parquet": _read_parquet,
}
_WRITERS = {
    "batdetect2": _write_batdetect2,
    "raven": _write_raven,
    "aoef": _write_aoef,
    "csv": _write_csv,
    "parquet": _write_parquet,
}
