"""Acoustic detection with everything on object storage, as the Kubernetes Job runs it:
recordings, their shards and the run folders on S3 (SeaweedFS started by the `s3_server`
fixture)."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecointegrity import io


def _prefix(s3_server, name: str) -> str:
    _, _, _, bucket = s3_server
    return f"s3://{bucket}/{name}-{uuid.uuid4().hex[:8]}"


class Killed(RuntimeError):
    pass


def _kill_after(n: int):
    def progress(done: int, total: int) -> None:
        if done >= n:
            raise Killed(f"killed after {done} of {total}")

    return progress


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Twelve synthetic bat recordings of unequal length, on local disk."""
    from ecointegrity.acoustics import write_synthetic_dataset

    folder = tmp_path_factory.mktemp("pool")
    write_synthetic_dataset(folder, 12, duration_s=(0.3, 1.5), seed=5)
    return folder


def _upload(pool, prefix: str) -> list[str]:
    fs, path = io.filesystem(prefix)
    for wav in sorted(pool.glob("*.wav")):
        fs.put_file(str(wav), f"{path}/{wav.name}")
    return [f"{prefix}/{wav.name}" for wav in sorted(pool.glob("*.wav"))]


def _sorted(events: pd.DataFrame) -> pd.DataFrame:
    key = ["recording", "start_time", "end_time", "low_freq", "high_freq", "label"]
    return events.sort_values(key).reset_index(drop=True)


def test_s3_run_folder_resumes_after_a_kill_with_the_detections_of_a_whole_run(s3_server, pool):
    from ecointegrity.acoustics import (
        RunConflict,
        detect_recordings,
        read_detections,
        read_file_ledger,
    )

    recordings = _upload(pool, _prefix(s3_server, "recordings"))
    glob = recordings[0].rsplit("/", 1)[0] + "/*.wav"
    whole = _prefix(s3_server, "whole")
    run = detect_recordings(glob, whole, batch_files=6)
    assert run.out_dir == whole  # the URL itself, not a Path that would read "s3:/..."
    reference = read_detections(whole)
    assert len(reference) > 0

    out = _prefix(s3_server, "killed")
    with pytest.raises(Killed):
        detect_recordings(glob, out, batch_files=2, progress=_kill_after(4))
    assert len(io.glob(f"{out}/files/part-*.parquet")) == 2
    assert not io.exists(f"{out}/detections.parquet")  # an unfinished run has no whole table
    # a kill between a part's two writes: detections without their ledger part
    fs, path = io.filesystem(out)
    fs.copy(f"{path}/detections/part-00000.parquet", f"{path}/detections/part-00042.parquet")
    assert len(read_file_ledger(out)) == 4

    resumed = detect_recordings(glob, out, batch_files=6)
    assert (resumed.skipped, resumed.processed, resumed.files) == (4, 8, 12)
    assert not io.exists(f"{out}/detections/part-00042.parquet")  # the orphan is gone
    ledger = read_file_ledger(out)
    assert sorted(ledger["path"]) == recordings and (ledger["status"] == "ok").all()
    got = read_detections(out)
    pd.testing.assert_frame_equal(_sorted(got), _sorted(reference), check_exact=False, rtol=1e-6)
    # the consolidated tables are on S3 and hold the same run
    with fs.open(f"{path}/detections.parquet") as f:
        consolidated = pd.read_parquet(f)
    pd.testing.assert_frame_equal(_sorted(consolidated), _sorted(got))
    with fs.open(f"{path}/files.parquet") as f:
        assert sorted(pd.read_parquet(f)["path"]) == recordings

    again = detect_recordings(glob, out, batch_files=6)  # nothing left: all skipped
    assert (again.skipped, again.processed) == (12, 0)
    with pytest.raises(RunConflict):
        detect_recordings(glob, out, threshold=0.9)


def test_s3_overwrite_replaces_a_run_and_exports_locally(s3_server, pool, tmp_path):
    from ecointegrity.acoustics import detect_recordings, export_detections, read_detections

    recordings = _upload(pool, _prefix(s3_server, "few"))[:3]
    out = _prefix(s3_server, "overwrite")
    detect_recordings(recordings, out, batch_files=1, threshold=0.2)
    assert len(io.glob(f"{out}/detections/part-*.parquet")) == 3
    rerun = detect_recordings(recordings[:2], out, batch_files=2, threshold=0.6, overwrite=True)
    assert rerun.processed == 2 and rerun.skipped == 0
    # the old run's parts are gone: one part of two recordings is all the folder holds
    assert [p.rsplit("/", 1)[-1] for p in io.glob(f"{out}/files/part-*.parquet")] == [
        "part-00000.parquet"
    ]
    events = read_detections(out)
    assert set(events["recording"]) <= set(recordings[:2]) and (events["score"] >= 0.6).all()
    csv = export_detections(out, tmp_path / "review.csv", format="csv")
    assert len(pd.read_csv(csv)) == len(events)


