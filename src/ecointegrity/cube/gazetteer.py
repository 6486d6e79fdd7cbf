"""Place names for coordinates: "Bacalar, Quintana Roo" instead of "18.65, -88.40".

The gazetteer that ships with the package (``data/places.csv.gz``, GeoNames, CC BY 4.0; see
``data/ATTRIBUTION.md``) holds the places of Mexico and Colombia with 1,000 inhabitants or
more. `nearest_place` finds the closest one (great-circle distance, a k-d tree on unit
vectors) and `place_label` says it in the reader's language: the place and its state, "near"
it when the point is more than a couple of kilometres away, nothing when the nearest place is
far (open sea, the middle of a forest reserve).
"""

from __future__ import annotations

import functools
import gzip
import io
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

__all__ = ["GAZETTEER_CREDIT", "Place", "nearest_place", "place_label", "places_within"]

GAZETTEER_CREDIT = "GeoNames"
EARTH_KM = 6371.0088
NEAR_KM = 2.5  # closer than this, a point is "in" the place


@dataclass(frozen=True)
class Place:
    """A place of the gazetteer and how far the point asked about is from it."""

    name: str
    state_es: str
    state_en: str
    municipality: str
    country: str
    population: int | None
    latitude: float
    longitude: float
    distance_km: float


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


@functools.cache
def _places() -> tuple[pd.DataFrame, cKDTree]:
    raw = resources.files("ecointegrity.cube").joinpath("data/places.csv.gz").read_bytes()
    table = pd.read_csv(io.BytesIO(gzip.decompress(raw)), keep_default_na=False,
                        dtype={"municipality": str, "population": str})
    return table, cKDTree(_unit(table.longitude.to_numpy(), table.latitude.to_numpy()))


def nearest_place(lon: float, lat: float, max_km: float = 30.0) -> Place | None:
    """The gazetteer's place nearest to (``lon``, ``lat``), or None beyond ``max_km``."""
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 90:
        raise ValueError(f"not a position: lon={lon}, lat={lat}")
    table, tree = _places()
    chord, index = tree.query(_unit(np.array([lon]), np.array([lat]))[0])
    distance = 2 * EARTH_KM * float(np.arcsin(min(1.0, chord / 2)))
    if distance > max_km:
        return None
    row = table.iloc[int(index)]
    return Place(str(row["name"]), str(row.state_es), str(row.state_en), str(row.municipality),
                 str(row.country), int(row.population) if row.population else None,
                 float(row.latitude), float(row.longitude), distance)


def place_label(lon: float, lat: float, lang: Literal["es", "en"] = "es",
                max_km: float = 30.0) -> str | None:
    """"Bacalar, Quintana Roo", "cerca de Bacalar, Quintana Roo" (more than 2.5 km away), or
    None when no place of the gazetteer is within ``max_km``."""
    place = nearest_place(lon, lat, max_km)
    if place is None:
        return None
    state = place.state_es if lang == "es" else place.state_en
    text = f"{place.name}, {state}"
    if place.distance_km > NEAR_KM:
        text = ("cerca de " if lang == "es" else "near ") + text
    return text


def places_within(west: float, south: float, east: float, north: float,
                  limit: int = 8) -> list[Place]:
    """The most populous places of the gazetteer inside a lon/lat box (at most ``limit``, the
    largest first; places without a population count last): what a map labels."""
    table, _ = _places()
    inside = table[(table.longitude >= west) & (table.longitude <= east)
                   & (table.latitude >= south) & (table.latitude <= north)]
    population = pd.to_numeric(inside.population, errors="coerce").fillna(-1)
    chosen = inside.assign(_p=population).sort_values("_p", ascending=False).head(limit)
    return [Place(str(r["name"]), str(r.state_es), str(r.state_en), str(r.municipality),
                  str(r.country), int(r.population) if r.population else None,
                  float(r.latitude), float(r.longitude), 0.0)
            for _, r in chosen.iterrows()]
