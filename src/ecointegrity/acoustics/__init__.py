"""ecointegrity.acoustics: bat calls and other sounds in recordings.

Layering: ``errors`` <- ``recordings`` (the recordings table), ``events`` (one table of sound
events; batdetect2, Raven, AOEF, CSV, Parquet) <- ``evaluation``; ``synth`` (the call
generator) <- ``spectrogram`` <- ``network`` <- ``detector`` <- ``training``, ``runner`` (many
files, resumable, Dask). ``batdetect2_backend`` is an optional, non-commercial backend, imported
only when asked for. Audible soundscapes: ``anthropogenic`` (gunshot, chainsaw, vehicle, voice...
windows and events; the runner takes it as ``model="anthropogenic"``), ``soundscape`` (scikit-maad
indices per minute, false-colour days) <- ``evidence`` (per site and period, for the integrity
model).
"""

from .anthropogenic import (
    ANTHROPOGENIC_CLASSES,
    DEFAULT_ANTHROPOGENIC_MODEL,
    AnthropogenicDetector,
    train_anthropogenic,
)
from .detector import DEFAULT_MODEL, BatDetector, load_detector
from .errors import AcousticsError, AudioFileError
from .evaluation import EvaluationReport, evaluate, match_events, plot_precision_recall
from .events import EVENT_COLUMNS, empty_events, read_events, validate_events, write_events
from .evidence import PERIODS, poisson_rate_ci, site_evidence, write_evidence
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
from .soundscape import (
    IndicesRun,
    compute_indices,
    false_colour_by_site_day,
    indices_for_recordings,
    read_indices,
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
    "ANTHROPOGENIC_CLASSES",
    "AcousticsError",
    "AnthropogenicDetector",
    "AudioFileError",
    "BatDetector",
    "CALL_TYPES",
    "DEFAULT_ANTHROPOGENIC_MODEL",
    "DEFAULT_MODEL",
    "DetectionRun",
    "EVENT_COLUMNS",
    "EvaluationReport",
    "IndicesRun",
    "PERIODS",
    "RECORDING_COLUMNS",
    "RunConflict",
    "ScanResult",
    "SpectrogramConfig",
    "TrainingRecording",
    "compute_indices",
    "detect_recordings",
    "empty_events",
    "evaluate",
    "export_detections",
    "false_colour_by_site_day",
    "indices_for_recordings",
    "load_detector",
    "load_training_recordings",
    "match_events",
    "plot_precision_recall",
    "poisson_rate_ci",
    "read_detections",
    "read_events",
    "read_file_ledger",
    "read_indices",
    "read_recording_metadata",
    "read_recordings",
    "scan_recordings",
    "site_evidence",
    "synth_recording",
    "synthetic_training_set",
    "train_anthropogenic",
    "train_detector",
    "validate_events",
    "write_events",
    "write_evidence",
    "write_recordings",
    "write_synthetic_dataset",
]
