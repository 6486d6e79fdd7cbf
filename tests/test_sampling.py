"""Nearest-neighbour sampling of COGs onto web-mercator pictures (ecointegrity.web.sampling),
against GDAL's warper (rasterio.warp.reproject) and the exact transformation (pyproj)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject
from rasterio.warp import transform as warp_points

from ecointegrity.cube.cog import write_cog
from ecointegrity.web.sampling import (
    MAX_ERROR_PX,
    PixelMapCache,
    pixel_map,
    read_onto,
)

MERCATOR = CRS.from_epsg(3857)
HALF = 6378137 * math.pi
NODATA = -32768


def _tile_bounds(lon: float, lat: float, z: int) -> tuple[float, float, float, float]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    size = 2 * HALF / n
    return (-HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size)


def _cog(path, shape, resolution=30.0, seed=0, holes=True) -> GeoBox:
    """An int16 COG on Mexico's national CRS (EPSG:6372) near Cancún, random values (every
    pixel differs from its neighbours, so a sample from the wrong pixel shows), a nodata
    square, scale 1e-4 and offset -0.5."""
    x, y = warp_points("EPSG:4326", "EPSG:6372", [-87.0], [21.0])
    x0, y0 = round(x[0] / resolution) * resolution, round(y[0] / resolution) * resolution
    geobox = GeoBox(shape, Affine(resolution, 0, x0, 0, -resolution, y0), "EPSG:6372")
    rng = np.random.default_rng(seed)
    data = rng.integers(-10000, 10000, size=geobox.shape, dtype=np.int16)
    if holes:
        data[10:40, 20:60] = NODATA
    write_cog(path, data, geobox, nodata=NODATA, scale=1e-4, offset=-0.5)
    return geobox


def _exact(data, transform, crs, bounds, size) -> np.ma.MaskedArray:
    """Nearest neighbour by the exact transformation of every pixel centre (pyproj): the
    source pixel each picture pixel's centre falls in."""
    j, i = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    step = (bounds[2] - bounds[0]) / size
    sx, sy = Transformer.from_crs(MERCATOR.to_wkt(), crs.to_wkt(), always_xy=True).transform(
        bounds[0] + j * step, bounds[3] - i * step
    )
    inv = ~transform
    cols = np.floor(inv.a * sx + inv.b * sy + inv.c).astype(int)
    rows = np.floor(inv.d * sx + inv.e * sy + inv.f).astype(int)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    values = data[np.clip(rows, 0, data.shape[0] - 1), np.clip(cols, 0, data.shape[1] - 1)]
    return np.ma.MaskedArray(values, mask=~inside | (values == NODATA))


def _gdal(ds, bounds, size, band=1, src=None) -> np.ma.MaskedArray:
    """GDAL's nearest-neighbour warp of a band onto the picture (the reference)."""
    out = np.full((size, size), NODATA, np.int16)
    reproject(
        rasterio.band(src or ds, band), out, src_nodata=NODATA, dst_nodata=NODATA,
        dst_transform=rasterio.transform.from_bounds(*bounds, size, size), dst_crs=MERCATOR,
        resampling=Resampling.nearest,
    )
    return np.ma.masked_equal(out, NODATA)


@pytest.mark.parametrize("z", [13, 14, 15])
def test_same_pixels_as_gdal_warp_at_full_resolution(tmp_path, z):
    _cog(tmp_path / "a.tif", (400, 400))
    with rasterio.open(tmp_path / "a.tif") as ds:
        lon, lat = warp_points(ds.crs, "EPSG:4326", [ds.bounds.left + 5000],
                               [ds.bounds.top - 5000])
        bounds = _tile_bounds(lon[0], lat[0], z)
        found = pixel_map(ds.transform, ds.crs, ds.shape, bounds, MERCATOR, 256, 256)
        assert found is not None
        ours = read_onto(ds, 1, found)
        ref = _gdal(ds, bounds, 256)
        exact = _exact(ds.read(1), ds.transform, ds.crs, bounds, 256)
    assert ours.shape == (1, 256, 256)
    valid = ~ours.mask[0] & ~np.ma.getmaskarray(ref)
    assert valid.sum() > 1000
    # GDAL interpolates its transformation too (to 0.125 px): a few pixels on a boundary
    # between two source pixels may go either way
    assert (ours.data[0][valid] == ref.data[valid]).mean() > 0.99
    assert (ours.mask[0] != np.ma.getmaskarray(ref)).mean() < 0.01
    np.testing.assert_array_equal(ours.mask[0], exact.mask)
    assert (ours.data[0][valid] == exact.data[valid]).mean() > 0.999


