"""Soundscape (alpha) indices of audible recordings with scikit-maad, and false-colour days.

A recording is cut into segments (one minute by default) read one at a time from disk, so a
24 h file never sits in memory. Each segment gives one row of maad's temporal and spectral
alpha indices, and optionally three per-frequency-bin ("spectral") indices for long-duration
false-colour spectrograms (Towsey et al. 2014: R = ACI, G = ENT = 1 - temporal entropy,
B = event count, each per bin and minute).

Layering: file-name times, segment reader <- segment analysis (maad) <- analyse_recording
(compute_indices, compute_spectral_indices) <- indices_for_recordings (batch, resumable) and
false_colour_by_site_day (<- false_colour_spectrogram).

Times: ``timestamp_local`` is the wall-clock time of a segment's start (naive), and
``timestamp_utc`` its UTC time (tz-aware); both NaT when the recording's start is unknown.
Levels (LEQt, LEQf, BGN*) use maad's default gain and microphone sensitivity: relative only.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import soundfile as sf
from maad import features as maad_features
from maad import sound as maad_sound
from PIL import Image, ImageDraw
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..io import atomic_path
from .errors import AudioFileError
from .recordings import scan_recordings

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
    "part_name",
    "read_indices",
    "summarise_indices",
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

# a recording shorter than one segment is analysed whole, if maad has enough frames for it
_MIN_WHOLE_S = 1.0


# --- file-name times -------------------------------------------------------------------------

_NAME_TIME = re.compile(r"(?:^|[_-])(\d{8})[_-](\d{6})(?=$|[_.-])")


def parse_filename_timestamp(path: str | os.PathLike) -> datetime | None:
    """The start time written in an SM4/AudioMoth-style file name, as naive wall-clock time.

    Args:
        path: e.g. ``S4A03895_20190522_030000.wav`` or ``20240903_202615.WAV``.

    Returns:
        The datetime, or None when the name holds no valid ``YYYYMMDD_HHMMSS``.
    """
    stem = Path(os.fspath(path)).name.rsplit(".", 1)[0]
    for match in _NAME_TIME.finditer(stem):
        try:
            return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S")
        except ValueError:
            continue
    return None


def _start_times(timestamp: Any, path: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(naive wall-clock start, UTC start) from a given time, else from the file name."""
    if timestamp is None or (not isinstance(timestamp, str) and pd.isna(timestamp)):
        timestamp = parse_filename_timestamp(path)
        if timestamp is None:
            return None, None
    stamp = pd.Timestamp(timestamp)
    if stamp.tzinfo is None:
        return stamp, None
    return stamp.tz_localize(None), stamp.tz_convert("UTC")


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    start_s: float
    end_s: float
    samples: np.ndarray
    sample_rate: int


def _segment_bounds(
    frames: int, rate: int, segment_s: float, min_segment_s: float
) -> list[tuple[int, int]]:
    """Frame ranges of the segments: full ones, then the last partial one if long enough."""
    step = max(1, int(round(segment_s * rate)))
    bounds = [(a, min(a + step, frames)) for a in range(0, frames, step)]
    keep_partial = min(min_segment_s, segment_s) * rate
    if len(bounds) == 1:
        keep_partial = min(keep_partial, _MIN_WHOLE_S * rate)
    if bounds and bounds[-1][1] - bounds[-1][0] < min(step, keep_partial):
        bounds.pop()
    return bounds


def _open(path: str) -> sf.SoundFile:
    if not os.path.exists(path):
        raise AudioFileError(path, "file not found")
    try:
        snd = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = getattr(exc, "error_string", None) or str(exc)
        raise AudioFileError(path, f"not a readable audio file ({detail})") from None
    if snd.frames <= 0 or snd.samplerate <= 0:
        snd.close()
        raise AudioFileError(path, "no audio samples")
    return snd


def _iter_segments(path: str, segment_s: float, min_segment_s: float) -> Iterator[_Segment]:
    """Segments of the first channel, read one at a time (never the whole file)."""
    with _open(path) as snd:
        rate = int(snd.samplerate)
        for a, b in _segment_bounds(int(snd.frames), rate, segment_s, min_segment_s):
            snd.seek(a)
            block = snd.read(b - a, dtype="float64", always_2d=True)
            if len(block) < b - a:
                raise AudioFileError(
                    path, f"truncated: read {a + len(block)} of {snd.frames} frames"
                )
            # maad.sound.load keeps the left channel and removes the DC offset; do the same
            samples = block[:, 0] - block[:, 0].mean()
            yield _Segment(a / rate, b / rate, samples, rate)


