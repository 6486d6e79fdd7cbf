"""Recordings scan: a folder, glob, list or fsspec URL of WAV/FLAC files -> one table.

Each file gives one row of :data:`RECORDING_COLUMNS`: what the header says (libsndfile reads
the header only, never the samples) and what the recorder wrote about itself, from the GUANO
``guan`` chunk (bat detectors) and from the RIFF comment (AudioMoth). GUANO wins where both
say something; the comment fills the gaps. Broken files never stop a scan: they are listed
in ``ScanResult.problems`` with the reason.

Layering: ``recorder_metadata`` (RIFF walk, GUANO and comment parsers) <-
read_recording_metadata <- scan_recordings <- write_recordings / read_recordings.

Times: recorders write wall-clock time, with a UTC offset or without one (Elekon BATLOGGER
GUANO timestamps have none). The table therefore keeps three columns: ``timestamp_local``
(the wall-clock time as written, ISO text without offset), ``utc_offset`` ("+01:00", missing
when unknown) and ``timestamp_utc`` (tz-aware UTC, NaT unless the offset is known). Nothing
guesses a time zone.

Columns (strings missing as <NA>, floats as NaN):
    path: the file, absolute for local files, the URL for remote ones.
    size_bytes, format ("WAV", "FLAC"), subtype ("PCM_16"), sample_rate (of the file, Hz),
    channels, frames, duration_s (frames / sample_rate: the file's own duration).
    time_expansion: GUANO ``TE`` (or GUANO ``Samplerate`` / header rate), 1.0 by default.
    real_duration_s, real_sample_rate: what happened in the field (duration_s / TE, rate * TE).
    timestamp_local, utc_offset, timestamp_utc: see above.
    device_make, device_model, serial, firmware: as written by the recorder.
    latitude, longitude: GUANO ``Loc Position`` (WGS84).
    site: a GUANO site-name field, else the name of the file's folder.
    species_manual_id: GUANO ``Species Manual ID`` (a human's label for the file).
    gain, temperature_c, battery_v: recorder state (GUANO, else AudioMoth comment).
    comment: the raw RIFF/Vorbis comment. guano: the raw GUANO fields as a JSON object.
"""

from __future__ import annotations

import glob
import heapq
import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import fsspec
import pandas as pd
import soundfile as sf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ... import io as storage
from ...io import atomic_path
from ..errors import AcousticsError, AudioFileError
from .recorder_metadata import (
    RiffChunks,
    recorder_facts,
    utc_timestamp,
    walk_riff,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "PROBLEM_COLUMNS",
    "RECORDING_COLUMNS",
    "ScanResult",
    "read_recording_metadata",
    "read_recordings",
    "recording_truncation",
    "scan_recordings",
    "split_recordings",
    "write_recording_shards",
    "write_recordings",
]

AUDIO_EXTENSIONS = (".wav", ".flac")

# column -> kind; the kinds fix the dtypes so that empty scans and Parquet roundtrips agree
_COLUMN_KINDS: dict[str, str] = {
    "path": "str",
    "size_bytes": "int",
    "format": "str",
    "subtype": "str",
    "sample_rate": "int",
    "channels": "int",
    "frames": "int",
    "duration_s": "float",
    "time_expansion": "float",
    "real_duration_s": "float",
    "real_sample_rate": "int",
    "timestamp_local": "str",
    "utc_offset": "str",
    "timestamp_utc": "utc",
    "device_make": "str",
    "device_model": "str",
    "serial": "str",
    "firmware": "str",
    "latitude": "float",
    "longitude": "float",
    "site": "str",
    "species_manual_id": "str",
    "gain": "str",
    "temperature_c": "float",
    "battery_v": "float",
    "comment": "str",
    "guano": "str",
}
RECORDING_COLUMNS: list[str] = list(_COLUMN_KINDS)
PROBLEM_COLUMNS: list[str] = ["path", "reason"]

# remote reads are latency-bound: a few requests in flight hide most of it
_REMOTE_WORKERS = 8


# --- shards ----------------------------------------------------------------------------------


