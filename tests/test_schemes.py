"""Land-cover class schemes are versioned data files: contents, mapping, styles and errors."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ecointegrity.landcover.schemes import (
    ClassScheme,
    SchemeMapping,
    convert,
    list_mappings,
    list_schemes,
    load_mapping,
    load_scheme,
)

# CONABIO madmex_pixel_sample R/funciones.R, clasifica_31_17, as given in
# shared/reference/madmex-class-schemes.md -- written out code by code, independently of the file.
OFFICIAL_31_TO_17 = {
    1: 1, 2: 1, 3: 2, 4: 8, 5: 8, 6: 3, 7: 5, 8: 4, 9: 5, 10: 5,
    11: 6, 12: 6, 13: 9, 14: 7, 15: 7, 16: 9, 17: 9, 18: 7, 19: 9, 20: 9,
    21: 10, 22: 10, 23: 11, 24: 11, 25: 12, 26: 12, 27: 13, 28: 14, 29: 15, 30: 16, 31: 17,
}
CSI_17_ES = [
    "Bosques de aciculifolias y escuamifolias", "Bosques latifoliados", "Bosque Húmedo de Montaña",
    "Manglar y petén", "Selvas húmedas", "Selvas secas", "Matorral alto denso", "Matorral mésico",
    "Matorral bajo abierto", "Vegetación acuática menor", "Vegetación de suelos arenosos",
    "Vegetación halófila", "Pastizales y otra vegetación herbácea", "Tierras agrícolas",
    "Urbano y Construido", "Suelo desnudo", "Agua",
]


def user_scheme(**overrides):
    doc = {"name": "colombia-test", "version": "0.1.0", "title": "user scheme", "nodata": 0,
           "classes": [{"code": 1, "name_es": "Bosque", "name_en": "Forest", "color": "#00aa00"},
                       {"code": 7, "name_es": "Agua", "name_en": "Water", "color": "#0000FF"}]}
    doc.update(overrides)
    return doc


def write_json(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_packaged_files_named_and_versioned():
    assert list_schemes() == ["csi-17", "eolearn-lulc", "madmex-31", "simulator-8"]
    assert ("madmex-31", "csi-17") in list_mappings()
    for name in list_schemes():
        s = load_scheme(name)
        assert s.name == name and s.version == "1.0.0" and s.source and s.nodata == 0
        assert "provisional" in s.colors_source
        assert len({c.color for c in s.classes}) == len(s.classes), f"{name}: repeated colours"


def test_madmex_31_and_csi_17_contents():
    m31, c17 = load_scheme("madmex-31"), load_scheme("csi-17")
    assert m31.codes == list(range(1, 32)) and c17.codes == list(range(1, 18))
    es = m31.names("es")
    assert es[31] == "Agua" and es[29] == "Urbano y Construido" and es[8] == "Manglar y Petén"
    assert es[1] == "Bosque de Coníferas de Oyamel Ayarín Cedro"
    assert es[26] == "Vegetación Halófila Xerófila y Gipsófila"
    assert list(c17.names("es").values()) == CSI_17_ES
    assert c17.names("en")[6] == "Dry tropical forests"


def test_eolearn_and_simulator_schemes_match_their_sources():
    from ecointegrity.cube.simulate import LAND_COVER_CLASSES

    eo = load_scheme("eolearn-lulc").names("en")
    assert eo == {1: "cultivated land", 2: "forest", 3: "grassland", 4: "shrubland", 5: "water",
                  6: "wetlands", 7: "tundra", 8: "artificial surface", 9: "bareland",
                  10: "snow and ice"}
    sim = load_scheme("simulator-8").names("en")
    key = {c: n.lower().replace("-", "_").replace(" ", "_") for c, n in sim.items()}
    assert key == LAND_COVER_CLASSES


def test_official_mapping_every_code():
    m = load_mapping("madmex-31", "csi-17")
    assert (m.from_scheme, m.to_scheme, m.provisional) == ("madmex-31", "csi-17", False)
    assert m.mapping == OFFICIAL_31_TO_17
    codes = np.arange(0, 32, dtype=np.uint8)
    out = convert(codes, "madmex-31", "csi-17")
    assert out.dtype == np.uint8
    assert out.tolist() == [0] + [OFFICIAL_31_TO_17[c] for c in range(1, 32)]


def test_convert_2d_with_nodata_and_simulator_crosswalk():
    a = np.array([[0, 31, 29], [8, 0, 6]], dtype=np.int16)
    np.testing.assert_array_equal(convert(a, "madmex-31", "csi-17"), [[0, 17, 15], [4, 0, 3]])
    sim = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 1, 8]], dtype=np.uint8)
    m = load_mapping("simulator-8", "csi-17")
    assert m.provisional and "provisional" in m.notes.lower()
    np.testing.assert_array_equal(convert(sim, "simulator-8", "csi-17"),
                                  [[5, 7, 13, 14], [17, 15, 16, 10], [0, 0, 5, 10]])


def test_unknown_codes_rejected():
    with pytest.raises(ValueError, match=r"not in scheme madmex-31 v1.0.0: \[32, 98\]"):
        load_scheme("madmex-31").validate_codes(np.array([1, 32, 98, 0]))
    with pytest.raises(ValueError, match=r"\[32, 99\]"):
        convert(np.array([[1, 32], [99, 0]]), "madmex-31", "csi-17")
    partial = SchemeMapping(version="1", from_scheme="a", to_scheme="b", mapping=[[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"no target for codes \[2\]"):
        partial.apply(np.array([1, 2, 3, 0]))
    with pytest.raises(TypeError, match="integers"):
        partial.apply(np.array([1.0, np.nan]))


def test_user_scheme_from_json_file(tmp_path):
    path = write_json(tmp_path / "colombia.json", user_scheme())
    s = load_scheme(path)
    assert s.name == "colombia-test" and s.codes == [1, 7] and s.color(7) == (0, 0, 255, 255)
    assert load_scheme(str(path)) == s
    mpath = write_json(tmp_path / "m.json", {"version": "0.1.0", "from": "colombia-test",
                                             "to": "csi-17", "mapping": {"1": 2, "7": 17}})
    out = convert(np.array([7, 1, 0]), path, "csi-17", mapping=mpath)
    assert out.tolist() == [17, 2, 0]
    assert convert(np.array([7, 0]), s, "csi-17", mapping={1: 2, 7: 17}).tolist() == [17, 0]
    assert s.to_frame().loc[7, "name_en"] == "Water"


def test_qml_is_a_paletted_qgis_style(tmp_path):
    s = load_scheme("madmex-31")
    text = s.to_qml(tmp_path / "madmex.qml", lang="en")
    assert (tmp_path / "madmex.qml").read_text(encoding="utf-8") == text
    root = ET.fromstring(text)
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [int(e.get("value")) for e in entries] == s.codes
    got = {int(e.get("value")): (e.get("color"), e.get("label"), e.get("alpha")) for e in entries}
    assert got[31] == ("#1e88e5", "Water", "255")
    assert got[29][0] == s.classes[28].color
    es = ET.fromstring(load_scheme("csi-17").to_qml())
    assert es.find(".//paletteEntry[@value='6']").get("label") == "Selvas secas"


def test_colormap_keys_and_alpha():
    s = load_scheme("csi-17")
    cmap = s.colormap()
    assert sorted(cmap) == list(range(0, 18))
    assert cmap[0] == (0, 0, 0, 0) and s.color(0) == (0, 0, 0, 0)
    assert all(cmap[c][3] == 255 for c in s.codes)
    assert cmap[17] == (0x1E, 0x88, 0xE5, 255)


def test_colormap_writes_with_rasterio(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    s = load_scheme("csi-17")
    with rasterio.open(tmp_path / "c.tif", "w", driver="GTiff", width=2, height=2, count=1,
                       dtype="uint8", nodata=0) as dst:
        dst.write(np.array([[[0, 5], [17, 6]]], dtype=np.uint8))
        dst.write_colormap(1, s.colormap())
    with rasterio.open(tmp_path / "c.tif") as src:
        assert src.colormap(1)[5] == s.color(5)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown scheme 'madmex-32'.*csi-17.*madmex-31"):
        load_scheme("madmex-32")
    with pytest.raises(ValueError, match="no packaged mapping csi-17 -> madmex-31"):
        load_mapping("csi-17", "madmex-31")
    dup = user_scheme(classes=[{"code": 1, "name_es": "a", "name_en": "a", "color": "#000000"},
                               {"code": 1, "name_es": "b", "name_en": "b", "color": "#ffffff"}])
    with pytest.raises(ValueError, match=r"duplicate class codes \[1\]"):
        load_scheme(write_json(tmp_path / "dup.json", dup))
    bad = user_scheme(classes=[{"code": 1, "name_es": "a", "name_en": "a", "color": "green"}])
    with pytest.raises(ValueError, match="bad colour 'green'"):
        load_scheme(write_json(tmp_path / "bad.json", bad))
    with pytest.raises(ValueError, match="nodata 0 is also a class code"):
        ClassScheme.model_validate(user_scheme(classes=[
            {"code": 0, "name_es": "a", "name_en": "a", "color": "#000000"}]))
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid ClassScheme file .*broken.json"):
        load_scheme(tmp_path / "broken.json")
    no_version = user_scheme()
    del no_version["version"]
    with pytest.raises(ValueError, match="version"):
        load_scheme(write_json(tmp_path / "nov.json", no_version))
    to_missing = {"version": "1", "from": "madmex-31", "to": "csi-17", "mapping": {"1": 18}}
    with pytest.raises(ValueError, match=r"maps to codes \[18\] not in scheme csi-17"):
        convert(np.array([1]), "madmex-31", "csi-17", mapping=write_json(tmp_path / "m.json",
                                                                          to_missing))
    wrong_ver = {"version": "1", "from": "madmex-31", "from_version": "2.0.0", "to": "csi-17",
                 "mapping": {"1": 1}}
    with pytest.raises(ValueError, match="expects from scheme madmex-31 v2.0.0"):
        convert(np.array([1]), "madmex-31", "csi-17", mapping=SchemeMapping(**wrong_ver))
    with pytest.raises(ValueError, match=r"mapped more than once: \[1\]"):
        SchemeMapping(version="1", from_scheme="a", to_scheme="b", mapping=[[1, 2], [1, 3]])
