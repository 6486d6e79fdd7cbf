"""The report engine: words and numbers per language, the document model, maps with context,
the validation document (reproducing Olofsson et al. 2014's worked example), the integrity
report, region cards, the acoustic report, publishing with an index, and the web pages.

PDFs are read back with poppler: their text must carry the computed figures, and no word may
run off the page (every table fits the page width). Screenshots of the pages go to
``test-output/reports/``.
"""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from matplotlib_scalebar.scalebar import ScaleBar
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from pyproj import Transformer
from reports_pdf import pdf_text, screenshots, words_outside_margins
from shapely.geometry import box

from ecointegrity.reports import (
    Document,
    Table,
    Wording,
    acoustic_sites_report,
    integrity_report,
    landcover_validation,
    publish,
    publish_region_cards,
    read_index,
    region_cards,
    render_html,
    slug,
    write_document,
)
from ecointegrity.reports.maps import draw_map, graticule_step
from ecointegrity.reports.wording import degrees

# Olofsson et al. (2014), Table 8: rows map class (stratum), columns reference (as test_accuracy)
OLOFSSON_COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
OLOFSSON_HA = [p * 0.09 for p in (200_000, 150_000, 3_200_000, 6_450_000)]
OLOFSSON_NAMES = {1: "deforestation", 2: "forest gain", 3: "stable forest", 4: "stable non-forest"}

# 24 x 30 cells of 250 m near Bacalar on Mexico's grid (EPSG:6372)
GRID = GeoBox((24, 30), Affine(250.0, 0, 4_093_000.0, 0, -250.0, 1_015_000.0), "EPSG:6372")


def _maps(years=(2019, 2020, 2021)) -> dict[int, xr.Dataset]:
    rng = np.random.default_rng(1)
    base = np.clip(rng.uniform(0.3, 1.0, GRID.shape), 0, 1)
    maps = {}
    for i, year in enumerate(years):
        ei = base.copy()
        ei[:8, :12] = np.clip(ei[:8, :12] - 0.15 * i, 0, 1)  # a loss in the north-west
        sd = np.full(GRID.shape, 0.04 + 0.01 * i)
        maps[year] = xr.Dataset({"ei": (("y", "x"), ei), "ei_sd": (("y", "x"), sd)},
                                coords=xr_coords(GRID))
    return maps


def _regions() -> gpd.GeoDataFrame:
    b = GRID.extent.boundingbox
    return gpd.GeoDataFrame(
        {"nombre": ["Noroeste", "Resto del área"]},
        geometry=[box(b.left, b.top - 8 * 250, b.left + 12 * 250, b.top),
                  box(b.left + 12 * 250, b.bottom, b.right, b.top)],
        crs="EPSG:6372").to_crs("EPSG:4326")


def _evidence() -> pd.DataFrame:
    to_wgs = Transformer.from_crs("EPSG:6372", "EPSG:4326", always_xy=True)
    # site A in the north-west region, B in the rest, C outside both (south-west corner)
    lon, lat = to_wgs.transform([4_094_000.0, 4_099_000.0, 4_093_100.0],
                                [1_014_000.0, 1_010_000.0, 1_009_100.0])
    return pd.DataFrame({
        "site": ["A", "B", "C"], "period": ["all"] * 3, "latitude": lat, "longitude": lon,
        "recording_hours": [40.0, 12.5, 3.0], "n_nights": [5, 2, 1], "bat_passes": [30, 4, 1],
        "bat_passes_per_night": [6.0, 2.0, 1.0], "gunshot_events": [3, 0, 0],
        "gunshot_per_100h": [7.5, 0.0, 0.0], "gunshot_per_100h_lo": [1.5, 0.0, 0.0],
        "gunshot_per_100h_hi": [21.9, 29.5, 123.0], "vehicle_events": [1, 5, 0],
        "vehicle_per_100h": [2.5, 40.0, 0.0], "vehicle_per_100h_lo": [0.1, 13.0, 0.0],
        "vehicle_per_100h_hi": [13.9, 93.3, 123.0], "low_effort": [False, False, True]})


# --- words and numbers ------------------------------------------------------------------------


