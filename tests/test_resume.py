"""Resumable detection runs keyed by recording: another batch size, files added, removed or
changed between runs, truncated recordings reported; every recording processed exactly once."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ecointegrity.acoustics import (
    detect_recordings,
    load_detector,
    read_detections,
    read_file_ledger,
    write_synthetic_dataset,
)


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """40 short synthetic recordings (the cheapest real input of the bat detector)."""
    root = tmp_path_factory.mktemp("pool")
    write_synthetic_dataset(root, 40, duration_s=(0.5, 1.0), seed=5)
    return root


def _wavs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"))


def _raw_ledger(out: Path) -> pd.DataFrame:
    """Every row of every ledger part, superseded ones included."""
    return pd.concat([pd.read_parquet(p) for p in sorted((out / "files").glob("part-*.parquet"))],
                     ignore_index=True)


def _raw_detections(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((out / "detections").glob("part-*.parquet"))],
                     ignore_index=True)


class Killed(RuntimeError):
    pass


def _kill_after(files: int):
    def progress(done: int, total: int) -> None:
        if done >= files:
            raise Killed(f"killed after {done} of {total} files")
    return progress


def test_resume_with_a_larger_batch_processes_every_recording_once(pool, tmp_path):
    paths = {str(p) for p in _wavs(pool)}
    reference = detect_recordings(pool, tmp_path / "whole", batch_files=16)
    out = tmp_path / "killed"
    with pytest.raises(Killed):
        detect_recordings(pool, out, batch_files=4, progress=_kill_after(12))
    assert len(list((out / "files").glob("part-*.parquet"))) == 3
    assert not (out / "detections.parquet").exists()

    resumed = detect_recordings(pool, out, batch_files=16)
    # before: "0 processed (40 already done)" with 12 of 40 done
    assert (resumed.skipped, resumed.processed, resumed.files) == (12, 28, 40)
    raw = _raw_ledger(out)
    assert not raw["path"].duplicated().any() and set(raw["path"]) == paths
    ledger = read_file_ledger(out)
    assert set(ledger["path"]) == paths and len(ledger) == 40 and (ledger["status"] == "ok").all()
    got = read_detections(out)
    assert set(got["recording"]) <= paths and len(got) == reference.detections > 0
    assert not got.duplicated(["recording", "start_time", "low_freq"]).any()
    assert len(_raw_detections(out)) == len(got)  # nothing written twice, even superseded
    pd.testing.assert_frame_equal(got, read_detections(tmp_path / "whole"), check_exact=False, atol=1e-5)
    assert len(pd.read_parquet(out / "detections.parquet")) == len(got)

    doc = json.loads((out / "run.json").read_text())
    assert doc["batch_files"] == 16 and {i["path"] for i in doc["inputs"]} == paths
    assert all(i["size_bytes"] > 0 and i["modified"] for i in doc["inputs"])
    again = detect_recordings(pool, out, batch_files=3)
    assert (again.processed, again.skipped) == (0, 40)


def test_files_added_removed_or_changed_before_resuming(pool, tmp_path):
    wavs = _wavs(pool)
    source = tmp_path / "card"
    source.mkdir()
    for p in wavs[:20]:
        shutil.copy(p, source)
    out = tmp_path / "run"
    first = detect_recordings(source, out, batch_files=4)
    assert first.processed == 20

    for p in wavs[20:28]:  # new recordings arrive
        shutil.copy(p, source)
    gone = source / wavs[0].name
    gone.unlink()  # one is taken away
    changed = source / wavs[1].name  # one is replaced by another recording
    shutil.copy(wavs[30], changed)
    os.utime(changed, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    resumed = detect_recordings(source, out, batch_files=16)
    assert resumed.files == 27 and resumed.processed == 9 and resumed.skipped == 18
    assert resumed.changed == [str(changed)]
    assert resumed.removed == [str(gone)]
    assert "no longer in the source: their results are kept" in str(resumed)
    assert "changed since an earlier run: redone" in str(resumed)

    raw = _raw_ledger(out)
    counts = raw["path"].value_counts()
    assert counts[str(changed)] == 2 and (counts.drop(str(changed)) == 1).all()
    assert set(raw["path"]) == {str(p) for p in _wavs(source)} | {str(gone)}
    ledger = read_file_ledger(out)
    assert len(ledger) == 28 and not ledger["path"].duplicated().any()  # the removed one kept
    row = ledger.set_index("path").loc[str(changed)]
    assert row.size_bytes == changed.stat().st_size and row.modified == str(changed.stat().st_mtime_ns)

    got = read_detections(out)
    assert not got.duplicated(["recording", "start_time", "low_freq"]).any()
    # the changed recording's events are those of its new content, not both
    fresh = load_detector().detect_file(changed, recording=str(changed))
    mine = got[got["recording"] == str(changed)].reset_index(drop=True)
    assert len(mine) == len(fresh)
    np.testing.assert_allclose(mine["start_time"], fresh.sort_values("start_time")["start_time"], atol=1e-5)
    doc = json.loads((out / "run.json").read_text())
    assert doc["removed"] == [str(gone)] and len(doc["inputs"]) == 27


def test_truncated_recording_is_processed_with_a_warning(pool, tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    shutil.copy(_wavs(pool)[2], folder / "whole.wav")
    audio, rate = sf.read(_wavs(pool)[3], dtype="int16")
    long = np.tile(audio, 10)[: int(3.7 * rate)]
    assert len(long) == int(3.7 * rate)
    sf.write(folder / "cut.wav", long, rate, subtype="PCM_16")
    data = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: 44 + int(1.2 * rate) * 2])

    run = detect_recordings(folder, tmp_path / "run")
    cut = str(folder / "cut.wav")
    assert run.processed == 2 and not run.failed
    assert run.warnings == {cut: run.warnings[cut]}
    assert run.warnings[cut].startswith("truncated: 1.2 of 3.7 s read")
    assert f"warning: {cut}: truncated: 1.2 of 3.7 s read" in str(run)
    ledger = read_file_ledger(tmp_path / "run").set_index("path")
    assert ledger.loc[cut, "status"] == "ok" and ledger.loc[cut, "warning"].startswith("truncated")
    assert ledger.loc[cut, "audio_s"] == pytest.approx(1.2, abs=0.01)
    assert ledger.loc[str(folder / "whole.wav"), "warning"] == ""


def test_bad_batch_size_names_the_parameter(pool, tmp_path):
    with pytest.raises(ValueError, match="batch_files=0"):
        detect_recordings(pool, tmp_path / "run", batch_files=0)
