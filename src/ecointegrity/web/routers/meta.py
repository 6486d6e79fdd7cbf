"""The service itself: liveness, readiness, version, the countries served and Prometheus
metrics."""

from __future__ import annotations

from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ... import __version__
from ...cube import COUNTRIES
from ..metrics import ApiMetrics
from ..models import CountryInfo
from ..renderer import ProductRenderer
from ..store import Store

__all__ = ["NotReady", "Readiness", "router"]


class Readiness(BaseModel):
    """The service can answer: its store and at least one product catalog are there."""

    status: Literal["ready"]
    products: int


class NotReady(BaseModel):
    """Why the service should get no traffic yet (HTTP 503)."""

    status: Literal["not ready"]
    reason: str


def _not_ready(store: Store, renderer: ProductRenderer) -> str | int:
    """The number of products served, or why the service is not ready (a message)."""
    try:
        store.totals()
    except Exception as exc:  # noqa: BLE001 - any failure means the store does not answer
        return f"the store does not answer ({type(exc).__name__})"
    try:
        names = renderer.products()
    except Exception as exc:  # noqa: BLE001 - an unreadable catalog is a reason, not a 500
        return f"the product catalogs cannot be read ({type(exc).__name__})"
    if not names:
        return f"none of the {len(renderer.catalogs)} product catalog(s) lists a product"
    return len(names)


def router() -> APIRouter:
    api = APIRouter(tags=["service"])
    # Health checks get threads of their own: the shared pool can be full of renders (each
    # bounded in cost, but many at once), and a liveness probe that waits behind them would
    # have the orchestrator restart a server that is only busy.
    limiter: anyio.CapacityLimiter | None = None

    def probe_limiter() -> anyio.CapacityLimiter:
        nonlocal limiter
        if limiter is None:  # created in the event loop that serves the app
            limiter = anyio.CapacityLimiter(2)
        return limiter

    @api.get("/api/health")
    async def health(request: Request) -> dict[str, str]:
        """Liveness: the process answers and the store is reachable."""
        store: Store = request.app.state.store
        await anyio.to_thread.run_sync(store.totals, limiter=probe_limiter())
        return {"status": "ok"}

    @api.get(
        "/api/ready",
        response_model=Readiness,
        responses={503: {"model": NotReady, "description": "not ready: the reason why"}},
    )
    async def ready(request: Request) -> Readiness | JSONResponse:
        """Readiness: the store answers and a product catalog is readable and lists products.

        503 with the reason otherwise (traffic should wait; the process need not restart).
        Runs on the health checks' own threads.
        """
        store: Store = request.app.state.store
        renderer: ProductRenderer = request.app.state.renderer
        found = await anyio.to_thread.run_sync(_not_ready, store, renderer, limiter=probe_limiter())
        if isinstance(found, str):
            body = NotReady(status="not ready", reason=found)
            return JSONResponse(body.model_dump(), status_code=503)
        return Readiness(status="ready", products=found)

    @api.get("/api/version")
    async def version() -> dict[str, str]:
        return {"version": __version__, "api": "1"}

    @api.get("/api/countries", response_model=list[CountryInfo])
    async def countries() -> list[CountryInfo]:
        """The countries the app can switch between (first: the default), with their map views."""
        return [
            CountryInfo(id=c.id, name_es=c.name_es, name_en=c.name_en, view=list(c.view_bbox))
            for c in COUNTRIES.values()
        ]

    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (text exposition format; see :mod:`..metrics`)."""
        registry: ApiMetrics = request.app.state.metrics
        body, content_type = registry.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return api