# --- one segment -----------------------------------------------------------------------------


def _band(flim: Sequence[float], nyquist: float) -> tuple[float, float]:
    low, high = float(flim[0]), float(flim[1])
    return (min(low, nyquist), min(high, nyquist))


def _segment_indices(
    segment: _Segment,
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


def _typed_indices(rows: list[dict[str, Any]]) -> pd.DataFrame:
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
    local0, utc0 = _start_times(timestamp, name)
    rows: list[dict[str, Any]] = []
    vectors: list[dict[str, np.ndarray]] = []
    for seg in _iter_segments(name, segment_s, min_segment_s):
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
    table = _typed_indices(rows)
    if not spectral:
        return table, None
    return table, _spectral_from(table, vectors)


def _spectral_from(table: pd.DataFrame, vectors: list[dict[str, np.ndarray]]) -> SpectralIndices:
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


def compute_indices(
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
) -> pd.DataFrame:
    """One row of alpha indices per segment of a recording (see :func:`analyse_recording`).

    Args:
        path: a local WAV/FLAC file.
        segment_s: segment length (s).
        site, timestamp, recording, flim_low, flim_mid, flim_hi, min_segment_s, nperseg: as
            for :func:`analyse_recording`.

    Returns:
        A table with :data:`INDEX_COLUMNS`.

    Raises:
        AudioFileError: the file is missing, unreadable or truncated.
    """
    table, _ = analyse_recording(
        path,
        segment_s=segment_s,
        site=site,
        timestamp=timestamp,
        recording=recording,
        flim_low=flim_low,
        flim_mid=flim_mid,
        flim_hi=flim_hi,
        min_segment_s=min_segment_s,
        nperseg=nperseg,
        spectral=False,
    )
    return table


def compute_spectral_indices(
    path: str | os.PathLike, *, segment_s: float = 60.0, **options: Any
) -> SpectralIndices:
    """Per-bin ACI, temporal entropy and event count of each segment (for false colour).

    Args:
        path: a local WAV/FLAC file.
        segment_s: segment length (s); 60 gives one image column per minute.
        **options: as for :func:`compute_indices`.

    Returns:
        A :class:`SpectralIndices`.
    """
    spectral = analyse_recording(path, segment_s=segment_s, spectral=True, **options)[1]
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


# --- many recordings -------------------------------------------------------------------------

_PARTS = "parts"
_SPECTRAL_COLUMNS = ["frequencies", *FALSE_COLOUR_INDICES]


def part_name(path: str) -> str:
    """File name of a recording's part: a hash of its path (stable, filesystem-safe)."""
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:20] + ".parquet"


@dataclass(frozen=True, eq=False)
class IndicesRun:
    """Outcome of :func:`indices_for_recordings`.

    Attributes:
        indices: all segments (:data:`INDEX_COLUMNS`), also in ``<out_dir>/indices.parquet``.
        problems: columns path, reason: recordings that could not be analysed.
        out_dir: the output folder.
        computed, skipped: recordings analysed now, and found done by an earlier run.
        audio_s, cpu_s: audio seconds analysed now and the CPU seconds it took.
    """

    indices: pd.DataFrame
    problems: pd.DataFrame
    out_dir: Path
    computed: int
    skipped: int
    audio_s: float
    cpu_s: float

    @property
    def audio_hours_per_cpu_hour(self) -> float:
        """Throughput of this run (NaN when nothing was computed)."""
        return self.audio_s / self.cpu_s if self.cpu_s > 0 else float("nan")


def _as_table(table_or_paths: Any) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    if isinstance(table_or_paths, pd.DataFrame):
        return table_or_paths, []
    paths = [table_or_paths] if isinstance(table_or_paths, (str, os.PathLike)) else table_or_paths
    scan = scan_recordings(list(paths), progress=False)
    return scan.table, [(r.path, r.reason) for r in scan.problems.itertuples(index=False)]


