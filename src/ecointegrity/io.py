"""Files on local paths and object storage (fsspec): atomic writes, JSON in and out.

The project's one file helper, below every part. Local writes go to a temporary file in the
destination folder, then ``os.replace``: readers never see a half-written file and a crash leaves
no partial output. Object stores make a single PUT atomic by themselves. ``json_ready`` turns
numpy scalars and NaN into what ``json.dumps`` writes as valid JSON.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

__all__ = [
    "atomic_path",
    "exists",
    "is_local",
    "join",
    "json_ready",
    "read_json",
    "write_bytes_atomic",
    "write_json_atomic",
]


def is_local(location: str | os.PathLike) -> bool:
    s = str(location)
    return "://" not in s or s.startswith("file://")


def _local(location: str | os.PathLike) -> Path:
    s = str(location)
    return Path(s[len("file://") :] if s.startswith("file://") else s)


def join(base: str | os.PathLike, *parts: str) -> str:
    if is_local(base):
        return str(_local(base).joinpath(*parts))
    return "/".join([str(base).rstrip("/"), *parts])


def exists(location: str | os.PathLike) -> bool:
    if is_local(location):
        return _local(location).exists()
    fs, path = fsspec.core.url_to_fs(str(location))
    return fs.exists(path)


# mkstemp makes 0600 files; a finished output gets the mode any new file would (0644 under
# the usual umask), so other users and services (QGIS, a web server) can read it. Read once,
# at import, because reading the umask means setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_path(destination: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """A local temporary path that becomes ``destination`` when the block succeeds.

    For remote destinations the file is uploaded after the block; on error nothing is left.
    """
    if is_local(destination):
        dest = _local(destination)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # the real suffix last: some drivers (GeoPackage) insist on their extension
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp" + suffix, dir=dest.parent)
        os.close(fd)
        try:
            yield tmp
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        fd, tmp = tempfile.mkstemp(suffix=suffix)
        os.close(fd)
        try:
            yield tmp
            fs, path = fsspec.core.url_to_fs(str(destination))
            fs.put_file(tmp, path)
        finally:
            os.unlink(tmp)


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> None:
    if is_local(destination):
        with atomic_path(destination) as tmp:
            Path(tmp).write_bytes(data)
    else:
        fs, path = fsspec.core.url_to_fs(str(destination))
        fs.pipe_file(path, data)


def write_json_atomic(destination: str | os.PathLike, obj: Any, default: Callable | None = None) -> None:
    write_bytes_atomic(destination, json.dumps(obj, indent=1, default=default).encode())


def read_json(location: str | os.PathLike) -> Any:
    if is_local(location):
        return json.loads(_local(location).read_text())
    with fsspec.open(str(location), "rt") as f:
        return json.load(f)




def json_ready(value: Any) -> Any:
    """Numpy scalars to Python ones and NaN to None, so `json.dumps` writes valid JSON."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