def split_recordings(table: pd.DataFrame, shards: int) -> list[pd.DataFrame]:
    """Split a recordings table into ``shards`` tables of near-equal audio duration.

    Detection work grows with the audio a file holds, not with the number of files, so the
    split balances the sum of ``duration_s`` (longest recordings first, each to the lightest
    shard so far: no shard exceeds the mean by more than one recording). Ties are broken by
    path and shard number, so the same table always gives the same shards. A recording
    without a duration counts as the mean of the others. Each shard is sorted by path; a
    shard may be empty when there are fewer recordings than shards.

    Args:
        table: a recordings table (``path``; ``duration_s`` when known).
        shards: how many tables, at least 1.

    Returns:
        ``shards`` tables that together hold every row of ``table`` exactly once.
    """
    if shards < 1:
        raise ValueError(f"shards={shards}: must be at least 1")
    durations = pd.to_numeric(
        table["duration_s"] if "duration_s" in table else pd.Series(float("nan"), table.index),
        errors="coerce",
    )
    known = durations[durations.notna()]
    durations = durations.fillna(float(known.mean()) if len(known) else 1.0)
    order = sorted(range(len(table)), key=lambda i: (-durations.iloc[i], str(table["path"].iloc[i])))
    load = [(0.0, k) for k in range(shards)]  # a heap of (seconds so far, shard number)
    rows: list[list[int]] = [[] for _ in range(shards)]
    for i in order:
        seconds, k = heapq.heappop(load)
        rows[k].append(i)
        heapq.heappush(load, (seconds + float(durations.iloc[i]), k))
    return [
        table.iloc[r].sort_values("path", kind="stable", ignore_index=True) for r in rows
    ]


def write_recording_shards(
    table: pd.DataFrame, folder: str | os.PathLike, shards: int
) -> list[str]:
    """Write ``folder/shard-0000.parquet`` ... (:func:`split_recordings`), local or fsspec URL.

    Shards numbered ``shards`` and above from an earlier, wider split are removed once the new
    ones are written, so a listing of the folder shows this split only and no recording is
    in two shards.

    Returns:
        The shard files, in shard order.
    """
    target = os.fspath(folder)
    written = []
    for k, part in enumerate(split_recordings(table, shards)):
        location = storage.join(target, f"shard-{k:04d}.parquet")
        with atomic_path(location, suffix=".parquet") as tmp:
            _typed(part).to_parquet(tmp, index=False)
        written.append(location)
    names = {f"shard-{k:04d}.parquet" for k in range(shards)}
    for stale in storage.glob(storage.join(target, "shard-*.parquet")):
        if stale.rsplit("/", 1)[-1] not in names:
            storage.remove(stale)
    return written


# --- small helpers ---------------------------------------------------------------------------


