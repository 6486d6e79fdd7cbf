"""Validation of the integrity network: spatial blocks and folds, blocked cross-validation
against the LightGBM baseline (no held-out row seen in training, unlabelled rows never
scored, deterministic for a seed), and the Poisson relation of EI with acoustic event rates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecointegrity.integrity import (
    CrossValidationResult,
    IntegrityNetwork,
    acoustic_relation,
    assign_folds,
    blocked_cross_validation,
    spatial_blocks,
)

EDGES = [("crops", "hemeroby"), ("urban", "hemeroby"), ("hemeroby", "ndvi"), ("zone", "ndvi"),
         ("hemeroby", "wofs")]
NUMERIC = ["crops", "urban", "ndvi", "wofs"]
CATEGORICAL = ["zone"]
BLOCK = 1500.0


def _grid_cells(side: int = 30, spacing: float = 250.0, seed: int = 0) -> pd.DataFrame:
    """Cells on a regular grid (projected metres) with smooth driver fields, so neighbours
    resemble each other: crops follow a wave, urban a town's distance decay, the life zone
    bands by northing; hemeroby follows crops and urban, NDVI and water follow hemeroby."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(side) * spacing, np.arange(side) * spacing)
    x, y = gx.ravel() + 500_000.0, gy.ravel() + 2_100_000.0
    n = len(x)
    ex, ey = x - x.min(), y - y.min()
    crops = np.clip(0.5 + 0.45 * np.sin(ex / 1500) * np.cos(ey / 2200) + rng.normal(0, 0.1, n), 0, 1)
    urban = np.exp(-np.hypot(ex - 5000, ey - 4000) / 1500) + rng.uniform(0, 0.05, n)
    zone = np.where(ey < 2500, "dry", np.where(ey < 5000, "montane", "humid"))
    hemeroby = np.clip(np.round(18 * (0.6 * crops + 0.4 * urban) + rng.normal(0, 1.5, n)), 0, 18)
    shift = pd.Series(zone).map({"dry": -0.1, "montane": 0.0, "humid": 0.1}).to_numpy()
    ndvi = 0.8 - 0.03 * hemeroby + shift + rng.normal(0, 0.04, n)
    wofs = rng.random(n) * (hemeroby < 5)
    index = pd.Index(np.arange(n) * 10 + 7, name="cell")  # not 0..n-1: results must keep the table's labels
    return pd.DataFrame(dict(x=x, y=y, crops=crops, urban=urban, zone=zone, ndvi=ndvi, wofs=wofs,
                             hemeroby=hemeroby), index=index)


def _network() -> IntegrityNetwork:
    return IntegrityNetwork(structure=EDGES)


def _cv(table: pd.DataFrame, **kwargs) -> CrossValidationResult:
    options = dict(block_size=BLOCK, make_network=_network, numeric=NUMERIC, categorical=CATEGORICAL)
    return blocked_cross_validation(table, **{**options, **kwargs})


class _RecordingNetwork(IntegrityNetwork):
    """The network, noting which rows it was fitted on and asked to predict."""

    log: list

    def fit(self, table, label="hemeroby", **kwargs):
        self.log.append(("fit", table.index.copy(), table[label].to_numpy(float)))
        return super().fit(table, label, **kwargs)

    def predict(self, table, **kwargs):
        self.log.append(("predict", table.index.copy(), None))
        return super().predict(table, **kwargs)


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return _grid_cells()


@pytest.fixture(scope="module")
def result(cells) -> CrossValidationResult:
    return _cv(cells, seed=0)


