"""Audio clips of detections, for people to listen to, with human speech silenced.

Reviewers check detections by ear (a gunshot, a chainsaw), which needs the sound around each
event. Clips are the only audio the project writes, so they carry its privacy promise: the
speech in every clip is found (``speech.SpeechDetector``) and set to silence before the file
is written; a clip whose event is all speech is withheld. ``clips.csv`` beside the clips lists
each event, its clip and the seconds silenced, and the summary counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from ..io import atomic_path
from ._audio import open_audio, read_first_channel
from .errors import AudioFileError
from .speech import SpeechDetector, mask_speech

__all__ = ["CLIP_COLUMNS", "ClipExport", "export_clips"]

CLIP_COLUMNS = [
    "recording", "start_time", "end_time", "label", "score", "clip", "speech_s", "status",
]
_SPEECH_CONTEXT_S = 2.0
WRITTEN, SILENCED, WITHHELD, FAILED = "written", "speech silenced", "withheld: speech", "failed"


@dataclass(frozen=True)
class ClipExport:
    """What an export wrote: one row per event (``CLIP_COLUMNS``) and the manifest's path."""

    clips: pd.DataFrame
    manifest: Path

    @property
    def written(self) -> int:
        return int(self.clips["status"].isin([WRITTEN, SILENCED]).sum())

    @property
    def masked(self) -> int:
        """Clips written with speech silenced."""
        return int((self.clips["status"] == SILENCED).sum())

    @property
    def withheld(self) -> int:
        return int((self.clips["status"] == WITHHELD).sum())

    @property
    def failed(self) -> int:
        return int(self.clips["status"].str.startswith(FAILED).sum())

    def __str__(self) -> str:
        speech = self.clips["speech_s"].sum()
        return (
            f"{self.written} clips written, {self.masked} of them with speech silenced "
            f"({speech:.1f} s in all); {self.withheld} withheld (the event is speech); "
            f"{self.failed} failed; list: {self.manifest}"
        )


def _clip_name(recording: str, start_s: float, label: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(recording).stem)
    return f"{stem}_{int(round(start_s * 1000)):09d}ms_{re.sub(r'[^A-Za-z0-9_-]+', '_', label)}.wav"


def export_clips(
    events: pd.DataFrame,
    out_dir: str | Path,
    *,
    pad_s: float = 1.0,
    speech: SpeechDetector | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClipExport:
    """One WAV per event (its span and ``pad_s`` either side, the file's rate, first channel),
    speech silenced; ``clips.csv`` lists them. A recording that cannot be read is recorded as
    failed and the export goes on.

    Args:
        events: detections (``recording`` a readable path or URL; real time, no time expansion).
        out_dir: local folder for the clips.
        pad_s: context either side of each event, seconds.
        speech: the speech detector (default: Silero VAD with its defaults).
        progress: called with the number of events done after each one.
    """
    if pad_s < 0:
        raise ValueError(f"pad_s must be >= 0, got {pad_s}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    speech = speech or SpeechDetector()
    rows = []
    for done, event in enumerate(events.itertuples(index=False), start=1):
        row = {c: getattr(event, c) for c in ("recording", "start_time", "end_time", "label",
                                                "score")}
        try:
            row.update(_write_clip(event, out, pad_s, speech))
        except AudioFileError as exc:
            row.update(clip="", speech_s=0.0, status=f"{FAILED}: {exc.reason}")
        rows.append(row)
        if progress:
            progress(done)
    table = pd.DataFrame(rows, columns=CLIP_COLUMNS)
    manifest = out / "clips.csv"
    with atomic_path(manifest, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)
    return ClipExport(table, manifest)


def _write_clip(event: Any, out: Path, pad_s: float, speech: SpeechDetector) -> dict:
    recording, start, end = event.recording, float(event.start_time), float(event.end_time)
    with open_audio(recording) as f:
        rate = f.samplerate
        first = max(0, int(np.floor((start - pad_s) * rate)))
        stop = min(f.frames, int(np.ceil((end + pad_s) * rate)))
        # speech is looked for with context around the clip: a word cut by the clip's edge
        # is still a word
        context = int(_SPEECH_CONTEXT_S * rate)
        wide_first = max(0, first - context)
        wide = read_first_channel(f, recording, wide_first, stop + context - wide_first)
    audio = wide[first - wide_first : stop - wide_first]
    if not len(audio):
        raise AudioFileError(recording, f"no audio between {start:g} s and {end:g} s")
    found = speech.detect_audio(wide, rate)
    found[["start_time", "end_time"]] += wide_first / rate
    offset = first / rate
    masked, speech_s = mask_speech(audio, rate, found, offset_s=offset)
    own = slice(int((start - offset) * rate), max(int(np.ceil((end - offset) * rate)), 1))
    if speech_s and not np.any(masked[own]) and np.any(audio[own]):
        return {"clip": "", "speech_s": speech_s, "status": WITHHELD}
    name = _clip_name(recording, start, str(event.label))
    with atomic_path(out / name, suffix=".wav") as tmp:
        sf.write(tmp, masked, rate, subtype="PCM_16")
    return {"clip": name, "speech_s": speech_s, "status": SILENCED if speech_s else WRITTEN}
