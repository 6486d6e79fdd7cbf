"""The React-2-EO web app and dashboard as static files, served by the API's own process.

The front end is built from ``frontend/`` by npm (``make web``) into ``web/static``: two HTML
pages, hashed assets (cached for a year: a new build gets new names), a web app manifest, icons
and a service worker. The pages themselves are revalidated on every load, so a new build reaches
phones at once.

Text files come with brotli (``.br``) and gzip (``.gz``) twins made by the build; each request
gets the smallest one its ``Accept-Encoding`` allows (as nginx's ``gzip_static``), so the
181 kB of JavaScript and CSS travel as about 50 kB without compressing per request.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

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
    "icon-maskable-512.png": "image/png",
    "basemap.json": "application/geo+json",  # the app's own base map (Natural Earth outlines)
}
_REVALIDATE = {"Cache-Control": "no-cache"}
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
# content coding -> suffix of the build's precompressed twin, smallest first
_TWINS = (("br", ".br"), ("gzip", ".gz"))


def accepted_codings(accept_encoding: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` header allows (those with q > 0)."""
    codings = set()
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if token.strip() and q > 0:
            codings.add(token.strip().lower())
    return codings


def _file(path: Path, media_type: str, request: Request, headers: dict[str, str]) -> Response:
    """``path``, or its precompressed twin in a coding the client accepts."""
    twins = [(c, twin) for c, s in _TWINS if (twin := path.with_name(path.name + s)).is_file()]
    if twins:
        headers = {**headers, "Vary": "Accept-Encoding"}  # caches must tell the codings apart
        codings = accepted_codings(request.headers.get("accept-encoding", ""))
        for coding, twin in twins:
            if coding in codings:
                return FileResponse(twin, media_type=media_type,
                                    headers={**headers, "Content-Encoding": coding})
    return FileResponse(path, media_type=media_type, headers=headers)


def router(static_dir: Path = STATIC_DIR) -> APIRouter:
    """The app at ``/``, the dashboard at ``/dashboard`` and the root files (outside the schema)."""
    static_dir = Path(static_dir)
    site = APIRouter(include_in_schema=False)

    def page(name: str) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            path = static_dir / f"{name}.html"
            if not path.is_file():
                return HTMLResponse(_NOT_BUILT, status_code=503, headers=_REVALIDATE)
            return _file(path, "text/html", request, _REVALIDATE)

        return serve

    site.get("/", response_model=None)(page("index"))
    site.get("/dashboard", response_model=None)(page("dashboard"))

    def root_file(name: str, media_type: str) -> Callable[[Request], Response]:
        # A closure, not default arguments: FastAPI would publish those as query parameters
        # (and ``?name=../..`` would then read any file).
        def serve(request: Request) -> Response:
            path = static_dir / name
            if not path.is_file():
                return HTMLResponse("not built", status_code=404)
            # The service worker must be revalidated, or browsers keep an old one for a day.
            return _file(path, media_type, request, _REVALIDATE)

        return serve

    for name, media_type in _ROOT_FILES.items():
        site.get(f"/{name}", response_model=None)(root_file(name, media_type))

    assets = static_dir / "assets"

    @site.get("/assets/{name}", response_model=None)
    def asset(name: str, request: Request) -> Response:
        """A hashed asset (one path segment: nothing outside the folder), cached for a year."""
        path = assets / name
        if name.startswith(".") or not path.is_file():
            return HTMLResponse("not found", status_code=404)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return _file(path, media_type, request, _IMMUTABLE)

    return site


def mount_site(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the site: its pages, root files and hashed assets."""
    app.include_router(router(static_dir))