# -- blocks and folds ------------------------------------------------------------------------------
def test_spatial_blocks_are_squares_of_the_given_size():
    x = np.array([0.0, 999.0, 1000.0, -1.0, 0.0, 2500.0])
    y = np.array([0.0, 999.0, 0.0, 0.0, 1000.0, 2999.0])
    ids = spatial_blocks(x, y, 1000)
    assert ids[0] == ids[1]  # same square
    assert len({ids[0], ids[2], ids[3], ids[4], ids[5]}) == 5  # east, west (negative), north, far
    assert sorted(set(ids.tolist())) == list(range(5))

    cells = _grid_cells(side=20, spacing=100.0)
    cells = cells.assign(x=cells.x - cells.x.min(), y=cells.y - cells.y.min())  # grid aligned with the blocks
    ids = spatial_blocks(cells.x, cells.y, 500)
    assert np.bincount(ids).tolist() == [25] * 16  # 2 km square of 100 m cells: 4 x 4 blocks of 5 x 5 cells
    spans = cells.groupby(ids).agg(dx=("x", np.ptp), dy=("y", np.ptp))
    assert (spans < 500).all().all()


def test_spatial_blocks_reject_bad_input():
    with pytest.raises(ValueError, match="positive number of metres"):
        spatial_blocks([0, 1], [0, 1], 0)
    with pytest.raises(ValueError, match="differ in length"):
        spatial_blocks([0, 1], [0], 10)
    with pytest.raises(ValueError, match="1 cells have missing or infinite coordinates .* position 1"):
        spatial_blocks([0, np.nan, 3], [0, 1, 2], 10)


def test_folds_keep_blocks_whole_and_balance_cells():
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 40, 60)
    blocks = rng.permutation(np.repeat(np.arange(60) * 3 + 11, sizes))  # arbitrary, non-contiguous ids
    folds = assign_folds(blocks, n_folds=5, seed=1)
    per_block = pd.Series(folds).groupby(blocks).nunique()
    assert (per_block == 1).all()
    counts = np.bincount(folds, minlength=5)
    assert counts.min() > 0 and counts.max() - counts.min() <= sizes.max()
    np.testing.assert_array_equal(assign_folds(blocks, 5, seed=1), folds)
    assert not np.array_equal(assign_folds(blocks, 5, seed=2), folds)
    # four equal blocks in two folds: two each, whatever the shuffle
    for seed in range(5):
        assert np.bincount(assign_folds(np.repeat([0, 1, 2, 3], 5), 2, seed=seed)).tolist() == [10, 10]


def test_folds_reject_too_few_blocks():
    with pytest.raises(ValueError, match="3 blocks cannot fill 5 folds"):
        assign_folds([0, 0, 1, 2], n_folds=5)
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds([0, 1, 2], n_folds=1)


# -- blocked cross-validation ----------------------------------------------------------------------
def test_blocked_cv_scores_both_models(result, cells):
    assert list(result.folds.columns) == ["model", "fold", "n", "pearson", "spearman", "mae", "rmse", "accuracy",
                                          "accuracy_within_1"]
    assert result.folds.groupby("model").fold.apply(sorted).to_dict() == {"bn": [0, 1, 2, 3, 4],
                                                                          "lightgbm": [0, 1, 2, 3, 4]}
    overall = result.overall.set_index("model")
    assert overall.n.tolist() == [len(cells), len(cells)]
    for model in ("bn", "lightgbm"):
        row = overall.loc[model]
        assert row.pearson > 0.6 and row.spearman > 0.6, model
        assert row.mae < 0.12 and row.mae <= row.rmse, model
        assert 0.1 < row.accuracy <= row.accuracy_within_1 <= 1, model
        assert (result.folds.query("model == @model").pearson > 0.3).all(), model
    assert result.folds.groupby("model").n.sum().tolist() == [len(cells)] * 2
    counts = result.folds.query("model == 'bn'").n
    assert counts.min() > 0.6 * len(cells) / 5  # balanced folds

    pred = result.predictions
    assert list(pred.columns) == ["fold", "true_ei", "bn_ei", "bn_ei_sd", "lgbm_ei"]
    pd.testing.assert_index_equal(pred.index, cells.index)
    np.testing.assert_allclose(pred.true_ei, 1 - cells.hemeroby / 18)
    assert pred.lgbm_ei.between(0, 1).all() and pred.bn_ei.between(0, 1).all() and (pred.bn_ei_sd > 0).all()
    # pooled metrics are those of the predictions table
    np.testing.assert_allclose(overall.loc["bn", "mae"], (pred.bn_ei - pred.true_ei).abs().mean())
    np.testing.assert_allclose(overall.loc["lightgbm", "pearson"], np.corrcoef(pred.lgbm_ei, pred.true_ei)[0, 1])
    # folds are made of whole blocks
    blocks = spatial_blocks(cells.x, cells.y, BLOCK)
    assert (pred.fold.groupby(blocks).nunique() == 1).all()


