"""Batch jobs report their progress for Prometheus (``ECOINTEGRITY_METRICS_PORT``): units
planned, finished and failed, and when the job last advanced."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from ecointegrity.cli import app
from ecointegrity.cli._job_metrics import JobMetrics
from ecointegrity.config import get_settings
from ecointegrity.cube import national_grid, run_tiles, tiles_for

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _fails_on_second(tile):
    if tile.id == _fails_on_second.bad:
        raise OSError("disk full")
    return tile.id


def test_tile_progress_counts_done_and_failed():
    tiles = tiles_for(national_grid("mexico", 30, 64), (-88.44, 18.63, -88.39, 18.66))[:3]
    _fails_on_second.bad = tiles[1].id
    metrics = JobMetrics("mosaic", "tile-year", port=0)
    metrics.planned(len(tiles))
    started = time.time()
    run = run_tiles(_fails_on_second, tiles, progress=False, on_tile=metrics.on_tile)
    assert list(run.failed) == [tiles[1].id]
    got = _samples(generate_latest(metrics.registry).decode())
    labels = (("job", "mosaic"), ("unit", "tile-year"))
    assert got[("ecointegrity_job_units", labels)] == 3
    assert got[("ecointegrity_job_units_done", labels)] == 3
    assert got[("ecointegrity_job_units_failed", labels)] == 1
    last = got[("ecointegrity_job_last_progress_timestamp_seconds", (("job", "mosaic"),))]
    assert started <= last <= time.time()


@pytest.fixture
def metrics_port(monkeypatch):
    port = _free_port()
    monkeypatch.setenv("ECOINTEGRITY_METRICS_PORT", str(port))
    get_settings.cache_clear()
    yield port
    get_settings.cache_clear()


def test_detect_serves_its_progress(metrics_port, tmp_path):
    from ecointegrity.acoustics import write_synthetic_dataset

    audio = tmp_path / "audio"
    write_synthetic_dataset(audio, 3, duration_s=(0.5, 0.6), seed=3)
    (audio / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    result = runner.invoke(app, ["acoustics", "detect", str(audio), "--out", str(tmp_path / "run")])
    assert result.exit_code == 3, result.output
    # the job's server outlives the command in this process (a daemon thread): its last state
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        got = _samples(r.read().decode())
    labels = (("job", "acoustics-detect"), ("unit", "recording"))
    assert got[("ecointegrity_job_units", labels)] == 4
    assert got[("ecointegrity_job_units_done", labels)] == 4
    assert got[("ecointegrity_job_units_failed", labels)] == 1


def test_metrics_port_is_checked():
    from pydantic import ValidationError

    from ecointegrity.config import Settings

    with pytest.raises(ValidationError, match="metrics_port"):
        Settings(metrics_port=70000)
