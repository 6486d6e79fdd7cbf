"""The React-2-EO HTTP API (FastAPI): products, XYZ tiles, WMS 1.3.0, slices, animations,
reactions and reaction statistics.

``create_app`` wires product catalogs (read-only), a store (SQLite by default, PostgreSQL by
URL) and a folder for rendered animations. Errors are typed and mapped to clear 4xx answers;
nothing internal (stack traces, paths) reaches a client.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import __version__
from ..cube import LocalCatalog, NoDataError, read_product
from ..io import atomic_path
from ..cube.grids import national_grid, region_geobox
from .models import (
    AnimationInfo,
    AnimationRequest,
    BBox,
    ProductInfo,
    ReactionInfo,
    ReactionRequest,
    Totals,
)
from .render import InvalidRequest, ProductRenderer, UnknownBand, UnknownProduct, UnknownYear
from .site import STATIC_DIR, mount_site
from .store import AnimationRecord, Store, UnknownAnimation
from .wms import capabilities_xml, parse_getmap

__all__ = ["ApiSettings", "create_app"]

TileFormat = Literal["png", "webp"]

log = logging.getLogger("ecointegrity.web")


class Problem(BaseModel):
    """An error: a message, or the list of invalid inputs (location and message)."""

    detail: str | list[dict[str, Any]]


class ApiSettings(BaseSettings):
    """Limits and policies of a deployment (environment variables ``ECOINTEGRITY_API_*``)."""

    model_config = SettingsConfigDict(env_prefix="ECOINTEGRITY_API_", extra="ignore")

    attribution: str = "ecointegrity · Landsat/Sentinel-2 courtesy of USGS/ESA"
    cors_origins: list[str] = ["*"]
    max_frames: int = 40
    max_animation_px: int = 1024
    max_slice_pixels: int = 4_000_000
    max_body_bytes: int = 16_384
    reactions_per_minute: int = 30
    animations_per_minute: int = 10
    min_reactions_per_cell: int = Field(5, description="k-anonymity of the reaction map")
    tile_cache_seconds: int = 86_400
    tile_cache_mb: float = Field(64, description="encoded tiles kept in memory; 0 turns the cache off")
    secret: str | None = Field(None, description="server secret for the daily IP-hash salt")


def create_app(products: str | Path | Sequence[str | Path], database_url: str, animations_dir: str | Path,
               settings: ApiSettings | None = None, *, site: Path | None = STATIC_DIR) -> FastAPI:
    """The API over product catalogs, a store and a folder for animations.

    ``products`` is one catalog folder or several (annual products, land-cover maps); where two
    list the same product, the first wins. ``site``: the built web app served at ``/`` and
    ``/dashboard`` (``None``: the API alone).
    """
    settings = settings or ApiSettings()
    problem = {"model": Problem}
    app = FastAPI(
        responses={400: problem, 404: problem, 413: problem, 422: problem, 429: problem},
        title="React-2-EO API",
        version=__version__,
        description="Annual satellite products of ecointegrity as tiles, WMS, slices and animations, "
        "and the public's reactions to them. No accounts; no raw IP addresses are stored.",
    )
    roots = [products] if isinstance(products, (str, Path)) else list(products)
    renderer = ProductRenderer([LocalCatalog(root) for root in roots], tile_cache_mb=settings.tile_cache_mb)
    store = Store(database_url, secret=settings.secret.encode() if settings.secret else None)
    store.upgrade()
    gif_dir = Path(animations_dir)
    gif_dir.mkdir(parents=True, exist_ok=True)
    app.state.renderer, app.state.store, app.state.settings = renderer, store, settings
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "If-None-Match"], max_age=3600)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return JSONResponse({"detail": f"request body larger than {settings.max_body_bytes} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # Only the messages and locations: never echo the whole input back.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    def _not_found(exc: Exception) -> HTTPException:
        return HTTPException(404, str(exc))

    def _limit(request: Request, action: str, per_minute: int) -> None:
        client = request.client.host if request.client else "unknown"
        allowed, retry_after = store.hit(client, action, per_minute, 60)
        if not allowed:
            raise HTTPException(429, f"too many {action} requests; retry in {retry_after} s",
                                headers={"Retry-After": str(retry_after)})

    # -- service ---------------------------------------------------------------------------
    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: the process answers and the store is reachable."""
        store.totals()
        return {"status": "ok"}

    @app.get("/api/version", tags=["service"])
    def version() -> dict[str, str]:
        return {"version": __version__, "api": "1"}

    # -- products and tiles ----------------------------------------------------------------
    @app.get("/api/products", response_model=list[ProductInfo], tags=["products"])
    def products_list() -> list[ProductInfo]:
        """Products and years available, with legend, colour map, value range and bounds."""
        return [_product_info(layer, settings.attribution) for layer in renderer.layers()]

    @app.get("/api/tiles/{product}/{year}/{z}/{x}/{y}.{fmt}", tags=["products"],
             responses={200: {"content": {"image/png": {}, "image/webp": {}}}, 304: {"description": "not modified"}})
    def tile(
        request: Request,
        product: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")],
        year: Annotated[int, PathParam(ge=1972, le=2100)],
        z: Annotated[int, PathParam(ge=0, le=22)],
        x: Annotated[int, PathParam(ge=0)],
        y: Annotated[int, PathParam(ge=0)],
        fmt: TileFormat,
        band: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
    ) -> Response:
        """A web-mercator tile; outside the data it is transparent, not an error."""
        if x >= 2**z or y >= 2**z:
            raise HTTPException(404, f"tile {z}/{x}/{y} does not exist: x and y must be below 2**z = {2**z}")
        try:
            # the ETag changes when the product's catalog does: clients never keep stale tiles
            stamp = f"{renderer.version(product)}/{product}/{year}/{z}/{x}/{y}/{band}/{fmt}"
            etag = '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'
            headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.tile_cache_seconds}"}
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers=headers)
            content = renderer.tile(product, year, z, x, y, band=band, fmt=fmt)
        except (UnknownProduct, UnknownYear, UnknownBand) as exc:
            raise _not_found(exc) from None
        except InvalidRequest as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(content, media_type=f"image/{fmt}", headers=headers)

    # -- WMS 1.3.0 -------------------------------------------------------------------------
    @app.get("/wms", tags=["wms"], responses={200: {"content": {"image/png": {}, "text/xml": {}}}})
    def wms(request: Request) -> Response:
        """OGC WMS 1.3.0: GetCapabilities, and GetMap with a TIME dimension (years)."""
        params = {k.upper(): v for k, v in request.query_params.items()}
        if params.get("SERVICE", "WMS").upper() != "WMS":
            raise HTTPException(400, "SERVICE must be WMS")
        operation = params.get("REQUEST", "").lower()
        if operation == "getcapabilities":
            base = str(request.url).split("?")[0]
            xml = capabilities_xml(renderer.layers(), base, settings.attribution)
            return Response(xml, media_type="text/xml")
        if operation == "getmap":
            try:
                req = parse_getmap(params, renderer.layers(), max_pixels=settings.max_slice_pixels)
                rgba = renderer.render_bbox(req.product, req.year, req.bbox, req.width, req.height, crs=req.crs, band=req.band)
            except (UnknownProduct, UnknownYear, UnknownBand, ValueError) as exc:
                raise HTTPException(400, str(exc)) from None
            return Response(renderer.encode(rgba, req.format), media_type=f"image/{req.format}")
        raise HTTPException(400, "REQUEST must be GetCapabilities or GetMap")

    # -- slices ----------------------------------------------------------------------------
    @app.get("/api/slices/{product}", tags=["products"],
             responses={200: {"content": {"image/tiff": {}, "application/x-netcdf": {}, "application/zip": {}}}})
    def slice_(
        product: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")],
        west: Annotated[float, Query(ge=-180, le=180)],
        south: Annotated[float, Query(ge=-90, le=90)],
        east: Annotated[float, Query(ge=-180, le=180)],
        north: Annotated[float, Query(ge=-90, le=90)],
        year_from: Annotated[int, Query(ge=1972, le=2100)],
        year_to: Annotated[int, Query(ge=1972, le=2100)],
        format: Literal["tif", "nc", "png"] = "tif",
        band: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
    ) -> Response:
        """A spatial and temporal extract: GeoTIFF (a band per year), NetCDF, or PNG frames (zip)."""
        bbox = _bbox_or_422(west, south, east, north)
        if year_to < year_from:
            raise HTTPException(422, "year_to must not be before year_from")
        try:
            layer = renderer.layer(product)
        except UnknownProduct as exc:
            raise _not_found(exc) from None
        years = [y for y in range(year_from, year_to + 1) if y in layer.years]
        if not years:
            raise HTTPException(422, f"{product} has no year in {year_from}-{year_to}; available: {layer.years}")
        band = band or layer.default_band
        if band not in layer.bands:
            raise HTTPException(422, f"{product} has no band {band!r}; bands: {layer.bands}")
        geobox = region_geobox(national_grid("mexico"), bbox.as_tuple())
        pixels = geobox.shape[0] * geobox.shape[1] * len(years)
        if pixels > settings.max_slice_pixels:
            raise HTTPException(422, f"slice of {pixels:,} pixel-years exceeds the limit of {settings.max_slice_pixels:,}; "
                                     "ask for a smaller bbox or fewer years")
        if format == "png":
            try:
                frames = _png_frames(renderer, product, years, bbox, band)
            except InvalidRequest as exc:
                raise HTTPException(422, str(exc)) from None
            return Response(frames, media_type="application/zip",
                            headers={"Content-Disposition": f'attachment; filename="{product}-{years[0]}-{years[-1]}.zip"'})
        arrays = {}
        for year in years:
            try:
                arrays[year] = read_product(renderer.catalog_of(product), product, year, geobox, [band])[band]
            except NoDataError:
                continue
        if not arrays:
            raise HTTPException(422, f"no {product} data inside that bbox for {year_from}-{year_to}")
        import xarray as xr

        stack = xr.concat(list(arrays.values()), dim="year").assign_coords(year=list(arrays))
        stack.name = band
        if format == "nc":
            data = stack.to_dataset().drop_vars("spatial_ref", errors="ignore")
            data.attrs.update(product=product, crs=geobox.crs.to_wkt(), transform=list(geobox.affine)[:6])
            return Response(data.to_netcdf(engine="scipy"), media_type="application/x-netcdf",
                            headers={"Content-Disposition": f'attachment; filename="{product}-{band}.nc"'})
        from ..cube.cog import write_cog

        buf = gif_dir / f".slice-{hashlib.sha256(json.dumps([product, band, bbox.as_tuple(), years]).encode()).hexdigest()[:16]}.tif"
        write_cog(buf, stack.values.astype(np.float32), geobox, band_names=[str(y) for y in arrays])
        content = buf.read_bytes()
        buf.unlink()
        return Response(content, media_type="image/tiff",
                        headers={"Content-Disposition": f'attachment; filename="{product}-{band}.tif"'})

    # -- animations ------------------------------------------------------------------------
    @app.post("/api/animations", response_model=AnimationInfo, status_code=201, tags=["animations"],
              responses={200: {"model": AnimationInfo, "description": "identical animation already made"},
                         429: {"description": "rate limited"}})
    def create_animation(request: Request, response: Response, body: AnimationRequest) -> AnimationInfo:
        """An animated GIF (or WebP) of a product over a bbox, one frame per year."""
        frames = body.year_to - body.year_from + 1
        if frames > settings.max_frames:
            raise HTTPException(422, f"{frames} frames requested; at most {settings.max_frames} (years)")
        if body.size > settings.max_animation_px:
            raise HTTPException(422, f"size {body.size} px exceeds {settings.max_animation_px} px on the long side")
        try:
            layer = renderer.layer(body.product)
        except UnknownProduct as exc:
            raise _not_found(exc) from None
        if body.band is not None and body.band not in layer.bands + layer.composites:
            raise HTTPException(422, f"{body.product} has no band or composite {body.band!r}; "
                                     f"bands: {list(layer.bands)}, composites: {list(layer.composites)}")
        key = json.dumps([body.product, body.band, [round(v, 6) for v in body.bbox.as_tuple()], body.year_from,
                          body.year_to, body.fps, body.size, body.format, renderer.version(body.product)])
        anim_id = hashlib.sha256(key.encode()).hexdigest()[:24]
        existing = store.get_animation(anim_id)
        path = gif_dir / f"{anim_id}.{body.format}"
        if existing is not None and path.exists():
            response.status_code = 200
            return _animation_info(existing, body.format)
        _limit(request, "animation", settings.animations_per_minute)
        years = list(range(body.year_from, body.year_to + 1))
        make = renderer.animation if body.format == "gif" else renderer.animation_webp
        try:
            content = make(body.product, years, body.bbox.as_tuple(), fps=body.fps, size=body.size, band=body.band,
                           attribution=settings.attribution)
        except InvalidRequest as exc:  # e.g. a bbox beyond web mercator's latitudes
            raise HTTPException(422, str(exc)) from None
        with atomic_path(path, suffix=f".{body.format}") as tmp:
            Path(tmp).write_bytes(content)
        record = AnimationRecord(id=anim_id, product=body.product, band=body.band, years_from=body.year_from,
                                 years_to=body.year_to, minx=body.bbox.west, miny=body.bbox.south, maxx=body.bbox.east,
                                 maxy=body.bbox.north, fps=body.fps, size=body.size, path=str(path))
        store.save_animation(record)
        return _animation_info(record, body.format)

    @app.get("/api/animations/{animation_id}", response_model=AnimationInfo, tags=["animations"])
    def animation_info(animation_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$")]) -> AnimationInfo:
        record = store.get_animation(animation_id)
        if record is None:
            raise HTTPException(404, f"no animation {animation_id}")
        return _animation_info(record, Path(record.path).suffix.lstrip("."))

    @app.get("/api/animations/{animation_id}/file", tags=["animations"],
             responses={200: {"content": {"image/gif": {}, "image/webp": {}}}})
    def animation_file(animation_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$")]) -> FileResponse:
        record = store.get_animation(animation_id)
        if record is None or not Path(record.path).exists():
            raise HTTPException(404, f"no animation {animation_id}")
        suffix = Path(record.path).suffix.lstrip(".")
        return FileResponse(record.path, media_type=f"image/{suffix}",
                            headers={"Cache-Control": "public, max-age=31536000, immutable"})

    # -- reactions -------------------------------------------------------------------------
    @app.post("/api/animations/{animation_id}/reactions", response_model=ReactionInfo, tags=["reactions"],
              responses={429: {"description": "rate limited"}})
    def react(request: Request, animation_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$")],
              body: ReactionRequest) -> ReactionInfo:
        """Like or dislike an animation; the same browser token replaces its earlier reaction."""
        _limit(request, "reaction", settings.reactions_per_minute)
        try:
            stored = store.react(animation_id, body.token, 1 if body.value == "like" else -1,
                                 lat=body.location.lat if body.location else None,
                                 lon=body.location.lon if body.location else None,
                                 device_location=body.location is not None)
        except UnknownAnimation:
            raise HTTPException(404, f"no animation {animation_id}") from None
        return ReactionInfo(animation_id=animation_id, value="like" if stored.value > 0 else "dislike",
                            lat=stored.lat, lon=stored.lon)

    @app.get("/api/reactions/stats", tags=["reactions"])
    def reaction_stats(
        zoom: Annotated[int, Query(ge=0, le=22, description="map zoom; picks the H3 resolution")] = 5,
        product: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
        year: Annotated[int | None, Query(ge=1972, le=2100)] = None,
    ) -> dict:
        """Likes and dislikes per H3 cell as GeoJSON; cells with too few reactions are hidden."""
        return store.stats_geojson(h3_resolution_for_zoom(zoom), product=product, year=year,
                                   min_count=settings.min_reactions_per_cell)

    @app.get("/api/reactions/summary", tags=["reactions"])
    def reaction_summary(
        product: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
        year: Annotated[int | None, Query(ge=1972, le=2100)] = None,
    ) -> dict:
        """Totals and the most reacted-to animations (regions)."""
        totals = Totals(**store.totals(product=product, year=year))
        return {"totals": totals.model_dump(), "top": store.top_animations(10, product=product, year=year),
                "min_reactions_per_cell": settings.min_reactions_per_cell}

    if site is not None:
        mount_site(app, site)
    return app


def h3_resolution_for_zoom(zoom: int) -> int:
    """H3 cells about the size of a few map tiles: resolution ~ zoom / 2, within 0..9."""
    return max(0, min(9, math.floor(zoom / 2)))


def _bbox_or_422(west: float, south: float, east: float, north: float) -> BBox:
    try:
        return BBox(west=west, south=south, east=east, north=north)
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(e["msg"] for e in exc.errors())) from None


def _product_info(layer, attribution: str) -> ProductInfo:
    return ProductInfo(**layer.to_dict(), attribution=attribution)


def _animation_info(record: AnimationRecord, fmt: str) -> AnimationInfo:
    return AnimationInfo(
        id=record.id, url=f"/api/animations/{record.id}/file", product=record.product, band=record.band,
        bbox=BBox(west=record.minx, south=record.miny, east=record.maxx, north=record.maxy),
        year_from=record.years_from, year_to=record.years_to, frames=record.years_to - record.years_from + 1,
        fps=record.fps, size=record.size, format=fmt,
    )


def _png_frames(renderer: ProductRenderer, product: str, years: list[int], bbox: BBox, band: str | None) -> bytes:
    west, south, east, north = bbox.as_tuple()
    aspect = (east - west) * math.cos(math.radians((south + north) / 2)) / (north - south)
    width, height = (512, max(1, round(512 / aspect))) if aspect >= 1 else (max(1, round(512 * aspect)), 512)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for year in years:
            rgba = renderer.render_bbox(product, year, bbox.as_tuple(), width, height, crs="EPSG:4326", band=band)
            zf.writestr(f"{product}-{year}.png", renderer.encode(rgba, "png"))
    return out.getvalue()
