"""The sound event table: one schema for detections and annotations, and what the format
modules share (recording metadata in ``attrs``, concatenation, JSON writing).

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
did (see ``io.events`` for what each format means by time).

Recording metadata that some formats carry (duration, time expansion, sample rate) travels in
``df.attrs["recordings"]``: ``{recording: {"duration": s, "time_expansion": x, ...}}``. It is
best effort (pandas keeps ``attrs`` through most, not all, operations); writers also take it
explicitly as ``recordings=``, which is also how recordings without events get written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...io import atomic_path

__all__ = [
    "BAT_LABEL",
    "EVENT_COLUMNS",
    "RECORDINGS_ATTR",
    "UNKNOWN_LABEL",
    "Recordings",
    "blank_to_nan",
    "concat_events",
    "empty_events",
    "events_by_recording",
    "is_missing",
    "validate_events",
    "with_recordings",
    "write_json",
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


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def blank_to_nan(values: pd.Series) -> pd.Series:
    """Empty strings (CSV and Raven cells) as NaN, without pandas' replace-downcast warning."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    return values.astype(object).where(values.astype(str).str.strip() != "", np.nan)


def _optional_str(values: pd.Series) -> pd.Series:
    # object dtype so that "no model" stays None (a str dtype would turn it into NaN)
    out = [None if is_missing(v) or v == "" else str(v) for v in values]
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
            out[col] = pd.to_numeric(blank_to_nan(out[col]), errors="raise").astype(float)
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


def with_recordings(df: pd.DataFrame, recordings: Recordings) -> pd.DataFrame:
    df.attrs[RECORDINGS_ATTR] = {k: dict(v) for k, v in recordings.items()}
    return df


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event tables, merging their recording metadata."""
    recordings: dict[str, dict] = {}
    for f in frames:
        recordings.update(f.attrs.get(RECORDINGS_ATTR, {}))
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else empty_events()
    out = validate_events(out)
    out.attrs = {}
    return with_recordings(out, recordings)


def write_json(obj: Any, path: Path) -> None:
    """``obj`` as indented JSON (NaN refused), atomically."""
    with atomic_path(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, allow_nan=False), encoding="utf-8")


def events_by_recording(
    events: pd.DataFrame, recordings: Recordings
) -> list[tuple[str, pd.DataFrame]]:
    """Each recording's events, recordings without events (listed in ``recordings``) too."""
    names = list(dict.fromkeys([*events.recording, *recordings]))
    return [(rec, events[events.recording == rec]) for rec in names]

