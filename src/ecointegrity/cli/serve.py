"""``ecointegrity serve``: the React-2-EO API over the product catalogs.

One worker (the default) serves the app built here. ``--workers N`` starts N processes, each
building the app from the environment this command sets (``ecointegrity.web.asgi``); the
database is upgraded once, here, before they start, and their Prometheus metrics are summed
through ``PROMETHEUS_MULTIPROC_DIR`` (a temporary folder when it is unset).
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import get_settings
from ..io import is_local
from ._common import console, fail, landcover_catalog, product_catalog

__all__ = ["FACTORY", "serve", "uvicorn_options"]

# The app factory each worker process imports (``uvicorn --factory``).
FACTORY = "ecointegrity.web.asgi:app_from_environment"

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
        list[str] | None,
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
    reports: Annotated[
        Path | None,
        typer.Option(help="Folder of `ecointegrity report` output to publish at /reports "
                          "(default: <data_root>/reports when it holds an index.json)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. Several want PostgreSQL (--database-url): SQLite takes one "
            "write at a time. Metrics are summed over them through PROMETHEUS_MULTIPROC_DIR "
            "(emptied at start; a temporary folder when unset).",
        ),
    ] = 1,
) -> None:
    """Start the React-2-EO API (OpenAPI docs at /docs)."""
    # The web stack (FastAPI, uvicorn, SQLAlchemy) loads only when serving.
    import uvicorn

    from ..web import ApiSettings, create_app

    settings = get_settings()
    if is_local(settings.data_root):
        Path(settings.data_root).mkdir(parents=True, exist_ok=True)
    catalogs: Sequence[str | Path] = products_catalog or [
        product_catalog(None).root,
        landcover_catalog(None).root,
        settings.location("integrity"),
    ]
    # A value given here overrides the environment; ApiSettings validates both the same way.
    overrides: dict[str, Any] = {}
    if forwarded_allow_ips is not None:
        overrides["forwarded_allow_ips"] = forwarded_allow_ips
    default_reports = Path(settings.location("reports")) if is_local(settings.data_root) else None
    if reports is None and default_reports is not None and (default_reports / "index.json").is_file():
        reports = default_reports
    if reports is not None:
        overrides["reports_dir"] = str(reports.resolve())
    api_settings = ApiSettings(**overrides)
    if not api_settings.secret:
        console.print(
            "ECOINTEGRITY_API_SECRET is not set: the rate-limit secret is kept in the database "
            "(shared by every process on it). Set it to keep it out of the database."
        )
    try:
        database = database_url or settings.database
    except ValueError as exc:
        fail(exc)
    animations = settings.location("animations")
    if workers > 1:
        catalog_list = [str(c) for c in catalogs]
        _serve_workers(
            workers, host, port, catalog_list, database, animations, forwarded_allow_ips, access_log,
            api_settings.reports_dir,
        )
        return
    api = create_app(catalogs, database, animations, api_settings)
    console.print(f"React-2-EO API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(api, host=host, port=port, **uvicorn_options(access_log))


def _serve_workers(
    workers: int,
    host: str,
    port: int,
    catalogs: list[str],
    database: str,
    animations: str,
    forwarded_allow_ips: str | None,
    access_log: bool,
    reports: str | None = None,
) -> None:
    """Serve with ``workers`` processes, each building the app from the environment."""
    import uvicorn

    from ..web.asgi import environment_for
    from ..web.metrics import MULTIPROC_ENV
    from ..web.store import Store

    if database.startswith("sqlite"):
        console.print(
            f"{workers} workers on SQLite: writes (reactions, rate limits) wait for each "
            "other; use PostgreSQL (--database-url) for a busy service."
        )
    with Store(database) as store:  # migrations once, before the workers race to run them
        store.upgrade()
    env = environment_for(catalogs, database, animations)
    if forwarded_allow_ips is not None:
        env["ECOINTEGRITY_API_FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    if reports is not None:
        env["ECOINTEGRITY_API_REPORTS_DIR"] = reports
    with _metrics_folder(os.environ.get(MULTIPROC_ENV)) as folder:
        env[MULTIPROC_ENV] = folder
        with _environment(env):
            console.print(
                f"React-2-EO API on http://{host}:{port}/ with {workers} workers "
                f"(docs: http://{host}:{port}/docs)"
            )
            uvicorn.run(
                FACTORY,
                factory=True,
                workers=workers,
                host=host,
                port=port,
                **uvicorn_options(access_log),
            )


@contextmanager
def _metrics_folder(given: str | None) -> Iterator[str]:
    """The multiprocess metrics folder: ``given``, emptied of an earlier run's counts, or a
    temporary one removed at the end."""
    if not given:
        with tempfile.TemporaryDirectory(prefix="ecointegrity-metrics-") as folder:
            yield folder
        return
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # prometheus-client's files only
        stale.unlink()
    yield str(path)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` (inherited by the worker processes), then as before."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