def test_numbers_follow_the_readers_locale():
    assert Wording("es").number(1234.567, 1) == "1,234.6"  # Mexico: point and comma as in English
    assert Wording("es", "es_CO").number(1234.567, 1) == "1.234,6"  # Colombia: the other way
    assert Wording("en").number(-0.5, 2) == "-0.50" and Wording("en").signed(0.25, 2) == "+0.25"
    assert Wording("es").percent(0.947, 1) in ("94.7%", "94.7 %")
    assert Wording("es").number(float("nan")) == "–"
    assert Wording("es")(es="hola", en="hello") == "hola" and Wording("en")(es="hola", en="hello") == "hello"
    with pytest.raises(ValueError, match="lang='fr'"):
        Wording("fr")  # type: ignore[arg-type]


def test_coordinates_are_written_as_map_margins_print_them():
    assert degrees(-88.3333, "lon", "es", minutes=True) == "88°20′ O"
    assert degrees(-88.3333, "lon", "en", minutes=True) == "88°20′ W"
    assert degrees(18.5, "lat", "es", minutes=False) == "18° N"
    assert degrees(-4.999999, "lat", "en", minutes=True) == "5°00′ S"
    assert graticule_step(0.06) == pytest.approx(1 / 60) and graticule_step(30) == 10


def test_a_table_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header 2"):
        Table("t", ("a", "b"), (("1", "2"), ("3",)))


def test_html_escapes_whatever_the_data_says():
    doc = Document("<script>alert(1)</script>", "x & y", "es", "test")
    doc.add(Table("c", ("a",), (("<b>bold</b>",),)))
    page = render_html(doc)
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;bold" in page
    assert "<html lang='es'>" in page


# --- maps with context ------------------------------------------------------------------------


def test_a_map_has_coordinates_a_scale_bar_a_north_arrow_and_the_regions():
    fig, ax = plt.subplots()
    ei = _maps()[2021].ei
    draw_map(ax, ei, lang="es", cmap="RdYlGn", vmin=0, vmax=1, context=None)
    labels = [t.get_text() for t in ax.get_xticklabels()] + [t.get_text() for t in ax.get_yticklabels()]
    assert labels and all("°" in t for t in labels)
    assert any(t.endswith(" O") for t in labels) and any(t.endswith(" N") for t in labels)
    assert any(isinstance(a, ScaleBar) for a in ax.artists)
    assert any(t.get_text() == "N" for t in ax.texts)
    plt.close(fig)
    from ecointegrity.reports import MapContext

    fig, ax = plt.subplots()
    draw_map(ax, ei, lang="en", context=MapContext(_regions(), "nombre"))
    assert {"Noroeste", "Resto del área"} <= {t.get_text() for t in ax.texts}
    assert any(t.get_text().endswith(" W") for t in ax.get_xticklabels())
    plt.close(fig)


# --- the land-cover validation document -------------------------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
def test_validation_document_reproduces_olofssons_worked_example(tmp_path, lang):
    doc, est = landcover_validation(OLOFSSON_COUNTS, OLOFSSON_HA, lang=lang,
                                    map_name="Olofsson et al. (2014)", class_names=OLOFSSON_NAMES,
                                    z=1.96)
    # the paper's figures (section 5): areas in ha with 95% intervals
    areas = {row[0]: row[4] for row in doc.tables()[-1].rows}
    assert areas == {"1 deforestation": "21,158 ± 6,158", "2 forest gain": "11,686 ± 3,756",
                     "3 stable forest": "285,770 ± 15,510", "4 stable non-forest": "581,386 ± 16,282"}
    accuracy = {row[0]: (row[1], row[2]) for row in doc.tables()[-1].rows}
    assert accuracy["1 deforestation"] == ("88.0 ± 7.4", "74.9 ± 21.3")
    proportions = doc.tables()[3]
    assert proportions.rows[-1][1:5] == ("0.0235", "0.0130", "0.3175", "0.6460")
    assert doc.tables()[2].rows[0][1:] == ("66", "0", "5", "4", "75")  # counts, map row 1
    assert est.overall_accuracy == pytest.approx(0.947, abs=5e-4)
    html, pdf = write_document(doc, tmp_path / f"olofsson.{lang}")
    text = pdf_text(pdf)
    for figure in ("21,158 ± 6,158", "581,386 ± 16,282", "0.0235", "94.7"):
        assert figure in text and figure in html.read_text()
    assert ("Matriz de error" if lang == "es" else "Error matrix") in text
    assert not words_outside_margins(pdf)
    screenshots(pdf, "reports")


