"""Detection over many recordings: batches, per-file isolation, resume, Dask.

An output folder holds one run:

- ``run.json``: the model, its version, threshold and chunking (a folder never mixes runs);
- ``detections/part-NNNNN.parquet``: the events of batch NNNNN (the project's event table);
- ``files/part-NNNNN.parquet``: what happened to each file of that batch (ok or failed with
  the reason, detections, seconds of audio, seconds of work).

Batches are fixed slices of the sorted file list, so a batch is the same whether a run went
through or was resumed. A batch counts as done when its ``files`` part exists; both parts are
written atomically, detections first, so a kill leaves at worst a detections part without its
ledger, which a resumed run deletes and redoes: nothing lost, nothing twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import atomic_path
from .detector import AudioFile
from .errors import AcousticsError
from .io.event_table import EVENT_COLUMNS
from .io.events import write_events
from .io.recordings import scan_recordings
from .registry import ModelSpec, resolve_detector

__all__ = [
    "DetectionRun",
    "RunConflict",
    "detect_recordings",
    "export_detections",
    "read_detections",
    "read_file_ledger",
]

LEDGER_COLUMNS = ["path", "status", "reason", "detections", "audio_s", "seconds", "cpu_s"]
#: Overrides of a model's settings, as keywords of ``registry.resolve_detector``.
Overrides = dict[str, Any]


class RunConflict(AcousticsError):
    """The output folder holds a run made with other parameters."""


@dataclass
class DetectionRun:
    """What a (possibly resumed) run did."""

    out_dir: Path
    parameters: dict[str, Any]
    files: int = 0  # in the run
    processed: int = 0  # this time
    skipped: int = 0  # done by an earlier, interrupted run
    failed: dict[str, str] = field(default_factory=dict)
    detections: int = 0  # this time
    audio_s: float = 0.0  # this time
    cpu_s: float = 0.0  # this time, summed over the processes that did the work
    wall_s: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Seconds of work per second of audio (lower is faster)."""
        return self.wall_s / self.audio_s if self.audio_s else float("nan")

    @property
    def recordings_per_hour(self) -> float:
        return self.processed / self.wall_s * 3600 if self.wall_s else float("nan")

    @property
    def audio_hours_per_cpu_hour(self) -> float:
        """Hours of audio per hour of CPU time (all cores of all workers), the figure that
        sizes a cluster."""
        return self.audio_s / self.cpu_s if self.cpu_s else float("nan")

    def __str__(self) -> str:
        lines = [
            f"{self.processed} recordings processed ({self.skipped} already done), "
            f"{len(self.failed)} failed, {self.detections} detections -> {self.out_dir}",
            f"{self.audio_s / 3600:.2f} h of audio in {self.wall_s:.1f} s: "
            f"real-time factor {self.real_time_factor:.4f}, "
            f"{self.recordings_per_hour:,.0f} recordings per hour, "
            f"{self.audio_hours_per_cpu_hour:,.0f} audio hours per CPU-hour",
        ]
        lines += [f"  failed: {path}: {why}" for path, why in sorted(self.failed.items())]
        return "\n".join(lines)


