"""Place names from the shipped gazetteer (GeoNames, CC BY 4.0): in the dashboard's ranking, on
GIFs, wherever coordinates would otherwise be shown."""

from __future__ import annotations

import pytest

from ecointegrity.cube import nearest_place, place_label


def test_the_demo_areas_have_names():
    bacalar = nearest_place(-88.3933, 18.6811)
    assert (bacalar.name, bacalar.state_es, bacalar.country) == ("Bacalar", "Quintana Roo", "MX")
    assert bacalar.distance_km < 0.1 and bacalar.population > 10_000
    assert place_label(-88.3933, 18.6811) == "Bacalar, Quintana Roo"
    # the demo square's centre is ~3.5 km from the town: "near" it, in either language
    assert place_label(-88.40, 18.65, "es") == "cerca de Bacalar, Quintana Roo"
    assert place_label(-88.40, 18.65, "en") == "near Bacalar, Quintana Roo"
    assert nearest_place(-74.2833, 10.9778).country == "CO"  # Ciénaga Grande de Santa Marta


def test_accents_and_english_state_names():
    assert place_label(-89.6232, 20.9670, "es") == "Mérida, Yucatán"
    assert place_label(-74.0818, 4.6097, "es") == "Bogotá, Bogotá D. C."
    assert place_label(-99.1332, 19.4326, "en").endswith("Mexico City")
    assert place_label(-99.1332, 19.4326, "es").endswith("Ciudad de México")


def test_far_from_any_place_there_is_no_name():
    assert place_label(-95.0, 15.0) is None  # the Pacific off Oaxaca
    assert nearest_place(-95.0, 15.0, max_km=500) is not None
    with pytest.raises(ValueError, match="not a position"):
        nearest_place(float("nan"), 10.0)


def test_the_api_names_places_in_the_ranking_and_on_gifs(demo_outputs, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from ecointegrity.web import ApiSettings, create_app
    from ecointegrity.web.renderer import ProductRenderer

    drawn: list[str] = []
    real = ProductRenderer.animation

    def spy(self, *args, **kwargs):
        drawn.append(kwargs["attribution"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ProductRenderer, "animation", spy)
    settings = ApiSettings(secret="t", min_reactions_per_cell=1)
    app = create_app([demo_outputs / "products"], f"sqlite:///{tmp_path / 'g.sqlite'}", tmp_path / "anim",
                     settings, site=None)
    with TestClient(app) as client:
        bbox = {"west": -88.42, "south": 18.63, "east": -88.38, "north": 18.67}
        animation = client.post("/api/animations", json={"product": "ndvi", "bbox": bbox, "year_from": 2021,
                                                          "year_to": 2022, "lang": "en"}).json()
        assert drawn and drawn[0].startswith("near Bacalar, Quintana Roo · ") and drawn[0].endswith("GeoNames")
        client.post(f"/api/animations/{animation['id']}/reactions",
                    json={"value": "like", "token": "a-browser-token-0001"}).raise_for_status()
        summary = client.get("/api/reactions/summary").json()
    assert summary["top"][0]["place"] == {"es": "cerca de Bacalar, Quintana Roo", "en": "near Bacalar, Quintana Roo"}
    assert summary["places_credit"] == "GeoNames"