def test_a_wide_error_matrix_still_fits_the_page(tmp_path):
    k = 16  # many classes: the matrix gets a landscape page and a smaller font
    rng = np.random.default_rng(0)
    counts = np.diag(rng.integers(40, 90, k)) + rng.integers(0, 6, (k, k))
    names = {i + 1: f"clase con un nombre largo número {i + 1}" for i in range(k)}
    doc, _ = landcover_validation(counts, rng.uniform(1e3, 1e5, k), lang="es", map_name="Prueba",
                                  class_names=names)
    _, pdf = write_document(doc, tmp_path / "wide.es")
    assert not words_outside_margins(pdf)


# --- the integrity report ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
def test_integrity_report_says_the_computed_figures(tmp_path, lang):
    maps = _maps()
    doc = integrity_report(maps, lang=lang, area_name="Bacalar (prueba)", regions=_regions(),
                           name_column="nombre",
                           acoustic={"slope": -2.0, "rate_ratio_per_0.1": 0.82,
                                     "rate_ratio_ci": [0.7, 0.95], "n_sites": 12, "p_value": 0.01})
    w = Wording(lang)
    last, first = maps[2021].ei.values, maps[2019].ei.values
    loss_ha = np.sum(last - first < -0.1) * 6.25  # 0.0625 km2 cells
    text = doc.text()
    assert f"{w.number(last.mean(), 2)}" in text
    assert f"{w.number(loss_ha, 0)} ha" in text
    assert ("baja cuando el IIE sube" if lang == "es" else "falls as EI rises") in text
    area = doc.tables()[0]
    assert [r[0] for r in area.rows] == ["2019", "2020", "2021"]
    assert area.rows[0][-1] == w.number(24 * 30 * 6.25, 0)  # every cell, in ha
    regions = {r[0]: r for r in doc.tables()[1].rows}
    assert regions["Noroeste"][2] == w.number(last[:8, :12].mean(), 2)
    assert len(doc.figures()) == 3  # maps, change, trend
    html, pdf = write_document(doc, tmp_path / f"integrity.{lang}")
    pdf_words = pdf_text(pdf)
    assert w.number(loss_ha, 0) in pdf_words and "Noroeste" in pdf_words
    assert not words_outside_margins(pdf)
    screenshots(pdf, "reports")
    with pytest.raises(ValueError, match="no EI maps"):
        integrity_report({}, area_name="x")


# --- region cards, acoustics, publishing, the web ------------------------------------------


def test_region_cards_rank_regions_and_place_recorders(tmp_path):
    maps = _maps()
    cards = region_cards(maps, _regions(), "nombre", lang="es", evidence=_evidence())
    assert list(cards.ranking.region) == ["Noroeste", "Resto del área"]  # least intact first
    assert cards.sites.set_index("site").region.to_dict() == {"A": "Noroeste", "B": "Resto del área"}
    nw = cards.cards["Noroeste"]
    per_year = nw.tables()[0]
    expected = [maps[y].ei.values[:8, :12].mean() for y in (2019, 2020, 2021)]
    assert [r[1] for r in per_year.rows] == [f"{v:.2f}" for v in expected]
    assert "1 grabadora(s) dentro grabaron 40.0 h y detectaron 3 disparo(s)." in nw.text()
    sites = nw.tables()[-1]
    assert [r[0] for r in sites.rows] == ["A"]
    files = publish_region_cards(maps, _regions(), "nombre", tmp_path, evidence=_evidence())
    assert len(files) == 2 * 2 * 3  # (ranking + 2 cards) x (es, en) x (html, pdf)
    index = read_index(tmp_path)
    assert {e["region"] for e in index if "region" in e} == {"Noroeste", "Resto del área"}
    for path in files:
        if path.suffix == ".pdf":
            assert not words_outside_margins(path), path.name
    screenshots(tmp_path / f"region-{slug('Noroeste')}.es.pdf", "reports")


