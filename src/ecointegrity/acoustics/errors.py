"""Typed errors of the acoustics part; outer layers map them to CLI messages and HTTP 4xx."""

from __future__ import annotations

import os

__all__ = ["AcousticsError", "AudioFileError"]


class AcousticsError(Exception):
    """Base class of every error raised by ``ecointegrity.acoustics``."""


class AudioFileError(AcousticsError):
    """A recording that cannot be used: unreadable, empty, truncated or not audio at all.

    Args:
        path: the file or URL, as the caller gave it.
        reason: what is wrong with it, in a few words (shown to users as is).
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        # keep the two-argument constructor picklable (process pools, multiprocessing logs)
        return (type(self), (self.path, self.reason))
