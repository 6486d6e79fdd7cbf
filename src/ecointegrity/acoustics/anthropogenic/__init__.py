"""Anthropogenic sounds (gunshot, chainsaw, vehicle, voice, dog, domestic animal, machinery,
siren) in audible recordings: the window detector, its training and thresholds, and synthetic
audible soundscapes for demos and tests.

Layering: ``network`` <- ``detector`` <- ``dataset``, ``sources`` (public datasets as clip
tables) <- ``training``, ``thresholds`` <- ``crossfit`` (out-of-fold scores to tune thresholds
on); ``synth_audible`` (demo soundscapes, with the real recordings of ``demo_audio/``) stands
apart.
"""

from __future__ import annotations

from .crossfit import cross_fitted_scores, recording_parts
from .dataset import HELD_OUT_FOLDS, SharedDataset, load_shared_dataset
from .detector import (
    ANTHROPOGENIC_CLASSES,
    DEFAULT_ANTHROPOGENIC_MODEL,
    AnthropogenicDetector,
    is_anthropogenic_model,
    merge_windows,
)
from .synth_audible import (
    AUDIBLE_EVENT_TYPES,
    DemoSounds,
    demo_sounds,
    synth_soundscape,
    write_soundscape,
)
from .thresholds import clip_scores, tune_thresholds
from .training import train_anthropogenic

__all__ = [
    "ANTHROPOGENIC_CLASSES",
    "AUDIBLE_EVENT_TYPES",
    "DEFAULT_ANTHROPOGENIC_MODEL",
    "HELD_OUT_FOLDS",
    "AnthropogenicDetector",
    "DemoSounds",
    "SharedDataset",
    "clip_scores",
    "cross_fitted_scores",
    "demo_sounds",
    "is_anthropogenic_model",
    "load_shared_dataset",
    "merge_windows",
    "recording_parts",
    "synth_soundscape",
    "train_anthropogenic",
    "tune_thresholds",
    "write_soundscape",
]
