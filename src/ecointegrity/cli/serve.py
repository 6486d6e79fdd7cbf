"""``ecointegrity serve``: the React-2-EO API over the product catalogs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ..config import get_settings
from ._common import console, landcover_catalog, product_catalog

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    products_catalog: Annotated[
        list[Path] | None,
        typer.Option(
            "--products-catalog",
            help="Product catalog to serve; repeat for several (default <data_root>/products, "
            "/landcover and /integrity).",
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: settings, SQLite under data_root).")
    ] = None,
) -> None:
    """Start the React-2-EO API (OpenAPI docs at /docs)."""
    # The web stack (FastAPI, uvicorn, SQLAlchemy) loads only when serving.
    import uvicorn

    from ..web import create_app

    settings = get_settings()
    settings.data_root.mkdir(parents=True, exist_ok=True)
    catalogs: Sequence[str | Path] = products_catalog or [
        product_catalog(None).root,
        landcover_catalog(None).root,
        str(settings.data_root / "integrity"),
    ]
    api = create_app(catalogs, database_url or settings.database, settings.data_root / "animations")
    console.print(f"React-2-EO API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(api, host=host, port=port, log_level="info")
