"""What routes are given (FastAPI ``Depends``): the objects ``create_app`` puts on ``app.state``,
who the client is (behind trusted proxies only) and the per-client rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .clients import client_address, network_key, parse_trusted, rate_key
from .errors import RateLimited
from .renderer import ProductRenderer
from .settings import ApiSettings
from .store import Store

__all__ = [
    "AnimationsDir",
    "Renderer",
    "Settings",
    "StoreDep",
    "check_rate",
    "client_identity",
]

_DAY_S = 86_400


def get_renderer(request: Request) -> ProductRenderer:
    renderer: ProductRenderer = request.app.state.renderer
    return renderer


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_animations_dir(request: Request) -> str:
    """Where animations are kept: a folder, or a URL on object storage."""
    folder: str = request.app.state.animations_dir
    return folder


Renderer = Annotated[ProductRenderer, Depends(get_renderer)]
StoreDep = Annotated[Store, Depends(get_store)]
Settings = Annotated[ApiSettings, Depends(get_settings)]
AnimationsDir = Annotated[str, Depends(get_animations_dir)]


def client_identity(request: Request) -> str:
    """The client's address: the peer, or the nearest untrusted ``X-Forwarded-For`` hop when the
    peer is a trusted proxy (``ApiSettings.forwarded_allow_ips``); see :mod:`.clients`."""
    settings = get_settings(request)
    trusted = parse_trusted(tuple(settings.forwarded_allow_ips))
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)


def _per_day(settings: ApiSettings, action: str) -> int | None:
    """The daily cap per network of ``action``, if it has one."""
    return {
        "reaction": settings.reactions_per_day,
        "animation": settings.animations_per_day,
    }.get(action)


def check_rate(request: Request, store: Store, action: str, per_minute: int) -> None:
    """Count one ``action`` of this client; raise ``RateLimited`` beyond its limits.

    ``per_minute`` counts per client (an IPv4 address, an IPv6 /64: one subscriber); the
    action's daily cap (``ApiSettings.reactions_per_day``, ``animations_per_day``) counts per
    network (IPv4 /24, IPv6 /48), so that forging in bulk needs many networks. Counts live in
    the database: every worker and replica on it shares them.

    Called inside a route, after its input is validated: an invalid request costs no quota.
    """
    client = client_identity(request)
    allowed, retry_after = store.hit(rate_key(client), action, per_minute, 60)
    if not allowed:
        raise RateLimited(action, retry_after)
    per_day = _per_day(get_settings(request), action)
    if per_day is not None:
        network = network_key(client) or rate_key(client)
        allowed, retry_after = store.hit(f"net:{network}", action, per_day, _DAY_S)
        if not allowed:
            raise RateLimited(action, retry_after)
