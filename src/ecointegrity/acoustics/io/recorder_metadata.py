"""What recorders write about themselves: the GUANO ``guan`` chunk (bat detectors), the RIFF
comment (AudioMoth), and the RIFF chunk walk that finds GUANO and the ``data`` extent.

GUANO wins where both say something; the comment fills the gaps (:func:`recorder_facts`).
Every parser is tolerant: a part missing or reworded never loses the rest.

Layering: number/time helpers <- AudioMoth comment, GUANO fields <- recorder_facts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

import pandas as pd
from guano import GuanoFile

__all__ = [
    "RiffChunks",
    "parse_audiomoth_comment",
    "parse_guano",
    "recorder_facts",
    "utc_timestamp",
    "walk_riff",
]

# a GUANO block is a few hundred bytes; anything far larger is a corrupt chunk size
_MAX_GUANO_BYTES = 1 << 20


# --- small helpers ---------------------------------------------------------------------------

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


def utc_timestamp(local: str | None, offset: str | None) -> pd.Timestamp | None:
    """UTC time of a wall-clock ISO text and its offset; None unless both are known."""
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


def parse_guano(blob: bytes) -> dict[str, str]:
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


def _find_key(raw: Mapping[str, str], names: Iterable[str]) -> str | None:
    """Value of the first non-empty field whose key, namespace aside, is one of ``names``."""
    wanted = {n.lower() for n in names}
    for key, value in raw.items():
        if value and key.rsplit("|", 1)[-1].strip().lower() in wanted:
            return value
    return None


def _guano_fields(raw: Mapping[str, str], header_rate: int) -> dict[str, Any]:
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




@dataclass(frozen=True)
class RiffChunks:
    """The GUANO block and the ``data`` chunk's declared and present bytes of a WAV file."""

    guano: bytes | None
    data_declared: int | None
    data_present: int | None


def walk_riff(f: BinaryIO, size: int) -> RiffChunks | None:
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
    return RiffChunks(guano, declared, present)


def recorder_facts(
    tags: Mapping[str, str | None], riff: RiffChunks | None, header_rate: int
) -> tuple[dict[str, Any], str | None, dict[str, str] | None]:
    """What the recorder wrote: (facts, the comment, the raw GUANO fields or None).

    Args:
        tags: the file's text tags (libsndfile's ``copy_metadata``: comment, artist, ...).
        riff: the RIFF chunks of a WAV file, None for other formats.
        header_rate: the header's sample rate (Hz), to infer time expansion from GUANO.
    """
    comment = (tags.get("comment") or "").strip("\x00 ") or None
    from_comment = parse_audiomoth_comment(comment)
    if "serial" not in from_comment:
        # AudioMoth also names itself in the artist tag ("AudioMoth 24E1...")
        from_comment |= {
            k: v for k, v in parse_audiomoth_comment(tags.get("artist")).items()
            if k in ("device_make", "device_model", "serial")
        }
    raw = parse_guano(riff.guano) if riff and riff.guano else None
    from_guano = _guano_fields(raw, header_rate) if raw else {}

    facts = {**from_comment, **from_guano}
    if "utc_offset" not in from_guano and "timestamp_local" in from_guano:
        # a naive GUANO time takes the comment's offset only when both name the same instant
        same = from_comment.get("timestamp_local") == from_guano["timestamp_local"]
        facts["utc_offset"] = from_comment.get("utc_offset") if same else None
    return facts, comment, raw
