"""OGC WMS 1.3.0 for GIS clients: GetCapabilities, and GetMap with a TIME dimension."""

from __future__ import annotations

import re

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
            base = _service_url(request, settings.public_url)
            return Response(
                capabilities_xml(renderer.layers(), base, settings.attribution),
                media_type="text/xml",
                # without a configured address the document depends on Host: caches must key
                # on it, so a forged Host never reaches another client
                headers=None if settings.public_url else {"Vary": "Host"},
            )
        content, media_type = get_map(renderer, params, max_pixels=settings.max_slice_pixels)
        return Response(content, media_type=media_type)

    return api


_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


def _service_url(request: Request, public_url: str | None) -> str:
    """The WMS endpoint's address for the capabilities document.

    The configured public URL when there is one. Otherwise the request's own address, but a
    ``Host`` header that is not a plain host name or address (with an optional port) is never
    echoed: capabilities are cached by clients and proxies, and a forged Host would send every
    later GetMap elsewhere; the server's own address stands in.
    """
    if public_url:
        return public_url.rstrip("/") + "/wms"
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        server = request.scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}/wms"