def test_blocked_cv_report(result):
    text = result.summary()
    assert "5-fold" in text and "900 labelled cells" in text and "1500 m" in text
    lines = {line.split()[0]: line for line in text.splitlines()[1:] if line.strip()}
    assert {"bn", "lightgbm"} <= set(lines)
    assert f"{result.overall.set_index('model').loc['bn', 'pearson']:.3f}" in lines["bn"]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [r["model"] for r in data["overall"]] == ["bn", "lightgbm"] and len(data["folds"]) == 10
    assert data["settings"]["lightgbm_params"]["n_estimators"] == 200 and data["settings"]["n_blocks"] > 5


def test_shuffled_labels_score_near_zero(cells):
    rng = np.random.default_rng(3)
    shuffled = cells.assign(hemeroby=rng.permutation(cells.hemeroby.to_numpy()))
    overall = _cv(shuffled, n_folds=3, lightgbm_params={"n_estimators": 50}).overall.set_index("model")
    assert abs(overall.loc["bn", "pearson"]) < 0.2 and abs(overall.loc["lightgbm", "pearson"]) < 0.2


def test_held_out_rows_are_never_trained_on_and_unlabelled_rows_never_scored(cells):
    table = cells.copy()
    rng = np.random.default_rng(11)
    unlabelled = rng.random(len(table)) < 0.2
    table.loc[unlabelled, "hemeroby"] = np.nan
    no_driver = table.index[~unlabelled][:9]
    table.loc[no_driver, "crops"] = np.nan  # the network cannot predict these; LightGBM can
    log: list = []

    def make():
        net = _RecordingNetwork(structure=EDGES)
        net.log = log
        return net

    result = _cv(table, n_folds=4, make_network=make, lightgbm_params={"n_estimators": 50})
    labelled = table.index[~unlabelled]
    pred = result.predictions
    pd.testing.assert_index_equal(pred.index, labelled)
    overall = result.overall.set_index("model")
    assert overall.loc["lightgbm", "n"] == len(labelled) and overall.loc["bn", "n"] == len(labelled) - 9
    assert pred.bn_ei.isna().sum() == 9 and pred.loc[no_driver, "bn_ei"].isna().all()
    assert pred.lgbm_ei.notna().all()
    assert result.folds.groupby("model").n.sum().to_dict() == {"bn": len(labelled) - 9, "lightgbm": len(labelled)}

    fits = [(idx, y) for kind, idx, y in log if kind == "fit"]
    predicts = [idx for kind, idx, _ in log if kind == "predict"]
    assert len(fits) == len(predicts) == 4
    for fold, ((train, y), test) in enumerate(zip(fits, predicts, strict=False)):
        assert np.isfinite(y).all()  # no unlabelled row in training
        pd.testing.assert_index_equal(test, pred.index[pred.fold == fold])
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(labelled)


