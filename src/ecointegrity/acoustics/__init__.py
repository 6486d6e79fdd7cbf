"""ecointegrity.acoustics: bat calls and other sounds in recordings.

Layering: ``errors`` <- ``recordings`` (the recordings table), ``events`` (one table of sound
events; batdetect2, Raven, AOEF, CSV, Parquet) <- ``evaluation``; ``synth`` (the call
generator) <- ``spectrogram`` <- ``network`` <- ``detector`` <- ``training``, ``runner`` (many
files, resumable, Dask). ``batdetect2_backend`` is an optional, non-commercial backend, imported
only when asked for.
"""

from .detector import DEFAULT_MODEL, BatDetector, load_detector
from .errors import AcousticsError, AudioFileError
from .evaluation import EvaluationReport, evaluate, match_events, plot_precision_recall
from .events import EVENT_COLUMNS, empty_events, read_events, validate_events, write_events
from .recordings import (
    RECORDING_COLUMNS,
    ScanResult,
    read_recording_metadata,
    read_recordings,
    scan_recordings,
    write_recordings,
)
from .runner import (
    DetectionRun,
    RunConflict,
    detect_recordings,
    export_detections,
    read_detections,
    read_file_ledger,
)
from .spectrogram import SpectrogramConfig
from .synth import CALL_TYPES, synth_recording, write_synthetic_dataset
from .training import (
    TrainingRecording,
    load_training_recordings,
    synthetic_training_set,
    train_detector,
)

__all__ = [
    "AcousticsError",
    "AudioFileError",
    "BatDetector",
    "CALL_TYPES",
    "DEFAULT_MODEL",
    "DetectionRun",
    "EVENT_COLUMNS",
    "EvaluationReport",
    "RECORDING_COLUMNS",
    "RunConflict",
    "ScanResult",
    "SpectrogramConfig",
    "TrainingRecording",
    "detect_recordings",
    "empty_events",
    "evaluate",
    "export_detections",
    "load_detector",
    "load_training_recordings",
    "match_events",
    "plot_precision_recall",
    "read_detections",
    "read_events",
    "read_file_ledger",
    "read_recording_metadata",
    "read_recordings",
    "scan_recordings",
    "synth_recording",
    "synthetic_training_set",
    "train_detector",
    "validate_events",
    "write_events",
    "write_recordings",
    "write_synthetic_dataset",
]
