"""The issue's check: on the scene simulator extended with a known integrity field and acoustic
sites whose evidence depends on it, the network recovers the known EI on held-out blocks
(r >= 0.8) and the sites' counts improve it where they exist. Also the grid functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from ecointegrity.integrity import (
    IntegrityNetwork,
    cell_statistics,
    cell_table,
    class_shares,
    simulate_integrity,
    sites_to_cells,
)

DRIVERS = ["share_cropland", "share_built_up", "share_water", "distance_km"]
SIGNS = ["ndvi_p50", "ndvi_p10"]
COUNTS = {"anthropogenic_events": "recording_hours", "bat_passes": "n_nights"}


def structure() -> list[tuple[str, str]]:
    return ([(d, "hemeroby") for d in DRIVERS] + [("hemeroby", s) for s in SIGNS]
            + [("share_water", s) for s in SIGNS])


@pytest.fixture(scope="module")
def scene():
    return simulate_integrity(cell_size=90, n_sites=120, seed=3)


def test_known_integrity_is_recovered_and_sites_sharpen_it(scene):
    cells = scene.cells()
    cells["label"] = np.round(cells.hemeroby)
    held_out = ((cells.row // 12 + cells.col // 12) % 2 == 0).to_numpy()  # a checkerboard of 1 km blocks
    train, test = cells[~held_out], cells[held_out]
    net = IntegrityNetwork(structure=structure(), acoustic_counts=COUNTS, hemeroby_table=scene.table.label)
    net.fit(train, label="label", numeric=DRIVERS + SIGNS)

    eo_only = net.predict(test, acoustic=False)
    fused = net.predict(test)
    known = test.ei.to_numpy()
    assert np.corrcoef(eo_only.ei, known)[0, 1] >= 0.8
    # the rates' slopes have the simulated signs: events rise and bat passes fall with hemeroby
    assert net.rates_["anthropogenic_events"]["slope"] > 0 > net.rates_["bat_passes"]["slope"]
    sites = test.recording_hours.notna().to_numpy()
    assert sites.sum() >= 20
    error_eo = np.abs(eo_only.ei.to_numpy() - known)[sites].mean()
    error_fused = np.abs(fused.ei.to_numpy() - known)[sites].mean()
    assert error_fused < 0.8 * error_eo
    np.testing.assert_allclose(fused.ei[~sites], eo_only.ei[~sites])  # no site: no acoustic term


def test_count_evidence_agrees_with_pgmpy_virtual_evidence(scene):
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    cells = scene.cells().assign(label=lambda t: np.round(t.hemeroby))
    net = IntegrityNetwork(structure=structure(), acoustic_counts=COUNTS).fit(cells, label="label",
                                                                              numeric=DRIVERS + SIGNS)
    site_rows = cells[cells.recording_hours.notna()].head(5)
    ours = net.predict_proba(site_rows)
    engine = VariableElimination(net.to_pgmpy())
    likelihood = net.acoustic_likelihood(site_rows)
    codes = net.codes(site_rows)
    for i in range(len(site_rows)):
        evidence = {v: int(c[i]) for v, c in codes.items() if c[i] >= 0}
        virtual = [TabularCPD("hemeroby", len(net.hemeroby_values), likelihood[i][:, None])]
        expected = engine.query(["hemeroby"], evidence=evidence, virtual_evidence=virtual, show_progress=False)
        np.testing.assert_allclose(ours[i], expected.values, atol=1e-9, rtol=0)


def test_too_few_sites_leave_the_rate_out(scene):
    cells = scene.cells().assign(label=lambda t: np.round(t.hemeroby))
    cells.loc[cells.recording_hours.notna().cumsum() > 2, ["recording_hours", "n_nights"]] = np.nan
    with pytest.warns(UserWarning, match="at least 3 are needed"):
        net = IntegrityNetwork(structure=structure(), acoustic_counts=COUNTS).fit(cells, label="label",
                                                                                   numeric=DRIVERS + SIGNS)
    assert not net.rates_ and set(net.metadata["rates_skipped"]) == set(COUNTS)
    assert net.acoustic_likelihood(cells) is None  # maps without the acoustic term


def _grid_layer(values: np.ndarray, res: float = 30.0) -> xr.DataArray:
    geobox = GeoBox(values.shape, Affine(res, 0, 1000.0, 0, -res, 5000.0), "EPSG:6372")
    return xr.DataArray(values, coords=xr_coords(geobox), dims=("y", "x"), name="v")


def test_class_shares_and_statistics_use_whole_pixels():
    lc = np.array([[1, 1, 2, 0, 3],
                   [1, 2, 2, 0, 3],
                   [3, 3, 3, 3, 3],
                   [1, 1, 1, 1, 1]], np.uint8)
    shares = class_shares(_grid_layer(lc), 60, [1, 2, 3])
    assert shares.sizes == {"y": 2, "x": 3} and shares.odc.geobox.resolution.x == 60
    assert shares.share_1.values[0, 0] == pytest.approx(0.75) and shares.share_2.values[0, 1] == pytest.approx(1.0)
    assert shares.valid_fraction.values[0, 1] == pytest.approx(0.5)  # two nodata pixels of four
    assert shares.valid_fraction.values[0, 2] == pytest.approx(0.5)  # the partial edge block
    stats = cell_statistics(_grid_layer(lc.astype(float)), 60, stats=("mean", "max"), quantiles=(0.5,))
    assert stats.v_mean.values[1, 0] == pytest.approx(2.0) and stats.v_max.values[0, 0] == 2
    table = cell_table(shares)
    assert len(table) == 6 and {"row", "col", "x", "y", "share_1"} <= set(table.columns)
    assert table.x.iloc[1] - table.x.iloc[0] == pytest.approx(60)
    assert class_shares(_grid_layer(lc), 50, [1]).odc.geobox.resolution.x == 60  # the nearest whole cell
    with pytest.raises(ValueError, match="smaller than the 30.0 m pixels"):
        class_shares(_grid_layer(lc), 10, [1])


def test_sites_to_cells_round_trip(scene):
    grid = scene.layers.odc.geobox
    placed = sites_to_cells(scene.sites.drop(columns=["row", "col"]), grid)
    pd.testing.assert_series_equal(placed.row, scene.sites.row, check_dtype=False)
    pd.testing.assert_series_equal(placed.col, scene.sites.col, check_dtype=False)
    far = pd.DataFrame({"latitude": [0.0, np.nan], "longitude": [0.0, -88.4]})
    assert sites_to_cells(far, grid).empty