def _process_batch(
    files: Sequence[AudioFile], model: ModelSpec, overrides: Overrides
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and ledger of one batch; a broken file is recorded, never fatal."""
    import soundfile as sf

    detector = resolve_detector(model, **overrides)
    ledger: dict[str, dict[str, Any]] = {}
    started, cpu_started = time.perf_counter(), time.process_time()

    def fail(path: str, exc: Exception) -> None:
        ledger[path].update(status="failed", reason=str(getattr(exc, "reason", exc)))

    readable = []
    for path, te in files:
        ledger[path] = {"path": path, "status": "ok", "reason": "", "audio_s": 0.0}
        try:
            ledger[path]["audio_s"] = sf.info(path).duration / te
            readable.append((path, te))
        except Exception as exc:
            fail(path, exc)
    events = detector.detect_files(readable, fail)
    # a file that failed part way may have left events: none of a failed file are kept
    failed = [path for path, row in ledger.items() if row["status"] == "failed"]
    events = events[~events["recording"].isin(failed)].reset_index(drop=True)
    counts = events["recording"].value_counts()
    seconds = (time.perf_counter() - started) / max(len(files), 1)
    cpu_s = (time.process_time() - cpu_started) / max(len(files), 1)
    table = pd.DataFrame(
        [
            {**row, "detections": int(counts.get(p, 0)), "seconds": seconds, "cpu_s": cpu_s}
            for p, row in ledger.items()
        ],
        columns=LEDGER_COLUMNS,
    )
    return events, table


# -- the run ---------------------------------------------------------------------------------------
def _files_from(source: str | Path | pd.DataFrame | Sequence[str]) -> list[AudioFile]:
    """(path, time expansion) of every recording of a recordings table, folder, glob or list."""
    if isinstance(source, pd.DataFrame):
        table = source
    elif (
        isinstance(source, (str, Path))
        and str(source).endswith(".parquet")
        and Path(source).is_file()
    ):
        table = pd.read_parquet(source)
    else:
        scan = scan_recordings(source, progress=False)
        table = scan.table
        # Files the scan could not read still go into the run, so that its ledger lists them.
        if len(scan.problems):
            table = pd.concat([table, scan.problems[["path"]]], ignore_index=True)
    te = table["time_expansion"] if "time_expansion" in table else pd.Series(1.0, index=table.index)
    pairs = {
        str(p): float(t) if pd.notna(t) and t > 0 else 1.0
        for p, t in zip(table["path"], te, strict=True)
    }
    return sorted(pairs.items())


def _check_parameters(out: Path, parameters: dict[str, Any], overwrite: bool) -> None:
    run_json = out / "run.json"
    if run_json.exists() and not overwrite:
        saved = json.loads(run_json.read_text())
        if saved.get("parameters") != json.loads(json.dumps(parameters)):
            raise RunConflict(
                f"{out} holds a run with other parameters ({run_json}); "
                "use another folder or overwrite=True (--overwrite)"
            )
        return
    if overwrite:
        for sub in ("detections", "files"):
            for part in (out / sub).glob("part-*.parquet"):
                part.unlink()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_json, suffix=".json") as tmp:
        Path(tmp).write_text(
            json.dumps(
                {
                    "parameters": parameters,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
                default=str,
            )
            + "\n"
        )


def detect_recordings(
    source: str | Path | pd.DataFrame | Sequence[str],
    out_dir: str | Path,
    *,
    model: ModelSpec = None,
    threshold: float | None = None,
    chunk_s: float | None = None,
    device: str | None = None,
    batch_files: int = 16,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DetectionRun:
    """Detect sound events in every recording of ``source``, resumably (see the module
    docstring): bat calls by default, anthropogenic sounds with ``model="anthropogenic"``.

    Args:
        source: a recordings table (Parquet or DataFrame with ``path`` and ``time_expansion``),
            a folder, a glob, an fsspec URL or a list of paths.
        out_dir: the run's folder.
        model: a saved bat model, ``"batdetect2"`` (optional backend), ``"anthropogenic"``
            (the shipped anthropogenic-sound detector) or a saved ``anthropogenic-*.pt``, a
            :class:`~.detector.Detector` instance, or None for the default bat detector
            (``registry.resolve_detector``).
        threshold, chunk_s: override the model's inference settings (the anthropogenic
            detector has windows, not chunks: chunk_s does not apply).
        batch_files: files per batch (the unit of work, of resume and of a Dask task).
        scheduler: None (this process), "local" (a LocalCluster) or a Dask scheduler address.
        progress: called as ``progress(files_done, files_total)``.
    """
    out = Path(out_dir)
    overrides: Overrides = {"threshold": threshold, "chunk_s": chunk_s, "device": device}
    parameters = resolve_detector(model, **overrides).run_parameters
    _check_parameters(out, parameters, overwrite)
    files = _files_from(source)
    batches = [files[i : i + batch_files] for i in range(0, len(files), batch_files)]
    (out / "detections").mkdir(exist_ok=True)
    (out / "files").mkdir(exist_ok=True)
    done = {p.stem for p in (out / "files").glob("part-*.parquet")}
    for orphan in (out / "detections").glob("part-*.parquet"):  # killed between its two writes
        if orphan.stem not in done:
            orphan.unlink()
    todo = [(f"part-{i:05d}", b) for i, b in enumerate(batches) if f"part-{i:05d}" not in done]
    run = DetectionRun(
        out,
        parameters,
        files=len(files),
        skipped=sum(len(b) for i, b in enumerate(batches) if f"part-{i:05d}" in done),
    )
    started = time.perf_counter()
    finished = run.skipped

    def write(name: str, events: pd.DataFrame, ledger: pd.DataFrame) -> None:
        nonlocal finished
        write_events(events, out / "detections" / f"{name}.parquet", format="parquet")
        with atomic_path(out / "files" / f"{name}.parquet", suffix=".parquet") as tmp:
            ledger.to_parquet(tmp, index=False)
        run.processed += len(ledger)
        run.detections += len(events)
        run.audio_s += float(ledger["audio_s"].sum())
        run.cpu_s += float(ledger["cpu_s"].sum())
        run.failed.update({r.path: r.reason for r in ledger.itertuples() if r.status == "failed"})
        finished += len(ledger)
        if progress:
            progress(finished, len(files))

    if scheduler is None:
        for name, batch in todo:
            write(name, *_process_batch(batch, model, overrides))
    else:
        _run_on_dask(todo, model, overrides, scheduler, write)
    run.wall_s = time.perf_counter() - started
    if finished == len(files):
        _consolidate(out)
    return run


def _run_on_dask(
    todo: list[tuple[str, list[AudioFile]]],
    model: ModelSpec,
    overrides: Overrides,
    scheduler: str,
    write: Callable[[str, pd.DataFrame, pd.DataFrame], None],
) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = (
        LocalCluster(n_workers=max(1, (os.cpu_count() or 2) // 2), threads_per_worker=1)
        if scheduler == "local"
        else None
    )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {
            client.submit(_process_batch, batch, model, overrides, pure=False): name
            for name, batch in todo
        }
        for future in as_completed(futures):
            write(futures[future], *future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _consolidate(out: Path) -> None:
    """``detections.parquet`` and ``files.parquet``: the whole run in two files."""
    with atomic_path(out / "detections.parquet", suffix=".parquet") as tmp:
        read_detections(out).to_parquet(tmp, index=False)
    with atomic_path(out / "files.parquet", suffix=".parquet") as tmp:
        read_file_ledger(out).to_parquet(tmp, index=False)


def read_detections(out_dir: str | Path) -> pd.DataFrame:
    """All detections of a run (completed batches only), sorted by recording and time."""
    out = Path(out_dir)
    done = {p.stem for p in (out / "files").glob("part-*.parquet")}
    parts = [
        pd.read_parquet(p)
        for p in sorted((out / "detections").glob("part-*.parquet"))
        if p.stem in done
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(
        ["recording", "start_time"], ignore_index=True
    )


def read_file_ledger(out_dir: str | Path) -> pd.DataFrame:
    parts = [pd.read_parquet(p) for p in sorted((Path(out_dir) / "files").glob("part-*.parquet"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LEDGER_COLUMNS)


def export_detections(out_dir: str | Path, dest: str | Path, format: str = "raven") -> Path:
    """The run's detections for review: Raven selection tables (one per recording, in a
    folder) or one CSV."""
    events = read_detections(out_dir)
    dest = Path(dest)
    if format == "raven":
        dest.mkdir(parents=True, exist_ok=True)
        for recording, group in events.groupby("recording"):
            write_events(group, dest / f"{Path(recording).stem}.selections.txt", format="raven")
        return dest
    write_events(events, dest, format=format)
    return dest