def _row_timestamp(row: pd.Series) -> Any:
    """Start time from a recordings-table row: offset-aware if known, else wall clock, else None."""
    local = row.get("timestamp_local")
    if local is None or pd.isna(local):
        return None
    offset = row.get("utc_offset")
    if isinstance(offset, str) and offset:
        return pd.Timestamp(str(local) + offset)
    return pd.Timestamp(str(local))


def _value(row: pd.Series, key: str) -> Any:
    value = row.get(key)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _write_part(target: Path, table: pd.DataFrame, spectral: SpectralIndices) -> None:
    part = table.copy()
    part["frequencies"] = [spectral.frequencies.tolist()] * len(part)
    for name in FALSE_COLOUR_INDICES:
        part[name] = list(spectral.values[name])
    with atomic_path(target, suffix=".parquet") as tmp:
        part.to_parquet(tmp, index=False)


@dataclass(frozen=True)
class _Job:
    """One recording of a batch: everything a worker process needs (picklable)."""

    path: str
    site: str | None
    timestamp: Any
    target: Path
    segment_s: float
    options: dict[str, Any]


def _run_job(job: _Job) -> tuple[float, float, str | None]:
    """Analyse one recording into its part: (audio seconds, CPU seconds, problem or None)."""
    started = time.process_time()
    try:
        df, spectral = analyse_recording(
            job.path,
            segment_s=job.segment_s,
            site=job.site,
            timestamp=job.timestamp,
            spectral=True,
            **job.options,
        )
        _write_part(job.target, df, cast(SpectralIndices, spectral))
    except AudioFileError as exc:
        return 0.0, time.process_time() - started, exc.reason
    except Exception as exc:  # noqa: BLE001 - one odd file must not end a long run
        return 0.0, time.process_time() - started, f"{type(exc).__name__}: {exc}"
    audio = float((df["segment_end_s"] - df["segment_start_s"]).sum())
    return audio, time.process_time() - started, None


def _executor(workers: int) -> ProcessPoolExecutor | nullcontext[None]:
    return ProcessPoolExecutor(workers) if workers > 1 else nullcontext()


def indices_for_recordings(
    table_or_paths: pd.DataFrame | str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    segment_s: float = 60.0,
    progress: bool = True,
    workers: int = 1,
    **options: Any,
) -> IndicesRun:
    """Indices of many recordings: one Parquet part each, resumable, then ``indices.parquet``.

    A recording whose part exists is skipped; a broken one is listed in ``problems`` and the
    run goes on. Parts also hold the per-bin vectors, which :func:`false_colour_by_site_day`
    reuses. ``indices.parquet`` gathers every part in ``out_dir``, earlier runs' included.

    Args:
        table_or_paths: a recordings table (``scan_recordings(...).table``: path, site,
            timestamp_local, utc_offset, duration_s are used) or paths/folders to scan.
        out_dir: output folder (``parts/`` and ``indices.parquet``).
        segment_s: segment length (s).
        progress: draw a progress bar (audio seconds) on stderr.
        workers: processes analysing recordings side by side (1: in this process).
        **options: as for :func:`compute_indices` (flim_*, min_segment_s, nperseg).

    Returns:
        An :class:`IndicesRun`; its CPU time sums the workers' own.
    """
    out = Path(out_dir)
    parts_dir = out / _PARTS
    parts_dir.mkdir(parents=True, exist_ok=True)
    table, problems = _as_table(table_or_paths)
    table = table.reset_index(drop=True)
    # progress counts audio seconds where the table knows them
    if "duration_s" in table:
        weights = pd.to_numeric(table["duration_s"], errors="coerce").fillna(1.0).tolist()
    else:
        weights = [1.0] * len(table)

    jobs: list[tuple[_Job, float]] = []
    skipped = 0
    for (_, row), weight in zip(table.iterrows(), weights, strict=True):
        path = str(row["path"])
        target = parts_dir / part_name(path)
        if target.exists():
            skipped += 1
            continue
        job = _Job(path, _value(row, "site"), _row_timestamp(row), target, segment_s, options)
        jobs.append((job, weight))

    computed = 0
    audio_s = cpu_s = 0.0
    columns = (TextColumn("soundscape indices"), BarColumn(), TimeRemainingColumn())
    with _executor(workers) as pool:
        # map submits every job now, so forked workers start before the progress bar's thread
        results = (pool.map if pool is not None else map)(_run_job, [j for j, _ in jobs])
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task("indices", total=sum(w for _, w in jobs))
            for (job, weight), (audio, cpu, problem) in zip(jobs, results, strict=True):
                cpu_s += cpu
                if problem is None:
                    computed += 1
                    audio_s += audio
                else:
                    problems.append((job.path, problem))
                bar.advance(task, weight)

    indices = read_indices(out)
    with atomic_path(out / "indices.parquet", suffix=".parquet") as tmp:
        indices.to_parquet(tmp, index=False)
    found = pd.DataFrame(problems, columns=["path", "reason"]).astype("string")
    return IndicesRun(indices, found, out, computed, skipped, audio_s, cpu_s)


