"""Overview pyramids for national viewers (ecointegrity.cube.overviews) and their serving.

A product of 64-pixel tiles (the national grid, Mexico, 30 m) over about 20 x 20 km, with a
continuous int16 band and a class band carrying a colour table; overview tiles of 64 pixels,
so the pyramid has two levels (120 m, 480 m) as a state at 1024-pixel tiles would.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import rasterio
import xarray as xr
from odc.geo.xr import xr_coords
from rasterio.merge import merge

from ecointegrity.cube import (
    LocalCatalog,
    ProductBand,
    ProductSpec,
    national_grid,
    overview_collection,
    overview_levels,
    prepare_product,
    read_slice,
    slice_geobox,
    tiles_for,
    update_overviews,
    write_product,
)
from ecointegrity.cube.overviews import block_mean, block_mode
from ecointegrity.web import ProductRenderer
from ecointegrity.web.product_index import Product

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:rasterio")

AREA = (-88.10, 19.50, -87.92, 19.68)
YEARS = (2020, 2021)
COLOURS = {0: (0, 0, 0, 0), 1: (0, 128, 0, 255), 2: (0, 0, 255, 255), 3: (200, 0, 0, 255)}
SPEC = ProductSpec(
    "vi", "Vegetation index", "synthetic", (
        ProductBand("vi", "int16", -32768, 1e-4, units="1"),
        ProductBand("cls", "uint8", 0, units="class"),
    ),
    colormap="rdylgn", value_range=(-1.0, 1.0), extra={"default_band": "vi"},
)


def _field(geobox, year: int, bump: float = 0.0) -> xr.Dataset:
    x = geobox.coords["x"].values[None, :]
    y = geobox.coords["y"].values[:, None]
    vi = np.sin(x / 2500.0 + year) * np.cos(y / 3100.0) * 0.8 + bump
    vi = np.broadcast_to(vi, geobox.shape).astype(np.float32).copy()
    holes = (np.floor(x / 900) + np.floor(y / 700)).astype(int) % 7 == 0  # nodata patches
    vi[np.broadcast_to(holes, geobox.shape)] = np.nan
    cls = (1 + (np.floor(x / 200) + np.floor(y / 170) + year) % 3).astype(np.float32)
    cls = np.broadcast_to(cls, geobox.shape).copy()
    cls[np.isnan(vi)] = np.nan
    return xr.Dataset({"vi": (("y", "x"), vi), "cls": (("y", "x"), cls)},
                      coords=xr_coords(geobox))


def _write_year(cat: LocalCatalog, tiles, year: int) -> list:
    items = [write_product(cat, SPEC, t, year, _field(t.geobox, year), register=False,
                           colormaps={"cls": COLOURS}) for t in tiles]
    cat.register_items(SPEC.name, items)
    return items


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    cat = LocalCatalog(tmp_path_factory.mktemp("overviews") / "products")
    prepare_product(cat, SPEC)
    tiles = tiles_for(national_grid("mexico", 30, 64), AREA)
    for year in YEARS:
        _write_year(cat, tiles, year)
        update_overviews(cat, SPEC.name, year, tile_px=64)
    return cat, tiles


def _hrefs(cat: LocalCatalog, collection: str, year: int, band: str) -> dict[str, str]:
    return {it.id: it.assets[band].get_absolute_href()
            for it in cat.items(collection, time=str(year))}


def _stored(href: str) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(href) as src:
        return src.read(1), src.transform


def _reference(srcs: list[str], bounds, res: float) -> np.ndarray:
    """The level below on the level's fine grid, merged by rasterio (first file wins)."""
    data, _ = merge(srcs, bounds=bounds, res=res, nodata=None)
    return data[0]


def test_levels_are_a_factor_four_apart_and_stop_at_one_tile_of_extent(pyramid):
    cat, tiles = pyramid
    levels = overview_levels(cat, "vi")
    assert [lv.resolution for lv in levels] == [30.0 * 4**lv.level for lv in levels]
    assert [lv.level for lv in levels][:2] == [1, 2]
    # the top level holds the product-year in one file; the one below needed several
    assert len(cat.items(levels[-1].collection, time="2020")) == 1
    assert len(cat.items(levels[-2].collection, time="2020")) > 1
    # each level is a collection of its own, not a product of its own
    assert overview_collection("vi", 1) in cat.collections()
    renderer = ProductRenderer(cat)
    assert renderer.products() == ["vi"]
    assert len(cat.items(overview_collection("vi", 1), time="2020")) < len(tiles)


