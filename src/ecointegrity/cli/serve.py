"""``ecointegrity serve``: the React-2-EO API over the product catalogs."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import get_settings
from ._common import console, landcover_catalog, product_catalog

__all__ = ["serve", "uvicorn_options"]

# The access log line without the client address ("%(client_addr)s" in uvicorn's default):
# next to an animation id, an address says who looked at which place.
_ACCESS_FORMAT = '%(levelprefix)s "%(request_line)s" %(status_code)s'


def uvicorn_options(access_log: bool = False) -> dict[str, Any]:
    """The ``uvicorn.run`` options that keep client addresses out of every log and header use.

    * ``proxy_headers=False``: uvicorn would otherwise rewrite the client address from
      ``X-Forwarded-For`` for its own list of proxies; the app walks the header itself through
      ``ApiSettings.forwarded_allow_ips`` (one setting, one place).
    * ``access_log``: off by default; when on, lines carry no client address.
    """
    import uvicorn.config

    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["formatters"]["access"]["fmt"] = _ACCESS_FORMAT
    return {
        "proxy_headers": False,
        "access_log": access_log,
        "log_config": log_config,
        "log_level": "info",
    }


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
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated proxies (addresses or CIDRs) whose X-Forwarded-For is "
            "believed; the client is the first untrusted hop from the right. Default: "
            "ECOINTEGRITY_API_FORWARDED_ALLOW_IPS, else loopback only. '' trusts none.",
        ),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(help="Log each request (method, path, status; never the client address)."),
    ] = False,
) -> None:
    """Start the React-2-EO API (OpenAPI docs at /docs)."""
    # The web stack (FastAPI, uvicorn, SQLAlchemy) loads only when serving.
    import uvicorn

    from ..web import ApiSettings, create_app

    settings = get_settings()
    settings.data_root.mkdir(parents=True, exist_ok=True)
    catalogs: Sequence[str | Path] = products_catalog or [
        product_catalog(None).root,
        landcover_catalog(None).root,
        str(settings.data_root / "integrity"),
    ]
    # A value given here overrides the environment; ApiSettings validates both the same way.
    overrides: dict[str, Any] = {}
    if forwarded_allow_ips is not None:
        overrides["forwarded_allow_ips"] = forwarded_allow_ips
    api_settings = ApiSettings(**overrides)
    if not api_settings.secret:
        console.print(
            "ECOINTEGRITY_API_SECRET is not set: the rate-limit secret is kept in the database "
            "(shared by every process on it). Set it to keep it out of the database."
        )
    api = create_app(
        catalogs,
        database_url or settings.database,
        settings.data_root / "animations",
        api_settings,
    )
    console.print(f"React-2-EO API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(api, host=host, port=port, **uvicorn_options(access_log))
