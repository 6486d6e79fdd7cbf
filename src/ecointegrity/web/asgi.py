"""The app as an ASGI factory for servers that start their own worker processes.

``uvicorn --factory ecointegrity.web.asgi:app_from_environment`` (or ``ecointegrity serve
--workers N``, which sets the variables below from its options) builds the app in each worker
from the environment:

* ``ECOINTEGRITY_SERVE_PRODUCTS``: the product catalogs, a JSON list (or one path); default
  ``<data_root>/products``, ``/landcover`` and ``/integrity``.
* ``ECOINTEGRITY_SERVE_DATABASE_URL``: SQLAlchemy URL; default the settings' database
  (``ECOINTEGRITY_DATABASE_URL``, else SQLite under the data root). Several workers want
  PostgreSQL (SQLite serialises every write).
* ``ECOINTEGRITY_SERVE_ANIMATIONS_DIR``: where animations are written, a folder or an
  object-storage URL; default ``<data_root>/animations`` (shared by the workers and by every
  replica when on object storage: animations are content-addressed).
* ``ECOINTEGRITY_API_*``: limits and policies (:class:`.settings.ApiSettings`).
* ``PROMETHEUS_MULTIPROC_DIR``: metrics summed over the workers (:mod:`.metrics`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from ..config import get_settings
from ..io import join
from .app import create_app
from .settings import ApiSettings

__all__ = [
    "ANIMATIONS_ENV",
    "DATABASE_ENV",
    "PRODUCTS_ENV",
    "app_from_environment",
    "environment_for",
]

PRODUCTS_ENV = "ECOINTEGRITY_SERVE_PRODUCTS"
DATABASE_ENV = "ECOINTEGRITY_SERVE_DATABASE_URL"
ANIMATIONS_ENV = "ECOINTEGRITY_SERVE_ANIMATIONS_DIR"


def environment_for(
    products: list[str], database_url: str, animations_dir: str | Path
) -> dict[str, str]:
    """The variables that make :func:`app_from_environment` build this app."""
    return {
        PRODUCTS_ENV: json.dumps([str(p) for p in products]),
        DATABASE_ENV: database_url,
        ANIMATIONS_ENV: str(animations_dir),
    }


def _products(value: str | None, data_root: str) -> list[str]:
    if not value:
        return [join(data_root, name) for name in ("products", "landcover", "integrity")]
    if value.lstrip().startswith("["):
        return [str(p) for p in json.loads(value)]
    return [value]


def app_from_environment(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The API as the environment describes it (see the module's documentation)."""
    env = os.environ if environ is None else environ
    settings = get_settings()
    return create_app(
        _products(env.get(PRODUCTS_ENV), settings.data_root),
        env.get(DATABASE_ENV) or settings.database,
        env.get(ANIMATIONS_ENV) or settings.location("animations"),
        ApiSettings(),
    )
