"""Prometheus metrics of the API (``GET /metrics``, outside the OpenAPI schema).

* ``ecointegrity_http_request_duration_seconds`` (histogram): by ``method``, ``route`` (the
  matched route's template, e.g. ``/api/tiles/{product}/{year}/{z}/{x}/{y}.{fmt}``; never the
  raw path, so that labels stay few whatever clients ask; ``<unmatched>`` when no route
  matched) and ``status`` class (``2xx`` .. ``5xx``).
* ``ecointegrity_animations_rendered_total``: ``POST /api/animations`` answered 201 (a new
  animation drawn; 200 is one that already existed).
* ``ecointegrity_reactions_stored_total``: ``POST /api/animations/{animation_id}/reactions``
  answered 2xx.
* ``ecointegrity_tiles_not_modified_total``: tile requests answered 304 from the client's ETag
  (the browser's cache hit: nothing read, nothing drawn).
* ``ecointegrity_tile_cache_*``: the server's tile cache (hits, misses, entries, bytes), read at
  scrape time from ``ProductRenderer.tile_cache_stats()`` when the renderer offers it (a mapping
  with any of those keys); absent otherwise.

Each app has a registry of its own (:class:`ApiMetrics`), so that several apps in one process
(tests) never clash. Several worker processes (``ecointegrity serve --workers N``, gunicorn):
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable folder **before** the processes start;
each process then writes its counts there and any worker's ``/metrics`` answers the sum over
all of them (prometheus-client's multiprocess mode). The folder must be emptied between runs
(``ecointegrity serve`` does it, and creates a temporary one itself for ``--workers`` > 1 when
the variable is unset). Without the variable, a process counts only what it served.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ANIMATIONS_ROUTE",
    "MULTIPROC_ENV",
    "REACTIONS_ROUTE",
    "TILES_ROUTE",
    "ApiMetrics",
    "MetricsMiddleware",
    "multiprocess_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ANIMATIONS_ROUTE = "/api/animations"
REACTIONS_ROUTE = "/api/animations/{animation_id}/reactions"
TILES_ROUTE = "/api/tiles/{product}/{year}/{z}/{x}/{y}.{fmt}"
UNMATCHED = "<unmatched>"

# Seconds: a cached tile answers in about a millisecond, an animation may take seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when it is set (multiprocess mode), else None."""
    return os.environ.get(MULTIPROC_ENV) or None


class _TileCacheCollector:
    """The tile cache's counts, read when scraped (nothing is counted per request)."""

    _COUNTERS = {"hits": "tiles served from the cache", "misses": "tiles drawn (not cached)"}
    _GAUGES = {"entries": "tiles held in the cache", "bytes": "bytes held in the cache"}

    def __init__(self, stats: Callable[[], Mapping[str, float]], *, pid_label: bool = False):
        self._stats = stats
        # several processes: each reports its own cache, labelled with its process id
        self._labels = {"pid": str(os.getpid())} if pid_label else {}

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        names, values = list(self._labels), list(self._labels.values())
        for key, doc in self._COUNTERS.items():
            if key in stats:
                counter = CounterMetricFamily(f"ecointegrity_tile_cache_{key}", doc, labels=names)
                counter.add_metric(values, float(stats[key]))
                yield counter
        for key, doc in self._GAUGES.items():
            if key in stats:
                gauge = GaugeMetricFamily(f"ecointegrity_tile_cache_{key}", doc, labels=names)
                gauge.add_metric(values, float(stats[key]))
                yield gauge


class ApiMetrics:
    """The metrics of one app, in a registry of its own.

    ``tile_cache_stats``: called at scrape time for the tile cache's counts (``hits``,
    ``misses``, ``entries``, ``bytes``; any subset), or None when there are none to read.
    """

    def __init__(self, tile_cache_stats: Callable[[], Mapping[str, float]] | None = None):
        self.multiprocess_dir = multiprocess_dir()
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "ecointegrity_http_request_duration_seconds",
            "Time to answer a request, by method, route template and status class.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.animations = Counter(
            "ecointegrity_animations_rendered",
            "Animations drawn (POST /api/animations answered 201).",
            registry=self.registry,
        )
        self.reactions = Counter(
            "ecointegrity_reactions_stored",
            "Reactions stored (POST /api/animations/{id}/reactions answered 2xx).",
            registry=self.registry,
        )
        self.tiles_not_modified = Counter(
            "ecointegrity_tiles_not_modified",
            "Tile requests answered 304 from the client's ETag.",
            registry=self.registry,
        )
        self._cache: _TileCacheCollector | None = None
        if tile_cache_stats is not None:
            self._cache = _TileCacheCollector(
                tile_cache_stats, pid_label=self.multiprocess_dir is not None
            )
            self.registry.register(self._cache)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, f"{status // 100}xx").observe(seconds)
        if method != "POST" and status != 304:
            return
        if route == ANIMATIONS_ROUTE and method == "POST" and status == 201:
            self.animations.inc()
        elif route == REACTIONS_ROUTE and method == "POST" and 200 <= status < 300:
            self.reactions.inc()
        elif route == TILES_ROUTE and status == 304:
            self.tiles_not_modified.inc()

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics as text (Prometheus, or OpenMetrics when ``accept`` asks) and its type.

        Multiprocess mode: the sum over every process writing to ``PROMETHEUS_MULTIPROC_DIR``
        (plus this process's tile cache).
        """
        encoder, content_type = choose_encoder(accept or "")
        if self.multiprocess_dir is None:
            return encoder(self.registry), content_type
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        if self._cache is not None:
            registry.register(self._cache)
        return encoder(registry), content_type


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class MetricsMiddleware:
    """Times every HTTP request (pure ASGI: streamed bodies pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}  # an exception before the answer: a 500

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # the router writes the matched route into the scope it was given
            self.metrics.observe(
                scope["method"],
                _route_template(scope),
                status["code"],
                time.perf_counter() - start,
            )
