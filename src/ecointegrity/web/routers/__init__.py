"""The API's routes, one module per concern; ``create_app`` includes them all.

Each module's ``router()`` builds an ``APIRouter``; routes get the renderer, store and settings
through ``Depends`` (:mod:`..deps`) and raise typed errors (:mod:`..errors`), never HTTP errors.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import animations, meta, products, reactions, reports, slices, stories, tiles, wms

__all__ = ["api_routers"]


def api_routers() -> list[APIRouter]:
    """The API's routers, in the order their routes are listed."""
    return [
        meta.router(),
        products.router(),
        stories.router(),
        tiles.router(),
        wms.router(),
        slices.router(),
        animations.router(),
        reactions.router(),
        reports.router(),
    ]
