"""Tile-wise computation: a Dask LocalCluster gives the same result as one in-memory run."""

import numpy as np
import pandas as pd
import pytest

from ecointegrity.cube import (
    CLEAR_OBSERVATIONS,
    ClearCountTask,
    LocalCatalog,
    TimeRange,
    clear_observations,
    ingest_arrays,
    load,
    national_grid,
    prepare_product,
    run_tiles,
    tiles_for,
)
from ecointegrity.cube.grids import Tile

REGION = (-88.46, 18.60, -88.40, 18.66)  # Bacalar, Quintana Roo


@pytest.fixture
def landsat_like(tmp_path):
    """A random Landsat C2 L2 series with QA clouds, on a grid covering several 64-px tiles."""
    grid = national_grid("mexico", 30, 64)
    tiles = tiles_for(grid, REGION)
    assert len(tiles) >= 4
    from odc.geo.geobox import GeoBox

    full = GeoBox.from_bbox(
        (min(t.geobox.boundingbox.left for t in tiles), min(t.geobox.boundingbox.bottom for t in tiles),
         max(t.geobox.boundingbox.right for t in tiles), max(t.geobox.boundingbox.top for t in tiles)),
        grid.crs, resolution=grid.resolution,
    )
    rng = np.random.default_rng(42)
    n = 6
    ny, nx = full.shape
    red = rng.integers(8000, 12000, (n, ny, nx, 1)).astype(np.uint16)
    qa = np.full((n, ny, nx, 1), 21824, dtype=np.uint16)
    qa[rng.random((n, ny, nx, 1)) < 0.3] = 22280  # cloud
    times = pd.date_range("2020-01-05", periods=n, freq="16D")
    cat = LocalCatalog(tmp_path / "catalog")
    ingest_arrays(cat, "landsat-c2-l2", np.concatenate([red, qa], axis=-1), bands=["red", "qa_pixel"],
                  times=list(times), geobox=full, sensor="landsat-c2-l2", nodata=0)
    return cat, tiles, full


def test_tiles_are_aligned_and_stable():
    grid = national_grid("mexico")
    a = tiles_for(grid, REGION)
    b = tiles_for(grid, REGION)
    assert [t.id for t in a] == [t.id for t in b]
    assert a[0].geobox.crs.epsg == 6372 and a[0].geobox.shape == (1024, 1024)
    # the tile origin is on the grid (multiples of tile size x resolution)
    assert a[0].geobox.affine.c % (1024 * 30) == 0
    assert tiles_for(national_grid("colombia"), (-74.1, 4.6, -74.0, 4.7))[0].geobox.crs.epsg == 9377


def test_localcluster_equals_in_memory(landsat_like, tmp_path):
    cat, tiles, full = landsat_like
    period = TimeRange.years(2020)
    in_memory = clear_observations(load(cat, "landsat-c2-l2", ["red"], period, geobox=full)).compute()
    # 6 dates, 30 % cloud: 4.2 clear observations on average
    assert float(in_memory.clear_count.mean()) == pytest.approx(4.2, abs=0.05)
    assert int(in_memory.clear_count.max()) == 6

    task = ClearCountTask(cat.root, "landsat-c2-l2", period)
    run = run_tiles(task, tiles, scheduler="local", progress=False)
    assert run.ok, run.failed
    assert set(run.results) == {t.id for t in tiles}
    for tile in tiles:
        got = run.results[tile.id].clear_count
        expected = in_memory.clear_count.sel(x=got.x, y=got.y)  # tiles partition the full grid exactly
        assert got.shape == (64, 64)
        np.testing.assert_array_equal(got.values, expected.values)

    # the same task writes products from workers; the caller registers them once
    products = LocalCatalog(tmp_path / "products")
    prepare_product(products, CLEAR_OBSERVATIONS)
    writing = ClearCountTask(cat.root, "landsat-c2-l2", period, products=products.root)
    run = run_tiles(writing, tiles, scheduler="local", progress=False)
    assert run.ok, run.failed
    products.register_items(CLEAR_OBSERVATIONS.name, list(run.results.values()))
    assert len(products.item_ids(CLEAR_OBSERVATIONS.name)) == len(tiles)


def test_one_failing_tile_is_recorded_and_others_finish(landsat_like):
    cat, tiles, _ = landsat_like
    task = ClearCountTask(cat.root, "landsat-c2-l2", TimeRange.years(2020))
    far = national_grid("mexico", 30, 64)
    bogus = Tile("mexico-30m", (0, 0), far.gridspec.tile_geobox((0, 0)))  # no data there
    run = run_tiles(task, [*tiles[:2], bogus], progress=False)
    assert set(run.results) == {t.id for t in tiles[:2]}
    assert "NoDataError" in run.failed[bogus.id]
