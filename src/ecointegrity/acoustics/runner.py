"""Detection over many recordings: batches, per-file isolation, resume, Dask.

An output folder holds one run:

- ``run.json``: the model, its version, threshold and chunking (``parameters``: a folder never
  mixes runs), the resolved input list with each recording's identity (``inputs``), the batch
  size of the last run and the recordings of earlier runs no longer in the source (``removed``);
- ``detections/part-NNNNN.parquet``: the events of batch NNNNN (the project's event table);
- ``files/part-NNNNN.parquet``: what happened to each file of that batch (ok or failed with
  the reason, a warning such as a truncated file, detections, seconds of audio and of work) and
  the file's identity when it was read (size and modification time, or a remote store's tag).

Which recordings are done is decided per recording, not per batch: a recording is done when
a ``files`` part lists it with the identity it has now. A resumed run therefore does the rest
whatever batch size either run used, processes recordings added to the source since, redoes
recordings that changed (their newer part supersedes the older one when reading), and keeps
the results of recordings no longer in the source, listing them in ``DetectionRun.removed``
and ``run.json``. A failed recording counts as done until it changes (or ``overwrite``).

Both parts of a batch are written atomically, detections first, so a kill leaves at worst a
detections part without its ledger, which a resumed run deletes and redoes: nothing lost,
nothing twice. Part numbers only grow, so a later part always wins over an earlier one.

The folder may be local or on object storage (``s3://bucket/run``, any fsspec URL), through
the helpers of :mod:`ecointegrity.io`: an object appears whole when its upload completes, and
S3 lists it from then on, so the same order of writes gives the same guarantees there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import (
    atomic_path,
    exists,
    filesystem,
    glob,
    is_local,
    join,
    json_ready,
    read_json,
    remove,
    storage_options,
    write_json_atomic,
)
from ._audio import audio_duration
from .detector import AudioFile
from .errors import AcousticsError
from .io.event_table import EVENT_COLUMNS, validate_events
from .io.events import write_events
from .io.recordings import recording_truncation, scan_recordings
from .registry import ModelSpec, resolve_detector

__all__ = [
    "DetectionRun",
    "RunConflict",
    "detect_recordings",
    "export_detections",
    "read_detections",
    "read_file_ledger",
]

LEDGER_COLUMNS = [
    "path", "status", "reason", "warning", "detections", "audio_s", "seconds", "cpu_s",
    "size_bytes", "modified",
]
#: Overrides of a model's settings, as keywords of ``registry.resolve_detector``.
Overrides = dict[str, Any]
#: A recording's identity: (size in bytes, modification time or store tag); None where unknown.
Identity = tuple[int | None, str | None]

# remote stat calls are latency-bound: a few in flight hide most of it
_REMOTE_WORKERS = 8
#: the tables of a finished run, removed while a run is unfinished
_WHOLE = ("detections.parquet", "files.parquet")


class RunConflict(AcousticsError):
    """The output folder holds a run made with other parameters."""


@dataclass
class DetectionRun:
    """What a (possibly resumed) run did."""

    out_dir: Path | str  # a Path for a local folder, the URL for object storage
    parameters: dict[str, Any]
    files: int = 0  # in the run
    processed: int = 0  # this time
    skipped: int = 0  # done by an earlier, interrupted run
    failed: dict[str, str] = field(default_factory=dict)
    detections: int = 0  # this time
    audio_s: float = 0.0  # this time
    cpu_s: float = 0.0  # this time, summed over the processes that did the work
    wall_s: float = 0.0
    #: processed this time although an earlier run did them: they changed since (size/mtime)
    changed: list[str] = field(default_factory=list)
    #: done by an earlier run but no longer in the source: their results are kept
    removed: list[str] = field(default_factory=list)
    #: processed, with a caveat (e.g. "truncated: 1.2 of 3.7 s read (...)")
    warnings: dict[str, str] = field(default_factory=dict)

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
        if self.changed:
            lines.append(f"  {len(self.changed)} recording(s) changed since an earlier run: redone")
        if self.removed:
            lines.append(
                f"  {len(self.removed)} recording(s) of earlier runs no longer in the source: "
                "their results are kept (listed in run.json)"
            )
        lines += [f"  warning: {path}: {why}" for path, why in sorted(self.warnings.items())]
        lines += [f"  failed: {path}: {why}" for path, why in sorted(self.failed.items())]
        return "\n".join(lines)


def _process_batch(
    files: Sequence[AudioFile], model: ModelSpec, overrides: Overrides
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and ledger of one batch; a broken file is recorded, never fatal."""
    detector = resolve_detector(model, **overrides)
    ledger: dict[str, dict[str, Any]] = {}
    started, cpu_started = time.perf_counter(), time.process_time()

    def fail(path: str, exc: Exception) -> None:
        ledger[path].update(status="failed", reason=str(getattr(exc, "reason", exc)))

    readable = []
    for path, te in files:
        ledger[path] = {"path": path, "status": "ok", "reason": "", "warning": "", "audio_s": 0.0}
        try:
            ledger[path]["audio_s"] = audio_duration(path) / te
            readable.append((path, te))
        except Exception as exc:
            fail(path, exc)
            continue
        # libsndfile reads a cut-off WAV up to its end without a word: the file is still
        # worth its detections, but the ledger and the summary must say what was read
        ledger[path]["warning"] = recording_truncation(path) or ""
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
        columns=[c for c in LEDGER_COLUMNS if c not in ("size_bytes", "modified")],
    )
    return events, table


