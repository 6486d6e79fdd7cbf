"""The React-2-EO web app and dashboard as static files, served by the API's own process.

The front end is built from ``frontend/`` by npm (``make web``) into ``web/static``: two HTML
pages, hashed assets (cached for a year: a new build gets new names), a web app manifest, icons
and a service worker. The pages themselves are revalidated on every load, so a new build reaches
phones at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "mount_site", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

_NOT_BUILT = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>React-2-EO</title>\n'
    "<h1>The React-2-EO web app is not built</h1>\n"
    "<p>Build it with <code>make web</code> (npm), or use the API: "
    '<a href="/docs">/docs</a>.</p></html>'
)

# name -> media type of the files served at the site's root
_ROOT_FILES = {
    "sw.js": "text/javascript",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
_REVALIDATE = {"Cache-Control": "no-cache"}


def router(static_dir: Path = STATIC_DIR) -> APIRouter:
    """The app at ``/``, the dashboard at ``/dashboard`` and the root files (outside the schema)."""
    static_dir = Path(static_dir)
    site = APIRouter(include_in_schema=False)

    def page(name: str) -> Callable[[], Response]:
        def serve() -> Response:
            path = static_dir / f"{name}.html"
            if not path.is_file():
                return HTMLResponse(_NOT_BUILT, status_code=503, headers=_REVALIDATE)
            return FileResponse(path, media_type="text/html", headers=_REVALIDATE)

        return serve

    site.get("/", response_model=None)(page("index"))
    site.get("/dashboard", response_model=None)(page("dashboard"))

    def root_file(name: str, media_type: str) -> Callable[[], Response]:
        # A closure, not default arguments: FastAPI would publish those as query parameters
        # (and ``?name=../..`` would then read any file).
        def serve() -> Response:
            path = static_dir / name
            if not path.is_file():
                return HTMLResponse("not built", status_code=404)
            # The service worker must be revalidated, or browsers keep an old one for a day.
            return FileResponse(path, media_type=media_type, headers=_REVALIDATE)

        return serve

    for name, media_type in _ROOT_FILES.items():
        site.get(f"/{name}", response_model=None)(root_file(name, media_type))
    return site


def mount_site(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the site: its routes, the hashed assets at ``/assets`` (cached for a year)."""
    app.include_router(router(static_dir))
    app.mount(
        "/assets",
        StaticFiles(directory=Path(static_dir) / "assets", check_dir=False),
        name="assets",
    )

    @app.middleware("http")
    async def immutable_assets(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/assets/") and response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