@pytest.mark.parametrize("z", [2, 5, 8, 11, 14, 17])
def test_positions_within_tolerance_of_the_exact_transformation(tmp_path, z):
    # source pixels about the picture's (a 300-pixel file is a speck in a z2 tile at 30 m)
    resolution = 30.0 * 2 ** max(0, 12 - z)
    _cog(tmp_path / "a.tif", (300, 300), resolution=resolution)
    with rasterio.open(tmp_path / "a.tif") as ds:
        lon, lat = warp_points(ds.crs, "EPSG:4326", [ds.bounds.left + 100 * resolution],
                               [ds.bounds.top - 100 * resolution])
        bounds = _tile_bounds(lon[0], lat[0], z)
        found = pixel_map(ds.transform, ds.crs, ds.shape, bounds, MERCATOR, 256, 256)
        transform, crs = ds.transform, ds.crs
    assert found is not None
    j, i = np.meshgrid(np.arange(256) + 0.5, np.arange(256) + 0.5)
    size = (bounds[2] - bounds[0]) / 256
    sx, sy = Transformer.from_crs(MERCATOR.to_wkt(), crs.to_wkt(), always_xy=True).transform(
        bounds[0] + j * size, bounds[3] - i * size
    )
    inv = ~transform
    cols, rows = inv.a * sx + inv.b * sy + inv.c, inv.d * sx + inv.e * sy + inv.f
    assert np.abs(found.rows - rows).max() <= MAX_ERROR_PX + 1e-3
    assert np.abs(found.cols - cols).max() <= MAX_ERROR_PX + 1e-3
    if z >= 8:  # a small tile: its pixels are ~ size x cos(latitude) on the ground
        assert found.step == pytest.approx(size / resolution * math.cos(math.radians(lat[0])),
                                           rel=0.05)


def test_reads_the_overview_matching_the_picture(tmp_path):
    _cog(tmp_path / "big.tif", (2048, 2048), holes=False)
    with rasterio.open(tmp_path / "big.tif") as ds:
        assert ds.overviews(1)[:2] == [2, 4]
        lon, lat = warp_points(ds.crs, "EPSG:4326", [ds.bounds.left + 30000],
                               [ds.bounds.top - 30000])
        bounds = _tile_bounds(lon[0], lat[0], 11)  # ~70 m pixels: 2.2 source pixels each
        found = pixel_map(ds.transform, ds.crs, ds.shape, bounds, MERCATOR, 256, 256)
        assert 2 <= found.step < 4
        ours = read_onto(ds, 1, found)
        full = _gdal(ds, bounds, 256)
        crs = ds.crs
    with rasterio.open(tmp_path / "big.tif", overview_level=0) as half:  # the factor-2 one
        ref = _exact(half.read(1), half.transform, crs, bounds, 256)
        assert half.shape == (1024, 1024)
    valid = ~ours.mask[0] & ~np.ma.getmaskarray(ref)
    assert valid.mean() > 0.5
    assert (ours.data[0][valid] == ref.data[valid]).mean() > 0.99
    # the full resolution is another set of pixels (random values: few equal by chance)
    assert (ours.data[0][valid] == full.data[valid]).mean() < 0.5


