"""Recordings scan: a folder, glob, list or fsspec URL of WAV/FLAC files -> one table.

Each file gives one row of :data:`RECORDING_COLUMNS`: what the header says (libsndfile reads
the header only, never the samples) and what the recorder wrote about itself, from the GUANO
``guan`` chunk (bat detectors) and from the RIFF comment (AudioMoth). GUANO wins where both
say something; the comment fills the gaps. Broken files never stop a scan: they are listed
in ``ScanResult.problems`` with the reason.

Layering: RIFF walk, GUANO and comment parsers <- read_recording_metadata <- scan_recordings
<- write_recordings / read_recordings.

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
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import fsspec
import pandas as pd
import soundfile as sf
from guano import GuanoFile
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..io import atomic_path
from .errors import AcousticsError, AudioFileError

__all__ = [
    "AUDIO_EXTENSIONS",
    "PROBLEM_COLUMNS",
    "RECORDING_COLUMNS",
    "ScanResult",
    "parse_audiomoth_comment",
    "read_recording_metadata",
    "read_recordings",
    "scan_recordings",
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

# a GUANO block is a few hundred bytes; anything far larger is a corrupt chunk size
_MAX_GUANO_BYTES = 1 << 20
# remote reads are latency-bound: a few requests in flight hide most of it
_REMOTE_WORKERS = 8


# --- small helpers ---------------------------------------------------------------------------


def _is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _local_path(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


def _is_audio_name(name: str) -> bool:
    return name.lower().endswith(AUDIO_EXTENSIONS)


def _to_float(value: Any) -> float | None:
    """A number from a number or from text such as "4.2V"; None when there is none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = re.search(r"[-+]?\d+(?:\.\d+)?", value)
        return float(match.group()) if match else None
    return None


def _first_float(*values: Any) -> float | None:
    return next((number for v in values if (number := _to_float(v)) is not None), None)


