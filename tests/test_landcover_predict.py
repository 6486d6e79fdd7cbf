"""The fast LightGBM predictor (landcover/predictor.py) against LightGBM's own, and its fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr

from ecointegrity.landcover import LandCoverModel, TrainingSet, get_recipe
from ecointegrity.landcover import model as model_module
from ecointegrity.landcover.predictor import (
    UnsupportedForest,
    compile_forest,
    forest_predict,
    forest_proba_reference,
)

RECIPE = "madmex-landsat"


def _training(n_classes: int, n: int = 1500, seed: int = 0) -> TrainingSet:
    names = tuple(get_recipe(RECIPE).feature_names())
    rng = np.random.default_rng(seed)
    y = rng.integers(1, n_classes + 1, n).astype(np.int32)
    X = rng.normal(size=(n, len(names))).astype(np.float32)
    X[:, : n_classes] += 1.5 * (y[:, None] == np.arange(1, n_classes + 1))  # learnable
    X[:, -1] = np.round(X[:, -1])  # a few distinct values: ties at thresholds
    blocks = rng.integers(0, 10, n)
    return TrainingSet(X, y, blocks, np.zeros(n, int), np.zeros(n, int), names)


def _model(n_classes: int) -> LandCoverModel:
    model = LandCoverModel("test", RECIPE, n_estimators=15, num_leaves=15, n_jobs=2)
    return model.fit(_training(n_classes), cv_folds=0)


@pytest.fixture(scope="module")
def model() -> LandCoverModel:
    return _model(4)


def _pixels(model: LandCoverModel, n: int = 3000) -> np.ndarray:
    """(feature, n) float32: random values, then exact split thresholds and their neighbours."""
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(len(model.feature_names_), n)) * 1.5).astype(np.float32)
    try:
        tables = compile_forest(model.classifier_.booster_)
    except UnsupportedForest:
        return X
    for f in range(X.shape[0]):
        thr = tables.thresholds[tables.thr_ptr[f] : tables.thr_ptr[f + 1]].astype(np.float32)
        if thr.size:
            third = n // 3
            picks = rng.choice(thr, third)
            X[f, :third] = picks
            X[f, third : 2 * third] = np.nextafter(picks, np.float32(np.inf))
    return X


def test_probabilities_and_classes_match_lightgbm(model):
    X = _pixels(model)
    ours = model.predict_proba(X.T)
    theirs = model.classifier_.predict_proba(X.T)
    assert ours.shape == theirs.shape == (X.shape[1], 4)
    assert np.abs(ours - theirs).max() <= 1e-12
    assert np.array_equal(model.predict(X.T), model.classes_[theirs.argmax(axis=1)])
    index, confidence, _ = forest_predict(compile_forest(model.classifier_.booster_), X)
    assert np.array_equal(index, theirs.argmax(axis=1))
    assert np.abs(confidence - theirs.max(axis=1)).max() <= 1e-12


def test_kernel_matches_numpy_reference(model):
    X = _pixels(model, 700)  # less than one 1024-pixel group: a ragged group
    tables = compile_forest(model.classifier_.booster_)
    _, _, proba = forest_predict(tables, X.astype(np.float64), with_proba=True, n_threads=1)
    assert proba is not None
    np.testing.assert_allclose(proba, forest_proba_reference(tables, X), rtol=0, atol=1e-12)


def _features(model: LandCoverModel) -> xr.DataArray:
    X = _pixels(model, 60 * 50).reshape(-1, 60, 50)
    X[2, 5, 7] = np.nan
    X[0, 40, :] = np.inf
    return xr.DataArray(X, dims=("feature", "y", "x"),
                        coords={"feature": model.feature_names_, "y": np.arange(60.0),
                                "x": np.arange(50.0)})


def test_map_matches_lightgbm_path(model):
    features = _features(model)
    fast = model.predict_map(features, nodata=-9)
    slow = model.predict_map(features, nodata=-9, engine="lightgbm")
    assert np.array_equal(fast["class"].values, slow["class"].values)
    assert fast["class"].values[5, 7] == -9 and (fast["class"].values[40] == -9).all()
    np.testing.assert_allclose(fast["confidence"].values, slow["confidence"].values,
                               rtol=0, atol=1e-6, equal_nan=True)
    assert np.isnan(fast["confidence"].values[5, 7])


def test_unsupported_forest_falls_back_to_lightgbm_and_logs_once(monkeypatch, caplog):
    binary = _model(2)  # two classes: LightGBM's binary objective, not reproduced
    with pytest.raises(UnsupportedForest, match="binary"):
        compile_forest(binary.classifier_.booster_)
    monkeypatch.setattr(model_module, "_LOGGED", set())
    features = _features(binary)
    with caplog.at_level(logging.WARNING, logger=model_module.__name__):
        first = binary.predict_map(features)
        second = binary.predict_map(features)
    assert [r.getMessage() for r in caplog.records if "fast LightGBM" in r.getMessage()] == [
        "fast LightGBM predictor not used (objective 'binary sigmoid:1' (only multiclass "
        "softmax)); using LightGBM's own"
    ]
    slow = binary.predict_map(features, engine="lightgbm")
    assert np.array_equal(first["class"].values, slow["class"].values)
    assert np.array_equal(second["confidence"].values, slow["confidence"].values, equal_nan=True)
    assert set(np.unique(first["class"].values)) == {0, 1, 2}


def test_tables_follow_the_booster(model, tmp_path):
    """Never stale: a loaded or refitted model predicts with its own booster's tables."""
    path = model.save(tmp_path / "m.joblib")
    loaded = LandCoverModel.load(path)
    X = _pixels(model, 500).T
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    other = _model(3)
    other.predict_proba(X)
    other.classifier_ = model.classifier_
    other.classes_ = model.classes_
    np.testing.assert_array_equal(other.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("n_classes", [3, 8])
def test_multiclass_forests_across_groups_and_threads(n_classes):
    """Several chunks of pixels (parallel tasks), a ragged last group, 1 and 2 threads."""
    model = _model(n_classes)
    X = _pixels(model, 9_999)
    theirs = model.classifier_.predict_proba(X.T)
    tables = compile_forest(model.classifier_.booster_)
    for threads in (1, 2):
        index, confidence, proba = forest_predict(tables, X, with_proba=True, n_threads=threads)
        assert proba is not None
        assert np.array_equal(index, theirs.argmax(axis=1))
        assert np.abs(proba - theirs).max() <= 1e-12
        assert np.abs(confidence - theirs.max(axis=1)).max() <= 1e-12


def test_forest_trained_with_missing_values():
    """NaN in training: splits with a default direction. Finite pixels take the fast path
    exactly; rows with NaN go to LightGBM's predictor, which knows the default directions."""
    training = _training(4, seed=2)
    rng = np.random.default_rng(3)
    training.X[rng.random(training.X.shape) < 0.15] = np.nan
    model = LandCoverModel("test", RECIPE, n_estimators=15, num_leaves=15, n_jobs=2)
    model.fit(training, cv_folds=0)
    dump = model.classifier_.booster_.dump_model()
    assert '"missing_type": "NaN"' in str(dump).replace("'", '"')
    tables = compile_forest(model.classifier_.booster_)
    X = _pixels(model, 2_000)
    theirs = model.classifier_.predict_proba(X.T)
    index, _, proba = forest_predict(tables, X, with_proba=True)
    assert proba is not None
    assert np.array_equal(index, theirs.argmax(axis=1))
    assert np.abs(proba - theirs).max() <= 1e-12
    X[3, ::7] = np.nan
    np.testing.assert_array_equal(model.predict_proba(X.T), model.classifier_.predict_proba(X.T))


def _booster(**params):
    import lightgbm as lgb

    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 3))
    X[:, 0] = rng.integers(0, 6, 600)
    y = (X[:, 0] % 3).astype(int)
    X[rng.random(600) < 0.3, 1] = 0.0
    data = lgb.Dataset(X, y, categorical_feature=params.pop("categorical_feature", "auto"))
    return lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1,
                      "num_leaves": 7, **params}, data, num_boost_round=5)


def test_categorical_and_zero_as_missing_splits_are_refused_clearly():
    with pytest.raises(UnsupportedForest, match="categorical split"):
        compile_forest(_booster(categorical_feature=[0]))
    with pytest.raises(UnsupportedForest, match="zero-as-missing"):
        compile_forest(_booster(zero_as_missing=True))
    compile_forest(_booster())  # the same data, numerical splits: supported
