"""A cluster of processes on one machine, as Kubernetes runs it: a Dask scheduler and two worker
processes (`dask scheduler`, `dask worker`), the data on a real S3-compatible store (SeaweedFS,
the `s3_server` fixture). One worker is killed (SIGKILL, as a node lost or a pod evicted) while
it computes; the job must finish on the other with every output present exactly once.

Why it holds: tiles and recording batches are Dask tasks whose outputs have deterministic names
and are written atomically (a product COG and its item JSON; a batch's detections and ledger
written by the client only once its result arrives). A task lost with its worker is run again
on a survivor and writes the same names; nothing half written is ever listed."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from odc.geo.geobox import GeoBox

from ecointegrity import io
from ecointegrity.cube import LocalCatalog, get_profile, ingest_dataset, national_grid, tiles_for
from ecointegrity.cube.products import read_product
from ecointegrity.cube.simulate import simulate

distributed = pytest.importorskip("distributed")

BBOX = (-88.44, 18.63, -88.39, 18.66)  # about 5 x 3 km near Bacalar: 6 tiles of 64 px at 30 m
PRODUCTS = ["ndvi", "geomedian"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    address: str
    http: str  # the scheduler's HTTP server: /metrics for Prometheus
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)  # name -> process


def _start(args: list[str], log: Path) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    with log.open("wb") as out:
        # the environment (S3 endpoint and credentials of the s3_server fixture) is inherited
        return subprocess.Popen([str(dask), *args], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture
def cluster(s3_server, tmp_path) -> Iterator[Cluster]:
    """`dask scheduler` and two single-threaded `dask worker` processes without a nanny (a
    nanny would restart a killed worker: here the job must do without it)."""
    from distributed import Client

    port, http = _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--dashboard-address", f"127.0.0.1:{http}"], tmp_path / "scheduler.log")]
    made = Cluster(address, f"http://127.0.0.1:{http}")
    try:
        for name in ("worker-a", "worker-b"):
            made.workers[name] = _start(
                ["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--memory-limit", "4GB"],
                tmp_path / f"{name}.log",
            )
            procs.append(made.workers[name])
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield made
    finally:
        # workers first: a worker whose scheduler went first spends seconds reconnecting
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class Kill:
    """What the killer saw when it struck."""

    worker: str = ""
    tasks_on_it: list[str] = field(default_factory=list)
    at: float = 0.0


def kill_when_busy(cluster: Cluster, name: str, ready: threading.Event) -> Kill:
    """In a thread: SIGKILL worker ``name`` as soon as it is computing a task of the job."""
    from distributed import Client

    seen = Kill()

    def watch() -> None:
        # not the default client: closing it must not change the scheduler of the job's thread
        with Client(cluster.address, timeout=60, set_as_default=False) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                workers = client.scheduler_info()["workers"]
                address = next((a for a, w in workers.items() if w.get("name") == name), None)
                if address is not None:
                    busy = client.processing(workers=[address]).get(address, [])
                    if busy:
                        cluster.workers[name].kill()  # SIGKILL: no goodbye to the scheduler
                        seen.worker, seen.tasks_on_it, seen.at = name, list(busy), time.time()
                        break
                time.sleep(0.05)
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    return seen


def _prefix(s3_server, name: str) -> str:
    _, _, _, bucket = s3_server
    return f"s3://{bucket}/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def source_on_s3(s3_server):
    grid = national_grid("mexico", 30, 64)
    tiles = tiles_for(grid, BBOX)
    boxes = [t.geobox.boundingbox for t in tiles]
    full = GeoBox.from_bbox(
        (min(b.left for b in boxes), min(b.bottom for b in boxes),
         max(b.right for b in boxes), max(b.top for b in boxes)),
        grid.crs, resolution=30,
    )
    scenes = simulate(full, start_year=2021, end_year=2021, seed=4)
    source = LocalCatalog(_prefix(s3_server, "cluster-source"))
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(source, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    return source.root, tiles, full


def test_cluster_mosaic_job_survives_a_killed_worker(cluster, source_on_s3, s3_server, tmp_path):
    from distributed import Client

    from ecointegrity.mosaics import run_mosaics

    source, tiles, full = source_on_s3
    assert len(tiles) >= 6, "enough tiles that both workers get some"
    out = _prefix(s3_server, "cluster-products")
    killed = threading.Event()
    seen = kill_when_busy(cluster, "worker-a", killed)
    with Client(cluster.address, timeout=60) as client:
        run = run_mosaics(source, "sim", out, tiles, [2021], products=PRODUCTS,
                          scheduler=client, progress=False)
        assert killed.wait(30)
        survivors = [w["name"] for w in client.scheduler_info()["workers"].values()]
    finished = time.time()
    assert seen.worker == "worker-a" and seen.tasks_on_it, "the worker was killed while computing"
    assert seen.at < finished
    assert survivors == ["worker-b"]
    assert not run.failed, run.failed
    assert run.written == len(PRODUCTS) * len(tiles)
    # what Prometheus sees of the cluster (deploy/k8s scrapes the scheduler): one worker lost
    with urllib.request.urlopen(cluster.http + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert re.search(r"^dask_scheduler_workers_removed_total 1\.0$", metrics, re.M), metrics[:2000]

    cat = LocalCatalog(out)
    for product in PRODUCTS:
        ids = [item.id for item in cat.items(product)]
        assert len(ids) == len(tiles) == len(set(ids)), f"{product}: one item per tile, once"
    fs, root = io.filesystem(out)
    names = [p.rsplit("/", 1)[-1] for p in fs.find(root)]
    assert not [n for n in names if n.endswith(".tmp") or ".tmp." in n], "no temporary left"
    # every tile reads back and matches the same job run in this process
    local = LocalCatalog(tmp_path / "reference")
    reference = run_mosaics(source, "sim", local.root, tiles, [2021], products=["ndvi"],
                            progress=False)
    assert not reference.failed
    got = read_product(cat, "ndvi", 2021, full)["ndvi"].values
    want = read_product(local, "ndvi", 2021, full)["ndvi"].values
    assert np.isfinite(got).mean() > 0.5
    np.testing.assert_array_equal(got, want)


def test_cluster_detection_run_survives_a_killed_worker(cluster, s3_server, tmp_path):
    from ecointegrity.acoustics import detect_recordings, read_detections, write_synthetic_dataset

    pool = tmp_path / "pool"
    write_synthetic_dataset(pool, 10, duration_s=(1.0, 1.5), seed=9)
    prefix = _prefix(s3_server, "cluster-recordings")
    fs, path = io.filesystem(prefix)
    for wav in sorted(pool.glob("*.wav")):
        fs.put_file(str(wav), f"{path}/{wav.name}")
    glob = f"{prefix}/*.wav"
    reference = read_detections(detect_recordings(glob, tmp_path / "reference").out_dir)
    assert len(reference) > 0

    out = _prefix(s3_server, "cluster-detections")  # the run folder on S3 too
    killed = threading.Event()
    seen = kill_when_busy(cluster, "worker-a", killed)
    run = detect_recordings(glob, out, batch_files=1, scheduler=cluster.address)
    assert killed.wait(30)
    assert seen.worker == "worker-a" and seen.tasks_on_it
    assert not run.failed and run.processed == 10 and run.files == 10
    got = read_detections(out)
    assert len(got) == len(reference), (len(got), len(reference))
    key = [c for c in ("recording", "start_time", "end_time", "low_freq", "high_freq") if c in got]
    # float32 inference batches files differently (one a batch here): probabilities near 0
    # differ in the 8th decimal, hence an absolute tolerance too
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True),
        reference.sort_values(key).reset_index(drop=True),
        check_exact=False, rtol=1e-6, atol=1e-6,
    )
    again = detect_recordings(glob, out, batch_files=1, scheduler=cluster.address)
    assert again.processed == 0 and again.skipped == 10, "the finished run is whole: nothing redone"

