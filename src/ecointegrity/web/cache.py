"""A thread-safe LRU of encoded pictures, bounded in bytes (the tile cache)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["BytesCache"]


class BytesCache:
    """Least recently used entries go first once ``max_bytes`` is exceeded; 0 turns it off.

    An entry larger than a sixteenth of the cache is not kept: one huge picture would push
    out many tiles.
    """

    def __init__(self, max_bytes: float):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0  # lookups answered from the cache (for /metrics)
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        if self.max_bytes <= 0:
            return None
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return value

    def stats(self) -> dict[str, int]:
        """Hits and misses so far, and the entries and bytes held now."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self._data),
                    "bytes": self._bytes}

    def put(self, key: Hashable, value: bytes) -> None:
        if self.max_bytes <= 0 or len(value) > self.max_bytes // 16:
            return
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes += len(value) - (len(old) if old is not None else 0)
            self._data[key] = value
            while self._bytes > self.max_bytes and self._data:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
