"""The mosaic pipeline: resume, overwrite, failing tiles, Dask cluster, bounded memory blocks."""

import numpy as np
import pystac
import pytest
import rasterio

from ecointegrity.cube import (
    LocalCatalog,
    Tile,
    get_profile,
    ingest_dataset,
    national_grid,
    tiles_for,
)
from ecointegrity.cube.simulate import simulate
from ecointegrity.mosaics import MosaicTask, run_mosaics
from ecointegrity.mosaics.pipeline import block_rows_for

BBOX = (-88.42, 18.63, -88.39, 18.66)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    grid = national_grid("mexico", 30, 64)
    tiles = tiles_for(grid, BBOX)
    from odc.geo.geobox import GeoBox

    left = min(t.geobox.boundingbox.left for t in tiles)
    top = max(t.geobox.boundingbox.top for t in tiles)
    right = max(t.geobox.boundingbox.right for t in tiles)
    bottom = min(t.geobox.boundingbox.bottom for t in tiles)
    full = GeoBox.from_bbox((left, bottom, right, top), grid.crs, resolution=30)
    scenes = simulate(full, start_year=2021, end_year=2021, seed=2)
    root = tmp_path_factory.mktemp("pipeline")
    cat = LocalCatalog(root / "catalog")
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(cat, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    return cat, tiles


def _values(item, band):
    with rasterio.open(item.assets[band].get_absolute_href()) as src:
        return src.read(1)


def test_resume_overwrite_and_failing_tile(source, tmp_path):
    cat, tiles = source
    out = str(tmp_path / "products")
    empty = Tile("mexico-30m", (0, 0), national_grid("mexico", 30, 64).gridspec.tile_geobox((0, 0)))
    run = run_mosaics(cat.root, "sim", out, [*tiles, empty], [2021], products=["ndvi", "wofs"], progress=False)
    assert run.written == 2 * len(tiles)
    assert list(run.failed) == [f"{empty.id} 2021"] and "NoDataError" in run.failed[f"{empty.id} 2021"]
    products = LocalCatalog(out)
    first = {it.id: it.properties["created"] for it in products.items("ndvi")}
    assert len(first) == len(tiles)

    again = run_mosaics(cat.root, "sim", out, tiles, [2021], products=["ndvi", "wofs"], progress=False)
    assert again.written == 0 and again.skipped == 2 * len(tiles)
    # a product added later is computed alone; existing ones stay as they were
    more = run_mosaics(cat.root, "sim", out, tiles, [2021], products=["ndvi", "bu"], progress=False)
    assert more.written == len(tiles)
    assert {it.id: it.properties["created"] for it in products.items("ndvi")} == first

    redo = run_mosaics(cat.root, "sim", out, tiles[:1], [2021], products=["ndvi"], overwrite=True, progress=False)
    assert redo.written == 1
    after = {it.id: it.properties["created"] for it in products.items("ndvi")}
    assert sum(after[k] != first[k] for k in first) == 1


def test_small_memory_budget_gives_identical_products(source, tmp_path):
    cat, tiles = source
    tile = tiles[0]
    common = dict(catalog=cat.root, collection="sim", year=2021, products=("geomedian", "wofs", "ndvi"),
                  bands=("blue", "green", "red", "nir", "swir1", "swir2"))
    one_block = MosaicTask(products_catalog=str(tmp_path / "a"), **common)(tile)
    budget = 64 * 6 * 7 * 4 * 3 * 30  # about 10 rows per block
    assert block_rows_for(tile.geobox, 30, 6, budget) < 64
    blocks = MosaicTask(products_catalog=str(tmp_path / "b"), memory_budget=budget, **common)(tile)
    for a, b in zip(one_block, blocks, strict=False):
        for band in a.assets:
            np.testing.assert_array_equal(_values(a, band), _values(b, band))


def test_dask_cluster_equals_local(source, tmp_path):
    cat, tiles = source
    local = run_mosaics(cat.root, "sim", str(tmp_path / "local"), tiles, [2021], products=["geomedian"], progress=False)
    cluster = run_mosaics(cat.root, "sim", str(tmp_path / "dask"), tiles, [2021], products=["geomedian"],
                          scheduler="local", progress=False)
    assert cluster.written == local.written == len(tiles) and not cluster.failed
    by_id = {it.id: it for it in cluster.items}
    for item in local.items:
        for band in ("red", "nir", "emad", "count"):
            np.testing.assert_array_equal(_values(item, band), _values(by_id[item.id], band))


def test_products_record_the_platforms_of_their_sources(tmp_path):
    from odc.geo.geobox import GeoBox

    from ecointegrity.cube.load import native_geobox

    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * 24, 800_000 + 30 * 16),
                              "EPSG:6372", resolution=30)
    scenes = simulate(geobox, start_year=2021, end_year=2021, revisit_days=16, seed=5)
    cat = LocalCatalog(tmp_path / "catalog")
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(cat, "sim", scenes.dataset, sensor=profile,
                   rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    items = cat.items("sim")
    assert len(items) >= 3
    for i, item in enumerate(items):  # landsat-9 and landsat-8 scenes, and one without platform
        item.properties.pop("platform", None)
        if i > 0:
            item.properties["platform"] = "landsat-9" if i % 2 else "landsat-8"
        cat.write_item("sim", item)
    task = MosaicTask(cat.root, "sim", str(tmp_path / "products"), 2021, ("ndvi", "wofs"),
                      ("blue", "green", "red", "nir", "swir1", "swir2"))
    written = task(Tile("t", (0, 0), native_geobox(cat.items("sim"))))
    assert len(written) == 2
    for item in written:
        assert item.properties["ecointegrity:platforms"] == ["landsat-8", "landsat-9"]
    products = LocalCatalog(tmp_path / "products")
    on_disk = pystac.Item.from_file(f"{products.item_dir('wofs', written[1].id)}/{written[1].id}.json")
    assert on_disk.properties["ecointegrity:platforms"] == ["landsat-8", "landsat-9"]