@pytest.mark.parametrize("band", ["vi", "cls"])
def test_overview_values_are_block_averages_or_modes_of_the_level_below(pyramid, band):
    cat, _ = pyramid
    below = _hrefs(cat, "vi", 2021, band)
    for level in (1, 2):
        for href in _hrefs(cat, overview_collection("vi", level), 2021, band).values():
            got, transform = _stored(href)
            h, w = got.shape
            res = transform.a
            bounds = (transform.c, transform.f - h * res, transform.c + w * res, transform.f)
            fine = _reference(list(below.values()), bounds, res / 4)
            assert fine.shape == (4 * h, 4 * w)
            nodata = -32768 if band == "vi" else 0
            want = np.full((h, w), nodata, dtype=got.dtype)
            for r in range(h):
                for c in range(w):
                    block = fine[4 * r:4 * r + 4, 4 * c:4 * c + 4].ravel()
                    block = block[block != nodata]
                    if block.size == 0:
                        continue
                    if band == "vi":
                        want[r, c] = int(np.rint(block.astype(np.float64).mean()))
                    else:
                        counts = Counter(block.tolist())
                        top = max(counts.values())
                        want[r, c] = min(v for v, n in counts.items() if n == top)
            np.testing.assert_array_equal(got, want)
            if band == "cls":  # a class map keeps its colour table
                with rasterio.open(href) as src:
                    assert src.colormap(1)[2] == COLOURS[2]
        below = _hrefs(cat, overview_collection("vi", level), 2021, band)


def test_block_reductions_on_a_small_array():
    values = np.array([[1, 2, 2, 9], [3, 3, 2, 9], [5, 5, 7, 7], [5, 6, 6, 7]], np.int16)
    valid = values != 9
    mean, ok = block_mean(values, valid, 2)
    np.testing.assert_allclose(mean, [[2.25, 2.0], [5.25, 6.75]])
    mode, ok = block_mode(values, valid, 2)
    np.testing.assert_array_equal(mode, [[3, 2], [5, 7]])  # a 2-2 tie: the smaller, 3
    assert ok.all()
    mode, ok = block_mode(values, np.zeros_like(valid), 2)
    assert not ok.any() and np.isnan(mode).all()


