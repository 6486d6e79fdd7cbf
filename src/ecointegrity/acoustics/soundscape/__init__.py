"""Soundscapes of audible recordings: scikit-maad alpha indices per segment, resumable batch
runs, and long-duration false-colour spectrograms per site and day.

Layering: ``segments`` <- ``indices`` <- ``run`` <- ``false_colour``.
"""

from __future__ import annotations

from .false_colour import false_colour_by_site_day, false_colour_spectrogram
from .indices import (
    ALPHA_INDICES,
    FALSE_COLOUR_INDICES,
    INDEX_COLUMNS,
    SpectralIndices,
    analyse_recording,
    compute_indices,
    compute_spectral_indices,
    summarise_indices,
)
from .run import IndicesRun, indices_for_recordings, read_indices
from .segments import parse_filename_timestamp

__all__ = [
    "ALPHA_INDICES",
    "FALSE_COLOUR_INDICES",
    "INDEX_COLUMNS",
    "IndicesRun",
    "SpectralIndices",
    "analyse_recording",
    "compute_indices",
    "compute_spectral_indices",
    "false_colour_by_site_day",
    "false_colour_spectrogram",
    "indices_for_recordings",
    "parse_filename_timestamp",
    "read_indices",
    "summarise_indices",
]