def test_acoustic_sites_report(tmp_path):
    doc = acoustic_sites_report(_evidence(), lang="en", area_name="test",
                                background=_maps()[2021].ei)
    text = doc.text()
    assert "3 sites recorded 55.5 hours in all." in text
    assert "Detected: gunshots: 3 (A); vehicles: 6 (A, B)." in text and "Low recording effort at C" in text
    effort = {r[0]: r for r in doc.tables()[0].rows}
    assert effort["C"][2:] == ("3.0", "1", "1.0", "yes") and effort["A"][-1] == ""
    rates = {(r[0], r[2]): r for r in doc.tables()[1].rows}
    assert rates[("A", "gunshots")][3:] == ("3", "7.5", "1.5–21.9")
    assert len(doc.tables()[1].rows) == 3 * 2  # every site and class, zeros included
    _, pdf = write_document(doc, tmp_path / "acoustic.en")
    assert not words_outside_margins(pdf)
    with pytest.raises(ValueError, match="missing columns"):
        acoustic_sites_report(pd.DataFrame({"x": [1]}), area_name="x")


def test_publish_indexes_and_rewrites_in_place(tmp_path):
    def build(lang):
        return Document("T", "S", lang, "integrity").add(Table("c", ("a",), (("1",),)))

    publish(build, tmp_path, "integrity")
    publish(build, tmp_path, "integrity", ["es"])
    index = read_index(tmp_path)
    assert [(e["name"], e["lang"]) for e in index] == [("integrity", "en"), ("integrity", "es")]
    assert (tmp_path / "integrity.es.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="file-name-safe"):
        publish(build, tmp_path, "../x")
    assert slug("Sian Ka'an (Reserva)") == "sian-kaan-reserva"


def test_the_web_serves_reports_and_region_cards(tmp_path):
    from fastapi.testclient import TestClient

    from ecointegrity.web import ApiSettings, create_app

    reports = tmp_path / "reports"
    publish_region_cards(_maps(), _regions(), "nombre", reports, evidence=_evidence())
    app = create_app([tmp_path / "none"], f"sqlite:///{tmp_path / 'api.sqlite'}", tmp_path / "anim",
                     ApiSettings(secret="t"), reports=reports, site=None)
    with TestClient(app) as client:
        listed = client.get("/api/reports", params={"lang": "es"}).json()
        assert {r["kind"] for r in listed} == {"regions", "region-card"}
        card = next(r for r in listed if r["region"] == "Noroeste")
        assert card["page"] == "/reports/regions/noroeste?lang=es"
        page = client.get(card["page"])
        assert page.status_code == 200 and "Noroeste" in page.text and "Ficha de la región" in page.text
        english = client.get("/reports/regions/noroeste", params={"lang": "en"})
        assert "Region card" in english.text
        pdf = client.get(card["pdf"])
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        index = client.get("/reports")
        assert index.status_code == 200 and "Fichas por región" in index.text and "Noroeste" in index.text
        assert client.get("/reports/regions/nowhere").status_code == 404
        assert client.get("/reports/index.json").status_code == 404  # only listed reports
        assert client.get("/reports/..%2Fapi.sqlite").status_code == 404
    bare = create_app([tmp_path / "none"], f"sqlite:///{tmp_path / 'b.sqlite'}", tmp_path / "anim",
                      ApiSettings(secret="t"), site=None)
    with TestClient(bare) as client:
        answer = client.get("/api/reports")
        assert answer.status_code == 404 and "--reports" in answer.json()["detail"]


def test_region_cards_count_land_cover_per_region_and_year():
    from ecointegrity.landcover import load_scheme

    maps = _maps()
    forest = np.full(GRID.shape, 1.0)  # read_product gives floats, NaN outside the map
    cover = {}
    for i, year in enumerate(sorted(maps)):
        classes = forest.copy()
        classes[:8, : 4 * i] = 5  # the north-west is cleared, four columns a year
        classes[-1, -1] = np.nan
        cover[year] = xr.DataArray(classes, coords=xr_coords(GRID), dims=("y", "x"))
    scheme = load_scheme("simulator-8")
    cards = region_cards(maps, _regions(), "nombre", lang="en", landcover=cover, scheme=scheme)
    nw = cards.landcover[(cards.landcover.region == "Noroeste")].set_index(["year", "class"]).ha
    assert nw[(2019, 1)] == pytest.approx(96 * 6.25) and (2019, 5) not in nw.index
    assert nw[(2021, 5)] == pytest.approx(64 * 6.25) and nw[(2021, 1)] == pytest.approx(32 * 6.25)
    table = cards.cards["Noroeste"].tables()[1]
    names = scheme.names("en")
    rows = {r[1]: r for r in table.rows}
    assert rows[names[5]][2:] == ("0", "400", "+400") and rows[names[1]][2:] == ("600", "200", "-400")
    assert len(cards.cards["Noroeste"].figures()) == 3  # map, EI trend, land-cover trend
    rest = cards.landcover[(cards.landcover.region == "Resto del área") & (cards.landcover.year == 2021)]
    assert rest.ha.sum() == pytest.approx((24 * 18 - 1) * 6.25)  # the NaN pixel is not land cover


def test_numbers_beyond_reason_still_print():
    w = Wording("es")
    assert w.number(float("inf"), 2) == "∞" and w.number(1e200, 2) == "1.00e+200"
    assert w.percent(1e200) == "–"


def test_landcover_change_report_counts_transitions(tmp_path):
    from ecointegrity.landcover import load_scheme
    from ecointegrity.reports import landcover_change_report

    scheme = load_scheme("simulator-8")
    before = np.full(GRID.shape, 1.0)
    before[-1, -1] = np.nan
    after = before.copy()
    after[:8, :12] = 5  # 96 cells of 6.25 ha cleared
    after[20:, :5] = 4  # 20 cells to crops
    maps = {2000: xr.DataArray(before, coords=xr_coords(GRID), dims=("y", "x")),
            2010: xr.DataArray((before + after) / 2 // 1, coords=xr_coords(GRID), dims=("y", "x")),
            2020: xr.DataArray(after, coords=xr_coords(GRID), dims=("y", "x"))}
    doc = landcover_change_report(maps, scheme=scheme, lang="es", area_name="prueba",
                                  regions=_regions(), name_column="nombre")
    names = scheme.names("es")
    assert f"cambió de clase {116 * 6.25:,.0f} ha" in doc.text()
    areas = {r[0]: r for r in doc.tables()[0].rows}
    assert areas[f"1 {names[1]}"][-1] == f"{-116 * 6.25:,.0f}"
    largest = doc.tables()[-1].rows[0]
    assert largest == (names[1], names[5], "600.0")
    # only the changes the change detection kept (here: the crops) count when a mask is given
    kept = np.zeros(GRID.shape, bool)
    kept[20:, :5] = True
    masked = landcover_change_report(maps, scheme=scheme, lang="en", area_name="test", changed=kept)
    assert "125 ha changed class" in masked.text()
    _, pdf = write_document(doc, tmp_path / "change.es")
    assert not words_outside_margins(pdf)
    screenshots(pdf, "reports")


def test_maps_name_the_towns_inside_them():
    from odc.geo.geobox import GeoBox as Box

    from ecointegrity.reports import MapContext

    # Chetumal and Bacalar, on Mexico's grid
    grid = Box.from_bbox((-88.6, 18.5, -88.2, 18.9), "EPSG:4326", resolution=0.004).to_crs("EPSG:6372")
    da = xr.DataArray(np.random.default_rng(0).uniform(0, 1, grid.shape), coords=xr_coords(grid), dims=("y", "x"))
    fig, ax = plt.subplots()
    draw_map(ax, da, lang="es", context=MapContext())
    names = {t.get_text() for t in ax.texts}
    assert {"Chetumal", "Bacalar"} <= names
    plt.close(fig)
    fig, ax = plt.subplots()
    draw_map(ax, da, lang="es", context=MapContext(places=False))
    assert "Chetumal" not in {t.get_text() for t in ax.texts}
    plt.close(fig)
