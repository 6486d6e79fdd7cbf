"""Open COGs for the renderer: a pool of reusable rasterio datasets, one set of GDAL options,
and VRTs that stack single-band COGs into one multi-band source.

GDAL's block cache belongs to an open dataset, so reopening a file per tile would decompress
it again: datasets are pooled and reused across requests.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape

import rasterio
from rasterio.io import DatasetReader

from .. import io as _io

__all__ = ["GDAL_OPTIONS", "DatasetPool", "stack_vrt"]

# GDAL options for every read: no directory listing when opening a file (our COGs carry
# their overviews, colour tables and scale/offset inside), no auxiliary .aux.xml files written
# next to the data. GDAL_CACHEMAX is deliberately absent: setting it in a per-request Env
# resizes GDAL's (process-wide) block cache on every enter and exit, which throws the cached
# blocks away and made composite tiles six times slower; GDAL's default (5% of RAM) stays.
GDAL_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "VSI_CACHE": "TRUE",
    # COGs on object storage (s3:// hrefs, read through /vsis3): the endpoint of an
    # S3-compatible store from AWS_ENDPOINT_URL (see ecointegrity.io); nothing for AWS itself.
    # Merged at import; LocalCatalog on s3:// also puts them into the environment, where GDAL
    # finds them whatever Env is active.
    **_io.gdal_s3_options(),
}

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


class DatasetPool:
    """Open rasterio datasets, reused across requests, each used by one thread at a time.

    A dataset is taken out while a request reads it and put back afterwards, so concurrent
    requests never share a GDAL handle; the idle ones are kept (least recently used closed
    first) so that the next tile finds the file open and its blocks in GDAL's cache.
    """

    def __init__(self, max_idle: int = 256):
        self.max_idle = max_idle
        self._idle: OrderedDict[str, list[DatasetReader]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    @contextmanager
    def dataset(
        self, href: str, opener: Callable[[], Any] | None = None
    ) -> Iterator[DatasetReader]:
        """An open dataset of ``href`` (a file, or a key that ``opener`` opens) for one reader."""
        with self._lock:
            stack = self._idle.get(href)
            ds = stack.pop() if stack else None
            if ds is not None:
                self._count -= 1
                self._idle.move_to_end(href)
        if ds is None:
            ds = opener() if opener is not None else rasterio.open(href)
        try:
            yield ds
        except BaseException:
            ds.close()  # a failed read may leave the handle in any state: never reuse it
            raise
        self._give_back(href, ds)

    def _give_back(self, href: str, ds: DatasetReader) -> None:
        evicted = []
        with self._lock:
            self._idle.setdefault(href, []).append(ds)
            self._idle.move_to_end(href)
            self._count += 1
            while self._count > self.max_idle and self._idle:
                _, old = self._idle.popitem(last=False)
                self._count -= len(old)
                evicted.extend(old)
        for old in evicted:
            old.close()

    def discard(self, hrefs: Sequence[str]) -> None:
        """Close the idle datasets reading these files (they were rewritten or removed)."""
        closing = []
        wanted = set(hrefs)
        with self._lock:
            # keys starting with "<" are stacking VRTs (XML): they read the files they name
            stale = [
                k
                for k in self._idle
                if k in wanted
                or (k.startswith("<") and any(_io.gdal_path(h) in k for h in wanted))
            ]
            for key in stale:
                stack = self._idle.pop(key)
                self._count -= len(stack)
                closing.extend(stack)
        for ds in closing:
            ds.close()

    def close(self) -> None:
        with self._lock:
            stacks, self._idle, self._count = list(self._idle.values()), OrderedDict(), 0
        for stack in stacks:
            for ds in stack:
                ds.close()


def stack_vrt(hrefs: Sequence[str]) -> str | None:
    """A GDAL VRT (XML) stacking single-band COGs on one grid, or None if their grids differ.

    Reading a three-band composite through one VRT costs one warp instead of three (the
    reprojection set-up, not the pixels, dominates a tile's read time).
    """
    metas = []
    for href in hrefs:
        with rasterio.open(href) as src:
            metas.append(
                (
                    src.width,
                    src.height,
                    tuple(src.transform),
                    src.crs,
                    src.dtypes[0],
                    repr(src.nodata),
                    src.scales[0],
                    src.offsets[0],
                    src.nodata,
                )
            )
    first = metas[0]
    if any(m[:6] != first[:6] for m in metas[1:]):
        return None
    width, height, gt, crs, dtype, _, _, _, nodata = first
    gdal_type = _GDAL_TYPES.get(dtype)
    if gdal_type is None:
        return None
    geo = ", ".join(repr(v) for v in (gt[2], gt[0], gt[1], gt[5], gt[3], gt[4]))
    nd = (
        ""
        if nodata is None
        else f"<NoDataValue>{'nan' if math.isnan(nodata) else repr(nodata)}</NoDataValue>"
    )
    bands = [
        f'<VRTRasterBand dataType="{gdal_type}" band="{i}">{nd}<Offset>{meta[7]!r}</Offset>'
        f"<Scale>{meta[6]!r}</Scale>"
        f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(_io.gdal_path(href))}'
        f"</SourceFilename>"
        f"<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>"
        for i, (href, meta) in enumerate(zip(hrefs, metas, strict=True), start=1)
    ]
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(crs.to_wkt())}</SRS>"
        f"<GeoTransform>{geo}</GeoTransform>{''.join(bands)}</VRTDataset>"
    )