def test_split_recordings_balances_audio_and_is_deterministic(pool):
    from ecointegrity.acoustics import scan_recordings
    from ecointegrity.acoustics.io import split_recordings

    table = scan_recordings(str(pool), progress=False).table
    shards = split_recordings(table, 5)
    assert len(shards) == 5
    assert sorted(pd.concat(shards)["path"]) == sorted(table["path"])
    seconds = [float(s["duration_s"].sum()) for s in shards]
    # greedy longest-first: the spread never exceeds the longest recording
    assert max(seconds) - min(seconds) <= float(table["duration_s"].max()) + 1e-9
    again = split_recordings(table.sample(frac=1, random_state=1), 5)  # row order plays no part
    for a, b in zip(shards, again, strict=True):
        assert list(a["path"]) == list(b["path"])
    many = split_recordings(table, 20)  # more shards than recordings: empty ones, still tables
    assert sum(len(s) for s in many) == len(table) and min(len(s) for s in many) == 0
    with pytest.raises(ValueError):
        split_recordings(table, 0)


def test_s3_shards_cover_every_recording_once_and_resharding_leaves_none_stale(s3_server, pool):
    from ecointegrity.acoustics import read_recordings, scan_recordings
    from ecointegrity.acoustics.io import write_recording_shards

    table = scan_recordings(str(pool), progress=False).table
    folder = _prefix(s3_server, "recordings") + "/shards"

    def listed() -> list[str]:
        return [p.rsplit("/", 1)[-1] for p in io.glob(f"{folder}/shard-*.parquet")]

    written = write_recording_shards(table, folder, 5)
    assert listed() == [f"shard-{k:04d}.parquet" for k in range(5)]
    assert written == [f"{folder}/shard-{k:04d}.parquet" for k in range(5)]
    paths = pd.concat([read_recordings(p) for p in written])["path"]
    assert paths.is_unique and sorted(paths) == sorted(table["path"])

    written = write_recording_shards(table, folder, 2)
    assert listed() == ["shard-0000.parquet", "shard-0001.parquet"]
    shards = [read_recordings(p) for p in written]
    assert all(len(s) for s in shards)
    paths = pd.concat(shards)["path"]
    assert paths.is_unique and sorted(paths) == sorted(table["path"])


def test_cli_scans_to_s3_in_shards_and_detects_one_shard_into_s3(s3_server, pool):
    from ecointegrity.acoustics import read_detections, read_file_ledger, read_recordings
    from ecointegrity.cli import app

    root = _prefix(s3_server, "root")  # as $ECOINTEGRITY_DATA_ROOT in deploy/k8s
    recordings = _upload(pool, f"{root}/audio")
    runner = CliRunner()
    table = f"{root}/recordings/recordings.parquet"
    scan = runner.invoke(
        app, ["acoustics", "scan", f"{root}/audio/*.wav", "--out", table, "--shards", "3"]
    )
    assert scan.exit_code == 0, scan.output
    assert sorted(read_recordings(table)["path"]) == recordings
    shard = f"{root}/recordings/shards/shard-0001.parquet"
    in_shard = sorted(read_recordings(shard)["path"])
    assert 0 < len(in_shard) < len(recordings)

    out = f"{root}/detections/bats-2024/shard-0001"
    detect = runner.invoke(
        app, ["acoustics", "detect", shard, "--out", out, "--batch-files", "2"]
    )
    assert detect.exit_code == 0, detect.output
    assert io.exists(f"{out}/run.json") and io.exists(f"{out}/detections.parquet")
    assert sorted(read_file_ledger(out)["path"]) == in_shard
    assert set(read_detections(out)["recording"]) <= set(in_shard)

    reshard = runner.invoke(app, ["acoustics", "shard", table, "--shards", "2"])
    assert reshard.exit_code == 0, reshard.output
    assert [p.rsplit("/", 1)[-1] for p in io.glob(f"{root}/recordings/shards/*.parquet")] == [
        "shard-0000.parquet", "shard-0001.parquet"
    ]
