"""Raven selection tables (tab-separated ``.txt``), read tolerantly, written for Raven Pro.

Raven measures the file as it is, so a table made on time-expanded audio is in file time:
``time_expansion`` converts to and from the real time of the event table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...io import atomic_path
from .event_table import (
    EVENT_COLUMNS,
    UNKNOWN_LABEL,
    blank_to_nan,
    is_missing,
    validate_events,
    with_recordings,
)

__all__ = ["read_raven", "write_raven"]

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


def read_raven(path: Path, *, time_expansion: float = 1.0, **_: Any) -> pd.DataFrame:
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
        return pd.to_numeric(blank_to_nan(raw[roles[role]]), errors="raise").astype(float)

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
    return with_recordings(df, {r: {} for r in dict.fromkeys(df.recording)})


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def write_raven(
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

