"""The React-2-EO HTTP API (FastAPI): products, XYZ tiles, WMS 1.3.0, slices, animations,
reactions and reaction statistics, and the published reports.

``create_app`` only composes: it builds the state routes are given (product catalogs read-only,
a store: SQLite by default, PostgreSQL by URL, a folder for rendered animations, the metrics
registry), the middleware, the routers (:mod:`.routers`) and the one error table (:mod:`.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__
from ..cube import LocalCatalog
from ..io import is_local
from .body_limit import BodyLimit
from .errors import Problem, add_exception_handlers
from .metrics import ApiMetrics, MetricsMiddleware
from .renderer import ProductRenderer
from .routers import api_routers
from .routers.site import STATIC_DIR, mount_site
from .settings import ApiSettings
from .store import Store

__all__ = ["ApiSettings", "create_app"]

_DESCRIPTION = (
    "Annual satellite products of ecointegrity as tiles, WMS, slices and animations, "
    "and the public's reactions to them. No accounts; no raw IP addresses are stored."
)


def create_app(
    products: str | Path | Sequence[str | Path],
    database_url: str,
    animations_dir: str | Path,
    settings: ApiSettings | None = None,
    *,
    site: Path | None = STATIC_DIR,
    reports: str | Path | None = None,
) -> FastAPI:
    """The API over product catalogs, a store and a place for animations (a folder, or an
    object-storage URL that every replica shares).

    ``products`` is one catalog folder or several (annual products, land-cover maps); where two
    list the same product, the first wins. ``site``: the built web app served at ``/`` and
    ``/dashboard`` (``None``: the API alone). ``reports``: a folder of ``ecointegrity report``
    output served at ``/reports`` (default: ``settings.reports_dir``; ``None`` there too: none).
    """
    settings = settings or ApiSettings()
    problem: dict[str, Any] = {"model": Problem}
    app = FastAPI(
        responses={400: problem, 404: problem, 413: problem, 422: problem, 429: problem},
        title="React-2-EO API",
        version=__version__,
        description=_DESCRIPTION,
    )
    roots = [products] if isinstance(products, (str, Path)) else list(products)
    app.state.renderer = ProductRenderer(
        [LocalCatalog(root) for root in roots],
        tile_cache_mb=settings.tile_cache_mb,
        max_wait_s=settings.render_wait_s,
    )
    store = Store(database_url, secret=settings.secret.encode() if settings.secret else None)
    store.upgrade()
    app.state.store, app.state.settings = store, settings
    app.state.animations_dir = str(animations_dir)
    reports = reports if reports is not None else settings.reports_dir
    app.state.reports_dir = Path(reports) if reports is not None else None
    if is_local(animations_dir):
        Path(animations_dir).mkdir(parents=True, exist_ok=True)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "If-None-Match"],
        max_age=3600,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # outermost of ours: times every answer, refusals by the other middleware included
    app.state.metrics = ApiMetrics(app.state.renderer.tile_cache_stats)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    add_exception_handlers(app)
    for router in api_routers():
        app.include_router(router)
    if site is not None:
        mount_site(app, site)
    return app
