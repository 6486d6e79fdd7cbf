"""Stories in one tap: deforestation, city growth and ecosystem integrity, where the data show
them most (:mod:`..stories`). Found once per product version and kept."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...cube import NoDataError
from ..deps import Renderer
from ..renderer import ProductRenderer
from ..stories import STORIES, StoryPlace, find_story

__all__ = ["StoryInfo", "router"]


class StoryInfo(BaseModel):
    """A story: the product and years to play, where to look, in plain words."""

    key: str = Field(description="deforestation, city-growth or integrity")
    product: str
    year_from: int
    year_to: int
    change: float
    bbox: tuple[float, float, float, float]
    title: dict[str, str]
    summary: dict[str, str]


_lock = threading.Lock()
_found: dict[tuple[str, str, str], StoryPlace | None] = {}


def _place(renderer: ProductRenderer, key: str, product: str) -> StoryPlace | None:
    story = next(s for s in STORIES if s.key == key)
    layer = renderer.layer(product)
    cache_key = (key, product, renderer.version(product))
    with _lock:
        if cache_key in _found:
            return _found[cache_key]
    band = story.band or layer.default_band
    place = None
    if band in layer.bands and layer.bounds is not None:
        try:
            place = find_story(renderer.catalog_of(product), product, band, layer.years,
                               layer.bounds, story)
        except NoDataError:
            place = None
    with _lock:
        _found[cache_key] = place
    return place


def router() -> APIRouter:
    api = APIRouter(tags=["products"])

    @api.get("/api/stories", response_model=list[StoryInfo])
    def stories(renderer: Renderer) -> list[StoryInfo]:
        """The stories the data tell, each with the place and years to show it."""
        names = set(renderer.products())
        found = []
        for story in STORIES:
            product = next((p for p in story.products if p in names), None)
            if product is None:
                continue
            place = _place(renderer, story.key, product)
            if place is None:
                continue
            found.append(StoryInfo(key=story.key, product=product, year_from=place.year_from,
                                   year_to=place.year_to, change=place.change, bbox=place.bbox,
                                   title=story.title, summary=story.summary))
        return found

    return api
