"""ecointegrity.acoustics: bat calls and other sounds in recordings.

Layering: ``errors``, ``io`` (recordings table, event table and formats) <- ``detector`` (the
protocol) <- ``bats``, ``anthropogenic`` (wings) <- ``registry`` <- ``runner``; ``soundscape``
(maad indices, false colour) <- ``evaluation``, ``evidence`` (per site and period, for the
integrity model). ``speech`` (Silero VAD) <- ``clips``: the only audio the project writes,
with human speech silenced.

Wings: ``bats`` (call generator, spectrogram, network, detector, training; ``batdetect2`` as an
optional, non-commercial backend imported only when asked for), ``anthropogenic`` (gunshot,
chainsaw, vehicle, voice... windows and events; synthetic audible soundscapes), ``soundscape``
(scikit-maad indices per minute, false-colour days). The runner (many files, resumable, Dask)
takes any :class:`Detector`: a model name (``"anthropogenic"``, ``"batdetect2"``), a saved
model's path, or an instance.
"""

from __future__ import annotations

from .anthropogenic import (
    ANTHROPOGENIC_CLASSES,
    DEFAULT_ANTHROPOGENIC_MODEL,
    AnthropogenicDetector,
    is_anthropogenic_model,
    synth_soundscape,
    train_anthropogenic,
    write_soundscape,
)
from .bats import (
    CALL_TYPES,
    DEFAULT_MODEL,
    BatDetector,
    DuplicateRule,
    SpectrogramConfig,
    TrainingRecording,
    load_detector,
    load_training_recordings,
    summarise_passes,
    synth_recording,
    synthetic_training_set,
    train_detector,
    write_synthetic_dataset,
)
from .clips import ClipExport, export_clips
from .detector import Detector
from .errors import AcousticsError, AudioFileError
from .evaluation import EvaluationReport, evaluate, match_events, plot_precision_recall
from .evidence import PERIODS, poisson_rate_ci, site_evidence, write_evidence
from .io import (
    EVENT_COLUMNS,
    RECORDING_COLUMNS,
    ScanResult,
    empty_events,
    read_events,
    read_recording_metadata,
    read_recordings,
    scan_recordings,
    validate_events,
    write_events,
    write_recordings,
)
from .registry import resolve_detector
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
from .speech import SpeechDetector, mask_speech

__all__ = [
    "ANTHROPOGENIC_CLASSES",
    "CALL_TYPES",
    "DEFAULT_ANTHROPOGENIC_MODEL",
    "DEFAULT_MODEL",
    "EVENT_COLUMNS",
    "ClipExport",
    "SpeechDetector",
    "DuplicateRule",
    "PERIODS",
    "RECORDING_COLUMNS",
    "AcousticsError",
    "AnthropogenicDetector",
    "AudioFileError",
    "BatDetector",
    "DetectionRun",
    "Detector",
    "EvaluationReport",
    "IndicesRun",
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
    "is_anthropogenic_model",
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
    "resolve_detector",
    "scan_recordings",
    "site_evidence",
    "summarise_passes",
    "export_clips",
    "mask_speech",
    "synth_recording",
    "synth_soundscape",
    "synthetic_training_set",
    "train_anthropogenic",
    "train_detector",
    "validate_events",
    "write_events",
    "write_evidence",
    "write_recordings",
    "write_soundscape",
    "write_synthetic_dataset",
]
