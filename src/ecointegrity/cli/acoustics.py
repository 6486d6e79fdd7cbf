"""``ecointegrity acoustics``: recordings, bat-call detection, training and evaluation;
anthropogenic sounds, soundscape indices and site evidence in audible recordings.

The acoustics package (PyTorch, audio libraries) is imported inside each command, so that the
rest of the command line starts without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..io import atomic_path, exists, is_local, join
from ._common import SOME_INPUTS_FAILED, SchedulerOpt, console, err, fail, progress_bar
from ._job_metrics import JobMetrics

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..acoustics import DetectionRun, TrainingRecording

__all__ = ["acoustics_app"]

acoustics_app = typer.Typer(
    help="Recordings: bat calls (scan, detect, train, evaluate), anthropogenic sounds, "
    "soundscape indices, site evidence.",
    no_args_is_help=True,
)

DeviceOpt = Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")]
BatchFilesOpt = Annotated[int, typer.Option(help="Files per batch (unit of work and of resume).")]
RerunOpt = Annotated[bool, typer.Option(help="Replace a run made with other parameters.")]
_SHARDS_HELP = (
    "Split the table into this many shards of near-equal audio duration, "
    "shards/shard-0000.parquet ... beside it (one per pod of the Kubernetes Job); "
    "shards of an earlier, wider split are removed."
)


@acoustics_app.command("scan")
def scan(
    source: Annotated[
        str, typer.Argument(help="Folder, glob ('data/**/*.WAV') or URL (s3://bucket/prefix).")
    ],
    # str, not Path: a Path option would turn s3://bucket into s3:/bucket
    out: Annotated[
        str, typer.Option(help="Recordings table (Parquet): a path or URL (s3://bucket/...).")
    ] = "recordings.parquet",
    shards: Annotated[int | None, typer.Option(min=1, help=_SHARDS_HELP)] = None,
) -> None:
    """Build the recordings table: header, GUANO and AudioMoth metadata of every file; broken
    files are listed with the reason, never fatal."""
    from ..acoustics import scan_recordings, write_recordings

    try:
        result = scan_recordings(source)
    except (FileNotFoundError, ValueError) as exc:
        fail(exc)
    written = write_recordings(result, out)
    console.print(str(result))
    for row in result.problems.itertuples():
        console.print(f"[yellow]skipped[/] {row.path}: {row.reason}")
    console.print("written: " + ", ".join(str(p) for p in written))
    if shards:
        _write_shards(result.table, out, shards)


@acoustics_app.command("shard")
def shard(
    table: Annotated[str, typer.Argument(help="Recordings table (.parquet): path or URL.")],
    shards: Annotated[int, typer.Option(min=1, help=_SHARDS_HELP)],
) -> None:
    """Split a recordings table into shards again (another --shards), without a new scan."""
    from ..acoustics import AcousticsError, read_recordings

    try:
        recordings = read_recordings(table)
    except (AcousticsError, FileNotFoundError, ValueError) as exc:
        fail(exc)
    _write_shards(recordings, table, shards)


def _write_shards(table: pd.DataFrame, beside: str, shards: int) -> None:
    """``shards/shard-NNNN.parquet`` in the folder of the table ``beside``."""
    from ..acoustics.io import write_recording_shards

    parent = str(Path(join(beside)).parent) if is_local(beside) else beside.rsplit("/", 1)[0]
    folder = join(parent, "shards")
    written = write_recording_shards(table, folder, shards)
    console.print(
        f"{len(written)} shards of {len(table)} recordings (balanced by audio duration) "
        f"-> {folder}/shard-0000.parquet ... shard-{len(written) - 1:04d}.parquet"
    )


def _run_detector(
    job: str, label: str, source: str, out: str | Path, **options: Any
) -> DetectionRun:
    """``detect_recordings`` with a progress bar and job metrics (:mod:`._job_metrics`); a bad
    input or model exits with its message."""
    from ..acoustics import AcousticsError, detect_recordings

    metrics = JobMetrics(job, "recording")

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        metrics.progress(done, total)

    with progress_bar() as bar:
        task = bar.add_task(label, total=None)
        try:
            run = detect_recordings(source, out, progress=progress, **options)
        except (AcousticsError, FileNotFoundError, ImportError, ValueError) as exc:
            fail(exc)
    metrics.failed(len(run.failed))
    return run


def _exit_if_recordings_failed(run: DetectionRun) -> None:
    """After the summary (which lists them): exit 3 when some recordings failed, so that a
    script does not take a partial run for a whole one. Warnings (a truncated file processed
    with what it holds) do not change the status."""
    if run.failed:
        err.print(
            f"[yellow]{len(run.failed)} recording(s) failed[/] (listed above); "
            f"exit status {SOME_INPUTS_FAILED}"
        )
        raise typer.Exit(SOME_INPUTS_FAILED)


@acoustics_app.command("detect")
def detect(
    source: Annotated[
        str, typer.Argument(help="Recordings table (.parquet), folder, glob or URL.")
    ],
    # str, not Path: a Path option would turn s3://bucket into s3:/bucket
    out: Annotated[
        str, typer.Option(help="Run folder (detections, ledger, run.json): path or URL.")
    ] = "detections",
    model: Annotated[
        str | None,
        typer.Option(help="Saved model (.pt), or 'batdetect2' (optional, non-commercial)."),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Minimum detection score (default: the model's).")
    ] = None,
    chunk: Annotated[
        float | None, typer.Option(help="Chunk length in seconds (default: the model's).")
    ] = None,
    device: DeviceOpt = None,
    batch_files: BatchFilesOpt = 16,
    scheduler: SchedulerOpt = None,
    overwrite: RerunOpt = False,
    export: Annotated[
        str | None, typer.Option(help="Also export for review: raven (tables) or csv.")
    ] = None,
) -> None:
    """Detect bat calls in every recording; re-running resumes an interrupted run.

    Exit status: 0 all processed, 3 finished but some recordings failed, 2 bad usage or input.
    """
    from ..acoustics import export_detections

    run = _run_detector(
        "acoustics-detect",
        "detecting",
        source,
        out,
        model=model,
        threshold=threshold,
        chunk_s=chunk,
        device=device,
        batch_files=batch_files,
        scheduler=scheduler,
        overwrite=overwrite,
    )
    console.print(str(run))
    console.print(
        f"model {run.parameters.get('model')} {run.parameters.get('model_version')}, "
        f"threshold {run.parameters.get('threshold')}, chunks {run.parameters.get('chunk_s')} s"
    )
    if export:
        # the review copy is local: in the run folder, or for a run on object storage in a
        # local folder named after it
        here = Path(join(out)) if is_local(out) else Path(out.rstrip("/").rsplit("/", 1)[-1])
        dest = here / ("raven" if export == "raven" else "detections.csv")
        console.print(f"exported: {export_detections(out, dest, format=export)}")
    _exit_if_recordings_failed(run)


@acoustics_app.command("train")
def train(
    out: Annotated[
        Path, typer.Option(help="Where to save the model (.pt; a .json card beside it).")
    ],
    annotations: Annotated[
        Path | None, typer.Option(help="Annotations (any format read_events reads).")
    ] = None,
    audio: Annotated[
        Path | None, typer.Option(help="Folder the annotations' recordings are relative to.")
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(help="Comma-separated class list (default: labels of the annotations)."),
    ] = None,
    base: Annotated[
        str | None, typer.Option(help="Fine-tune this model ('default' for the shipped one).")
    ] = None,
    synthetic: Annotated[
        int, typer.Option(help="Add this many recordings from the call generator.")
    ] = 0,
    background: Annotated[
        Path | None, typer.Option(help="Folder of recordings without calls (noise of your sites).")
    ] = None,
    steps: Annotated[
        int, typer.Option(help="Optimiser steps (batches of 16 crops of 0.5 s).")
    ] = 1500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    version: Annotated[str, typer.Option(help="Version recorded in the model.")] = "custom",
) -> None:
    """Train a detector (or fine-tune one, with a new class head for your species list)."""
    import numpy as np

    from ..acoustics import CALL_TYPES, load_detector, synthetic_training_set, train_detector

    recordings = _annotated_recordings(annotations, audio) if annotations is not None else []
    backgrounds = _background_noise(background) if background is not None else []
    if synthetic:
        recordings += synthetic_training_set(synthetic, seed=seed, backgrounds=backgrounds)
    if not recordings:
        why = "nothing to train on: give --annotations (and --audio) and/or --synthetic N"
        fail(ValueError(why))
    labels = sorted(
        {label for r in recordings for label in r.events["label"].astype(str)} - {"bat", "unknown"}
    )
    if classes:
        class_list = [c.strip() for c in classes.split(",")]
    else:
        class_list = labels or list(CALL_TYPES)
    base_model = load_detector(None if base == "default" else base) if base else None
    with progress_bar() as bar:
        task = bar.add_task("training", total=steps)
        model = train_detector(
            recordings,
            class_list,
            base=base_model,
            backgrounds=backgrounds,
            steps=steps,
            seed=seed,
            progress=lambda step, _n, loss: bar.update(
                task, completed=step, description=f"training (loss {loss:.3f})"
            ),
        )
    model.metadata["version"] = version
    path = model.save(out)
    n_events = int(np.sum([len(r.events) for r in recordings]))
    console.print(
        f"trained on {len(recordings)} recordings ({n_events} calls), classes {class_list}; "
        f"saved {path}"
    )


def _annotated_recordings(annotations: Path, audio: Path | None) -> list[TrainingRecording]:
    """The annotated recordings to train on; those that cannot be read are listed."""
    from ..acoustics import load_training_recordings, read_events

    try:
        table = read_events(annotations)
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
    recordings, problems = load_training_recordings(table, audio)
    for name, why in problems.items():
        err.print(f"[yellow]skipped[/] {name}: {why}")
    return recordings


def _background_noise(folder: Path) -> list[np.ndarray]:
    """First channel of every WAV/FLAC file under ``folder``; unreadable files are listed."""
    import soundfile as sf

    backgrounds = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac")):
        try:
            backgrounds.append(sf.read(str(path), dtype="float32", always_2d=True)[0][:, 0])
        except RuntimeError as exc:
            err.print(f"[yellow]skipped background[/] {path}: {exc}")
    return backgrounds


@acoustics_app.command("evaluate")
def evaluate_detections(
    predictions: Annotated[
        Path,
        typer.Argument(help="Detections (run folder, Parquet, CSV, Raven, batdetect2, AOEF)."),
    ],
    truth: Annotated[Path, typer.Argument(help="Annotations (same formats).")],
    threshold: Annotated[
        float, typer.Option(help="Score threshold for precision/recall/F1.")
    ] = 0.5,
    tolerance: Annotated[float, typer.Option(help="Start-time tolerance (s) for a match.")] = 0.01,
    plot: Annotated[
        Path | None, typer.Option(help="Write the precision-recall curve (PNG).")
    ] = None,
    report: Annotated[Path | None, typer.Option("--json", help="Write the report (JSON).")] = None,
) -> None:
    # One line: the group's command list shows a docstring's first line.
    """Detection AP (10 ms start tolerance, greedy by score), P/R/F1, per-class AP, mAP, confusion."""  # noqa: E501
    from ..acoustics import evaluate, plot_precision_recall, read_events

    try:
        predicted = _read_event_source(predictions)
        true = read_events(truth)
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
    result = evaluate(predicted, true, threshold=threshold, tolerance_s=tolerance)
    console.print(result.summary())
    if plot:
        console.print(f"precision-recall plot: {plot_precision_recall(result, plot)}")
    if report:
        report.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        console.print(f"report: {report}")


@acoustics_app.command("passes")
def passes(
    detections: Annotated[
        Path, typer.Argument(help="Bat detections (run folder, Parquet, CSV, Raven, ...).")
    ],
    out: Annotated[Path, typer.Option(help="Pass table: .csv or .parquet.")] = Path("passes.csv"),
    max_gap: Annotated[
        float, typer.Option(help="Silence (s) that ends a pass.")
    ] = 1.0,
    min_calls: Annotated[int, typer.Option(help="Leave out passes with fewer calls.")] = 1,
) -> None:
    """One row per bat pass: its calls, time span and class (score-weighted over its calls)."""
    from ..acoustics import summarise_passes

    try:
        table = summarise_passes(
            _read_event_source(detections), max_gap_s=max_gap, min_calls=min_calls
        )
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
    with atomic_path(out, suffix=out.suffix) as tmp:
        if out.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
    console.print(
        f"{len(table)} passes in {table['recording'].nunique()} recordings "
        f"(gap {max_gap:g} s, at least {min_calls} call(s)): {out}"
    )


@acoustics_app.command("clips")
def clips(
    detections: Annotated[
        Path, typer.Argument(help="Detections (run folder, Parquet, CSV, Raven, ...).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the clips and clips.csv.")] = Path(
        "clips"
    ),
    label: Annotated[
        list[str] | None, typer.Option(help="Only events of this label (repeatable).")
    ] = None,
    pad: Annotated[float, typer.Option(help="Seconds of context either side.")] = 1.0,
) -> None:
    """WAV clips of detections for listening, human speech silenced (never exported)."""
    from ..acoustics.clips import export_clips

    try:
        events = _read_event_source(detections)
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
    if label:
        events = events[events["label"].isin(label)]
    with progress_bar() as bar:
        task = bar.add_task("clips", total=len(events))
        try:
            export = export_clips(
                events, out, pad_s=pad, progress=lambda done: bar.update(task, completed=done)
            )
        except ValueError as exc:
            fail(exc)
    console.print(str(export))


def _read_event_source(path: Path) -> pd.DataFrame:
    """Events of a run folder (it has a run.json) or of an event file in any format."""
    from ..acoustics import read_detections, read_events

    return read_detections(path) if exists(join(path, "run.json")) else read_events(path)


@acoustics_app.command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder for the WAV files and annotations.")],
    n: Annotated[int, typer.Option(help="Recordings to write.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    sample_rate: Annotated[int, typer.Option(help="Sample rate (Hz).")] = 256_000,
) -> None:
    """Write synthetic bat recordings (docs/synthetic-bat-calls.md) with their annotations."""
    from ..acoustics import write_synthetic_dataset

    table = write_synthetic_dataset(out, n, seed=seed, sample_rate=sample_rate)
    console.print(
        f"{n} recordings, {len(table)} calls -> {out} (annotations.parquet, annotations.csv)"
    )


def _event_file_format(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        fail(ValueError(f"{out}: events are written as .csv or .parquet, not {suffix!r}"))
    return "csv" if suffix == ".csv" else "parquet"


@acoustics_app.command("anthropogenic")
def anthropogenic(
    source: Annotated[
        str, typer.Argument(help="Recordings table (.parquet), folder, glob or URL.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Events (recording, start_time, end_time, label, score...): .csv or .parquet."
        ),
    ] = Path("anthropogenic.csv"),
    model: Annotated[
        str,
        typer.Option(help="'anthropogenic' (the shipped model) or a saved anthropogenic-*.pt."),
    ] = "anthropogenic",
    threshold: Annotated[
        float | None,
        typer.Option(help="One score threshold for every class (default: the model's, per class)."),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (resumable parts); default: beside --out.")
    ] = None,
    device: DeviceOpt = None,
    batch_files: BatchFilesOpt = 8,
    scheduler: SchedulerOpt = None,
    overwrite: RerunOpt = False,
) -> None:
    """Gunshots, chainsaws, vehicles, voices, dogs... in audible recordings: timed events per
    class; re-running resumes an interrupted run.

    Exit status: 0 all processed, 3 finished but some recordings failed, 2 bad usage or input.
    """
    from ..acoustics import (
        is_anthropogenic_model,
        read_detections,
        write_events,
    )

    event_format = _event_file_format(out)
    if not is_anthropogenic_model(model):
        why = "not an anthropogenic-sound model (give 'anthropogenic' or an anthropogenic-*.pt)"
        fail(ValueError(f"{model}: {why}"))
    run_dir = run_dir or out.with_name(out.stem + "-run")
    run = _run_detector(
        "acoustics-anthropogenic",
        "listening",
        source,
        run_dir,
        model=model,
        threshold=threshold,
        device=device,
        batch_files=batch_files,
        scheduler=scheduler,
        overwrite=overwrite,
    )
    events = read_detections(run_dir)
    write_events(events, out, format=event_format)
    console.print(str(run))
    counts = events["label"].value_counts()
    console.print(
        "events by class: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
    )
    console.print(f"written: {out} (run folder {run_dir})")
    _exit_if_recordings_failed(run)


@acoustics_app.command("indices")
def indices(
    source: Annotated[
        str,
        typer.Argument(help="Recordings table (.parquet), folder or glob of audible recordings."),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder: parts/ (resumable) and indices.parquet.")
    ] = Path("indices"),
    segment: Annotated[
        float, typer.Option(help="Segment length in seconds (one row per segment).")
    ] = 60.0,
    workers: Annotated[int, typer.Option(help="Processes analysing recordings side by side.")] = 1,
    false_colour: Annotated[
        Path | None, typer.Option(help="Also write a false-colour PNG per site and day here.")
    ] = None,
) -> None:
    """Soundscape indices (scikit-maad: ACI, ADI, AEI, BI, NDSI, entropies...) per segment,
    with site and time; optionally long-duration false-colour spectrograms."""
    import pandas as pd

    from ..acoustics import (
        false_colour_by_site_day,
        indices_for_recordings,
        read_recordings,
        scan_recordings,
    )

    try:
        if source.endswith(".parquet"):
            table = read_recordings(source)
        else:
            table = scan_recordings(source, progress=False).table
        run = indices_for_recordings(table, out, segment_s=segment, workers=workers)
    except (FileNotFoundError, ValueError) as exc:
        fail(exc)
    console.print(
        f"{run.computed} recordings analysed ({run.skipped} already done), "
        f"{len(run.problems)} failed; "
        f"{len(run.indices)} segments -> {out / 'indices.parquet'}; "
        f"{run.audio_hours_per_cpu_hour:,.0f} audio hours per CPU-hour"
    )
    for row in run.problems.itertuples():
        console.print(f"[yellow]skipped[/] {row.path}: {row.reason}")
    if false_colour is not None:
        pngs = false_colour_by_site_day(
            pd.DataFrame(table), false_colour, indices_dir=out, segment_s=segment
        )
        console.print(f"false-colour spectrograms: {len(pngs)} PNG in {false_colour}")


@acoustics_app.command("evidence")
def evidence(
    recordings: Annotated[
        Path, typer.Argument(help="Recordings table (.parquet, from `acoustics scan`).")
    ],
    out: Annotated[Path, typer.Option(help="Site evidence table: .parquet or .csv.")] = Path(
        "site-evidence.parquet"
    ),
    bats: Annotated[
        Path | None, typer.Option(help="Bat detections: a run folder or an event file.")
    ] = None,
    anthropogenic: Annotated[
        Path | None, typer.Option(help="Anthropogenic events: a run folder or an event file.")
    ] = None,
    indices: Annotated[
        Path | None,
        typer.Option(help="Indices: a folder of `acoustics indices` or its indices.parquet."),
    ] = None,
    period: Annotated[str, typer.Option(help="day, week, month, season, year or all.")] = "month",
    min_hours: Annotated[
        float, typer.Option(help="Flag sites/periods with fewer recording hours.")
    ] = 2.0,
    min_nights: Annotated[int, typer.Option(help="Flag sites/periods with fewer nights.")] = 2,
) -> None:
    """Per site and period: effort, bat passes per night and call types, anthropogenic events
    per 100 recording-hours with confidence intervals, index summaries, coordinates."""
    import pandas as pd

    from ..acoustics import (
        ANTHROPOGENIC_CLASSES,
        AcousticsError,
        read_indices,
        read_recordings,
        site_evidence,
        write_evidence,
    )

    try:
        table = read_recordings(recordings)
        index_table = None
        if indices is not None:
            index_table = read_indices(indices) if indices.is_dir() else pd.read_parquet(indices)
        result = site_evidence(
            table,
            bat_detections=_read_event_source(bats) if bats is not None else None,
            anthropogenic=_read_event_source(anthropogenic) if anthropogenic is not None else None,
            indices=index_table,
            period=period,
            min_hours=min_hours,
            min_nights=min_nights,
            classes=ANTHROPOGENIC_CLASSES if anthropogenic is not None else None,
        )
        write_evidence(result, out)
    except (AcousticsError, FileNotFoundError, ValueError) as exc:
        fail(exc)
    low = int(result["low_effort"].sum())
    console.print(
        f"{len(result)} site-periods ({result['site'].nunique()} sites), "
        f"{low} flagged low effort -> {out}"
    )
