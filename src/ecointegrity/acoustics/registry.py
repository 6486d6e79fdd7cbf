"""Which detector a model spec means: the one place a name, a path or a detector instance
becomes a :class:`~.detector.Detector`.

Names: ``"default"`` (the shipped bat detector), ``"anthropogenic"`` (the shipped
anthropogenic-sound detector) and ``"batdetect2"`` (the optional, non-commercial backend,
imported only when asked for). A path is a saved anthropogenic detector when its file name
starts with ``anthropogenic`` (``anthropogenic-*.pt``), else a saved bat detector. Loaded
detectors are kept per process (a Dask worker keeps its model between batches).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .anthropogenic.detector import (
    DEFAULT_ANTHROPOGENIC_MODEL,
    AnthropogenicDetector,
    is_anthropogenic_model,
)
from .bats.detector import load_detector
from .detector import Detector

__all__ = ["MODEL_NAMES", "ModelSpec", "resolve_detector"]

#: A detector, a model name (`MODEL_NAMES`), a saved model's path, or None for the default.
ModelSpec = Detector | str | os.PathLike | None


def _batdetect2(spec: str, threshold: float | None, chunk_s: float | None,
                device: str | None) -> Detector:
    from .bats.batdetect2_backend import CLI_CHUNK_S, CLI_THRESHOLD, BatDetect2Backend

    return BatDetect2Backend(
        threshold=threshold or CLI_THRESHOLD, chunk_size=chunk_s or CLI_CHUNK_S, device=device
    )


def _anthropogenic(
    spec: str, threshold: float | None, chunk_s: float | None, device: str | None
) -> Detector:
    # windows, not chunks: chunk_s does not apply
    path: str | Path = DEFAULT_ANTHROPOGENIC_MODEL if spec == "anthropogenic" else spec
    return AnthropogenicDetector.load(path, device=device, threshold=threshold)


def _bats(
    spec: str, threshold: float | None, chunk_s: float | None, device: str | None
) -> Detector:
    return load_detector(
        None if spec == "default" else spec, chunk_s=chunk_s, device=device, threshold=threshold
    )


Loader = Callable[[str, float | None, float | None, str | None], Detector]
_NAMED: dict[str, Loader] = {
    "default": _bats,
    "anthropogenic": _anthropogenic,
    "batdetect2": _batdetect2,
}
MODEL_NAMES = tuple(_NAMED)


@lru_cache(maxsize=4)
def _load(
    spec: str, threshold: float | None, chunk_s: float | None, device: str | None
) -> Detector:
    loader = _NAMED.get(spec) or (_anthropogenic if is_anthropogenic_model(spec) else _bats)
    return loader(spec, threshold, chunk_s, device)


def resolve_detector(
    model: ModelSpec = None,
    *,
    threshold: float | None = None,
    chunk_s: float | None = None,
    device: str | None = None,
) -> Detector:
    """The detector ``model`` means (see the module docstring).

    Args:
        model: a detector (used as is), a name of `MODEL_NAMES`, a saved model's path, or
            None for the default bat detector.
        threshold, chunk_s, device: override the saved model's settings (None keeps them);
            not for a detector instance, whose settings are its own.

    Returns:
        The detector, loaded once per process for a given name or path and overrides.

    Raises:
        ValueError: overrides given with a detector instance.
        FileNotFoundError: no model at the path.
    """
    if isinstance(model, Detector):
        if (threshold, chunk_s, device) != (None, None, None):
            raise ValueError(
                "threshold, chunk_s and device apply to a model loaded by name or "
                "path; set them on the detector instance instead"
            )
        return model
    return _load(os.fspath(model) if model else "default", threshold, chunk_s, device)