def _is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _local_path(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


def _is_audio_name(name: str) -> bool:
    return name.lower().endswith(AUDIO_EXTENSIONS)


# --- one file --------------------------------------------------------------------------------


def _header(f: BinaryIO, name: str) -> dict[str, Any]:
    try:
        with sf.SoundFile(f) as snd:
            return {
                "format": snd.format,
                "subtype": snd.subtype,
                "sample_rate": int(snd.samplerate),
                "channels": int(snd.channels),
                "frames": int(snd.frames),
                "tags": snd.copy_metadata(),
            }
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = getattr(exc, "error_string", None) or str(exc)
        raise AudioFileError(name, f"not a readable audio file ({detail})") from None


def _folder_name(name: str) -> str | None:
    parent = PurePosixPath(urlsplit(name).path).parent if _is_remote(name) else Path(name).parent
    return parent.name or None


def _record(
    name: str, size: int, header: dict[str, Any], riff: RiffChunks | None
) -> dict[str, Any]:
    facts, comment, raw = recorder_facts(header["tags"], riff, header["sample_rate"])
    rate, frames = header["sample_rate"], header["frames"]
    rate, frames = header["sample_rate"], header["frames"]
    te = float(facts.get("time_expansion") or 1.0)
    duration = frames / rate
    return {
        "path": name,
        "size_bytes": size,
        "format": header["format"],
        "subtype": header["subtype"],
        "sample_rate": rate,
        "channels": header["channels"],
        "frames": frames,
        "duration_s": duration,
        "time_expansion": te,
        "real_duration_s": duration / te,
        "real_sample_rate": round(rate * te),
        "timestamp_local": facts.get("timestamp_local"),
        "utc_offset": facts.get("utc_offset"),
        "timestamp_utc": utc_timestamp(facts.get("timestamp_local"), facts.get("utc_offset")),
        "device_make": facts.get("device_make"),
        "device_model": facts.get("device_model"),
        "serial": facts.get("serial"),
        "firmware": facts.get("firmware"),
        "latitude": facts.get("latitude"),
        "longitude": facts.get("longitude"),
        "site": facts.get("site") or _folder_name(name),
        "species_manual_id": facts.get("species_manual_id"),
        "gain": facts.get("gain"),
        "temperature_c": facts.get("temperature_c"),
        "battery_v": facts.get("battery_v"),
        "comment": comment,
        "guano": json.dumps(raw, ensure_ascii=False) if raw is not None else None,
    }


def _open(name: str, fs: fsspec.AbstractFileSystem | None) -> BinaryIO:
    if fs is not None:
        return fs.open(name, "rb")
    if _is_remote(name):
        remote, path = fsspec.core.url_to_fs(name)
        return remote.open(path, "rb")
    return open(_local_path(name), "rb")


def read_recording_metadata(
    path_or_url: str | os.PathLike, *, fs: fsspec.AbstractFileSystem | None = None
) -> dict[str, Any]:
    """One recording's row: header, GUANO and comment facts (no samples are read).

    Args:
        path_or_url: a local path, ``file://`` or fsspec URL (``s3://bucket/x.wav``).
        fs: an fsspec filesystem to open ``path_or_url`` with (default: from the URL).

    Returns:
        A dict with the keys of :data:`RECORDING_COLUMNS`; missing facts are None.

    Raises:
        AudioFileError: the file cannot be opened, is empty, truncated or not audio.
    """
    name = os.fspath(path_or_url)
    try:
        handle = _open(name, fs)
    except FileNotFoundError:
        raise AudioFileError(name, "file not found") from None
    except IsADirectoryError:
        raise AudioFileError(name, "is a directory") from None
    except OSError as exc:
        raise AudioFileError(name, f"cannot open ({exc})") from None
    with handle as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            raise AudioFileError(name, "empty file (0 bytes)")
        riff = walk_riff(f, size)
        f.seek(0)
        header = _header(f, name)
    if header["frames"] <= 0 or header["sample_rate"] <= 0:
        raise AudioFileError(name, "no audio samples (header only)")
    truncated = _truncation(riff, header["frames"], header["sample_rate"])
    if truncated:
        # libsndfile quietly reads what is there; a cut-off file must not pass as complete
        raise AudioFileError(name, truncated)
    return _record(name, size, header, riff)


def _truncation(riff: RiffChunks | None, frames: int, sample_rate: int) -> str | None:
    """What a cut-off WAV lacks, in seconds and bytes, or None for a complete file.

    ``frames`` is what libsndfile can read (it sizes the data chunk by what is present), so
    the declared duration is scaled from it by declared / present bytes.
    """
    if (
        riff is None
        or riff.data_declared is None
        or riff.data_present is None  # set together with data_declared
        or riff.data_declared <= riff.data_present
    ):
        return None
    read_s = frames / sample_rate if sample_rate > 0 else 0.0
    if riff.data_present > 0:
        declared = f"{read_s * riff.data_declared / riff.data_present:.1f} s"
    else:
        declared = "?"
    return (
        f"truncated: {read_s:.1f} of {declared} read (data chunk declares "
        f"{riff.data_declared} bytes but only {riff.data_present} are present)"
    )


def recording_truncation(
    path_or_url: str | os.PathLike, *, fs: fsspec.AbstractFileSystem | None = None
) -> str | None:
    """Whether a recording is cut off: "truncated: 1.2 of 3.7 s read (...)", else None.

    Reads the RIFF chunk headers and the audio header only (no samples). The detection runner
    uses it to process a truncated file with what is there while saying so; formats without a
    declared data size (FLAC) and unreadable files give None (reading them fails elsewhere,
    with its own reason).

    Args:
        path_or_url: a local path, ``file://`` or fsspec URL.
        fs: an fsspec filesystem to open ``path_or_url`` with (default: from the URL).
    """
    name = os.fspath(path_or_url)
    try:
        with _open(name, fs) as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            riff = walk_riff(f, size)
            if riff is None or riff.data_declared is None:
                return None
            f.seek(0)
            header = _header(f, name)
    except (OSError, AudioFileError):
        return None
    return _truncation(riff, header["frames"], header["sample_rate"])


# --- many files ------------------------------------------------------------------------------

_GLOB_CHARS = re.compile(r"[*?\[]")


def _walk_local(folder: str, recursive: bool) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        # hidden folders are card housekeeping too (.Trashes, .Spotlight-V100)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found += [os.path.join(root, f) for f in files]
    return found


def _is_listed(path: str) -> bool:
    # hidden names are card housekeeping (macOS "._X.WAV" forks), not recordings
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return _is_audio_name(name) and not name.startswith(".")


def _expand(item: str, recursive: bool, strict: bool) -> list[str]:
    """Audio files of one source item; a plain file is kept as is (it was asked for).

    An existing folder or file wins over a pattern, so names with "[" stay usable.
    """
    if _is_remote(item):
        fs, root = fsspec.core.url_to_fs(item)
        if fs.isdir(root):
            found = fs.find(root, maxdepth=None if recursive else 1)
        elif fs.isfile(root) or (not strict and not _GLOB_CHARS.search(root)):
            return [item]
        elif _GLOB_CHARS.search(root):
            found = fs.glob(root)
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
        return [fs.unstrip_protocol(p) for p in found if _is_listed(p)]
    local = os.path.expanduser(_local_path(item))
    if os.path.isdir(local):
        found = _walk_local(local, recursive)
    elif os.path.isfile(local) or (not strict and not _GLOB_CHARS.search(local)):
        return [os.path.abspath(local)]
    elif _GLOB_CHARS.search(local):
        found = glob.glob(local, recursive=True)
    else:
        raise FileNotFoundError(f"no such file or folder: {item}")
    return [os.path.abspath(p) for p in found if _is_listed(p) and os.path.isfile(p)]


def _list_sources(source: Any, recursive: bool) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        items, strict = [os.fspath(source)], True
    else:
        # in a list a missing file is that file's problem, not the whole scan's
        items, strict = [os.fspath(s) for s in source], False
    return list(dict.fromkeys(p for item in items for p in _expand(item, recursive, strict)))


def _read_or_problem(name: str) -> dict[str, Any] | tuple[str, str]:
    try:
        return read_recording_metadata(name)
    except AudioFileError as exc:
        return (name, exc.reason)
    except Exception as exc:  # noqa: BLE001 - one odd file (or a network hiccup) must not end a scan
        return (name, f"{type(exc).__name__}: {exc}")


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """The table with RECORDING_COLUMNS first, in their fixed dtypes."""
    table = table.copy()
    for column, kind in _COLUMN_KINDS.items():
        values = table[column] if column in table else pd.Series([None] * len(table), dtype=object)
        if kind == "int":
            table[column] = values.astype("int64")
        elif kind == "float":
            table[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == "utc":
            table[column] = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
        else:
            table[column] = values.astype("string")
    extras = [c for c in table.columns if c not in _COLUMN_KINDS]
    return table[RECORDING_COLUMNS + extras]


def _human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True, eq=False)  # eq on DataFrames is ambiguous
class ScanResult:
    """What a scan found: one row per good recording, one per file that could not be used.

    Attributes:
        table: :data:`RECORDING_COLUMNS`, sorted by path.
        problems: columns ``path`` and ``reason``, sorted by path.
    """

    table: pd.DataFrame
    problems: pd.DataFrame

    def __str__(self) -> str:
        n_ok, n_bad = len(self.table), len(self.problems)
        lines = [f"{n_ok + n_bad} files: {n_ok} recordings, {n_bad} problems"]
        if n_ok:
            real = _human_duration(float(self.table["real_duration_s"].sum()))
            rates = self.table["real_sample_rate"].value_counts().sort_index()
            mix = ", ".join(f"{rate / 1000:g} kHz x{count}" for rate, count in rates.items())
            lines.append(f"  {real} of real time; sample rates: {mix}")
        shown = 10
        for row in self.problems.head(shown).itertuples(index=False):
            lines.append(f"  problem: {row.path}: {row.reason}")
        if n_bad > shown:
            lines.append(f"  ... and {n_bad - shown} more problems")
        return "\n".join(lines)


def scan_recordings(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    recursive: bool = True,
    progress: bool = True,
) -> ScanResult:
    """Read the metadata of every WAV/FLAC recording in ``source``; broken files are listed.

    Args:
        source: a folder, a glob pattern ("cards/**/*.WAV"), an fsspec URL of a folder, file or
            pattern ("s3://bucket/deployment/"), or a list of any of these. Folders give their
            files ending .wav/.flac (any case), hidden ones excepted.
        recursive: look in sub-folders of folders.
        progress: draw a progress bar on stderr.

    Returns:
        A :class:`ScanResult`; a file that cannot be used is a row of ``problems``.

    Raises:
        FileNotFoundError: a single ``source`` that does not exist.
    """
    names = _list_sources(source, recursive)
    workers = _REMOTE_WORKERS if any(_is_remote(n) for n in names) else 1
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    columns = (
        TextColumn("scanning recordings"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        Progress(*columns, console=Console(stderr=True), disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        task = bar.add_task("scan", total=len(names))
        for outcome in pool.map(_read_or_problem, names):
            if isinstance(outcome, dict):
                rows.append(outcome)
            else:
                problems.append(outcome)
            bar.advance(task)

    table = _typed(pd.DataFrame(rows, columns=RECORDING_COLUMNS))
    table = table.sort_values("path", kind="stable", ignore_index=True)
    found = pd.DataFrame(problems, columns=PROBLEM_COLUMNS).astype("string")
    return ScanResult(table, found.sort_values("path", kind="stable", ignore_index=True))


# --- storage ---------------------------------------------------------------------------------


def _problems_location(path: str) -> str:
    folder, _, name = path.rpartition("/") if _is_remote(path) else ("", "", "")
    if not _is_remote(path):
        p = Path(_local_path(path))
        return str(p.with_name(f"{p.stem}.problems.csv"))
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder}/{stem}.problems.csv"


def write_recordings(
    result_or_table: ScanResult | pd.DataFrame, path: str | os.PathLike
) -> list[str]:
    """Write the recordings table as Parquet (atomically), and its problems next to it.

    The problems go to ``<stem>.problems.csv`` beside ``path`` when there are any; a stale one
    from an earlier scan is removed so the pair always describes the same scan.

    Args:
        result_or_table: a :class:`ScanResult` or a recordings table.
        path: the Parquet file, local or fsspec URL.

    Returns:
        The files written.
    """
    if isinstance(result_or_table, ScanResult):
        table, problems = result_or_table.table, result_or_table.problems
    else:
        table, problems = result_or_table, pd.DataFrame(columns=PROBLEM_COLUMNS)
    missing = [c for c in RECORDING_COLUMNS if c not in table.columns]
    if missing:
        raise AcousticsError(f"not a recordings table: missing columns {missing}")

    target = os.fspath(path)
    with atomic_path(target, suffix=".parquet") as tmp:
        _typed(table).to_parquet(tmp, index=False)
    written = [target]
    problems_at = _problems_location(target)
    if len(problems):
        with atomic_path(problems_at, suffix=".csv") as tmp:
            problems[PROBLEM_COLUMNS].to_csv(tmp, index=False)
        written.append(problems_at)
    else:
        storage.remove(problems_at)
    return written


def read_recordings(path: str | os.PathLike) -> pd.DataFrame:
    """A recordings table written by :func:`write_recordings`.

    Args:
        path: the Parquet file, local or fsspec URL.

    Returns:
        The table with :data:`RECORDING_COLUMNS` first, in their dtypes.
    """
    location = os.fspath(path)
    # the store's endpoint from the environment, as every writer here uses it
    table = pd.read_parquet(location, storage_options=storage.storage_options(location) or None)
    missing = [c for c in RECORDING_COLUMNS if c not in table.columns]
    if missing:
        raise AcousticsError(f"{os.fspath(path)} is not a recordings table: missing {missing}")
    return _typed(table)