# -- the run ---------------------------------------------------------------------------------------
def _files_from(source: str | Path | pd.DataFrame | Sequence[str]) -> list[AudioFile]:
    """(path, time expansion) of every recording of a recordings table, folder, glob or list."""
    if isinstance(source, pd.DataFrame):
        table = source
    elif _is_table(source):
        table = _read_parquet(str(source))
    else:
        scan = scan_recordings(source, progress=False)
        table = scan.table
        # Files the scan could not read still go into the run, so that its ledger lists them
        # (and a truncated one is processed with what it holds, with a warning).
        if len(scan.problems):
            table = pd.concat([table, scan.problems[["path"]]], ignore_index=True)
    te = table["time_expansion"] if "time_expansion" in table else pd.Series(1.0, index=table.index)
    pairs = {
        str(p): float(t) if pd.notna(t) and t > 0 else 1.0
        for p, t in zip(table["path"], te, strict=True)
    }
    return sorted(pairs.items())


def _is_table(source: object) -> bool:
    """Whether ``source`` names a recordings table (a Parquet file, local or remote)."""
    if not isinstance(source, (str, Path)) or not str(source).endswith(".parquet"):
        return False
    return Path(source).is_file() if is_local(source) else exists(source)


def _read_parquet(location: str) -> pd.DataFrame:
    # the store's endpoint from the environment (io.storage_options); None for local paths,
    # which pandas refuses options for
    return pd.read_parquet(location, storage_options=storage_options(location) or None)


def _identity(path: str) -> Identity:
    """Size and modification time (or a store's tag) of a recording; (None, None) when it
    cannot be found (it will fail, with its reason, when read)."""
    try:
        if "://" not in path or path.startswith("file://"):
            st = os.stat(path[len("file://") :] if path.startswith("file://") else path)
            return st.st_size, str(st.st_mtime_ns)
        fs, inner = filesystem(path)
        info = fs.info(inner)
    except (OSError, ValueError):
        return None, None
    tag = next(
        (info[k] for k in ("ETag", "etag", "mtime", "LastModified", "last_modified", "updated")
         if info.get(k) is not None),
        None,
    )
    size = info.get("size")
    return (int(size) if size is not None else None), (str(tag) if tag is not None else None)


def _identities(paths: Sequence[str]) -> dict[str, Identity]:
    remote = any("://" in p and not p.startswith("file://") for p in paths)
    with ThreadPoolExecutor(max_workers=_REMOTE_WORKERS if remote else 1) as pool:
        return dict(zip(paths, pool.map(_identity, paths), strict=True))


