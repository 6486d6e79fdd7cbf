"""Indices of many recordings: one Parquet part per recording (with the per-bin vectors that
false colour reuses), resumable, isolated per file, optionally in worker processes."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ...io import atomic_path
from ..errors import AudioFileError
from ..io.recordings import scan_recordings
from .indices import (
    FALSE_COLOUR_INDICES,
    INDEX_COLUMNS,
    SpectralIndices,
    analyse_recording,
    spectral_from,
    typed_indices,
)

__all__ = [
    "PARTS",
    "IndicesRun",
    "indices_for_recordings",
    "part_name",
    "read_indices",
    "read_part_spectral",
    "row_timestamp",
    "row_value",
]

PARTS = "parts"
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


def row_timestamp(row: pd.Series) -> Any:
    """Start time from a recordings-table row: offset-aware if known, else wall clock, else None."""
    local = row.get("timestamp_local")
    if local is None or pd.isna(local):
        return None
    offset = row.get("utc_offset")
    if isinstance(offset, str) and offset:
        return pd.Timestamp(str(local) + offset)
    return pd.Timestamp(str(local))


def row_value(row: pd.Series, key: str) -> Any:
    """A recordings-table row's value, None where it is missing."""
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
    parts_dir = out / PARTS
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
        job = _Job(path, row_value(row, "site"), row_timestamp(row), target, segment_s, options)
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
    return sorted((out_dir / PARTS).glob("*.parquet"))


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
        return typed_indices([])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["recording", "segment_start_s"], kind="stable", ignore_index=True)


def read_part_spectral(target: Path) -> SpectralIndices:
    part = pd.read_parquet(target, columns=INDEX_COLUMNS + _SPECTRAL_COLUMNS)
    vectors = [
        {k: np.asarray(row[k], dtype=np.float32) for k in _SPECTRAL_COLUMNS}
        for _, row in part.iterrows()
    ]
    return spectral_from(part, vectors)