def test_a_changed_tile_rebuilds_only_its_ancestors(tmp_path):
    cat = LocalCatalog(tmp_path / "products")
    prepare_product(cat, SPEC)
    tiles = tiles_for(national_grid("mexico", 30, 64), AREA)
    _write_year(cat, tiles, 2020)
    update_overviews(cat, "vi", 2020, tile_px=64)
    levels = overview_levels(cat, "vi")

    def stamps() -> dict[str, str]:
        return {it.id: it.properties["created"] for lv in levels
                for it in cat.items(lv.collection)}

    before = stamps()
    tile = tiles[len(tiles) // 2]
    top_before = cat.items(levels[1].collection)  # the 480 m level
    cx = (tile.geobox.boundingbox.left + tile.geobox.boundingbox.right) / 2
    cy = (tile.geobox.boundingbox.bottom + tile.geobox.boundingbox.top) / 2
    holder = next(it for it in top_before
                  if it.properties["proj:transform"][2] <= cx
                  <= it.properties["proj:transform"][2] + 480 * it.properties["proj:shape"][1]
                  and it.properties["proj:transform"][5] - 480 * it.properties["proj:shape"][0]
                  <= cy <= it.properties["proj:transform"][5])
    before_values, _ = _stored(holder.assets["vi"].get_absolute_href())
    item = write_product(cat, SPEC, tile, 2020, _field(tile.geobox, 2020, bump=0.5),
                         colormaps={"cls": COLOURS})
    written = update_overviews(cat, "vi", 2020, [item])
    after = stamps()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {it.id for it in written}
    # exactly one ancestor per level: the tile whose footprint holds the changed tile
    assert len(changed) == len(levels) >= 2
    cx = (tile.geobox.boundingbox.left + tile.geobox.boundingbox.right) / 2
    cy = (tile.geobox.boundingbox.bottom + tile.geobox.boundingbox.top) / 2
    for it in written:
        t = it.properties["proj:transform"]
        h, w = it.properties["proj:shape"]
        assert t[2] <= cx <= t[2] + w * t[0] and t[5] - h * -t[4] <= cy <= t[5]
        assert item.id in it.properties["ecointegrity:children"] or it.properties[
            "ecointegrity:overview_level"] >= 2
    # and the new values reached the top of the pyramid
    top = [it for it in written if it.properties["ecointegrity:overview_level"] == 2][0]
    got, transform = _stored(top.assets["vi"].get_absolute_href())
    assert top.id == holder.id
    col = int((cx - transform.c) / transform.a)
    row = int((transform.f - cy) / -transform.e)
    # a 480 m pixel inside the changed tile: its average rose by the bump (0.5 = 5000 stored)
    assert before_values.shape == got.shape
    assert abs(int(got[row, col]) - int(before_values[row, col]) - 5000) <= 2


class _Reads:
    """The files a renderer reads (every dataset taken from its pool)."""

    def __init__(self, renderer: ProductRenderer):
        self.files: list[str] = []
        pool = renderer._pool
        original = pool.dataset

        def dataset(href, opener=None):
            self.files.append(href)
            return original(href, opener)

        pool.dataset = dataset  # type: ignore[method-assign]

    def take(self) -> list[str]:
        out, self.files = self.files, []
        return out


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _rgba(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def test_renderer_reads_overviews_at_coarse_zoom_and_tiles_at_fine_zoom(pyramid, monkeypatch):
    cat, tiles = pyramid
    renderer = ProductRenderer(cat, tile_cache_mb=0)
    reads = _Reads(renderer)
    centre = ((AREA[0] + AREA[2]) / 2, (AREA[1] + AREA[3]) / 2)
    seen = {}
    for z in (7, 9, 11, 15):
        x, y = _tile_of(*centre, z)
        renderer.tile("vi", 2021, z, x, y)
        seen[z] = reads.take()
    # ground pixels at 19.6 N: z7 1150 m, z9 288 m, z11 72 m, z15 4.5 m
    assert seen[7] and all("/vi.overview-2/" in f for f in seen[7])
    assert seen[9] and all("/vi.overview-1/" in f for f in seen[9])
    for z in (11, 15):
        assert seen[z] and all("/vi/" in f for f in seen[z])
    assert len(seen[15]) <= 4
    # the same pictures drawn from the product's own tiles: close
    base = ProductRenderer(cat, tile_cache_mb=0)
    monkeypatch.setattr(Product, "items_for", lambda self, year, res: (0, self.year_items(year)))
    for z in (7, 9):
        x, y = _tile_of(*centre, z)
        a = _rgba(renderer.tile("vi", 2021, z, x, y))
        b = _rgba(base.tile("vi", 2021, z, x, y))
        both = (a[..., 3] > 0) & (b[..., 3] > 0)
        # the overview covers what the tiles cover (and fills their small nodata holes)
        assert both.sum() >= 0.8 * (b[..., 3] > 0).sum() > 0
        assert (a[..., 3] > 0).sum() <= 1.3 * (b[..., 3] > 0).sum()
        assert np.abs(a[both][:, :3] - b[both][:, :3]).mean() < 20


def test_wms_maps_and_animations_read_overviews(pyramid):
    from ecointegrity.web.wms import get_map

    cat, _ = pyramid
    renderer = ProductRenderer(cat, tile_cache_mb=0)
    reads = _Reads(renderer)
    item = cat.items("vi", time="2021")
    lefts = [it.properties["proj:transform"][2] for it in item]
    tops = [it.properties["proj:transform"][5] for it in item]
    bbox = (min(lefts), min(tops) - 64 * 30, max(lefts) + 64 * 30, max(tops))
    params = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": "vi",
              "CRS": "EPSG:6372", "BBOX": ",".join(map(str, bbox)), "WIDTH": "40",
              "HEIGHT": "40", "FORMAT": "image/png", "TIME": "2021"}
    png, media = get_map(renderer, params, max_pixels=10**6)
    assert media == "image/png" and (_rgba(png)[..., 3] > 0).mean() > 0.5
    files = reads.take()
    assert files and all(".overview-2/" in f for f in files)  # ~500 m pixels: the 480 m level
    gif = renderer.animation("vi", list(YEARS), AREA, size=128, attribution="test")
    assert gif[:3] == b"GIF"
    files = reads.take()
    assert files and all(".overview-" in f for f in files)


def test_slices_at_a_coarse_resolution_read_an_overview_level(pyramid):
    cat, _ = pyramid
    fine = slice_geobox(cat, "vi", AREA)
    coarse = slice_geobox(cat, "vi", AREA, resolution=480)
    assert coarse.resolution.x == 480 and fine.resolution.x == 30
    stack = read_slice(cat, "vi", "vi", list(YEARS), coarse)
    assert stack.sizes["year"] == 2 and np.isfinite(stack.values).mean() > 0.5
    # the 480 m level's own pixels, not a resampling of the 30 m ones
    top = cat.items(overview_collection("vi", 2), time="2021")[0]
    got, transform = _stored(top.assets["vi"].get_absolute_href())
    col = int(round((transform.c - coarse.affine.c) / 480))
    row = int(round((coarse.affine.f - transform.f) / 480))
    h, w = got.shape
    H, W = coarse.shape
    r0, c0 = max(0, row), max(0, col)
    r1, c1 = min(H, row + h), min(W, col + w)
    window = stack.sel(year=2021).values[r0:r1, c0:c1]
    stored = np.where(got == -32768, np.nan, got * 1e-4)[r0 - row:r1 - row, c0 - col:c1 - col]
    ok = np.isfinite(window) & np.isfinite(stored)
    assert ok.sum() > 10
    np.testing.assert_allclose(window[ok], stored[ok],
                               atol=1e-6)


def test_overviews_on_object_storage(s3_server):
    """The same pyramid on s3:// (SeaweedFS): written atomically there, read back through
    /vsis3 by the renderer at a coarse zoom."""
    import uuid

    _, _, _, bucket = s3_server
    cat = LocalCatalog(f"s3://{bucket}/overviews-{uuid.uuid4().hex[:8]}")
    prepare_product(cat, SPEC)
    tiles = tiles_for(national_grid("mexico", 30, 64), (-88.05, 19.55, -88.0, 19.6))
    _write_year(cat, tiles, 2020)
    written = update_overviews(cat, "vi", 2020, tile_px=64)
    assert written and all(
        it.assets["vi"].get_absolute_href().startswith(cat.root + "/vi.overview-")
        for it in written
    )
    renderer = ProductRenderer(cat, tile_cache_mb=0)
    reads = _Reads(renderer)
    x, y = _tile_of(-88.025, 19.575, 9)
    png = renderer.tile("vi", 2020, 9, x, y)
    assert (_rgba(png)[..., 3] > 0).any()
    files = reads.take()
    assert files and all(f.startswith("s3://") and ".overview-1/" in f for f in files)
    renderer.close()


def test_cli_builds_the_overviews_of_an_existing_catalog(tmp_path):
    from typer.testing import CliRunner

    from ecointegrity.cli import app

    cat = LocalCatalog(tmp_path / "products")
    prepare_product(cat, SPEC)
    _write_year(cat, tiles_for(national_grid("mexico", 30, 64), AREA)[:12], 2020)
    assert overview_levels(cat, "vi") == []  # written before the pyramid existed
    result = CliRunner().invoke(app, ["catalog", "overviews", str(cat.root), "--years", "2020"])
    assert result.exit_code == 0, result.output
    # 12 tiles of 64 px fit in 1024 px: their few files are the pyramid
    assert "none needed" in result.output and overview_levels(cat, "vi") == []
    result = CliRunner().invoke(app, ["catalog", "overviews", str(cat.root), "--tile-px", "64"])
    assert result.exit_code == 0, result.output
    assert "120 m" in result.output
    levels = overview_levels(cat, "vi")
    assert levels and levels[0].level == 1 and levels[0].tile_px == 64
    assert len(cat.items(levels[-1].collection)) == 1
    bad = CliRunner().invoke(app, ["catalog", "overviews", str(cat.root), "--product", "nope"])
    assert bad.exit_code == 2