def test_overview_not_dividing_the_size_is_not_used(tmp_path):
    # 2049 pixels: GDAL's factor-2 overview has 1024, each 2.001 source pixels, so reading
    # through it would drift; the full resolution is read instead, and matches GDAL's warp
    _cog(tmp_path / "odd.tif", (2049, 2049), holes=False)
    with rasterio.open(tmp_path / "odd.tif") as ds:
        assert ds.overviews(1)[0] == 2
        lon, lat = warp_points(ds.crs, "EPSG:4326", [ds.bounds.left + 30000],
                               [ds.bounds.top - 30000])
        bounds = _tile_bounds(lon[0], lat[0], 11)
        found = pixel_map(ds.transform, ds.crs, ds.shape, bounds, MERCATOR, 256, 256)
        assert found.step > 2
        ours = read_onto(ds, 1, found)
        ref = _exact(ds.read(1), ds.transform, ds.crs, bounds, 256)
    valid = ~ours.mask[0] & ~np.ma.getmaskarray(ref)
    assert valid.mean() > 0.5
    assert (ours.data[0][valid] == ref.data[valid]).mean() > 0.99


def test_nodata_outside_and_unscale(tmp_path):
    _cog(tmp_path / "a.tif", (200, 200))
    with rasterio.open(tmp_path / "a.tif") as ds:
        # a picture of the file's own grid, shifted half its width east: the east half is
        # outside the file
        b = ds.bounds
        w = b.right - b.left
        bounds = (b.left + w / 2, b.bottom, b.right + w / 2, b.top)
        found = pixel_map(ds.transform, ds.crs, ds.shape, bounds, ds.crs, 200, 200)
        raw = read_onto(ds, 1, found)
        physical = read_onto(ds, 1, found, unscale=True)
        data = ds.read(1)
    assert raw.mask[0][:, 100:].all()  # outside the file
    assert not raw.mask[0][:, :100].any()  # the nodata square is in the west half ...
    np.testing.assert_array_equal(raw.data[0][:, :100], data[:, 100:])
    assert physical.dtype == np.float32
    np.testing.assert_allclose(physical.data[0][:, :100], data[:, 100:] * 1e-4 - 0.5,
                               rtol=1e-5, atol=1e-6)
    west = pixel_map(ds.transform, ds.crs, ds.shape, (b.left, b.bottom, b.left + w / 2, b.top),
                     ds.crs, 100, 200)
    with rasterio.open(tmp_path / "a.tif") as ds:
        west_raw = read_onto(ds, 1, west)
    assert west_raw.mask[0][10:40, 20:60].all()  # ... and masked there
    assert west_raw.mask[0].sum() == 30 * 40


def test_missing_picture_and_undefined_points(tmp_path):
    _cog(tmp_path / "a.tif", (100, 100))
    with rasterio.open(tmp_path / "a.tif") as ds:
        # far from the file: nothing to read
        assert pixel_map(ds.transform, ds.crs, ds.shape, _tile_bounds(10.0, 50.0, 12),
                         MERCATOR, 256, 256) is None
        # a strip from the south pole to the file, in lon/lat at 0.01 degrees: Mexico's
        # conic projection has no place for the pole
        strip = pixel_map(ds.transform, ds.crs, ds.shape, (-88, -90, -86, 22),
                          CRS.from_epsg(4326), 200, 11200)
        assert strip is not None
        picture = read_onto(ds, 1, strip)
    assert picture.shape == (1, 11200, 200)
    assert 0 < (~picture.mask).sum() < 100


def test_pixel_map_cache(tmp_path):
    _cog(tmp_path / "a.tif", (100, 100))
    cache = PixelMapCache(max_bytes=600_000)
    with rasterio.open(tmp_path / "a.tif") as ds:
        lon, lat = warp_points(ds.crs, "EPSG:4326", [ds.bounds.left + 1000],
                               [ds.bounds.top - 1000])
        args = (ds.transform, ds.crs, ds.shape)
        a = cache.get(*args, _tile_bounds(lon[0], lat[0], 14), MERCATOR, 256, 256)
        assert cache.get(*args, _tile_bounds(lon[0], lat[0], 14), MERCATOR, 256, 256) is a
        b = cache.get(*args, _tile_bounds(lon[0], lat[0], 13), MERCATOR, 256, 256)
    assert a is not None and b is not None and a is not b
    assert a.nbytes == 2 * 256 * 256 * 4
    assert cache._bytes <= cache.max_bytes and len(cache._maps) == 1  # the older one went
