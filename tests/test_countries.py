"""Two countries: the registry, the demo on Colombia's national grid, the API's list of countries
and the command line's error for a country it does not know."""

import io

import numpy as np
import pystac
import pytest
import rasterio
from fastapi.testclient import TestClient
from odc.geo.geom import box
from PIL import Image
from pyproj import Transformer
from typer.testing import CliRunner

from ecointegrity.cli import app
from ecointegrity.cli.demo_job import DEMO_BBOX, QUICK_YEARS, demo_geobox, run_demo
from ecointegrity.cube import (
    COUNTRIES,
    NATIONAL_GRIDS,
    CubeError,
    UnknownCountryError,
    country,
)
from ecointegrity.web import ApiSettings, create_app

runner = CliRunner()


def test_registry_names_both_countries_with_their_grids():
    assert list(COUNTRIES) == ["mexico", "colombia"]  # the first is the default
    assert country("mexico").national_grid.crs == "EPSG:6372"
    assert country("Colombia ").national_grid.crs == "EPSG:9377"
    assert country(COUNTRIES["colombia"]) is COUNTRIES["colombia"]
    assert (country("colombia").name_es, country("mexico").name_es) == ("Colombia", "México")
    for c in COUNTRIES.values():
        assert c.grid in NATIONAL_GRIDS and c.name_en and c.name_es and c.demo_area


def test_mexico_keeps_its_demo_area():
    assert COUNTRIES["mexico"].demo_bbox == DEMO_BBOX == (-88.43, 18.62, -88.37, 18.68)
    assert COUNTRIES["mexico"].demo_centre == (-88.40, 18.65)
    assert demo_geobox() == demo_geobox("mexico")


@pytest.mark.parametrize("name", list(COUNTRIES))
def test_demo_area_is_about_6_km_square_inside_the_view(name):
    c = COUNTRIES[name]
    w, s, e, n = c.view_bbox
    assert w < e and s < n
    area = box(*c.demo_bbox, "epsg:4326")
    assert box(*c.view_bbox, "epsg:4326").contains(area)
    assert 34e6 < area.to_crs(c.national_grid.crs).area < 44e6  # m2: about 6 x 6 km
    geobox = demo_geobox(name)
    assert geobox.crs.epsg == int(c.national_grid.crs.split(":")[1])
    assert min(geobox.shape) >= 180  # 30 m pixels: enough for the demo's blocks and cells


def test_unknown_country_error_lists_the_known_ones():
    with pytest.raises(UnknownCountryError) as caught:
        country("narnia")
    assert isinstance(caught.value, CubeError) and isinstance(caught.value, KeyError)
    assert str(caught.value) == "unknown country 'narnia'; known: mexico, colombia"


def test_cli_refuses_an_unknown_country_with_status_2(tmp_path):
    result = runner.invoke(app, ["demo", "--offline", "--country", "narnia", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown country 'narnia'; known: mexico, colombia" in result.output
    assert not any(tmp_path.iterdir()), "nothing is done for an unknown country"


@pytest.fixture(scope="module")
def colombia_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-colombia") / "demo"
    return run_demo(out, offline=True, years=QUICK_YEARS, country="colombia", say=lambda _: None), out


def test_demo_runs_on_colombias_national_grid(colombia_demo):
    result, out = colombia_demo
    assert result.country.id == "colombia"
    assert not result.failed and not result.refused
    catalog = pystac.Catalog.from_file(str(out / "products" / "catalog.json"))
    items = list(catalog.get_items(recursive=True))
    assert {it.properties["ecointegrity:product"] for it in items} >= {"geomedian", "ndvi", "wofs"}
    assert all("_colombia-30m_" in it.id for it in items), [it.id for it in items]
    geomedian = next(it for it in items if it.properties["ecointegrity:product"] == "geomedian")
    with rasterio.open(geomedian.assets["count"].get_absolute_href()) as src:
        assert src.crs.to_epsg() == 9377
    # the land-cover maps and the change map: on the same grid
    maps = list(pystac.Catalog.from_file(str(out / "landcover" / "catalog.json")).get_items(recursive=True))
    assert len(maps) == 3  # 2021-2023
    with rasterio.open(maps[0].assets["class"].get_absolute_href()) as src:
        assert src.crs.to_epsg() == 9377
    assert all(path.exists() for path in result.outputs)
    change = next(p for p in result.outputs if p.suffix == ".tif" and "change" in str(p))
    with rasterio.open(change) as src:
        assert src.crs.to_epsg() == 9377


def test_api_lists_both_countries_and_serves_colombian_products(colombia_demo, tmp_path):
    _, out = colombia_demo
    web = create_app([out / "products", out / "landcover"], f"sqlite:///{tmp_path / 'api.sqlite'}",
                     tmp_path / "animations", ApiSettings(secret="test"))
    with TestClient(web) as client:
        countries = client.get("/api/countries").json()
        products = client.get("/api/products").json()
        # an institution's GIS asks for a map in its national grid (EPSG:9377)
        ndvi = next(p for p in products if p["product"] == "ndvi")
        corners = Transformer.from_crs("EPSG:4326", "EPSG:9377", always_xy=True).transform(
            [ndvi["bounds"][0], ndvi["bounds"][2]], [ndvi["bounds"][1], ndvi["bounds"][3]])
        (x0, x1), (y0, y1) = corners
        caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
        assert b"EPSG:9377" in caps.content
        wms = client.get("/wms", params={
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "ndvi",
            "STYLES": "", "CRS": "EPSG:9377", "BBOX": f"{x0},{y0},{x1},{y1}", "WIDTH": "128",
            "HEIGHT": "128", "FORMAT": "image/png", "TIME": "2022"})
        assert wms.status_code == 200, wms.text
        alpha = np.asarray(Image.open(io.BytesIO(wms.content)).convert("RGBA"))[..., 3]
        assert (alpha > 0).mean() > 0.5, "the Colombian products drawn in EPSG:9377"
    assert [c["id"] for c in countries] == ["mexico", "colombia"]
    colombia = countries[1]
    assert (colombia["name_es"], colombia["name_en"]) == ("Colombia", "Colombia")
    assert countries[0]["name_es"] == "México" and countries[0]["name_en"] == "Mexico"
    w, s, e, n = colombia["view"]
    for product in products:  # the demo's products lie in Colombia's view
        pw, ps, pe, pn = product["bounds"]
        assert w < pw < pe < e and s < ps < pn < n, product["product"]
