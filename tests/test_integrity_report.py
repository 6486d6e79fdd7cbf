"""The figures integrity reports quote (area per class, per region and year) and the site
evidence placed on cells. The documents themselves: tests/test_reports.py."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from shapely.geometry import box

from ecointegrity.integrity import (
    area_by_class,
    evidence_on_cells,
    region_statistics,
    region_trends,
)

GRID = GeoBox((20, 30), Affine(250.0, 0, 3_900_000.0, 0, -250.0, 800_000.0), "EPSG:6372")


def _maps() -> dict[int, xr.Dataset]:
    rng = np.random.default_rng(0)
    first = np.clip(rng.uniform(0.2, 1.0, GRID.shape), 0, 1)
    last = first.copy()
    last[:5, :10] = np.clip(last[:5, :10] - 0.3, 0, 1)  # a loss in the north-west
    last[0, 0] = np.nan
    make = lambda ei: xr.Dataset({"ei": (("y", "x"), ei), "ei_sd": (("y", "x"), np.full(GRID.shape, 0.05))},  # noqa: E731
                                 coords=xr_coords(GRID))
    return {2021: make(first), 2023: make(last)}


def _regions() -> gpd.GeoDataFrame:
    """The 5 x 10 cells of the north-west, and the columns east of them."""
    west = GRID.extent.boundingbox
    return gpd.GeoDataFrame({"name": ["north-west", "rest"]},
                            geometry=[box(west.left, west.top - 5 * 250, west.left + 10 * 250, west.top),
                                      box(west.left + 10 * 250, west.bottom, west.right, west.top)],
                            crs="EPSG:6372")


def test_area_by_class_adds_up():
    table = area_by_class(_maps())
    assert list(table.columns) == [2021, 2023]
    assert table[2021].sum() == pytest.approx(600 * 0.0625)
    assert table[2023].sum() == pytest.approx(599 * 0.0625)  # the NaN cell is not counted


def test_region_statistics():
    maps = _maps()
    regions = _regions().to_crs("EPSG:4326")
    stats = region_statistics(maps[2023], regions, "name").set_index("region")
    assert stats.loc["north-west", "cells"] == 49 and stats.loc["rest", "cells"] == 400
    expected = np.nanmean(maps[2023].ei.values[:5, :10])
    assert stats.loc["north-west", "mean_ei"] == pytest.approx(expected, abs=1e-6)


def test_region_trends_follow_each_region_over_the_years():
    maps = _maps()
    regions = _regions()
    trends = region_trends(maps, regions, "name").set_index(["region", "year"])
    nw = trends.loc[("north-west", 2023)]
    # 49 cells of the north-west lost 0.3 (or less where clipped at 0), the NaN cell is not counted
    diff = maps[2023].ei.values[:5, :10] - maps[2021].ei.values[:5, :10]
    assert nw.loss_km2 == pytest.approx(np.sum(diff < -0.1) * 0.0625)
    assert nw.change_mean_ei == pytest.approx(np.nanmean(maps[2023].ei.values[:5, :10])
                                              - maps[2021].ei.values[:5, :10].mean())
    assert trends.loc[("rest", 2023)].loss_km2 == 0 and trends.loc[("rest", 2021)].change_mean_ei == 0
    with pytest.raises(KeyError, match="no column 'nombre'"):
        region_trends(maps, regions, "nombre")
    twice = pd.concat([regions, regions])
    with pytest.raises(ValueError, match="repeat"):
        region_trends(maps, twice, "name")


def test_evidence_on_cells_sums_sites_of_a_cell():
    from pyproj import Transformer

    to_wgs = Transformer.from_crs("EPSG:6372", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform([3_900_100.0, 3_900_200.0, 3_905_100.0, 0.0], [799_900.0, 799_800.0, 797_600.0, 0.0])
    evidence = pd.DataFrame({"site": list("ABCD"), "latitude": lat, "longitude": lon,
                             "recording_hours": [10.0, 30.0, 5.0, 1.0], "n_nights": [1, 3, 1, 1],
                             "gunshot_events": [1, 2, 0, 9], "vehicle_events": [0, 3, 1, 9], "bat_passes": [5, 5, 1, 9]})
    cells = evidence_on_cells(evidence, GRID)
    assert len(cells) == 2  # D is outside the grid
    first = cells.loc[(0, 0)]
    assert first.recording_hours == 40 and first.anthropogenic_events == 6 and first.bat_passes == 10
    assert cells.loc[(9, 20)].anthropogenic_events == 1
