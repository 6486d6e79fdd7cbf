"""Reading and writing sound events in the formats people exchange them in.

Every reader gives, and every writer takes, the event table of ``io.event_table``
(`EVENT_COLUMNS`, times and frequencies in real time); one module per format does the work.
What each format means by time:

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
* ``csv`` / ``parquet``: the table as is (real time).

Layering: ``event_table`` <- ``batdetect2_json``, ``raven``, ``aoef``, ``csv_parquet`` <-
``events`` (format detection and dispatch).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .aoef import read_aoef, write_aoef
from .batdetect2_json import read_batdetect2, read_batdetect2_csv, write_batdetect2
from .csv_parquet import read_csv, read_parquet, write_csv, write_parquet
from .event_table import (
    BAT_LABEL,
    EVENT_COLUMNS,
    RECORDINGS_ATTR,
    UNKNOWN_LABEL,
    Recordings,
    concat_events,
    empty_events,
    validate_events,
    with_recordings,
)
from .raven import read_raven, write_raven

__all__ = [
    "BAT_LABEL",
    "EVENT_COLUMNS",
    "FORMATS",
    "UNKNOWN_LABEL",
    "detect_format",
    "empty_events",
    "read_events",
    "validate_events",
    "write_events",
]

FORMATS = ("batdetect2", "batdetect2-csv", "raven", "aoef", "csv", "parquet")



Reader = Callable[..., pd.DataFrame]
Writer = Callable[..., None]
_READERS: dict[str, Reader] = {
    "batdetect2": read_batdetect2,
    "batdetect2-csv": read_batdetect2_csv,
    "raven": read_raven,
    "aoef": read_aoef,
    "csv": read_csv,
    "parquet": read_parquet,
}
_WRITERS: dict[str, Writer] = {
    "batdetect2": write_batdetect2,
    "raven": write_raven,
    "aoef": write_aoef,
    "csv": write_csv,
    "parquet": write_parquet,
}


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
    _check_request(fmt, FORMATS, time_expansion, writing=False)
    if p.is_dir():
        if recording is not None:
            raise ValueError("recording= applies to a single file, not a folder")
        return _read_folder(p, fmt, time_expansion)
    df = _READERS[fmt](p, time_expansion=time_expansion)
    if recording is not None:
        df["recording"] = recording
        metas = list(df.attrs.get(RECORDINGS_ATTR, {}).values())
        with_recordings(df, {recording: metas[0]} if len(metas) == 1 else {})
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
    return concat_events([_READERS[fmt](f, time_expansion=time_expansion) for f in files])


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
    _check_request(fmt, tuple(_WRITERS), time_expansion, writing=True)
    events = validate_events(df)
    given = recordings is not None
    source = recordings if recordings is not None else df.attrs.get(RECORDINGS_ATTR, {})
    meta = {k: dict(v) for k, v in source.items()}
    if not given:
        # attrs outlive filtering: without an explicit list, only recordings with events
        meta = {k: v for k, v in meta.items() if k in set(events.recording)}
    _WRITERS[fmt](events, p, recordings=meta, time_expansion=time_expansion)
    return p


def _check_request(
    fmt: str, known: tuple[str, ...], time_expansion: float, *, writing: bool
) -> None:
    """Refuse a format outside ``known``, and a time expansion for any format but Raven (the
    others are in real time by definition)."""
    if fmt not in known:
        what = "cannot write event format" if writing else "unknown event format"
        raise ValueError(f"{what} {fmt!r}; expected one of {known}")
    if time_expansion != 1.0 and fmt != "raven":
        how = "are written in real time" if writing else "are in real time already"
        raise ValueError(f"{fmt} events {how}; time_expansion is for raven")
    if time_expansion <= 0:
        raise ValueError(f"time_expansion must be > 0, got {time_expansion}")