def _parts(out_dir: Path) -> list[Path]:
    return sorted((out_dir / _PARTS).glob("*.parquet"))


def read_indices(out_dir: str | os.PathLike) -> pd.DataFrame:
    """All segments of a run's parts (without the per-bin vectors), sorted by recording.

    Args:
        out_dir: the folder given to :func:`indices_for_recordings`.

    Returns:
        A table with :data:`INDEX_COLUMNS`.
    """
    frames = [pd.read_parquet(p, columns=INDEX_COLUMNS) for p in _parts(Path(out_dir))]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _typed_indices([])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["recording", "segment_start_s"], kind="stable", ignore_index=True)


def _read_part_spectral(target: Path) -> SpectralIndices:
    part = pd.read_parquet(target, columns=INDEX_COLUMNS + _SPECTRAL_COLUMNS)
    vectors = [
        {k: np.asarray(row[k], dtype=np.float32) for k in _SPECTRAL_COLUMNS}
        for _, row in part.iterrows()
    ]
    return _spectral_from(part, vectors)


# --- false colour ----------------------------------------------------------------------------

_MINUTES = 24 * 60
_TITLE_PX = 14
_TICKS_PX = 20


def _normalise(values: np.ndarray) -> np.ndarray:
    """0-1 after clipping at the 2nd and 98th percentiles (robust to a few loud minutes)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    low, high = np.percentile(finite, [2, 98])
    if high <= low:
        return np.where(np.isfinite(values), 0.5, 0.0)
    return np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0, 1)


def _on_grid(spectral: SpectralIndices, grid: np.ndarray) -> dict[str, np.ndarray]:
    """The per-bin arrays resampled onto ``grid`` (Hz); NaN above a segment's own band."""
    if np.array_equal(spectral.frequencies, grid):
        return spectral.values
    out = {}
    for name, array in spectral.values.items():
        rows = [np.interp(grid, spectral.frequencies, row, right=np.nan) for row in array]
        out[name] = np.asarray(rows, dtype=np.float32).reshape(len(array), len(grid))
    return out


def _channels(spectral: SpectralIndices) -> list[np.ndarray]:
    """(segments, bins) arrays for R, G, B: ACI, ENT = 1 - Ht, event count."""
    aci, ht, evn = (spectral.values[k] for k in FALSE_COLOUR_INDICES)
    return [aci, 1.0 - ht, evn]


