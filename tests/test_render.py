"""Tiles, WMS maps and animations of the demo's real products (ecointegrity.web.renderer).

One offline demo run per module gives the annual products (EPSG:6372, two tiles per year,
2021-2023, Bacalar) and the simulator-8 land-cover maps, with their colour table.
"""

from __future__ import annotations

import io
import math
import os
import time

import numpy as np
import pytest
from PIL import Image

from ecointegrity.cube import LocalCatalog, read_product
from ecointegrity.landcover import load_scheme
from ecointegrity.web import ProductRenderer
from ecointegrity.web.errors import InvalidRequest, UnknownBand, UnknownProduct, UnknownYear

# rasterio's own use of affine's deprecated `*` (third-party noise, not ours to fix)
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:rasterio")

YEARS = (2021, 2022, 2023)
CENTRE = (-88.40, 18.65)  # inside the data: forest, the lagoon, a town
FOREST = 1


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()  # a truncated or invalid image fails here
    return img


def rgba_of(data: bytes) -> np.ndarray:
    return np.asarray(decode(data).convert("RGBA"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ecointegrity.cli.demo_job import QUICK_YEARS, run_demo

    out = tmp_path_factory.mktemp("render") / "demo"
    run_demo(out, offline=True, years=QUICK_YEARS, say=lambda s: None)
    return out


@pytest.fixture(scope="module")
def renderer(demo):
    r = ProductRenderer([LocalCatalog(demo / "products"), LocalCatalog(demo / "landcover")])
    yield r
    r.close()


@pytest.fixture(scope="module")
def native(demo):
    """A 6372 grid on the data (inside the first tile), to compare pixels with read_product."""
    from odc.geo.geobox import GeoBox

    cat = LocalCatalog(demo / "products")
    item = cat.items("ndvi", time="2022")[0]
    _, _, west, _, _, north = item.properties["proj:transform"]
    return GeoBox.from_bbox((west + 600, north - 600 - 50 * 30, west + 600 + 60 * 30, north - 600),
                            crs="EPSG:6372", resolution=30)


# -- layers -------------------------------------------------------------------------------
def test_layers_describe_products_years_bounds_and_legends(renderer):
    layers = {layer.product: layer for layer in renderer.layers()}
    assert {"geomedian", "tasselled_cap", "ndvi", "ndwi", "ndbi", "bu", "wofs", "landcover-simulator-8"} <= set(layers)
    ndvi = layers["ndvi"]
    assert ndvi.years == YEARS
    assert ndvi.kind == "continuous" and ndvi.colormap == "rdylgn" and ndvi.value_range == (-0.2, 0.9)
    assert ndvi.default_band == "ndvi" and "ndvi_p90" in ndvi.bands and ndvi.units["ndvi"] == "1"
    assert len(ndvi.colormap_stops) == 9 and all(s.startswith("#") for s in ndvi.colormap_stops)
    west, south, east, north = ndvi.bounds
    assert -88.45 < west < -88.42 and -88.38 < east < -88.35 and 18.60 < south < 18.63 and 18.67 < north < 18.70

    geo = layers["geomedian"]
    assert geo.kind == "rgb" and geo.default_style == "true_colour"
    assert set(geo.composites) == {"true_colour", "false_colour"} and "red" in geo.bands

    lc = layers["landcover-simulator-8"]
    scheme = load_scheme("simulator-8")
    assert lc.kind == "classes" and lc.legend == {str(c): n for c, n in scheme.names("es").items()}
    for code, colour in lc.legend_colors.items():  # the COG's colour table is the scheme's
        assert colour == "#{:02x}{:02x}{:02x}".format(*scheme.color(int(code))[:3])
    assert lc.to_dict()["legend_colors"] == lc.legend_colors
    assert renderer.version("ndvi") == renderer.version("ndvi")


# -- tiles --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_ndvi_tile_is_a_coloured_image_green_over_forest(renderer, fmt):
    z = 14
    x, y = lonlat_to_tile(*CENTRE, z)
    data = renderer.tile("ndvi", 2022, z, x, y, fmt=fmt)
    img = decode(data)
    assert img.format == fmt.upper() and img.size == (256, 256)
    rgba = rgba_of(data)
    assert (rgba[..., 3] == 255).mean() > 0.9
    # Forest pixels (by the land-cover tile at the same place) are drawn green: G > R.
    classes = rgba_of(renderer.tile("landcover-simulator-8", 2022, z, x, y))
    forest = np.all(classes[..., :3] == load_scheme("simulator-8").color(FOREST)[:3], axis=-1) & (classes[..., 3] == 255)
    assert forest.sum() > 1000
    px = rgba[forest].astype(int)
    assert (px[:, 1] > px[:, 0]).mean() > 0.9


def test_tile_outside_the_data_is_transparent_and_still_an_image(renderer):
    z = 14
    x, y = lonlat_to_tile(-100.0, 20.0, z)
    for fmt in ("png", "webp"):
        data = renderer.tile("ndvi", 2022, z, x, y, fmt=fmt)
        img = decode(data)
        assert img.format == fmt.upper() and img.size == (256, 256)
        assert (rgba_of(data)[..., 3] == 0).all()
    # a tile half on the data: both transparent and opaque pixels
    x, y = lonlat_to_tile(-88.436, 18.65, 15)
    rgba = rgba_of(renderer.tile("ndvi", 2022, 15, x, y))
    assert 0.05 < (rgba[..., 3] == 0).mean() < 0.95
    assert 512 == decode(renderer.tile("ndvi", 2022, 15, x, y, tilesize=512)).size[0]


def test_geomedian_tile_is_true_colour_and_false_colour_differs(renderer, demo, native):
    z = 14
    x, y = lonlat_to_tile(*CENTRE, z)
    rgba = rgba_of(renderer.tile("geomedian", 2022, z, x, y))
    opaque = rgba[..., 3] == 255
    assert opaque.mean() > 0.9
    r, g, b = (rgba[..., i][opaque].astype(int) for i in range(3))
    assert np.abs(r - g).mean() > 1 and np.abs(g - b).mean() > 1  # colour, not grey
    false = rgba_of(renderer.tile("geomedian", 2022, z, x, y, band="false_colour"))
    assert np.abs(false[..., :3].astype(int) - rgba[..., :3]).mean() > 5

    # On the data's own grid the picture is the reflectance, scaled 0..0.3 -> 0..255.
    w, s, e, n = native.boundingbox
    pic = renderer.render_bbox("geomedian", 2022, (w, s, e, n), native.width, native.height, crs="EPSG:6372")
    refl = read_product(LocalCatalog(demo / "products"), "geomedian", 2022, native, ["red", "green", "blue"])
    for i, band in enumerate(("red", "green", "blue")):
        expected = np.clip(np.rint(refl[band].values / 0.3 * 255), 0, 255)
        assert np.abs(pic[..., i].astype(int) - expected).max() <= 1
    assert (pic[..., 3] == 255).all()


def test_class_tile_uses_the_cog_palette_exactly(renderer, demo, native):
    scheme = load_scheme("simulator-8")
    colours = {scheme.color(c)[:3] for c in scheme.codes}
    z = 14
    x, y = lonlat_to_tile(*CENTRE, z)
    rgba = rgba_of(renderer.tile("landcover-simulator-8", 2022, z, x, y))
    opaque = rgba[..., 3] == 255
    assert opaque.mean() > 0.9
    seen = {tuple(int(v) for v in p) for p in np.unique(rgba[opaque][:, :3], axis=0)}
    assert seen <= colours and len(seen) >= 3
    assert ((rgba[..., 3] == 0) | opaque).all()  # no blended edges
    # pixel by pixel on the native grid: each pixel is its class's colour
    w, s, e, n = native.boundingbox
    pic = renderer.render_bbox("landcover-simulator-8", 2022, (w, s, e, n), native.width, native.height, crs="EPSG:6372")
    codes = read_product(LocalCatalog(demo / "landcover"), "landcover-simulator-8", 2022, native, ["class"])["class"].values
    for code in np.unique(codes[np.isfinite(codes)]).astype(int):
        assert (pic[codes == code] == scheme.color(int(code))).all()
    webp = rgba_of(renderer.tile("landcover-simulator-8", 2022, z, x, y, fmt="webp"))  # lossless
    assert (webp[opaque] == rgba[opaque]).all()


def test_render_bbox_in_lonlat_and_mercator_has_transparency_outside_the_data(renderer):
    bbox = (-88.46, 18.60, -88.34, 18.70)  # data plus a margin
    pic = renderer.render_bbox("ndvi", 2023, bbox, 300, 250, crs="EPSG:4326")
    assert pic.shape == (250, 300, 4) and pic.dtype == np.uint8
    assert (pic[:5, :5, 3] == 0).all() and (pic[-5:, -5:, 3] == 0).all()  # corners: outside
    assert (pic[120:130, 145:155, 3] == 255).all()  # centre: data
    from rasterio.warp import transform_bounds

    merc = transform_bounds("EPSG:4326", "EPSG:3857", *bbox)
    pic3857 = renderer.render_bbox("ndvi", 2023, merc, 200, 180, crs="EPSG:3857", band="ndvi_p90")
    assert pic3857.shape == (180, 200, 4) and (pic3857[..., 3] == 255).any() and (pic3857[0, 0, 3] == 0)
    far = renderer.render_bbox("ndvi", 2023, (-100, 20, -99.9, 20.1), 64, 64)
    assert far.shape == (64, 64, 4) and (far == 0).all()
    jpeg = decode(renderer.encode(pic, "jpeg"))
    assert jpeg.mode == "RGB" and np.asarray(jpeg)[0, 0].min() > 240  # transparent -> white


# -- animations ---------------------------------------------------------------------------
def gif_frames(data: bytes) -> tuple[Image.Image, list[int]]:
    img = Image.open(io.BytesIO(data))
    durations = []
    for i in range(img.n_frames):
        img.seek(i)
        durations.append(img.info["duration"])
    img.seek(0)
    return img, durations


@pytest.mark.parametrize("product, size", [("ndvi", 320), ("landcover-simulator-8", 256), ("geomedian", 300)])
def test_gif_one_labelled_frame_per_year_looping_with_the_last_held(renderer, product, size):
    years = [2020, 2021, 2022, 2023]  # 2020: no data -> a "no data" frame, not an error
    bbox = (-88.44, 18.61, -88.36, 18.69)
    data = renderer.animation(product, years, bbox, fps=4, size=size, attribution="Datos: ecointegrity", hold_last_s=1.5)
    img, durations = gif_frames(data)
    assert img.format == "GIF" and img.n_frames == len(years)
    assert img.info.get("loop") == 0
    assert max(img.size) == size
    assert durations[:-1] == [250] * 3 and durations[-1] == 250 + 1500
    frames = renderer.frames(product, years, bbox, size=size, attribution="Datos: ecointegrity")
    assert len(frames) == 4 and all(f.mode == "P" and f.size == img.size for f in frames)
    assert len({tuple(f.getpalette()) for f in frames}) == 1  # one shared palette
    # The no-data year is mostly the grey "no data" background; a year with data mostly map.
    empty, full = (np.asarray(f.convert("RGB")) for f in (frames[0], frames[2]))
    grey = empty[empty.shape[0] // 2, 1]  # left edge, mid-height: background in both
    assert (full[full.shape[0] // 2, 1] == grey).all()
    assert (empty == grey).all(axis=-1).mean() > (full == grey).all(axis=-1).mean() + 0.4
    # Every frame stays paletted when read back with Pillow's "convert only on a palette
    # change" strategy: the frames share one palette.
    from PIL import GifImagePlugin

    strategy = GifImagePlugin.LOADING_STRATEGY
    GifImagePlugin.LOADING_STRATEGY = GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
    try:
        again = Image.open(io.BytesIO(data))
        for i in range(again.n_frames):
            again.seek(i)
            assert again.mode == "P"
            # and the file shows exactly the frames drawn (no colour lost in saving)
            assert np.array_equal(np.asarray(again.convert("RGB")), np.asarray(frames[i].convert("RGB")))
    finally:
        GifImagePlugin.LOADING_STRATEGY = strategy


def test_gif_colour_map_goes_straight_to_the_palette(renderer):
    from ecointegrity.web.styles import colormap_lut as _colormap_lut

    frame = renderer.frames("ndvi", [2022], (-88.44, 18.61, -88.36, 18.69), size=200)[0]
    palette = np.array(frame.getpalette()[: 256 * 3]).reshape(-1, 3)
    lut = _colormap_lut("rdylgn")[:, :3]
    assert (palette[0] == lut[0]).all() and (palette[239] == lut[255]).all()
    used = np.unique(np.asarray(frame))
    assert all(any((palette[i] == lut).all(axis=1)) for i in used if i < 240)  # map pixels: colour-map entries


def test_animation_keeps_the_aspect_ratio_and_webp_works(renderer):
    wide = (-88.46, 18.64, -88.34, 18.66)
    img, _ = gif_frames(renderer.animation("ndvi", [2021, 2022], wide, size=400, attribution="x"))
    w, h = img.size
    assert w == 400 and h < 200
    webp = Image.open(io.BytesIO(renderer.animation("bu", list(YEARS), wide, size=240, attribution="x", format="webp")))
    assert webp.format == "WEBP" and webp.n_frames == 3 and max(webp.size) == 240


@pytest.mark.parametrize("product", ["ndvi", "landcover-simulator-8", "geomedian"])
def test_gif_legend_in_plain_spanish_or_english(renderer, product):
    """The frame legend takes the product's plain words in the asked language; the map is the
    same picture; other bands keep the data's own labels; an unknown language is refused."""
    from ecointegrity.web.errors import InvalidRequest

    bbox = (-88.44, 18.61, -88.36, 18.69)
    frames = {lang: renderer.frames(product, [2022], bbox, size=320, attribution="x", lang=lang)[0]
              for lang in ("es", "en")}
    es, en = (np.asarray(frames[k].convert("RGB")) for k in ("es", "en"))
    assert es.shape == en.shape
    rows = np.flatnonzero((es != en).any(axis=(1, 2)))
    assert rows.size, "the legend's words differ"
    prod = renderer._index.product(product)
    style = renderer._style(prod, None)
    if style.kind != "rgb":  # (an RGB frame's palette is fitted to all of it, words too)
        first = int(rows.min())
        assert first >= es.shape[0] * 0.5  # the words are in the strip below the map ...
        assert (es[:first] == en[:first]).all()  # ... and the map and the year are the same
    words = {lang: renderer._words(prod, style, lang) for lang in ("es", "en")}
    public = renderer.layer(product).public
    assert words["es"].title == public["es"]["name"] and words["en"].title == public["en"]["name"]
    assert words["es"].no_data == "sin datos" and words["en"].no_data == "no data"
    if product == "ndvi":
        assert (words["es"].low, words["es"].high) == ("menos verde", "más verde")
        other = renderer._style(prod, "ndvi_p90")
        assert renderer._words(prod, other, "es").title is None  # not the default picture
    if product.startswith("landcover"):
        assert words["en"].classes and words["es"].classes
        assert set(words["en"].classes) == {c for c, _, _ in style.classes}
    with pytest.raises(InvalidRequest, match="lang 'fr'"):
        renderer.frames(product, [2022], bbox, size=320, lang="fr")


# -- errors -------------------------------------------------------------------------------
def test_unknown_product_year_band_and_bad_requests_are_typed(renderer):
    with pytest.raises(UnknownProduct, match="products: .*ndvi") as exc:
        renderer.tile("ndvx", 2022, 14, 4168, 7327)
    assert isinstance(exc.value, LookupError) and exc.value.product == "ndvx"
    with pytest.raises(UnknownProduct):
        renderer.layer("nope")
    with pytest.raises(UnknownYear, match="2021, 2022, 2023") as exc:
        renderer.tile("ndvi", 1999, 14, 4168, 7327)
    assert exc.value.available == list(YEARS)
    with pytest.raises(UnknownYear):
        renderer.render_bbox("ndvi", 2030, (-88.44, 18.61, -88.36, 18.69), 10, 10)
    with pytest.raises(UnknownBand, match="ndvi_p10") as exc:
        renderer.tile("ndvi", 2022, 14, 4168, 7327, band="evi")
    with pytest.raises(UnknownBand, match="false_colour"):
        renderer.tile("geomedian", 2022, 14, 4168, 7327, band="nope")
    with pytest.raises(InvalidRequest):
        renderer.tile("ndvi", 2022, 3, 9, 0)  # x beyond 2**3
    with pytest.raises(InvalidRequest):
        renderer.tile("ndvi", 2022, 14, 4168, 7327, fmt="gif")
    with pytest.raises(InvalidRequest):
        renderer.render_bbox("ndvi", 2022, (1, 1, 0, 0), 10, 10)
    with pytest.raises(InvalidRequest):
        renderer.animation("ndvi", [], (-88.44, 18.61, -88.36, 18.69), attribution="x")


def test_a_changed_collection_is_reloaded(demo):
    r = ProductRenderer(LocalCatalog(demo / "products"), refresh_s=0)
    before = r.version("wofs")
    path = demo / "products" / "wofs" / "collection.json"
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert r.version("wofs") != before
    assert r.layer("wofs").years == YEARS
    r.close()


def test_concurrent_tiles_equal_serial_tiles(demo):
    """Pooled COG handles are never shared between threads: the API serves tiles from many."""
    from concurrent.futures import ThreadPoolExecutor

    r = ProductRenderer([LocalCatalog(demo / "products"), LocalCatalog(demo / "landcover")], tile_cache_mb=0)
    requests = [(p, year, 15, *lonlat_to_tile(lon, 18.65, 15))
                for p in ("ndvi", "geomedian", "landcover-simulator-8") for year in YEARS
                for lon in (-88.43, -88.41, -88.39, -88.375)]
    serial = [r.tile(*q) for q in requests]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda q: r.tile(*q), requests * 3))
    assert parallel == serial * 3
    r.close()


# -- timing -------------------------------------------------------------------------------
def test_tile_render_time(demo, report):
    """Median time of a tile (cache off, COGs already open), printed, not asserted."""
    r = ProductRenderer([LocalCatalog(demo / "products"), LocalCatalog(demo / "landcover")], tile_cache_mb=0)
    tiles = [(z, *lonlat_to_tile(lon, lat, z)) for z in (13, 14, 15)
             for lon in np.linspace(-88.425, -88.375, 4) for lat in np.linspace(18.625, 18.675, 4)]
    tiles = sorted(set(tiles))
    for product in ("ndvi", "geomedian", "landcover-simulator-8"):
        for t in tiles:  # first touch: opens the files
            r.tile(product, 2022, *t)
        times = []
        for t in tiles:
            t0 = time.perf_counter()
            r.tile(product, 2022, *t)
            times.append(time.perf_counter() - t0)
        line = (f"render: {product} tile (PNG 256 px, {len(tiles)} tiles z13-15) median "
                f"{np.median(times) * 1000:.1f} ms, p90 {np.percentile(times, 90) * 1000:.1f} ms")
        print(line)
        report(line)
    r.close()
