"""The products: what there is, which years, and how each is drawn."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Renderer, Settings
from ..models import ProductInfo

__all__ = ["router"]


def router() -> APIRouter:
    api = APIRouter(tags=["products"])

    @api.get("/api/products", response_model=list[ProductInfo])
    def products_list(renderer: Renderer, settings: Settings) -> list[ProductInfo]:
        """Products and years available, with legend, colour map, value range and bounds."""
        return [
            ProductInfo(**layer.to_dict(), attribution=settings.attribution)
            for layer in renderer.layers()
        ]

    return api
