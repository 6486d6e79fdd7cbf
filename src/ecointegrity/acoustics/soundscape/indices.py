"""Soundscape (alpha) indices of audible recordings with scikit-maad, and false-colour days.

A recording is cut into segments (one minute by default) read one at a time from disk, so a
24 h file never sits in memory. Each segment gives one row of maad's temporal and spectral
alpha indices, and optionally three per-frequency-bin ("spectral") indices for long-duration
false-colour spectrograms (Towsey et al. 2014: R = ACI, G = ENT = 1 - temporal entropy,
B = event count, each per bin and minute).

Layering: ``segments`` (file-name times, segment reader) <- ``indices`` (segment analysis with
maad <- analyse_recording, compute_indices, compute_spectral_indices) <- ``run``
(indices_for_recordings: batch, resumable) <- ``false_colour`` (false_colour_spectrogram,
false_colour_by_site_day).

Times: ``timestamp_local`` is the wall-clock time of a segment's start (naive), and
``timestamp_utc`` its UTC time (tz-aware); both NaT when the recording's start is unknown.
Levels (LEQt, LEQf, BGN*) use maad's default gain and microphone sensitivity: relative only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypedDict, Unpack, cast

import numpy as np
import pandas as pd
from maad import features as maad_features
from maad import sound as maad_sound

from .segments import Segment, iter_segments, start_times

__all__ = [
    "ALPHA_INDICES",
    "FALSE_COLOUR_INDICES",
    "INDEX_COLUMNS",
    "IndexOptions",
    "SpectralIndices",
    "analyse_recording",
    "compute_indices",
    "compute_spectral_indices",
    "spectral_from",
    "summarise_indices",
    "typed_indices",
]

_TEMPORAL = [
    "ZCR", "MEANt", "VARt", "SKEWt", "KURTt", "LEQt", "BGNt", "SNRt", "MED", "Ht",
    "ACTtFraction", "ACTtCount", "ACTtMean", "EVNtFraction", "EVNtMean", "EVNtCount",
]  # fmt: skip
_SPECTRAL = [
    "MEANf", "VARf", "SKEWf", "KURTf", "NBPEAKS", "LEQf", "ENRf", "BGNf", "SNRf", "Hf",
    "EAS", "ECU", "ECV", "EPS", "EPS_KURT", "EPS_SKEW", "ACI", "NDSI", "rBA", "AnthroEnergy",
    "BioEnergy", "BI", "ROU", "ADI", "AEI", "LFC", "MFC", "HFC", "ACTspFract", "ACTspCount",
    "ACTspMean", "EVNspFract", "EVNspMean", "EVNspCount", "TFSD", "H_Havrda", "H_Renyi",
    "H_pairedShannon", "H_gamma", "H_GiniSimpson", "RAOQ", "AGI", "nROI", "aROI",
]  # fmt: skip
#: maad's index names (MED is the median of the envelope, "M"); H = Ht * Hf (Sueur 2008).
ALPHA_INDICES: list[str] = _TEMPORAL + _SPECTRAL + ["H"]
_META = [
    "recording", "site", "segment_start_s", "segment_end_s", "sample_rate",
    "timestamp_local", "timestamp_utc",
]  # fmt: skip
#: Columns of :func:`compute_indices`, in order.
INDEX_COLUMNS: list[str] = _META + ALPHA_INDICES
#: The per-bin indices kept for false colour (maad names), in R, G, B order before mapping.
FALSE_COLOUR_INDICES: tuple[str, str, str] = ("ACI_per_bin", "Ht_per_bin", "EVNspCount_per_bin")


# --- one segment -----------------------------------------------------------------------------


def _band(flim: Sequence[float], nyquist: float) -> tuple[float, float]:
    low, high = float(flim[0]), float(flim[1])
    return (min(low, nyquist), min(high, nyquist))


def _segment_indices(
    segment: Segment,
    flims: tuple[Sequence[float], Sequence[float], Sequence[float]],
    nperseg: int,
    spectral: bool,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """maad's alpha indices of one segment, and its per-bin vectors when asked for."""
    s, fs = segment.samples, segment.sample_rate
    low, mid, hi = (_band(f, fs / 2) for f in flims)
    with warnings.catch_warnings():
        # empty bands and silent segments make maad warn (and give NaN/-inf): reported as NaN
        warnings.simplefilter("ignore")
        temporal = maad_features.all_temporal_alpha_indices(s, fs)
        sxx, tn, fn, _ = maad_sound.spectrogram(
            s, fs, nperseg=nperseg, noverlap=nperseg // 2, mode="psd"
        )
        spec, per_bin = maad_features.all_spectral_alpha_indices(
            sxx, tn, fn, flim_low=low, flim_mid=mid, flim_hi=hi
        )
    values = {**temporal.iloc[0].to_dict(), **spec.iloc[0].to_dict()}
    values["H"] = values["Ht"] * values["Hf"]
    row = {k: float(values[k]) if np.isfinite(values[k]) else float("nan") for k in ALPHA_INDICES}
    vectors: dict[str, np.ndarray] = {}
    if spectral:
        vectors["frequencies"] = np.asarray(fn, dtype=np.float32)
        for name in FALSE_COLOUR_INDICES:
            vectors[name] = np.asarray(per_bin[name].iloc[0], dtype=np.float32)
    return row, vectors