def _format_offset(offset: timedelta) -> str:
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _split_datetime(value: Any) -> tuple[str | None, str | None]:
    """(wall-clock ISO text, UTC offset text) of a datetime or ISO text; Nones if unparsable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None, None
    if not isinstance(value, datetime):
        return None, None
    offset = value.utcoffset()
    local = value.replace(tzinfo=None).isoformat()
    return local, (_format_offset(offset) if offset is not None else None)


def _utc(local: str | None, offset: str | None) -> pd.Timestamp | None:
    if not local or not offset:
        return None
    return pd.Timestamp(datetime.fromisoformat(local + offset)).tz_convert("UTC")


# --- AudioMoth comment -----------------------------------------------------------------------

_AM_RECORDED = re.compile(
    r"Recorded at\s+(?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s+"
    r"(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4})(?:\s*\((?P<tz>[^)]*)\))?",
    re.IGNORECASE,
)
_AM_TZ = re.compile(
    r"^\s*(?:UTC|GMT)\s*(?:(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?\s*$",
    re.IGNORECASE,
)
_AM_SERIAL = re.compile(r"\bAudioMoth\s+(?P<serial>[0-9A-F]{8,16})\b", re.IGNORECASE)
_AM_GAIN = re.compile(
    r"\bat\s+(?:gain\s+setting\s+(?P<level>\w+)|(?P<name>[a-z]+(?:-[a-z]+)?)\s+gain)\b",
    re.IGNORECASE,
)
_AM_BATTERY = re.compile(
    r"battery(?:\s+state)?\s+was\s+(?:(?:less|greater)\s+than\s+)?(?P<v>\d+(?:\.\d+)?)\s*V\b",
    re.IGNORECASE,
)
_AM_TEMPERATURE = re.compile(r"temperature\s+was\s+(?P<c>[-+]?\d+(?:\.\d+)?)\s*C\b", re.IGNORECASE)


def _comment_datetime(time_text: str, date_text: str) -> str | None:
    fields = re.split(r"[/.-]", date_text)
    parts = [int(p) for p in fields]
    # AudioMoth writes DD/MM/YYYY; accept ISO order too, recognised by a 4-digit first field
    if len(fields[0]) == 4:
        year, month, day = parts
    else:
        day, month, year = parts
    if year < 100:
        year += 2000
    hms = [int(p) for p in time_text.split(":")] + [0]
    try:
        return datetime(year, month, day, hms[0], hms[1], hms[2]).isoformat()
    except ValueError:
        return None


def _comment_offset(tz_text: str | None) -> str | None:
    match = _AM_TZ.match(tz_text or "")
    if not match:
        return None
    if not match["sign"]:
        return "+00:00"
    minutes = int(match["h"]) * 60 + int(match["m"] or 0)
    return _format_offset(timedelta(minutes=-minutes if match["sign"] == "-" else minutes))


def parse_audiomoth_comment(comment: str | None) -> dict[str, Any]:
    """Recorder facts from an AudioMoth comment, whatever the firmware's wording.

    Each part is matched on its own, so a comment with parts missing or reworded still gives
    the rest. "battery state was greater than 4.9V" (old firmware) gives 4.9: a bound, not a
    reading.

    Args:
        comment: the RIFF ``ICMT`` text, e.g. "Recorded at 20:26:15 03/09/2024 (UTC+1) by
            AudioMoth 24E144055E080032 at medium gain while battery was 4.2V and ...".

    Returns:
        Only the keys found among: timestamp_local (ISO, wall clock), utc_offset ("+01:00"),
        device_make, device_model, serial, gain, battery_v, temperature_c.
    """
    if not comment or not re.search(r"AudioMoth|Recorded at", comment, re.IGNORECASE):
        return {}
    out: dict[str, Any] = {}
    if match := _AM_RECORDED.search(comment):
        local = _comment_datetime(match["time"], match["date"])
        if local:
            out["timestamp_local"] = local
            offset = _comment_offset(match["tz"])
            if offset:
                out["utc_offset"] = offset
    if re.search(r"\bAudioMoth\b", comment, re.IGNORECASE):
        out["device_make"] = "Open Acoustic Devices"
        out["device_model"] = "AudioMoth"
    if match := _AM_SERIAL.search(comment):
        out["serial"] = match["serial"].upper()
    if match := _AM_GAIN.search(comment):
        out["gain"] = (match["level"] or match["name"]).lower()
    if match := _AM_BATTERY.search(comment):
        out["battery_v"] = float(match["v"])
    if match := _AM_TEMPERATURE.search(comment):
        out["temperature_c"] = float(match["c"])
    return out


# --- GUANO -----------------------------------------------------------------------------------

_SITE_KEYS = ("site", "site name", "site id", "loc site", "location name")
_BATTERY_KEYS = ("battery voltage", "battery", "battery v")


def _guano_raw(blob: bytes) -> dict[str, str]:
    """GUANO fields as written (full key -> text), skipping lines that are not "key: value"."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        text = blob.decode("latin-1")
    raw: dict[str, str] = {}
    for line in text.replace("\x00", "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            raw[key.strip()] = value.strip()
    return raw


def _find_key(raw: dict[str, str], names: Iterable[str]) -> str | None:
    """Value of the first non-empty field whose key, namespace aside, is one of ``names``."""
    wanted = {n.lower() for n in names}
    for key, value in raw.items():
        if value and key.rsplit("|", 1)[-1].strip().lower() in wanted:
            return value
    return None


def _guano_fields(raw: dict[str, str], header_rate: int) -> dict[str, Any]:
    # the guano package coerces the well-known fields (Timestamp, Loc Position, TE, ...);
    # feeding it the pre-split lines keeps one malformed line from losing the whole block
    guano = GuanoFile.from_string("\n".join(f"{k}: {v}" for k, v in raw.items()))
    out: dict[str, Any] = {
        "device_make": guano.get("Make"),
        "device_model": guano.get("Model"),
        "serial": guano.get("Serial"),
        "firmware": guano.get("Firmware Version"),
        "species_manual_id": guano.get("Species Manual ID"),
        "site": _find_key(raw, _SITE_KEYS),
        "gain": _find_key(raw, ("gain",)),
        "battery_v": _to_float(_find_key(raw, _BATTERY_KEYS)),
        # ambient (Ext) before in-housing (Int) temperature
        "temperature_c": _first_float(guano.get("Temperature Ext"), guano.get("Temperature Int")),
    }
    local, offset = _split_datetime(guano.get("Timestamp"))
    out["timestamp_local"], out["utc_offset"] = local, offset

    position = guano.get("Loc Position")
    if isinstance(position, str):
        position = tuple(float(v) for v in re.findall(r"[-+]?\d+(?:\.\d+)?", position))
    if isinstance(position, tuple) and len(position) == 2:
        lat, lon = position
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            out["latitude"], out["longitude"] = lat, lon

    te = _to_float(guano.get("TE"))
    if te is None:
        # GUANO Samplerate is the real rate (TE x header rate) for time-expansion detectors
        real_rate = _to_float(guano.get("Samplerate"))
        if real_rate and header_rate and real_rate > header_rate:
            ratio = real_rate / header_rate
            te = float(round(ratio)) if abs(ratio - round(ratio)) < 0.01 else None
    out["time_expansion"] = te if te and te > 0 else None
    # "Length" is deliberately unused: Echo Meter writes milliseconds there, and the header's
    # frame count is the truth anyway (the raw value stays in the guano column)
    return {k: v for k, v in out.items() if v not in (None, "")}


# --- one file --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Riff:
    guano: bytes | None
    data_declared: int | None
    data_present: int | None


def _walk_riff(f: BinaryIO, size: int) -> _Riff | None:
    """The ``guan`` chunk and ``data`` extent of a RIFF/WAVE file; None for other formats."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    guano = declared = present = None
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            break
        chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
        body = pos + 8
        if chunk_id == b"data":
            declared, present = chunk_size, max(0, min(chunk_size, size - body))
        elif chunk_id == b"guan" and chunk_size <= _MAX_GUANO_BYTES:
            guano = f.read(chunk_size)
        pos = body + chunk_size + (chunk_size & 1)  # chunks are word-aligned
    return _Riff(guano, declared, present)


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


def _record(name: str, size: int, header: dict[str, Any], riff: _Riff | None) -> dict[str, Any]:
    tags = header["tags"]
    comment = (tags.get("comment") or "").strip("\x00 ") or None
    from_comment = parse_audiomoth_comment(comment)
    if "serial" not in from_comment:
        # AudioMoth also names itself in the artist tag ("AudioMoth 24E1...")
        from_comment |= {
            k: v for k, v in parse_audiomoth_comment(tags.get("artist")).items()
            if k in ("device_make", "device_model", "serial")
        }
    raw = _guano_raw(riff.guano) if riff and riff.guano else None
    from_guano = _guano_fields(raw, header["sample_rate"]) if raw else {}

    facts = {**from_comment, **from_guano}
    if "utc_offset" not in from_guano and "timestamp_local" in from_guano:
        # a naive GUANO time takes the comment's offset only when both name the same instant
        same = from_comment.get("timestamp_local") == from_guano["timestamp_local"]
        facts["utc_offset"] = from_comment.get("utc_offset") if same else None

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
        "timestamp_utc": _utc(facts.get("timestamp_local"), facts.get("utc_offset")),
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
        riff = _walk_riff(f, size)
        f.seek(0)
        header = _header(f, name)
    if header["frames"] <= 0 or header["sample_rate"] <= 0:
        raise AudioFileError(name, "no audio samples (header only)")
    if riff and riff.data_declared is not None and riff.data_declared > riff.data_present:
        # libsndfile quietly reads what is there; a cut-off file must not pass as complete
        raise AudioFileError(
            name,
            f"truncated: data chunk declares {riff.data_declared} bytes "
            f"but only {riff.data_present} are present",
        )
    return _record(name, size, header, riff)


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
    columns = (TextColumn("scanning recordings"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        Progress(*columns, console=Console(stderr=True), disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        task = bar.add_task("scan", total=len(names))
        for outcome in pool.map(_read_or_problem, names):
            (rows.append if isinstance(outcome, dict) else problems.append)(outcome)
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


def write_recordings(result_or_table: ScanResult | pd.DataFrame, path: str | os.PathLike) -> list[str]:
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
        fs, stale = fsspec.core.url_to_fs(problems_at)
        if fs.exists(stale):
            fs.rm(stale)
    return written


def read_recordings(path: str | os.PathLike) -> pd.DataFrame:
    """A recordings table written by :func:`write_recordings`.

    Args:
        path: the Parquet file, local or fsspec URL.

    Returns:
        The table with :data:`RECORDING_COLUMNS` first, in their dtypes.
    """
    table = pd.read_parquet(os.fspath(path))
    missing = [c for c in RECORDING_COLUMNS if c not in table.columns]
    if missing:
        raise AcousticsError(f"{os.fspath(path)} is not a recordings table: missing {missing}")
    return _typed(table)
