"""The one detector protocol: what the batch runner (``runner``) needs of a sound-event detector.

Three detectors implement it: the bat-call detector (``bats.BatDetector``), the anthropogenic
sound detector (``anthropogenic.AnthropogenicDetector``) and the optional batdetect2 backend
(``bats.batdetect2_backend.BatDetect2Backend``). ``registry.resolve_detector`` turns a model
name, a saved model's path or a detector into one; the runner uses nothing but this protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from .io.event_table import EVENT_COLUMNS

__all__ = ["AudioFile", "Detector", "ErrorHandler", "detect_each", "model_identity"]

#: A recording to detect in: (path, time-expansion factor).
AudioFile = tuple[str, float]
#: Called with a file's path and the exception it failed with.
ErrorHandler = Callable[[str, Exception], None]


@runtime_checkable
class Detector(Protocol):
    """A sound-event detector over audio files, giving the project's event table.

    Members:
        name: the model's name, written in the ``model`` column of its events.
        version: the model's version (``model_version`` column).
        run_parameters: what determines a run's detections (model, version, thresholds,
            chunking or windowing, classes): recorded in ``run.json`` and checked on resume.
        detect_file: the events of one file, times and frequencies in real time.
        detect_files: the events of several files (a batch of the runner); a file that fails
            goes to ``on_error`` and the others go on.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def run_parameters(self) -> dict[str, Any]: ...

    def detect_file(self, path: str | os.PathLike, *, time_expansion: float = 1.0,
                    recording: str | None = None) -> pd.DataFrame: ...

    def detect_files(self, files: Iterable[AudioFile], on_error: ErrorHandler) -> pd.DataFrame: ...


def model_identity(detector: Detector) -> dict[str, Any]:
    """The first entries of every detector's ``run_parameters``: its model name and version."""
    return {"model": detector.name, "model_version": detector.version}


def detect_each(detector: Detector, files: Iterable[AudioFile],
                on_error: ErrorHandler) -> pd.DataFrame:
    """``detect_files`` one file at a time, for detectors with nothing to share across files.

    Args:
        detector: the detector whose ``detect_file`` is called.
        files: (path, time expansion) of each file; the path is also its ``recording`` id.
        on_error: called as ``on_error(path, exception)`` for a file that fails.

    Returns:
        The events of the files that did not fail.
    """
    parts = []
    for path, time_expansion in files:
        try:
            parts.append(detector.detect_file(path, time_expansion=time_expansion,
                                              recording=path))
        except Exception as exc:
            on_error(path, exc)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EVENT_COLUMNS)