def _stem(location: str) -> str:
    """``part-00003`` of ``.../files/part-00003.parquet`` (a local path or a URL)."""
    return location.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".parquet")


def _number(location: str) -> int:
    try:
        return int(_stem(location).split("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def _parts(folder: str) -> list[str]:
    """``part-N.parquet`` files in part-number order (numbers only grow: later ones win)."""
    found = glob(join(folder, "part-*.parquet"))
    return sorted((p for p in found if _number(p) >= 0), key=_number)


def _latest_rows(out: str) -> pd.DataFrame:
    """The ledger row of every recording an earlier run did, from its latest part, with the
    part's name in ``part``."""
    parts = [_read_parquet(p).assign(part=_stem(p)) for p in _parts(join(out, "files"))]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=[*LEDGER_COLUMNS, "part"])
    ledger = pd.concat(parts, ignore_index=True)
    for column in ("size_bytes", "modified"):  # ledgers written before identities were kept
        if column not in ledger:
            ledger[column] = None
    return ledger.drop_duplicates("path", keep="last").reset_index(drop=True)


def _same(saved_size: Any, saved_modified: Any, now: Identity) -> bool:
    """Whether a ledger row still describes the file; a ledger without identities (written
    before they were kept) matches by path alone."""
    if (saved_size is None or pd.isna(saved_size)) and (
        saved_modified is None or pd.isna(saved_modified)
    ):
        return True
    size = None if saved_size is None or pd.isna(saved_size) else int(saved_size)
    modified = None if saved_modified is None or pd.isna(saved_modified) else str(saved_modified)
    return (size, modified) == now


def _check_parameters(out: str, parameters: dict[str, Any], overwrite: bool) -> dict[str, Any]:
    """The saved run.json of a run with these parameters ({} for a new or overwritten run);
    a run with other parameters is a RunConflict unless ``overwrite``, which clears it."""
    run_json = join(out, "run.json")
    if exists(run_json) and not overwrite:
        saved = read_json(run_json)
        if saved.get("parameters") != json_ready(_plain(parameters)):
            raise RunConflict(
                f"{out} holds a run with other parameters ({run_json}); "
                "use another folder or overwrite=True (--overwrite)"
            )
        return dict(saved)
    if overwrite:
        # ledger parts first: a kill part way leaves detections without a ledger, which the
        # next opening removes as orphans, never a ledger row claiming deleted detections
        for sub in ("files", "detections"):
            for part in glob(join(out, sub, "part-*.parquet")):
                remove(part)
        for whole in _WHOLE:
            remove(join(out, whole))
    return {}


def _plain(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(obj, default=str))


def _write_run_json(
    out: str,
    saved: dict[str, Any],
    parameters: dict[str, Any],
    files: Sequence[AudioFile],
    identities: dict[str, Identity],
    batch_files: int,
    removed: Sequence[str],
) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {
        "parameters": _plain(parameters),
        "created": saved.get("created", now),
        "updated": now,
        "batch_files": batch_files,  # of the last run; not a parameter: it may change
        "inputs": [
            {"path": p, "time_expansion": te, "size_bytes": identities[p][0],
             "modified": identities[p][1]}
            for p, te in files
        ],
        "removed": sorted(removed),
    }
    write_json_atomic(join(out, "run.json"), json_ready(doc))


def _open_run_dir(out: str) -> list[str]:
    """Make the run's folders, drop parts a kill left half-written; the ledger parts so far."""
    if is_local(out):  # object stores have no folders: a key's prefix is enough
        for sub in ("detections", "files"):
            Path(join(out, sub)).mkdir(parents=True, exist_ok=True)
    ledger_parts = _parts(join(out, "files"))
    done_parts = {_stem(p) for p in ledger_parts}
    for orphan in glob(join(out, "detections", "part-*.parquet")):  # killed between its writes
        if _stem(orphan) not in done_parts:
            remove(orphan)
    return ledger_parts


def _plan(
    files: Sequence[AudioFile],
    identities: dict[str, Identity],
    earlier: pd.DataFrame,
) -> tuple[list[AudioFile], list[str], list[str]]:
    """What is left to do, per recording: (to do, changed since done, no longer in the source).

    A recording is done when the ledger lists it with the identity (size, modification) it has
    now; batch numbers play no part, so the batch size may change between runs.
    """
    todo: list[AudioFile] = []
    changed: list[str] = []
    previous = {r.path: r for r in earlier.itertuples(index=False)}
    for path, te in files:
        row = previous.get(path)
        if row is None:
            todo.append((path, te))
        elif not _same(row.size_bytes, row.modified, identities[path]):
            todo.append((path, te))
            changed.append(path)
    in_source = {p for p, _ in files}
    removed = sorted(p for p in previous if p not in in_source)
    return todo, changed, removed


def _batches(
    todo: list[AudioFile], ledger_parts: Sequence[str], batch_files: int
) -> list[tuple[str, list[AudioFile]]]:
    """Named batches of ``batch_files``; part numbers continue after the run's last part."""
    first = max((_number(p) for p in ledger_parts), default=-1) + 1
    return [
        (f"part-{first + i:05d}", todo[k : k + batch_files])
        for i, k in enumerate(range(0, len(todo), batch_files))
    ]


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
        out_dir: the run's folder, local or on object storage (``s3://bucket/run``).
        model: a saved bat model, ``"batdetect2"`` (optional backend), ``"anthropogenic"``
            (the shipped anthropogenic-sound detector) or a saved ``anthropogenic-*.pt``, a
            :class:`~.detector.Detector` instance, or None for the default bat detector
            (``registry.resolve_detector``).
        threshold, chunk_s: override the model's inference settings (the anthropogenic
            detector has windows, not chunks: chunk_s does not apply).
        batch_files: files per batch (the unit of work and of a Dask task); it may differ
            between a run and its resumption.
        scheduler: None (this process), "local" (a LocalCluster) or a Dask scheduler address.
        overwrite: replace a run made with other parameters (else :class:`RunConflict`).
        progress: called as ``progress(files_done, files_total)``.

    Returns:
        What this call did; recordings done earlier count in ``skipped``, those changed since
        in ``changed``, those no longer in ``source`` in ``removed`` (their results are kept).
    """
    if batch_files < 1:
        raise ValueError(f"batch_files={batch_files}: must be at least 1")
    out = _location(out_dir)
    overrides: Overrides = {"threshold": threshold, "chunk_s": chunk_s, "device": device}
    parameters = resolve_detector(model, **overrides).run_parameters
    saved = _check_parameters(out, parameters, overwrite)
    files = _files_from(source)
    identities = _identities([p for p, _ in files])
    ledger_parts = _open_run_dir(out)
    todo_files, changed, removed = _plan(files, identities, _latest_rows(out))
    _write_run_json(out, saved, parameters, files, identities, batch_files, removed)
    if todo_files:
        # the consolidated tables describe a finished run only: this one is not, yet
        for whole in _WHOLE:
            remove(join(out, whole))
    todo = _batches(todo_files, ledger_parts, batch_files)
    run = DetectionRun(
        Path(join(out)) if is_local(out) else out,  # join drops a file:// scheme
        parameters,
        files=len(files),
        skipped=len(files) - len(todo_files),
        changed=changed,
        removed=removed,
    )
    started = time.perf_counter()
    write = _PartWriter(run, identities, len(files), progress, finished=run.skipped)
    if scheduler is None:
        for name, batch in todo:
            write(name, *_process_batch(batch, model, overrides))
    else:
        _run_on_dask(todo, model, overrides, scheduler, write)
    run.wall_s = time.perf_counter() - started
    if write.finished == len(files):
        _consolidate(out)
    return run


@dataclass
class _PartWriter:
    """Writes a finished batch (its detections, then its ledger rows) and counts it in the run."""

    run: DetectionRun
    identities: dict[str, Identity]
    total: int
    progress: Callable[[int, int], None] | None
    finished: int

    def __call__(self, name: str, events: pd.DataFrame, ledger: pd.DataFrame) -> None:
        out, run = _location(self.run.out_dir), self.run
        # the identity taken when the input list was made: what the next run compares with
        ledger = ledger.assign(
            size_bytes=pd.array([self.identities[p][0] for p in ledger["path"]], dtype="Int64"),
            modified=pd.array([self.identities[p][1] for p in ledger["path"]], dtype="string"),
        )[LEDGER_COLUMNS]
        # detections first: a ledger part is the sign that its detections are there
        _write_table(validate_events(events), join(out, "detections", f"{name}.parquet"))
        _write_table(ledger, join(out, "files", f"{name}.parquet"))
        run.processed += len(ledger)
        run.detections += len(events)
        run.audio_s += float(ledger["audio_s"].sum())
        run.cpu_s += float(ledger["cpu_s"].sum())
        run.failed.update({r.path: r.reason for r in ledger.itertuples() if r.status == "failed"})
        run.warnings.update({r.path: r.warning for r in ledger.itertuples() if r.warning})
        self.finished += len(ledger)
        if self.progress:
            self.progress(self.finished, self.total)


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


def _location(out_dir: str | os.PathLike) -> str:
    """A run folder as the io helpers take it: a local path or a URL (never through Path,
    which would turn ``s3://`` into ``s3:/``)."""
    return os.fspath(out_dir)


def _write_table(table: pd.DataFrame, location: str) -> None:
    """A Parquet file that appears whole or not at all (local rename, or one upload)."""
    table = table.copy()
    table.attrs = {}  # Parquet keeps attrs as JSON; recording metadata need not survive there
    with atomic_path(location, suffix=".parquet") as tmp:
        table.to_parquet(tmp, index=False)


def _consolidate(out: str) -> None:
    """``detections.parquet`` and ``files.parquet``: the whole run in two files."""
    _write_table(read_detections(out), join(out, "detections.parquet"))
    _write_table(read_file_ledger(out), join(out, "files.parquet"))


def read_detections(out_dir: str | os.PathLike) -> pd.DataFrame:
    """All detections of a run (completed batches only), sorted by recording and time.

    A recording redone by a later run (it changed) keeps the events of its latest part only.

    Args:
        out_dir: the run's folder, local or a URL.
    """
    out = _location(out_dir)
    latest = dict(zip(*(_latest_rows(out)[c] for c in ("path", "part")), strict=True))
    current = set(latest.values())
    parts = []
    for p in _parts(join(out, "detections")):
        stem = _stem(p)
        if stem not in current:
            continue  # no ledger part (killed between the two writes) or wholly superseded
        events = _read_parquet(p)
        # events of a recording whose latest ledger row is in another part are superseded;
        # a recording id the ledger does not know is kept as it is
        keep = events["recording"].map(lambda r, stem=stem: latest.get(r, stem) == stem)
        events = events[keep.astype(bool)]
        if len(events):
            parts.append(events)
    if not parts:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(
        ["recording", "start_time"], ignore_index=True
    )


def read_file_ledger(out_dir: str | os.PathLike) -> pd.DataFrame:
    """What happened to each recording of a run: one row per recording, from its latest part
    (:data:`LEDGER_COLUMNS`); ``out_dir`` local or a URL."""
    ledger = _latest_rows(_location(out_dir))
    return ledger.drop(columns="part").reindex(columns=LEDGER_COLUMNS).reset_index(drop=True)


def export_detections(
    out_dir: str | os.PathLike, dest: str | Path, format: str = "raven"
) -> Path:
    """The run's detections for review: Raven selection tables (one per recording, in a
    folder) or one CSV. The run may be on object storage; ``dest`` is a local path."""
    events = read_detections(out_dir)
    dest = Path(dest)
    if format == "raven":
        dest.mkdir(parents=True, exist_ok=True)
        for recording, group in events.groupby("recording"):
            write_events(group, dest / f"{Path(recording).stem}.selections.txt", format="raven")
        return dest
    write_events(events, dest, format=format)
    return dest
