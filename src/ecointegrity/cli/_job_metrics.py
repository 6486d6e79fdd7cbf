"""Progress of a batch job (mosaics, land cover, acoustic detection) for Prometheus.

A Kubernetes Job pod runs for hours; its progress bar goes to a log nobody watches. With
``ECOINTEGRITY_METRICS_PORT`` set, the job serves its progress on ``http://<pod>:PORT/metrics``
for Prometheus to scrape (deploy/k8s: the pods' ``prometheus.io/*`` annotations), and alerts can
ask "has this job advanced in the last hour?". Jobs on a Dask cluster are also seen through the
scheduler's own ``/metrics`` (task states, workers lost), which Dask serves on its dashboard port.

Metrics (one registry per job, so nothing of the web API's leaks in):

* ``ecointegrity_job_units{job, unit}``: units the job will process (tile-years, recordings).
* ``ecointegrity_job_units_done{job, unit}``: units finished, whatever the outcome (a resumed
  job starts from what earlier runs finished).
* ``ecointegrity_job_units_failed{job, unit}``: units that failed (listed in the job's summary).
* ``ecointegrity_job_last_progress_timestamp_seconds{job}``: when a unit last finished.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from ..config import get_settings

__all__ = ["JobMetrics"]


class JobMetrics:
    """Counts a job's units; serves them on ``port`` (None: the settings' ``metrics_port``;
    0: not served, the registry only)."""

    def __init__(self, job: str, unit: str, port: int | None = None) -> None:
        self.registry = CollectorRegistry()
        labels = ["job", "unit"]

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, labels, registry=self.registry).labels(job, unit)

        self._planned = gauge("ecointegrity_job_units", "Units the job will process")
        self._done = gauge("ecointegrity_job_units_done", "Units finished, whatever the outcome")
        self._failed = gauge("ecointegrity_job_units_failed", "Units that failed")
        self._last = Gauge(
            "ecointegrity_job_last_progress_timestamp_seconds",
            "When a unit last finished (Unix time)",
            ["job"],
            registry=self.registry,
        ).labels(job)
        self._last.set(time.time())  # starting counts as progress: a stall is measured from here
        port = get_settings().metrics_port if port is None else port
        if port:
            # a daemon thread: it ends with the job (the Job's own status, from
            # kube-state-metrics, says that it finished)
            start_http_server(port, registry=self.registry)

    def planned(self, units: int) -> None:
        self._planned.set(units)

    def on_tile(self, tile_id: str, error: str | None) -> None:
        """A ``run_tiles`` callback: one tile-year finished, or failed with ``error``."""
        self._done.inc()
        if error is not None:
            self._failed.inc()
        self._last.set(time.time())

    def progress(self, done: int, total: int) -> None:
        """A ``detect_recordings`` callback: ``done`` of ``total`` recordings finished."""
        self._planned.set(total)
        self._done.set(done)
        self._last.set(time.time())

    def failed(self, units: int) -> None:
        """Failures known only at the end (recordings listed as failed in the run)."""
        self._failed.set(units)
