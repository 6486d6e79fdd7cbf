"""Animations: GIF or WebP of a product over a bbox, one frame per year, content-addressed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.responses import Response as RawResponse

from ... import io
from ...cube import GAZETTEER_CREDIT, place_label
from ..deps import AnimationsDir, Renderer, Settings, StoreDep, check_rate
from ..errors import InvalidRequest, NotFound
from ..models import AnimationInfo, AnimationRequest, BBox
from ..renderer import ProductRenderer
from ..store import AnimationRecord

__all__ = ["ANIMATION_ID", "router"]

ANIMATION_ID = r"^[0-9a-f]{24}$"


def router() -> APIRouter:
    api = APIRouter(tags=["animations"])

    @api.post(
        "/api/animations",
        response_model=AnimationInfo,
        status_code=201,
        responses={
            200: {"model": AnimationInfo, "description": "identical animation already made"},
            429: {"description": "rate limited"},
        },
    )
    def create_animation(
        request: Request,
        response: Response,
        body: AnimationRequest,
        renderer: Renderer,
        store: StoreDep,
        settings: Settings,
        folder: AnimationsDir,
    ) -> AnimationInfo:
        """An animated GIF (or WebP) of a product over a bbox, one frame per year."""
        _check_limits(body, renderer, settings.max_frames, settings.max_animation_px)
        anim_id = _animation_id(body, renderer.version(body.product))
        existing = store.get_animation(anim_id)
        path = io.join(folder, f"{anim_id}.{body.format}")
        if existing is not None and io.exists(path):
            response.status_code = 200
            return _animation_info(existing, body.format)
        check_rate(request, store, "animation", settings.animations_per_minute)
        # a bbox beyond web mercator's latitudes is an InvalidRequest (422)
        _write_animation(renderer, body, path, settings.attribution)
        record = _animation_record(anim_id, body, path)
        store.save_animation(record)
        return _animation_info(record, body.format)

    @api.get("/api/animations/{animation_id}", response_model=AnimationInfo)
    def animation_info(
        animation_id: Annotated[str, PathParam(pattern=ANIMATION_ID)], store: StoreDep
    ) -> AnimationInfo:
        record = store.get_animation(animation_id)
        if record is None:
            raise NotFound(f"no animation {animation_id}")
        return _animation_info(record, Path(record.path).suffix.lstrip("."))

    @api.get(
        "/api/animations/{animation_id}/file",
        responses={200: {"content": {"image/gif": {}, "image/webp": {}}}},
    )
    def animation_file(
        animation_id: Annotated[str, PathParam(pattern=ANIMATION_ID)], store: StoreDep
    ) -> RawResponse:
        record = store.get_animation(animation_id)
        if record is None or not io.exists(record.path):
            raise NotFound(f"no animation {animation_id}")
        media_type = f"image/{Path(record.path).suffix.lstrip('.')}"
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        if io.is_local(record.path):
            return FileResponse(record.path, media_type=media_type, headers=headers)
        # on object storage: the bytes through this process (an animation is bounded by
        # max_frames and max_animation_px, a few MB at most), so clients need no bucket access
        return RawResponse(io.read_bytes(record.path), media_type=media_type, headers=headers)

    return api


def _write_animation(
    renderer: ProductRenderer, body: AnimationRequest, path: str, attribution: str
) -> None:
    """Render the animation a request asks for into ``path`` (atomically; a file or an
    object)."""
    years = list(range(body.year_from, body.year_to + 1))
    # the place on the picture, where the gazetteer knows one: "Bacalar, Quintana Roo"
    b = body.bbox
    place = place_label((b.west + b.east) / 2, (b.south + b.north) / 2, body.lang)
    if place is not None:
        attribution = f"{place} · {attribution} · {GAZETTEER_CREDIT}"
    content = renderer.animation(
        body.product,
        years,
        body.bbox.as_tuple(),
        fps=body.fps,
        size=body.size,
        band=body.band,
        attribution=attribution,
        format=body.format,
        lang=body.lang,
    )
    io.write_bytes_atomic(path, content)


def _animation_record(anim_id: str, body: AnimationRequest, path: str) -> AnimationRecord:
    return AnimationRecord(
        id=anim_id,
        product=body.product,
        band=body.band,
        years_from=body.year_from,
        years_to=body.year_to,
        minx=body.bbox.west,
        miny=body.bbox.south,
        maxx=body.bbox.east,
        maxy=body.bbox.north,
        fps=body.fps,
        size=body.size,
        path=path,
    )


def _check_limits(
    body: AnimationRequest, renderer: ProductRenderer, max_frames: int, max_px: int
) -> None:
    """Limits, product and band (``InvalidRequest``, ``UnknownProduct``)."""
    frames = body.year_to - body.year_from + 1
    if frames > max_frames:
        raise InvalidRequest(f"{frames} frames requested; at most {max_frames} (years)")
    if body.size > max_px:
        raise InvalidRequest(f"size {body.size} px exceeds {max_px} px on the long side")
    layer = renderer.layer(body.product)
    if body.band is not None and body.band not in layer.bands + layer.composites:
        raise InvalidRequest(
            f"{body.product} has no band or composite {body.band!r}; "
            f"bands: {list(layer.bands)}, composites: {list(layer.composites)}"
        )


def _animation_id(body: AnimationRequest, version: str) -> str:
    """Content address: the same request on the same product data is the same animation."""
    key = json.dumps(
        [
            body.product,
            body.band,
            [round(v, 6) for v in body.bbox.as_tuple()],
            body.year_from,
            body.year_to,
            body.fps,
            body.size,
            body.format,
            body.lang,
            version,
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _animation_info(record: AnimationRecord, fmt: str) -> AnimationInfo:
    return AnimationInfo(
        id=record.id,
        url=f"/api/animations/{record.id}/file",
        product=record.product,
        band=record.band,
        bbox=BBox(west=record.minx, south=record.miny, east=record.maxx, north=record.maxy),
        year_from=record.years_from,
        year_to=record.years_to,
        frames=record.years_to - record.years_from + 1,
        fps=record.fps,
        size=record.size,
        format=fmt,
    )
