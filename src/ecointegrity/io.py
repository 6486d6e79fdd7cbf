"""Files on local paths and object storage (fsspec): atomic writes, JSON in and out.

The project's one file helper, below every part. Local writes go to a temporary file in the
destination folder, then ``os.replace``: readers never see a half-written file and a crash leaves
no partial output. Object stores make an upload atomic by themselves: an S3 object appears
whole when its single PUT (or its multipart upload's completion) succeeds and never in part, and
S3 (as SeaweedFS, MinIO, Ceph) reads after a write see the new object. ``json_ready`` turns
numpy scalars and NaN into what ``json.dumps`` writes as valid JSON.

Object storage: any S3-compatible store. Credentials and endpoint come from the standard
environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3``; ``ECOINTEGRITY_S3_ENDPOINT`` overrides both),
which s3fs (fsspec) reads through :func:`storage_options` and GDAL through
:func:`gdal_s3_options` (``AWS_S3_ENDPOINT`` without the scheme, ``AWS_HTTPS``,
``AWS_VIRTUAL_HOSTING=FALSE``: path-style requests, which every S3-compatible server answers).
"""

from __future__ import annotations

import glob as _glob
import json
import math
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
import numpy as np

__all__ = [
    "atomic_path",
    "configure_gdal_s3",
    "exists",
    "filesystem",
    "gdal_path",
    "gdal_s3_options",
    "glob",
    "s3_endpoint",
    "stat",
    "storage_options",
    "is_local",
    "join",
    "json_ready",
    "read_bytes",
    "read_json",
    "remove",
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


def s3_endpoint() -> str | None:
    """The S3 endpoint URL (``http://host:port``) from the environment; None: AWS itself."""
    for name in ("ECOINTEGRITY_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            return value.rstrip("/")
    return None


def storage_options(location: str | os.PathLike) -> dict[str, Any]:
    """fsspec options for a URL: for ``s3://`` the endpoint, and no cached listings.

    A cached listing would hide what another process wrote (a catalog's new item) from this
    one, so every ``exists`` and ``ls`` asks the store.
    """
    if not str(location).startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, Any] = {"use_listings_cache": False}
    endpoint = s3_endpoint()
    if endpoint:
        options["client_kwargs"] = {"endpoint_url": endpoint}
    return options


def filesystem(location: str | os.PathLike) -> tuple[Any, str]:
    """The fsspec filesystem of a URL (object-store settings applied) and its path on it."""
    s = str(location)
    return fsspec.core.url_to_fs(s, **storage_options(s))


def gdal_s3_options() -> dict[str, str]:
    """GDAL configuration for /vsis3 matching :func:`s3_endpoint` ({} for AWS itself).

    Credentials are not copied: GDAL reads ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``
    from the environment as s3fs does.
    """
    endpoint = s3_endpoint()
    if not endpoint:
        return {}
    parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
    return {
        "AWS_S3_ENDPOINT": parts.netloc + parts.path.rstrip("/"),
        "AWS_HTTPS": "NO" if parts.scheme == "http" else "YES",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


def configure_gdal_s3() -> dict[str, str]:
    """Put :func:`gdal_s3_options` into the process environment (values already set win).

    GDAL falls back to environment variables for any configuration option, so every reader in
    the process (rasterio, odc-stac, the tile renderer, VRTs opening their sources lazily)
    reaches the same endpoint without each passing options. Returns the options applied.
    """
    options = gdal_s3_options()
    for key, value in options.items():
        os.environ.setdefault(key, value)
    return {k: os.environ[k] for k in options}


def gdal_path(location: str | os.PathLike) -> str:
    """The name GDAL opens: ``s3://bucket/key`` -> ``/vsis3/bucket/key``; others unchanged.

    rasterio converts ``s3://`` itself, but a VRT's source file names reach GDAL as written.
    """
    s = str(location)
    for scheme in ("s3://", "s3a://"):
        if s.startswith(scheme):
            return "/vsis3/" + s[len(scheme) :]
    if s.startswith("file://"):
        return s[len("file://") :]
    return s


def exists(location: str | os.PathLike) -> bool:
    if is_local(location):
        return _local(location).exists()
    fs, path = filesystem(location)
    return fs.exists(path)


def glob(pattern: str | os.PathLike) -> list[str]:
    """Files matching a glob pattern, local or remote, sorted: local paths, or URLs with the
    pattern's scheme so that they can be passed back to any helper here."""
    if is_local(pattern):
        return sorted(p for p in _glob.glob(str(_local(pattern))) if os.path.isfile(p))
    fs, path = filesystem(pattern)
    scheme = str(pattern).split("://", 1)[0]
    found = fs.glob(path, detail=True)  # with each entry's type: no request per entry
    return sorted(f"{scheme}://{p}" for p, i in found.items() if i.get("type") != "directory")


def remove(location: str | os.PathLike) -> None:
    """Delete a file, local or remote; a missing one is not an error (the goal is its absence)."""
    if is_local(location):
        _local(location).unlink(missing_ok=True)
        return
    fs, path = filesystem(location)
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass


def stat(location: str | os.PathLike) -> tuple[int, int] | None:
    """(modification time in ns, size) of a file, local or remote; None when it is missing.

    On object storage the time is the object's ``LastModified`` (whole seconds) mixed with its
    ETag, so a rewrite within the same second still shows as a change.
    """
    try:
        if is_local(location):
            st = _local(location).stat()
            return (st.st_mtime_ns, st.st_size)
        fs, path = filesystem(location)
        info = fs.info(path)
    except (OSError, ValueError):
        return None
    modified = info.get("LastModified") or info.get("mtime") or info.get("created")
    when = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
    tag = info.get("ETag") or info.get("etag")
    if tag:
        when ^= zlib.crc32(str(tag).encode())
    return (when, int(info.get("size") or 0))


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
            # one object, visible only once the upload (multipart ones included) completes
            fs, path = filesystem(destination)
            fs.put_file(tmp, path)
        finally:
            os.unlink(tmp)


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> None:
    if is_local(destination):
        with atomic_path(destination) as tmp:
            Path(tmp).write_bytes(data)
    else:
        fs, path = filesystem(destination)
        fs.pipe_file(path, data)  # a single PUT: the object appears whole or not at all


def write_json_atomic(destination: str | os.PathLike, obj: Any, default: Callable | None = None) -> None:
    write_bytes_atomic(destination, json.dumps(obj, indent=1, default=default).encode())


def read_json(location: str | os.PathLike) -> Any:
    return json.loads(read_bytes(location))


def read_bytes(location: str | os.PathLike) -> bytes:
    if is_local(location):
        return _local(location).read_bytes()
    fs, path = filesystem(location)
    data: bytes = fs.cat_file(path)
    return data


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
