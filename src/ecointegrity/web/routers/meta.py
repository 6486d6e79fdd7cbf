"""The service itself: liveness and version."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__
from ..deps import StoreDep

__all__ = ["router"]


def router() -> APIRouter:
    api = APIRouter(tags=["service"])

    @api.get("/api/health")
    def health(store: StoreDep) -> dict[str, str]:
        """Liveness: the process answers and the store is reachable."""
        store.totals()
        return {"status": "ok"}

    @api.get("/api/version")
    def version() -> dict[str, str]:
        return {"version": __version__, "api": "1"}

    return api
