"""OGC WMS 1.3.0 for GIS clients: GetCapabilities, and GetMap with a TIME dimension."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..deps import Renderer, Settings
from ..wms import capabilities_xml, get_map, operation

__all__ = ["router"]


def router() -> APIRouter:
    api = APIRouter(tags=["wms"])

    @api.get("/wms", responses={200: {"content": {"image/png": {}, "text/xml": {}}}})
    def wms(request: Request, renderer: Renderer, settings: Settings) -> Response:
        """OGC WMS 1.3.0: GetCapabilities, and GetMap with a TIME dimension (years)."""
        params = {k.upper(): v for k, v in request.query_params.items()}
        if operation(params) == "getcapabilities":
            base = str(request.url).split("?")[0]
            return Response(
                capabilities_xml(renderer.layers(), base, settings.attribution),
                media_type="text/xml",
            )
        content, media_type = get_map(renderer, params, max_pixels=settings.max_slice_pixels)
        return Response(content, media_type=media_type)

    return api