def test_blocked_cv_is_deterministic_for_a_seed(cells):
    small = cells.iloc[:400]
    options = dict(n_folds=3, lightgbm_params={"n_estimators": 40, "subsample": 0.7, "subsample_freq": 1})
    first, again = _cv(small, seed=3, **options), _cv(small, seed=3, **options)
    for name in ("folds", "overall", "predictions"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    other = _cv(small, seed=4, **options)
    assert not np.array_equal(other.predictions.fold, first.predictions.fold)


def test_lightgbm_parameters_are_used(cells):
    small = cells.iloc[:400]
    stump = _cv(small, n_folds=3, lightgbm_params={"n_estimators": 1})
    full = _cv(small, n_folds=3)
    assert stump.settings["lightgbm_params"]["n_estimators"] == 1
    assert stump.predictions.lgbm_ei.std() < 0.2 * full.predictions.lgbm_ei.std()  # one small step from the mean
    pd.testing.assert_series_equal(stump.predictions.bn_ei, full.predictions.bn_ei)  # the network is untouched


def test_blocked_cv_rejects_bad_tables(cells):
    with pytest.raises(ValueError, match=r"lacks columns \['slope'\]"):
        _cv(cells, numeric=[*NUMERIC, "slope"])
    with pytest.raises(ValueError, match=r"labels \[2.5\] in 'hemeroby' are not among"):
        _cv(cells.assign(hemeroby=np.where(cells.index == cells.index[3], 2.5, cells.hemeroby)))
    with pytest.raises(ValueError, match="no labelled rows"):
        _cv(cells.assign(hemeroby=np.nan))
    with pytest.raises(ValueError, match="feature 'zone' is not numeric"):
        _cv(cells, categorical=[], features=[*NUMERIC, "zone"])
    with pytest.raises(ValueError, match="blocks cannot fill 5 folds"):
        _cv(cells, block_size=1e6)


# -- acoustic relation -----------------------------------------------------------------------------
def _sites(n: int = 300, slope: float = -3.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    ei = rng.uniform(0, 1, n)
    hours = 5 + 150 * ei * rng.uniform(0.5, 1.5, n)  # more effort at intact sites: the offset must correct it
    events = rng.poisson(hours * np.exp(-1.0 + slope * ei))
    return ei, events, hours


def test_acoustic_relation_recovers_a_falling_rate():
    ei, events, hours = _sites()
    rel = acoustic_relation(ei, events, hours)
    low, high = rel["slope_ci"]
    assert low < -3.0 < high and high < 0 and low < rel["slope"] < high
    assert rel["p_value"] < 1e-6 and rel["n_sites"] == 300 and rel["spearman_rho"] < -0.5
    assert rel["rate_ratio_ci"][0] < np.exp(-0.3) < rel["rate_ratio_ci"][1]
    assert rel["rate_ratio_per_0.1"] == pytest.approx(np.exp(0.1 * rel["slope"]))
    assert 0.7 < rel["dispersion"] < 1.4
    wider = acoustic_relation(ei, events, hours, confidence=0.99)["slope_ci"]
    assert wider[0] < low and wider[1] > high
    json.dumps(rel, allow_nan=False)


def test_acoustic_relation_intervals_cover_and_unusable_sites_drop_out():
    # 95% intervals hold the true slope about 95% of the time, with a trend and without
    for slope in (0.0, -3.0):
        cover = [(lambda lo, hi: lo < slope < hi)(*acoustic_relation(*_sites(80, slope, seed))["slope_ci"])
                 for seed in range(40)]
        assert sum(cover) >= 34, slope
    ei, events, hours = _sites(slope=0.0, seed=0)
    rel = acoustic_relation(ei, events, hours)
    # no effort or no EI: dropped, however many events they claim
    more = acoustic_relation(np.r_[ei, np.nan, 0.5, 0.9], np.r_[events, 500, 900, 700], np.r_[hours, 10, 0, -1])
    assert more["n_sites"] == 300 and more["slope"] == pytest.approx(rel["slope"])


def test_acoustic_relation_needs_three_sites():
    with pytest.raises(ValueError, match="only 2 recording sites .* at least 3"):
        acoustic_relation([0.2, 0.5, np.nan, 0.7], [3, 1, 2, 5], [10, 10, 10, 0])
    with pytest.raises(ValueError, match="differ in length"):
        acoustic_relation([0.2, 0.5], [3, 1, 2], [10, 10])
    with pytest.raises(ValueError, match="same at every site"):
        acoustic_relation([0.5, 0.5, 0.5], [3, 1, 2], [10, 10, 10])
