"""The land-cover classifier: a scikit-learn style estimator that remembers what it was made of.

A saved model carries its class scheme, feature recipe, feature names, training extent and
period, library versions and its spatial-block cross-validation report, so a map made years
later can say exactly how it was made, and prediction refuses features that do not match.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import xarray as xr
from sklearn.model_selection import GroupKFold

from ..io import atomic_path, is_local, read_bytes, write_bytes_atomic
from .accuracy import accuracy_report
from .features import Recipe, get_recipe
from .predictor import ForestTables, UnsupportedForest, compile_forest, forest_predict
from .training import TrainingSet

__all__ = ["LandCoverModel", "FORMAT_VERSION"]

FORMAT_VERSION = 1
Algorithm = Literal["lightgbm", "random_forest"]
# "auto": the bit-sliced numba predictor (predictor.py) for LightGBM forests it reproduces
# exactly, LightGBM's own otherwise; "lightgbm": always LightGBM's (the reference, benchmarks)
Engine = Literal["auto", "lightgbm"]

log = logging.getLogger(__name__)
_LOGGED: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.warning(message)


class LandCoverModel:
    """Gradient boosting (LightGBM, default) or random forest on a feature recipe.

    Args:
        scheme: name of the class scheme of the labels (e.g. ``madmex-31``).
        recipe: feature recipe (name or :class:`Recipe`).
        algorithm: ``lightgbm`` or ``random_forest``.
        n_estimators, learning_rate, num_leaves: model size (LightGBM; RF uses n_estimators).
        random_state: seed.
        n_jobs: threads (default: all cores).
    """

    def __init__(
        self,
        scheme: str,
        recipe: Recipe | str,
        # any name, as the CLI and model files give it: fit() rejects one it does not know
        algorithm: Algorithm | str = "lightgbm",
        *,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.scheme = scheme
        self.recipe = get_recipe(recipe)
        self.algorithm = algorithm
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _classifier(self):
        if self.algorithm == "lightgbm":
            from lightgbm import LGBMClassifier

            return LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=self.random_state,
                n_jobs=self.n_jobs or -1,
                verbose=-1,
            )
        if self.algorithm == "random_forest":
            from sklearn.ensemble import RandomForestClassifier

            return RandomForestClassifier(
                n_estimators=self.n_estimators,
                random_state=self.random_state,
                n_jobs=self.n_jobs or -1,
                min_samples_leaf=2,
            )
        raise ValueError(f"unknown algorithm {self.algorithm!r}; use 'lightgbm' or 'random_forest'")

    # -- fit --------------------------------------------------------------------------------
    def fit(self, training: TrainingSet, *, cv_folds: int = 5, extent: list[float] | None = None,
            period: str | None = None) -> LandCoverModel:
        """Cross-validate by spatial blocks, then fit on all samples.

        Args:
            training: samples with their spatial blocks.
            cv_folds: folds of blocks held out in turn (fewer if there are fewer blocks).
            extent: lon/lat bbox of the training area (recorded).
            period: training period, e.g. "2019" (recorded).
        """
        expected = tuple(self.recipe.feature_names())
        if training.feature_names != expected:
            raise ValueError(
                f"training features {training.feature_names} do not follow recipe "
                f"{self.recipe.name!r}: {expected}"
            )
        n_blocks = len(np.unique(training.blocks))
        folds = min(cv_folds, n_blocks)
        predicted = np.zeros_like(training.y)
        if folds >= 2:
            for train, test in GroupKFold(n_splits=folds).split(
                training.X, training.y, training.blocks
            ):
                clf = self._classifier().fit(training.X[train], training.y[train])
                predicted[test] = clf.predict(training.X[test])
            report = accuracy_report(training.y, predicted, nodata=-1)
            # through JSON once, so the report reads the same before and after save/load
            self.cv_report_ = json.loads(
                json.dumps(
                    {
                        "folds": folds,
                        "blocks": int(n_blocks),
                        "samples": len(training),
                        **report.to_dict(),
                    }
                )
            )
        else:
            self.cv_report_ = {
                "folds": 0,
                "note": "one spatial block only: no honest cross-validation possible",
            }
        self.classifier_ = self._classifier().fit(training.X, training.y)
        self.classes_ = np.asarray(self.classifier_.classes_)
        self.feature_names_ = list(expected)
        self.class_counts_ = training.class_counts()
        self.extent_ = extent
        self.period_ = period
        self.created_ = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return self

    # -- predict ----------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray, *, engine: Engine = "auto") -> np.ndarray:
        """Class probabilities of ``X`` (n, features), columns in ``classes_`` order."""
        forest = self._fast_forest() if engine == "auto" else None
        X = np.asarray(X)
        if forest is not None and np.isfinite(X).all():
            done = self._fast_predict(forest, X.T, with_proba=True)
            if done is not None and done[2] is not None:
                return done[2]
        return self.classifier_.predict_proba(X)

    def predict(self, X: np.ndarray, *, engine: Engine = "auto") -> np.ndarray:
        return self.classes_[self.predict_proba(X, engine=engine).argmax(axis=1)]

    def predict_map(
        self, features: xr.DataArray, *, nodata: int = 0, chunk: int = 262_144,
        engine: Engine = "auto",
    ) -> xr.Dataset:
        """Class and confidence (highest class probability) for a (feature, y, x) array.

        Pixels with a missing feature get ``nodata`` and NaN confidence. A LightGBM model goes
        through :mod:`.predictor` (built lazily from the booster, kept with the model while the
        booster is the same object): on the benchmark tile (800 trees, 2 cores) LightGBM's own
        predictor gives 25,000-42,000 px/s however it is fed (dtype, block size, threads, raw
        scores), the bit-sliced predictor about 10x that (``benchmarks/landcover.py``), with the
        same classes and probabilities (raw scores bit-identical). Forests it cannot reproduce exactly fall back to LightGBM's predictor
        (logged once), as does ``engine="lightgbm"``; ``chunk`` bounds the probability matrix
        there.
        """
        names = [str(f) for f in features[features.dims[0]].values]
        if names != self.feature_names_:
            raise ValueError(f"features {names} do not match the model's {self.feature_names_}")
        values = np.asarray(features.values, dtype=np.float32)
        _, ny, nx = values.shape
        flat = values.reshape(len(names), -1)  # (feature, pixel): a view, no transpose
        valid = np.asarray(np.isfinite(flat).all(axis=0), dtype=bool)
        forest = self._fast_forest() if engine == "auto" else None
        done = None if forest is None else self._fast_predict(forest, flat)
        if done is not None:
            classes = np.where(valid, self.classes_[done[0]], nodata).astype(np.int32)
            confidence = np.where(valid, done[1], np.nan).astype(np.float32)
        else:
            classes, confidence = self._predict_rows(flat.T, valid, nodata, chunk)
        coords = {k: v for k, v in features.coords.items() if k in ("y", "x", "spatial_ref")}
        return xr.Dataset(
            {
                "class": (("y", "x"), classes.reshape(ny, nx)),
                "confidence": (("y", "x"), confidence.reshape(ny, nx)),
            },
            coords=coords,
            attrs={"scheme": self.scheme, "recipe": f"{self.recipe.name}@{self.recipe.version}"},
        )

    def _predict_rows(self, rows: np.ndarray, valid: np.ndarray, nodata: int,
                      chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """The classifier's own predict_proba on the valid rows, ``chunk`` rows at a time."""
        classes = np.full(rows.shape[0], nodata, dtype=np.int32)
        confidence = np.full(rows.shape[0], np.nan, dtype=np.float32)
        index = np.flatnonzero(valid)
        for start in range(0, index.size, chunk):  # bounded memory for the probability matrix
            part = index[start : start + chunk]
            proba = self.classifier_.predict_proba(rows[part])
            classes[part] = self.classes_[proba.argmax(axis=1)]
            confidence[part] = proba.max(axis=1)
        return classes, confidence

    def _fast_forest(self) -> ForestTables | None:
        """The booster's tables for :mod:`.predictor`, or None (random forest, unsupported)."""
        if self.algorithm != "lightgbm":
            return None
        booster = self.classifier_.booster_
        cached = getattr(self, "_forest", None)
        if cached is not None and cached[0] is booster:  # never stale: tied to this booster
            return cached[1]
        try:
            tables: ForestTables | None = compile_forest(booster)
        except UnsupportedForest as exc:
            _log_once(f"fast LightGBM predictor not used ({exc}); using LightGBM's own")
            tables = None
        self._forest = (booster, tables)
        return tables

    def _fast_predict(self, forest: ForestTables, X: np.ndarray, *, with_proba: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """:func:`.predictor.forest_predict`, or None where numba cannot compile (logged once)."""
        from numba.core.errors import NumbaError

        threads = self.n_jobs if self.n_jobs and self.n_jobs > 0 else None
        try:
            return forest_predict(forest, X, with_proba=with_proba, n_threads=threads)
        except NumbaError as exc:
            _log_once(f"fast LightGBM predictor unavailable ({exc}); using LightGBM's own")
            self._forest = (self.classifier_.booster_, None)
            return None

    # -- persistence ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The model card: everything needed to know how a map was made."""
        import lightgbm
        import sklearn

        return {
            "format_version": FORMAT_VERSION,
            "scheme": self.scheme,
            "recipe": self.recipe.to_dict(),
            "algorithm": self.algorithm,
            "params": {
                "n_estimators": self.n_estimators,
                "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves,
                "random_state": self.random_state,
            },
            "feature_names": self.feature_names_,
            "classes": [int(c) for c in self.classes_],
            "class_counts": self.class_counts_,
            "training_extent": self.extent_,
            "training_period": self.period_,
            "cross_validation": self.cv_report_,
            "created": self.created_,
            "versions": {
                "ecointegrity": _version(),
                "lightgbm": lightgbm.__version__,
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }

    def save(self, path: str | os.PathLike) -> Path | str:
        """Write ``path`` (joblib) and a JSON model card beside it (``path`` + ``.json``),
        atomically; ``path`` may be on object storage (``s3://...``). Returns where it is (a
        Path for a local file)."""
        location = os.fspath(path)
        with atomic_path(location) as tmp:
            joblib.dump({"metadata": self.metadata(), "classifier": self.classifier_}, tmp)
        card = json.dumps(self.metadata(), indent=1, default=str).encode()
        write_bytes_atomic(location + ".json", card)
        return Path(location) if is_local(location) else location

    @classmethod
    def load(cls, path: str | os.PathLike) -> LandCoverModel:
        """A saved model, from a file or object storage."""
        location = os.fspath(path)
        try:
            # joblib reads a file object as it reads a file: the same pickles, no temporary
            blob = joblib.load(location if is_local(location) else BytesIO(read_bytes(location)))
        except (OSError, EOFError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable land-cover model ({exc})") from None
        meta = blob["metadata"]
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: model format {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        model = cls(
            meta["scheme"], Recipe.from_dict(meta["recipe"]), meta["algorithm"], **meta["params"]
        )
        model.classifier_ = blob["classifier"]
        model.classes_ = np.asarray(meta["classes"])
        model.feature_names_ = meta["feature_names"]
        model.class_counts_ = meta["class_counts"]
        model.extent_ = meta["training_extent"]
        model.period_ = meta["training_period"]
        model.cv_report_ = meta["cross_validation"]
        model.created_ = meta["created"]
        return model


def _version() -> str:
    from .. import __version__

    return __version__
