"""BatDetect2 (Mac Aodha et al. 2022) as an optional detection backend.

BatDetect2 detects bat echolocation calls and classifies them to 17 UK species. Its code and
bundled model (``Net2DFast_UK_same.pth.tar``) are licensed CC BY-NC 4.0: **non-commercial use
only**. It is therefore not a dependency of ecointegrity; install it yourself with::

    pip install torch==2.13.0 batdetect2==1.3.1

(keep the torch pin in the same command, or pip may replace torch). Nothing here imports
``batdetect2`` until a :class:`BatDetect2Backend` is made, so ``ecointegrity`` imports and
works without it.

What is wrapped (batdetect2 1.3.1): ``batdetect2.utils.detector_utils.load_model``,
``process_file`` and ``process_audio_array`` -- the functions behind ``batdetect2.api``'s
``load_model``, ``process_file`` and ``process_audio``, called with a configuration merged
like ``batdetect2.api.get_config``. ``batdetect2.api`` itself is not imported because it
loads a second copy of the model at import time, on CUDA when CUDA is available, whatever
device was asked for.

Defaults follow batdetect2's command line (``batdetect2 detect DIR OUT 0.3``): threshold
0.3 and 2 s chunks (``batdetect2.api`` defaults to 3 s chunks, which gives slightly
different detections, e.g. 63 instead of 59 on a 6.7 s AudioMoth file). Files are cut into
independent chunks without overlap, as batdetect2 does; a call across a chunk border can be
lost or split.

Time expansion: batdetect2 treats a time-expanded file as recorded at ``file rate x
factor``, so its times and frequencies are already real (not expanded) and are reported
unchanged here.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..detector import AudioFile, detect_each, model_identity
from ..errors import AcousticsError, AudioFileError
from ..io.event_table import EVENT_COLUMNS  # the project's sound event table (s real time, Hz)

__all__ = ["BatDetect2Backend", "BatDetect2NotInstalled", "EVENT_COLUMNS", "INSTALL_HINT"]

INSTALL_HINT = ("batdetect2 is an optional, non-commercial (CC BY-NC 4.0) backend: "
                "pip install torch==2.13.0 batdetect2==1.3.1")

MODEL_NAME = "batdetect2"
CLI_THRESHOLD = 0.3  # what `batdetect2 detect` is usually given (the README's example)
CLI_CHUNK_S = 2.0  # `batdetect2 detect --chunk_size` default (batdetect2.api uses 3 s)


class BatDetect2NotInstalled(AcousticsError, ImportError):
    """batdetect2 (optional, non-commercial) is not installed."""


def _import() -> tuple[Any, Any, str]:
    """(detector_utils, parameters, installed version), or a clear error."""
    try:
        import batdetect2.detector.parameters as parameters
        import batdetect2.utils.detector_utils as detector_utils
    except ImportError as exc:
        raise BatDetect2NotInstalled(f"{INSTALL_HINT} ({exc})") from exc
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("batdetect2")
    except PackageNotFoundError:  # imported from a source tree
        installed = "unknown"
    return detector_utils, parameters, installed


def _torch_device(device: Any) -> Any:
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _events(annotations: Sequence[dict], recording: str, version: str) -> pd.DataFrame:
    rows = [
        {
            "recording": recording,
            "start_time": float(a["start_time"]),
            "end_time": float(a["end_time"]),
            "low_freq": float(a["low_freq"]),
            "high_freq": float(a["high_freq"]),
            "label": str(a["class"]),
            "score": float(a["det_prob"]),
            "class_score": float(a["class_prob"]),
            "model": MODEL_NAME,
            "model_version": version,
        }
        for a in annotations
    ]
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    floats = ["start_time", "end_time", "low_freq", "high_freq", "score", "class_score"]
    events[floats] = events[floats].astype("float64")
    strings = ["recording", "label", "model", "model_version"]
    events[strings] = events[strings].astype("str")  # the same dtype with and without rows
    return events.sort_values("start_time", kind="stable", ignore_index=True)


def _as_float32(audio: np.ndarray) -> np.ndarray:
    """Mono samples as float32 in [-1, 1], as ``librosa.load`` gives them (channels averaged)."""
    audio = np.asarray(audio)
    if audio.ndim > 2:
        raise ValueError(
            f"audio must be (samples,) or (samples, channels), got shape {audio.shape}"
        )
    if np.issubdtype(audio.dtype, np.integer):
        info = np.iinfo(audio.dtype)
        half = (float(info.max) + 1) / 2 if info.min == 0 else -float(info.min)
        centre = half if info.min == 0 else 0.0  # unsigned (8-bit WAV) is centred on the middle
        audio = ((audio.astype(np.float64) - centre) / half).astype(np.float32)
    else:
        audio = audio.astype(np.float32, copy=False)
    if audio.ndim == 2:  # soundfile's (samples, channels), or librosa's (channels, samples)
        audio = audio.mean(axis=1 if audio.shape[0] >= audio.shape[1] else 0, dtype=np.float32)
    return audio


class BatDetect2Backend:
    """BatDetect2 behind the project's detector interface (``detect_file`` -> event table).

    Args:
        threshold: minimum detection probability (``det_prob``) reported; 0.3 as on
            batdetect2's command line.
        chunk_size: seconds (real time) of the independent pieces a recording is cut into;
            2.0 as on the command line (``batdetect2.api`` uses 3.0).
        device: "cpu", "cuda", a ``torch.device``, or None for CUDA when available.
        model_path: a batdetect2 model file; None for the bundled UK model.

    Raises:
        BatDetect2NotInstalled: batdetect2 is not installed (an ``ImportError``).
    """

    name = MODEL_NAME

    def __init__(
        self,
        *,
        threshold: float = CLI_THRESHOLD,
        chunk_size: float = CLI_CHUNK_S,
        device: Any = None,
        model_path: str | os.PathLike | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        if not chunk_size > 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        du, parameters, installed = _import()
        self._du = du
        self.threshold = float(threshold)
        self.chunk_size = float(chunk_size)
        self.device = _torch_device(device)
        self.model_path = str(model_path or parameters.DEFAULT_MODEL_PATH)
        self.model, self.params = du.load_model(self.model_path, device=self.device)
        self.package_version = installed
        self.version = f"{installed}/{Path(self.model_path).name}"
        # As batdetect2.api.get_config and the `detect` command merge them.
        self._defaults = {
            **parameters.DEFAULT_PROCESSING_CONFIGURATIONS,
            **self.params,
            "quiet": True,
            "spec_slices": False,
            "spec_features": False,
            "cnn_features": False,
            "return_raw_preds": False,
            "max_duration": None,
            "chunk_size": self.chunk_size,
            "detection_threshold": self.threshold,
        }

    def __repr__(self) -> str:
        return (
            f"BatDetect2Backend(threshold={self.threshold}, chunk_size={self.chunk_size}, "
            f"device={str(self.device)!r}, version={self.version!r})"
        )

    # -- identity ---------------------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        """Species the model classifies to (17 UK species for the bundled model)."""
        return list(self.params["class_names"])

    @property
    def sample_rate(self) -> int:
        """The rate (Hz, real time) audio is resampled to before the spectrogram."""
        return int(self._defaults["target_samp_rate"])

    @property
    def run_parameters(self) -> dict[str, Any]:
        """What determines a run's detections (recorded with them, checked on resume)."""
        return {
            **model_identity(self),
            "threshold": self.threshold,
            "chunk_s": self.chunk_size,
            "classes": self.class_names,
        }

    def config(self, time_expansion: float = 1.0) -> dict[str, Any]:
        """batdetect2's processing configuration for one recording."""
        return {**self._defaults, "time_expansion": float(time_expansion)}

    # -- detection --------------------------------------------------------------------------
    def detect_file(
        self, path: str | os.PathLike, *, time_expansion: float = 1.0, recording: str | None = None
    ) -> pd.DataFrame:
        """Detections in one recording (any format librosa reads), as the event table.

        Like batdetect2, several channels are averaged into one (``librosa.load``).

        Same detections as ``batdetect2 detect`` (up to float noise): times in seconds and
        frequencies in Hz, both real time; calls above the file's Nyquist frequency dropped.

        Args:
            path: the recording.
            time_expansion: the recorder's time-expansion factor (1 for real-time recordings).
            recording: id written in the ``recording`` column (default: the path as given).

        Raises:
            AudioFileError: missing or unreadable recording.
        """
        _check_time_expansion(time_expansion)
        if recording is None:
            recording = os.fspath(path)
        path = Path(path)
        if not path.is_file():
            raise AudioFileError(path, "no such file")
        try:
            results = self._du.process_file(
                str(path), self.model, self.config(time_expansion), self.device, path.name
            )
        except Exception as exc:
            if _is_audio_error(exc):
                raise AudioFileError(
                    path, f"batdetect2 cannot read it: {str(exc) or type(exc).__name__}"
                ) from exc
            raise
        return _events(results["pred_dict"]["annotation"], recording, self.version)

    def detect_files(
        self, files: Iterable[AudioFile], on_error: Callable[[str, Exception], None]
    ) -> pd.DataFrame:
        """Detections in several files, one file at a time (see ``detector.detect_each``)."""
        return detect_each(self, files, on_error)

    def detect_audio(
        self,
        audio: np.ndarray,
        sample_rate: float,
        *,
        time_expansion: float = 1.0,
        recording: str = "",
    ) -> pd.DataFrame:
        """Detections in a mono signal, as :meth:`detect_file` finds them in a file of it.

        Args:
            audio: samples (float in [-1, 1], or integer PCM), ``(samples,)`` or
                ``(samples, channels)`` (channels are averaged, as batdetect2 does).
            sample_rate: the rate of ``audio`` as stored (the expanded rate for
                time-expanded audio).
            time_expansion: time-expansion factor of the recording (1 for real time).
            recording: id written in the ``recording`` column.
        """
        _check_time_expansion(time_expansion)
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        import librosa

        signal = _as_float32(audio)
        real_rate = sample_rate * time_expansion
        target = self.sample_rate
        if real_rate != target:  # as batdetect2.utils.audio_utils.load_audio_and_samplerate does
            signal = librosa.resample(
                signal, orig_sr=real_rate, target_sr=target, res_type="polyphase"
            )
        config = self.config(time_expansion)
        annotations: list[dict] = []
        for offset, chunk in _chunks(signal, target, self.chunk_size):
            found, _, _ = self._du.process_audio_array(
                chunk, target, self.model, config, self.device
            )
            for a in found:
                a["start_time"] = round(a["start_time"] + offset, 4)
                a["end_time"] = round(a["end_time"] + offset, 4)
            annotations += found
        nyquist = real_rate / 2
        annotations = [a for a in annotations if a["high_freq"] <= nyquist]
        return _events(annotations, recording, self.version)


def _chunks(signal: np.ndarray, rate: int, chunk_size: float):
    """(offset s, samples) of each chunk, as batdetect2's ``iterate_over_chunks`` cuts them."""
    n = signal.shape[0]
    length = int(rate * chunk_size)
    for k in range(int(math.ceil(n / rate / chunk_size))):
        yield chunk_size * k, signal[k * length : min((k + 1) * length, n)]


def _check_time_expansion(time_expansion: float) -> None:
    if not (
        isinstance(time_expansion, numbers.Real)
        and math.isfinite(time_expansion)
        and time_expansion > 0
    ):
        raise ValueError(f"time_expansion must be a positive number, got {time_expansion!r}")


def _is_audio_error(exc: Exception) -> bool:
    """Whether batdetect2 failed on the file itself (reading, decoding)."""
    if isinstance(exc, EOFError | LookupError | OSError):
        return True
    if isinstance(exc, ValueError):  # librosa's errors on bad input
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("soundfile", "audioread", "librosa"))
