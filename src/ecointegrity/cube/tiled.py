"""Run a computation tile by tile: in this process, or on a Dask distributed cluster.

One machine: tiles run one after another and each uses all cores through dask's threads.
A cluster (``scheduler="tcp://host:8786"``, or ``"local"`` for a LocalCluster): tiles are
submitted as tasks and run in parallel on the workers. Either way a failing tile is recorded
with its error and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .grids import Tile

__all__ = ["TiledRun", "run_tiles"]

T = TypeVar("T")


@dataclass
class TiledRun(Generic[T]):
    """Results by tile id, and the tiles that failed with their error message."""

    results: dict[str, T] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_tiles(
    func: Callable[[Tile], T],
    tiles: Sequence[Tile],
    *,
    scheduler: Any = None,
    progress: bool = True,
    description: str = "tiles",
    on_tile: Callable[[str, str | None], None] | None = None,
) -> TiledRun[T]:
    """Apply ``func`` to every tile.

    Args:
        func: a picklable function of one :class:`Tile` (module-level or functools.partial).
        tiles: the tiles to compute.
        scheduler: None (this process), ``"local"`` (a LocalCluster for this call),
            a scheduler address, or a ``distributed.Client``.
        progress: show a progress bar.
        description: label of the progress bar.
        on_tile: called as ``on_tile(tile_id, error)`` when a tile finishes (error None) or
            fails (its message): job progress for metrics or logs.
    """
    run: TiledRun[T] = TiledRun()

    def finished(tile_id: str) -> None:
        bar.advance(task)
        if on_tile is not None:
            on_tile(tile_id, run.failed.get(tile_id))

    with _progress(progress) as bar:
        task = bar.add_task(description, total=len(tiles))
        if scheduler is None:
            for tile in tiles:
                try:
                    run.results[tile.id] = func(tile)
                except Exception as exc:  # noqa: BLE001 - one bad tile must not stop a batch
                    run.failed[tile.id] = f"{type(exc).__name__}: {exc}"
                finished(tile.id)
            return run
        with _client(scheduler) as client:
            from distributed import as_completed

            futures = {
                client.submit(func, tile, key=f"tile-{tile.id}-{id(func)}", pure=False): tile
                for tile in tiles
            }
            for future in as_completed(futures):
                tile = futures[future]
                try:
                    run.results[tile.id] = future.result()
                except Exception as exc:  # noqa: BLE001
                    run.failed[tile.id] = f"{type(exc).__name__}: {exc}"
                finished(tile.id)
    return run


class _client:
    """Context manager yielding a Client; closes only what it created."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler
        self._owned: list = []

    def __enter__(self):
        from distributed import Client, LocalCluster

        if isinstance(self.scheduler, Client):
            return self.scheduler
        if self.scheduler == "local":
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._owned.append(cluster)
            client = Client(cluster)
        else:
            client = Client(self.scheduler)
        self._owned.insert(0, client)
        return client

    def __exit__(self, *exc) -> None:
        for obj in self._owned:
            obj.close()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )
