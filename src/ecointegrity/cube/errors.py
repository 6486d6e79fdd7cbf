"""Typed errors of the data cube. Each message names the file or parameter and what to do.

The CLI maps them to one-line messages; the web layer maps them to HTTP 4xx.
"""

from __future__ import annotations

__all__ = [
    "CubeError",
    "CorruptFileError",
    "UnknownCRSError",
    "MissingBandError",
    "NoDataError",
    "CatalogError",
    "UnknownSensorError",
]


class CubeError(Exception):
    """Base class of all data-cube errors."""


class CorruptFileError(CubeError):
    """A file is missing, unreadable or not a raster."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class UnknownCRSError(CubeError):
    """A raster or array carries no usable coordinate reference system."""

    def __init__(self, path: str, detail: str = ""):
        self.path = path
        msg = (f"{path}: no coordinate reference system; georeference the file (e.g. "
               "gdal_edit.py -a_srs)")
        super().__init__(msg + (f" ({detail})" if detail else ""))


class MissingBandError(CubeError, KeyError):
    """A requested band is not provided by a collection or sensor."""

    def __init__(self, band: str, where: str, available: list[str] | tuple[str, ...]):
        self.band = band
        self.available = list(available)
        super().__init__(
            f"band {band!r} is not in {where}; available: {', '.join(available) or 'none'}"
        )

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class NoDataError(CubeError):
    """A query (collection, time, area) matched no data."""


class CatalogError(CubeError):
    """A catalog is missing, malformed, or lacks the requested collection."""


class UnknownSensorError(CubeError, KeyError):
    """No sensor profile of that name."""

    def __str__(self) -> str:
        return self.args[0]