def false_colour_spectrogram(
    spectral: SpectralIndices,
    minute_times: np.ndarray | Sequence[Any] | None,
    out_png: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Write a 24 h false-colour spectrogram: 1440 minute columns, low frequencies at the bottom.

    Each index is normalised over the whole image (percentiles 2-98) and mapped to R (ACI),
    G (1 - temporal entropy) and B (event count). Minutes without audio stay black; a strip
    below the image marks every hour (longer marks every 6 h).

    Args:
        spectral: per-bin indices of the day's segments.
        minute_times: wall-clock start of each segment (default: ``spectral.times_local``);
            only the time of day is used, NaT segments are dropped.
        out_png: the PNG to write (atomically).
        title: text drawn above the image.

    Returns:
        The PNG path.
    """
    times = pd.to_datetime(
        np.asarray(spectral.times_local if minute_times is None else minute_times)
    )
    bins = len(spectral.frequencies)
    if len(times) != len(spectral) or bins == 0:
        raise ValueError(f"{len(times)} times for {len(spectral)} segments of {bins} bins")
    rgb = np.zeros((bins, _MINUTES, 3), dtype=np.uint8)
    channels = [_normalise(c) for c in _channels(spectral)]
    for i, stamp in enumerate(times):
        if pd.isna(stamp):
            continue
        first = stamp.hour * 60 + stamp.minute
        width = max(1, int(round(float(spectral.durations_s[i]) / 60.0)))
        column = np.stack([c[i] for c in channels], axis=-1)[::-1]  # low frequencies at bottom
        rgb[:, first : min(first + width, _MINUTES)] = (column * 255).astype(np.uint8)[:, None, :]

    canvas = Image.new("RGB", (_MINUTES, _TITLE_PX + bins + _TICKS_PX), (255, 255, 255))
    canvas.paste(Image.fromarray(rgb, "RGB"), (0, _TITLE_PX))
    draw = ImageDraw.Draw(canvas)
    top_khz = float(spectral.frequencies[-1]) / 1000
    legend = f"0-{top_khz:.0f} kHz, R=ACI G=ENT B=EVN"
    draw.text((2, 1), f"{title}  ({legend})" if title else legend, fill=(0, 0, 0))
    base = _TITLE_PX + bins
    for hour in range(25):
        x = min(hour * 60, _MINUTES - 1)
        draw.line([(x, base), (x, base + (6 if hour % 6 == 0 else 3))], fill=(0, 0, 0))
        if hour % 3 == 0 and hour < 24:
            draw.text((x + 2, base + 7), f"{hour:02d}h", fill=(0, 0, 0))
    target = Path(out_png)
    with atomic_path(target, suffix=".png") as tmp:
        canvas.save(tmp, format="PNG")
    return target


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "site"


def _concat(items: list[SpectralIndices], grid: np.ndarray) -> SpectralIndices:
    values = {
        k: np.concatenate([_on_grid(s, grid)[k] for s in items]) for k in FALSE_COLOUR_INDICES
    }
    return SpectralIndices(
        frequencies=grid,
        times_local=np.concatenate([s.times_local for s in items]),
        durations_s=np.concatenate([s.durations_s for s in items]),
        values=values,
    )


def _select(spectral: SpectralIndices, mask: np.ndarray) -> SpectralIndices:
    return SpectralIndices(
        frequencies=spectral.frequencies,
        times_local=spectral.times_local[mask],
        durations_s=spectral.durations_s[mask],
        values={k: v[mask] for k, v in spectral.values.items()},
    )


def false_colour_by_site_day(
    recordings_table: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    indices_dir: str | os.PathLike | None = None,
    **options: Any,
) -> list[Path]:
    """One false-colour PNG per site and local day: ``<site>_<YYYY-MM-DD>.png``.

    Segments are grouped by their own local date, so a recording across midnight feeds two
    days. Recordings without a known start time (table or file name) are left out.

    Args:
        recordings_table: a recordings table (path, site, timestamp_local, utc_offset).
        out_dir: folder of the PNGs.
        indices_dir: a folder of :func:`indices_for_recordings`; its parts are reused instead
            of analysing the recordings again.
        **options: as for :func:`compute_indices` (``segment_s`` 60 gives one column a minute).

    Returns:
        The PNGs written, sorted.
    """
    per_site: dict[str, list[SpectralIndices]] = {}
    for _, row in recordings_table.iterrows():
        path, site = str(row["path"]), _value(row, "site") or "site"
        part = Path(indices_dir) / _PARTS / part_name(path) if indices_dir is not None else None
        try:
            if part is not None and part.exists():
                spectral = _read_part_spectral(part)
            else:
                spectral = compute_spectral_indices(path, timestamp=_row_timestamp(row), **options)
        except AudioFileError:
            continue
        if len(spectral):
            per_site.setdefault(str(site), []).append(spectral)

    written: list[Path] = []
    for site, items in sorted(per_site.items()):
        grid = max((s.frequencies for s in items), key=lambda f: (f[-1], len(f)))
        merged = _concat(items, grid)
        days = pd.to_datetime(merged.times_local).normalize()
        for day in sorted(d for d in set(days) if pd.notna(d)):
            mask = np.asarray(days == day)
            label = f"{_safe(site)}_{day:%Y-%m-%d}"
            target = Path(out_dir) / f"{label}.png"
            day_spectral = _select(merged, mask)
            written.append(false_colour_spectrogram(day_spectral, None, target, title=label))
    return sorted(written)
