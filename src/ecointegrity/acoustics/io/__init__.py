"""Recordings and sound events on disk: the recordings table (scan, recorder metadata) and the
event table with one module per exchange format.

Layering: ``recorder_metadata`` <- ``recordings``; ``event_table`` <- ``batdetect2_json``,
``raven``, ``aoef``, ``csv_parquet`` <- ``events``.
"""

from __future__ import annotations

from .event_table import BAT_LABEL, EVENT_COLUMNS, UNKNOWN_LABEL, empty_events, validate_events
from .events import FORMATS, detect_format, read_events, write_events
from .recorder_metadata import parse_audiomoth_comment
from .recordings import (
    AUDIO_EXTENSIONS,
    PROBLEM_COLUMNS,
    RECORDING_COLUMNS,
    ScanResult,
    read_recording_metadata,
    read_recordings,
    scan_recordings,
    split_recordings,
    write_recording_shards,
    write_recordings,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "BAT_LABEL",
    "EVENT_COLUMNS",
    "FORMATS",
    "PROBLEM_COLUMNS",
    "RECORDING_COLUMNS",
    "UNKNOWN_LABEL",
    "ScanResult",
    "detect_format",
    "empty_events",
    "parse_audiomoth_comment",
    "read_events",
    "read_recording_metadata",
    "read_recordings",
    "scan_recordings",
    "split_recordings",
    "validate_events",
    "write_events",
    "write_recording_shards",
    "write_recordings",
]