# --- one recording ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpectralIndices:
    """Per-bin indices of each segment of one or more recordings.

    Attributes:
        frequencies: bin centres (Hz), shape (bins,).
        times_local: wall-clock start of each segment (datetime64, NaT when unknown).
        durations_s: length of each segment (s).
        values: maad per-bin index name -> array (segments, bins), float32.
    """

    frequencies: np.ndarray
    times_local: np.ndarray
    durations_s: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times_local)


def typed_indices(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    df["recording"] = df["recording"].astype("string")
    df["site"] = df["site"].astype("string")
    df["sample_rate"] = df["sample_rate"].astype("int64")
    df["timestamp_local"] = pd.to_datetime(df["timestamp_local"]).astype("datetime64[ns]")
    df["timestamp_utc"] = pd.to_datetime(df["timestamp_utc"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    for name in ["segment_start_s", "segment_end_s", *ALPHA_INDICES]:
        df[name] = df[name].astype("float64")
    return df


def analyse_recording(
    path: str | os.PathLike,
    *,
    segment_s: float = 60.0,
    site: str | None = None,
    timestamp: Any = None,
    recording: str | None = None,
    flim_low: Sequence[float] = (0, 1000),
    flim_mid: Sequence[float] = (1000, 10000),
    flim_hi: Sequence[float] = (10000, 20000),
    min_segment_s: float = 10.0,
    nperseg: int = 1024,
    spectral: bool = True,
) -> tuple[pd.DataFrame, SpectralIndices | None]:
    """Alpha indices per segment and (optionally) per-bin spectral indices, in one pass.

    Args:
        path: a local WAV/FLAC file.
        segment_s: segment length (s); the last partial segment is kept if >= ``min_segment_s``
            (a recording shorter than one segment is analysed whole).
        site: written to the ``site`` column.
        timestamp: start of the recording (datetime, pandas Timestamp or ISO text); tz-aware
            gives both local and UTC times, naive gives local only. None: from the file name.
        recording: the ``recording`` column (default: the path).
        flim_low, flim_mid, flim_hi: anthropophony, biophony and high bands (Hz), clipped to
            the Nyquist frequency.
        min_segment_s: shortest last segment kept.
        nperseg: FFT length of the spectrogram (half overlap).
        spectral: also return the per-bin vectors of :data:`FALSE_COLOUR_INDICES`.

    Returns:
        (table with :data:`INDEX_COLUMNS`, :class:`SpectralIndices` or None).

    Raises:
        AudioFileError: the file is missing, unreadable or truncated.
    """
    name = os.fspath(path)
    local0, utc0 = start_times(timestamp, name)
    rows: list[dict[str, Any]] = []
    vectors: list[dict[str, np.ndarray]] = []
    for seg in iter_segments(name, segment_s, min_segment_s):
        values, per_bin = _segment_indices(seg, (flim_low, flim_mid, flim_hi), nperseg, spectral)
        offset = timedelta(seconds=seg.start_s)
        rows.append(
            {
                "recording": recording or name,
                "site": site,
                "segment_start_s": seg.start_s,
                "segment_end_s": seg.end_s,
                "sample_rate": seg.sample_rate,
                "timestamp_local": local0 + offset if local0 is not None else pd.NaT,
                "timestamp_utc": utc0 + offset if utc0 is not None else pd.NaT,
                **values,
            }
        )
        vectors.append(per_bin)
    table = typed_indices(rows)
    if not spectral:
        return table, None
    return table, spectral_from(table, vectors)


def spectral_from(table: pd.DataFrame, vectors: list[dict[str, np.ndarray]]) -> SpectralIndices:
    freqs = vectors[0]["frequencies"] if vectors else np.zeros(0, np.float32)
    values = {
        k: np.stack([v[k] for v in vectors]) if vectors else np.zeros((0, len(freqs)), np.float32)
        for k in FALSE_COLOUR_INDICES
    }
    return SpectralIndices(
        frequencies=freqs,
        times_local=table["timestamp_local"].to_numpy(dtype="datetime64[ns]"),
        durations_s=(table["segment_end_s"] - table["segment_start_s"]).to_numpy(),
        values=values,
    )


class IndexOptions(TypedDict, total=False):
    """Keyword options of :func:`compute_indices`: those of :func:`analyse_recording` but
    ``spectral``."""

    segment_s: float
    site: str | None
    timestamp: Any
    recording: str | None
    flim_low: Sequence[float]
    flim_mid: Sequence[float]
    flim_hi: Sequence[float]
    min_segment_s: float
    nperseg: int


def compute_indices(path: str | os.PathLike, **options: Unpack[IndexOptions]) -> pd.DataFrame:
    """One row of alpha indices per segment of a recording (see :func:`analyse_recording`).

    Args:
        path: a local WAV/FLAC file.
        **options: segment_s (segment length, s; 60 by default), site, timestamp, recording,
            flim_low, flim_mid, flim_hi, min_segment_s, nperseg: as for
            :func:`analyse_recording`.

    Returns:
        A table with :data:`INDEX_COLUMNS`.

    Raises:
        AudioFileError: the file is missing, unreadable or truncated.
    """
    table, _ = analyse_recording(path, spectral=False, **options)
    return table


def compute_spectral_indices(
    path: str | os.PathLike, **options: Unpack[IndexOptions]
) -> SpectralIndices:
    """Per-bin ACI, temporal entropy and event count of each segment (for false colour).

    Args:
        path: a local WAV/FLAC file.
        **options: as for :func:`compute_indices` (``segment_s`` 60, the default, gives one
            image column per minute).

    Returns:
        A :class:`SpectralIndices`.
    """
    spectral = analyse_recording(path, spectral=True, **options)[1]
    return cast(SpectralIndices, spectral)


def summarise_indices(df: pd.DataFrame) -> pd.DataFrame:
    """One row per recording: segment count, analysed seconds, start, and index means/medians.

    Args:
        df: a table from :func:`compute_indices` (any number of recordings).

    Returns:
        Columns recording, site, n_segments, analysed_s, timestamp_local, timestamp_utc, then
        ``<index>_mean`` and ``<index>_median`` for each of :data:`ALPHA_INDICES`.
    """
    present = [c for c in ALPHA_INDICES if c in df.columns]
    work = df.assign(_length=df["segment_end_s"] - df["segment_start_s"])
    grouped = work.groupby("recording", sort=True, dropna=False)
    head = pd.DataFrame(
        {
            "site": grouped["site"].first(),
            "n_segments": grouped.size(),
            "analysed_s": grouped["_length"].sum(),
            "timestamp_local": grouped["timestamp_local"].min(),
            "timestamp_utc": grouped["timestamp_utc"].min(),
        }
    )
    means = grouped[present].mean().add_suffix("_mean")
    medians = grouped[present].median().add_suffix("_median")
    ordered = [f"{c}_{stat}" for c in present for stat in ("mean", "median")]
    out = pd.concat([head, means, medians], axis=1)[list(head.columns) + ordered].copy()
    return out.reset_index()
