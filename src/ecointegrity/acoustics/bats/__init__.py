"""Bat echolocation calls in ultrasonic recordings: the call generator, the detector network and
its training; batdetect2 as an optional backend (``bats.batdetect2_backend``, imported only when
asked for).

Layering: ``call_types`` <- ``calls`` <- ``passes``, ``noise`` <- ``synth`` (the generator);
``spectrogram`` <- ``network`` <- ``detector`` (``duplicates``: one detection per call) <-
``training``; ``sequences`` summarises a run's calls per pass.
"""

from __future__ import annotations

from .call_types import CALL_TYPES, CallParams, CallType
from .calls import synth_call
from .detector import DEFAULT_MODEL, BatDetector, load_detector
from .duplicates import DuplicateRule, suppress_duplicates
from .passes import synth_pass
from .sequences import PASS_SUMMARY_COLUMNS, pass_ids, summarise_passes
from .spectrogram import SpectrogramConfig
from .synth import SyntheticRecording, synth_recording, write_recording, write_synthetic_dataset
from .training import (
    TrainingRecording,
    load_training_recordings,
    synthetic_training_set,
    train_detector,
)

__all__ = [
    "CALL_TYPES",
    "DEFAULT_MODEL",
    "PASS_SUMMARY_COLUMNS",
    "BatDetector",
    "CallParams",
    "CallType",
    "DuplicateRule",
    "SpectrogramConfig",
    "SyntheticRecording",
    "TrainingRecording",
    "load_detector",
    "load_training_recordings",
    "pass_ids",
    "summarise_passes",
    "suppress_duplicates",
    "synth_call",
    "synth_pass",
    "synth_recording",
    "synthetic_training_set",
    "train_detector",
    "write_recording",
    "write_synthetic_dataset",
]
