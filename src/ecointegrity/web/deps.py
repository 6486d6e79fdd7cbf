"""What routes are given (FastAPI ``Depends``): the objects ``create_app`` puts on ``app.state``,
and the per-client rate limit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from .errors import RateLimited
from .renderer import ProductRenderer
from .settings import ApiSettings
from .store import Store

__all__ = ["AnimationsDir", "Renderer", "Settings", "StoreDep", "check_rate"]


def get_renderer(request: Request) -> ProductRenderer:
    renderer: ProductRenderer = request.app.state.renderer
    return renderer


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_animations_dir(request: Request) -> Path:
    folder: Path = request.app.state.animations_dir
    return folder


Renderer = Annotated[ProductRenderer, Depends(get_renderer)]
StoreDep = Annotated[Store, Depends(get_store)]
Settings = Annotated[ApiSettings, Depends(get_settings)]
AnimationsDir = Annotated[Path, Depends(get_animations_dir)]


def check_rate(request: Request, store: Store, action: str, per_minute: int) -> None:
    """Count one ``action`` of this client; raise ``RateLimited`` beyond ``per_minute``.

    Called inside a route, after its input is validated: an invalid request costs no quota.
    """
    client = request.client.host if request.client else "unknown"
    allowed, retry_after = store.hit(client, action, per_minute, 60)
    if not allowed:
        raise RateLimited(action, retry_after)
