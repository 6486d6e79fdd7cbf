"""Stories in one tap (/api/stories): found in the data, where the change is strongest."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ecointegrity.cube import LocalCatalog, read_slice, slice_geobox
from ecointegrity.web import ApiSettings, create_app
from ecointegrity.web.stories import MAX_SIDE, STORIES, _coarse_resolution, find_story


def test_coarse_grid_stays_bounded_for_a_country():
    assert _coarse_resolution(30, 6_000) == 62.5  # the demo square: 96 pixels across
    assert 3_000_000 / _coarse_resolution(30, 3_000_000) == MAX_SIDE  # Mexico: the same 96
    assert _coarse_resolution(30, 2_000) == 30  # already small: native pixels


@pytest.fixture(scope="module")
def client(demo_outputs, tmp_path_factory):
    work = tmp_path_factory.mktemp("stories")
    app = create_app([demo_outputs / "products", demo_outputs / "landcover"], f"sqlite:///{work / 's.sqlite'}",
                     work / "animations", ApiSettings(secret="t"), site=None)
    with TestClient(app) as c:
        yield c


def test_deforestation_story_frames_where_vegetation_fell_most(client, demo_outputs):
    stories = {s["key"]: s for s in client.get("/api/stories").json()}
    assert "deforestation" in stories and "integrity" not in stories  # no EI product served here
    story = stories["deforestation"]
    assert story["product"] == "ndvi" and (story["year_from"], story["year_to"]) == (2021, 2023)
    assert story["title"] == {"es": "Deforestación", "en": "Deforestation"} and story["change"] < -0.05
    # independently: NDVI change in the story's frame against the whole footprint
    catalog = LocalCatalog(demo_outputs / "products")
    bounds = next(p for p in client.get("/api/products").json() if p["product"] == "ndvi")["bounds"]
    grid = slice_geobox(catalog, "ndvi", bounds, resolution=60)
    stack = read_slice(catalog, "ndvi", "ndvi", [2021, 2023], grid)
    change = stack.sel(year=2023) - stack.sel(year=2021)
    frame = slice_geobox(catalog, "ndvi", story["bbox"], resolution=60)
    inside = read_slice(catalog, "ndvi", "ndvi", [2021, 2023], frame)
    change_inside = float((inside.sel(year=2023) - inside.sel(year=2021)).mean())
    assert change_inside < float(change.mean()) - 0.02, (change_inside, float(change.mean()))
    assert float(change.min()) <= story["change"]  # a 3 x 3 patch's mean, never beyond the worst pixel


def test_a_product_with_one_year_tells_no_story(demo_outputs):
    catalog = LocalCatalog(demo_outputs / "products")
    story = next(s for s in STORIES if s.key == "deforestation")
    assert find_story(catalog, "ndvi", "ndvi", [2022], (-88.43, 18.62, -88.37, 18.68), story) is None
    calm = type(story)(**{**story.__dict__, "min_change": 5.0})  # no change can reach 5 NDVI units
    assert find_story(catalog, "ndvi", "ndvi", [2021, 2023], (-88.43, 18.62, -88.37, 18.68), calm) is None


def test_stories_are_found_once_per_product_version(client, monkeypatch):
    import ecointegrity.web.routers.stories as route

    first = client.get("/api/stories").json()
    monkeypatch.setattr(route, "find_story", lambda *a, **k: pytest.fail("looked again"))
    assert client.get("/api/stories").json() == first
    assert np.isfinite([s["change"] for s in first]).all()
