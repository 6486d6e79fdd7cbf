"""The service itself: liveness and version."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request

from ... import __version__
from ..store import Store

__all__ = ["router"]


def router() -> APIRouter:
    api = APIRouter(tags=["service"])
    # Health checks get threads of their own: the shared pool can be full of renders (each
    # bounded in cost, but many at once), and a liveness probe that waits behind them would
    # have the orchestrator restart a server that is only busy.
    limiter: anyio.CapacityLimiter | None = None

    @api.get("/api/health")
    async def health(request: Request) -> dict[str, str]:
        """Liveness: the process answers and the store is reachable."""
        nonlocal limiter
        if limiter is None:  # created in the event loop that serves the app
            limiter = anyio.CapacityLimiter(2)
        store: Store = request.app.state.store
        await anyio.to_thread.run_sync(store.totals, limiter=limiter)
        return {"status": "ok"}

    @api.get("/api/version")
    async def version() -> dict[str, str]:
        return {"version": __version__, "api": "1"}

    return api
