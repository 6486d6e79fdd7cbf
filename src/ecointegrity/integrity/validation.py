"""How good is the integrity map? Spatially blocked cross-validation and an acoustic check.

Neighbouring cells share land cover, terrain and hemeroby, so a random split scores a model
on cells whose twins it trained on and flatters it. ``blocked_cross_validation`` holds out
whole square blocks of cells instead, and scores the Bayesian network next to a LightGBM
regressor on the same rows and folds: a flexible baseline the network should not fall far
behind. ``acoustic_relation`` is an independent check: the rate of anthropogenic sound events
at recording sites should fall as EI rises (a Poisson GLM with recording effort as offset).

EI = 1 - hemeroby / max throughout, as in ``network``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..io import json_ready
from .network import LATENT, IntegrityNetwork

__all__ = [
    "CrossValidationResult",
    "acoustic_relation",
    "assign_folds",
    "blocked_cross_validation",
    "spatial_blocks",
]

METRICS = ["n", "pearson", "spearman", "mae", "rmse", "accuracy", "accuracy_within_1"]
MODELS = ("bn", "lightgbm")
LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "verbose": -1,
    "n_jobs": 1,
}


# -- folds ---------------------------------------------------------------------------------------
def spatial_blocks(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, block_size: float
) -> np.ndarray:
    """Block id (0..B-1) of each cell: the square of side ``block_size`` (metres, projected
    coordinates) it falls in, on a grid anchored at the origin so that a cell's block does not
    depend on which other cells are present. Folds made of whole blocks keep spatially
    autocorrelated neighbours on the same side of a split."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    if not (np.isfinite(block_size) and block_size > 0):
        raise ValueError(f"block_size must be a positive number of metres, got {block_size!r}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} cells have missing or infinite coordinates (first at position "
            f"{int(np.flatnonzero(bad)[0])}); blocks need every cell located"
        )
    if not len(x):
        return np.zeros(0, np.int64)
    squares = np.column_stack([np.floor(x / block_size), np.floor(y / block_size)]).astype(np.int64)
    _, ids = np.unique(squares, axis=0, return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


def assign_folds(blocks: Sequence[int] | np.ndarray, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold (0..n_folds-1) of each cell, whole blocks at a time: blocks are shuffled and each
    goes to the fold with the fewest cells so far, so folds are random yet balanced in cells
    (to within the largest block)."""
    blocks = np.asarray(blocks).ravel()
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    ids, inverse, sizes = np.unique(blocks, return_inverse=True, return_counts=True)
    if len(ids) < n_folds:
        raise ValueError(
            f"{len(ids)} blocks cannot fill {n_folds} folds; use smaller blocks or fewer folds"
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    fold_of_block = np.empty(len(ids), np.int64)
    load = np.zeros(n_folds, np.int64)
    for b in order:
        f = int(np.argmin(load))  # the lowest-numbered of the smallest folds
        fold_of_block[b] = f
        load[f] += sizes[b]
    return fold_of_block[inverse.reshape(-1)]


# -- metrics ------------------------------------------------------------------------------------
def _nearest_state(values: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Index of the nearest state of each value (-1 where the value is NaN)."""
    out = np.full(len(values), -1, np.int64)
    ok = np.isfinite(values)
    out[ok] = np.argmin(np.abs(values[ok, None] - states[None, :]), axis=1)
    return out


def _scores(
    true_ei: np.ndarray, pred_ei: np.ndarray, true_class: np.ndarray, pred_class: np.ndarray
) -> dict:
    """The metrics over the rows where the model gave a prediction."""
    from scipy.stats import spearmanr

    ok = np.isfinite(pred_ei) & np.isfinite(true_ei)
    t, p = true_ei[ok], pred_ei[ok]
    n = int(ok.sum())
    varied = n >= 2 and np.ptp(t) > 0 and np.ptp(p) > 0
    error = p - t
    step = np.abs(pred_class[ok] - true_class[ok])
    return {"n": n,
            "pearson": float(np.corrcoef(t, p)[0, 1]) if varied else np.nan,
            "spearman": float(spearmanr(t, p).statistic) if varied else np.nan,
            "mae": float(np.abs(error).mean()) if n else np.nan,
            "rmse": float(np.sqrt((error ** 2).mean())) if n else np.nan,
            "accuracy": float((step == 0).mean()) if n else np.nan,
            "accuracy_within_1": float((step <= 1).mean()) if n else np.nan}


# -- cross-validation ---------------------------------------------------------------------------
@dataclass
class CrossValidationResult:
    """Held-out scores of the network and the LightGBM baseline.

    Attributes:
        folds: one row per model and fold: model, fold, n, pearson, spearman, mae, rmse,
            accuracy, accuracy_within_1 (EI metrics on EI = 1 - h/max; accuracies on the
            hemeroby class).
        overall: the same metrics over all held-out rows pooled, one row per model.
        predictions: per labelled row (the input table's index): fold, true_ei, bn_ei,
            bn_ei_sd, lgbm_ei (bn_* NaN where a driver is missing).
        settings: how the folds were made (block size, folds, blocks, seed, ...).
    """

    folds: pd.DataFrame
    overall: pd.DataFrame
    predictions: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A short plain-text table of the pooled metrics, for logs and reports."""
        s = self.settings
        head = (
            f"spatially blocked {s.get('n_folds')}-fold cross-validation: {s.get('n_rows')} "
            "labelled cells in "
            f"{s.get('n_blocks')} blocks of {s.get('block_size'):g} m (seed {s.get('seed')})"
        )
        table = self.overall.set_index("model").rename(
            columns={"accuracy_within_1": "acc_within_1"}
        )
        return head + "\n" + table.to_string(float_format=lambda v: f"{v:.3f}") + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Settings, per-fold and pooled metrics as JSON-ready data (NaN -> null); the
        per-row predictions are left out (write ``predictions`` as a table if needed)."""
        return json_ready(
            {
                "settings": self.settings,
                "overall": self.overall.to_dict(orient="records"),
                "folds": self.folds.to_dict(orient="records"),
            }
        )


def _check_columns(table: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in table.columns]
    if missing:
        raise ValueError(f"the table lacks columns {missing}")


def _lightgbm_features(
    table: pd.DataFrame, features: list[str], categorical: set[str]
) -> pd.DataFrame:
    """Raw feature values for LightGBM: numbers as floats (NaN kept, LightGBM routes it),
    categorical columns as pandas categories fixed over the whole table so that every fold
    codes a category the same way."""
    out = {}
    for name in features:
        column = table[name]
        if name in categorical:
            out[name] = pd.Categorical(column, categories=sorted(column.dropna().unique().tolist()))
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            out[name] = column.to_numpy(float)
        else:
            raise ValueError(
                f"feature {name!r} is not numeric ({column.dtype}); list it in categorical"
            )
    return pd.DataFrame(out, index=table.index)


def _labelled_rows(table: pd.DataFrame, label: str,
                   states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The label values, the positions of the labelled rows and each label's state index;
    a label that is not one of the network's states is an error."""
    labels = pd.to_numeric(table[label], errors="coerce").to_numpy(float)
    labelled = np.flatnonzero(np.isfinite(labels))
    if not len(labelled):
        raise ValueError(f"no labelled rows: column {label!r} is all NaN")
    true_class = _nearest_state(labels, states)
    off_state = labelled[states[true_class[labelled]] != labels[labelled]]
    if len(off_state):
        bad = sorted(set(labels[off_state].tolist()))[:5]
        raise ValueError(f"labels {bad} in {label!r} are not among the network's hemeroby "
                         f"states {states.tolist()}")
    return labels, labelled, true_class


@dataclass
class _HeldOut:
    """One model's predictions for the held-out rows of every fold (NaN / -1 until made)."""

    ei: np.ndarray
    ei_sd: np.ndarray
    hemeroby_class: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _HeldOut:
        return cls(np.full(n, np.nan), np.full(n, np.nan), np.full(n, -1, np.int64))

    def put(self, rows: np.ndarray, predicted: pd.DataFrame, states: np.ndarray) -> None:
        """The network's predictions (``IntegrityNetwork.predict``) for ``rows``."""
        self.ei[rows] = predicted["ei"].to_numpy(float)
        self.ei_sd[rows] = predicted["ei_sd"].to_numpy(float)
        self.hemeroby_class[rows] = _nearest_state(predicted["hemeroby_mode"].to_numpy(float),
                                                   states)


def _score_table(true_ei: np.ndarray, true_class: np.ndarray, folds: np.ndarray, n_folds: int,
                 models: dict[str, _HeldOut]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model and fold, and per model pooled over all held-out rows."""
    rows, overall = [], []
    for name, held_out in models.items():
        ei, cls = held_out.ei, held_out.hemeroby_class
        overall.append({"model": name, **_scores(true_ei, ei, true_class, cls)})
        for f in range(n_folds):
            held = folds == f
            rows.append({"model": name, "fold": f,
                         **_scores(true_ei[held], ei[held], true_class[held], cls[held])})
    return (pd.DataFrame(rows, columns=["model", "fold", *METRICS]),
            pd.DataFrame(overall, columns=["model", *METRICS]))


def blocked_cross_validation(
    table: pd.DataFrame,
    *,
    label: str = LATENT,
    x: str = "x",
    y: str = "y",
    block_size: float,
    n_folds: int = 5,
    make_network: Callable[[], IntegrityNetwork],
    numeric: Iterable[str],
    categorical: Iterable[str] = (),
    features: Iterable[str] | None = None,
    seed: int = 0,
    lightgbm_params: dict[str, Any] | None = None,
) -> CrossValidationResult:
    """Spatially blocked cross-validation of the network against a LightGBM baseline.

    Only labelled rows (finite ``label``) take part: they are cut into square blocks of
    ``block_size`` metres from the ``x``/``y`` columns, whole blocks go to ``n_folds`` folds
    balanced in cells, and for each fold a fresh ``make_network()`` is fitted on the other
    folds (with ``numeric``/``categorical``) and predicts the held-out rows from every model
    variable present in them. LightGBM regresses the hemeroby value on the raw ``features``
    (default: numeric + categorical; NaN allowed) on the same rows, its prediction clipped to
    [0, max]. Each model is scored on the held-out rows it could predict (the network gives
    none where a driver is missing; ``n`` says how many).

    Args:
        lightgbm_params: overrides of the LGBMRegressor settings (defaults: 200 trees,
            learning rate 0.05, 31 leaves, one thread, ``random_state=seed``).
    """
    from lightgbm import LGBMRegressor

    numeric, categorical = list(numeric), list(categorical)
    features = list(features) if features is not None else [*numeric, *categorical]
    if not features:
        raise ValueError("no features: give numeric (and categorical) columns")
    _check_columns(table, [label, x, y, *numeric, *categorical, *features])

    template = make_network()
    if not isinstance(template, IntegrityNetwork):
        got = type(template).__name__
        raise TypeError(f"make_network must return an IntegrityNetwork, got {got}")
    states = np.asarray(template.hemeroby_values, float)
    maximum = float(template.hemeroby_max)
    labels, labelled, true_class = _labelled_rows(table, label, states)

    data = table.iloc[labelled]
    blocks = spatial_blocks(data[x].to_numpy(), data[y].to_numpy(), block_size)
    folds = assign_folds(blocks, n_folds, seed)
    truth = labels[labelled]
    true_ei = 1 - truth / maximum
    true_class = true_class[labelled]
    X = _lightgbm_features(data, features, set(categorical))
    params = {**LIGHTGBM_DEFAULTS, "random_state": seed, **(lightgbm_params or {})}

    n = len(data)
    bn, lgbm = _HeldOut.empty(n), _HeldOut.empty(n)
    for f in range(n_folds):
        test, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        net = template if f == 0 else make_network()
        net.fit(data.iloc[train], label=label, numeric=numeric, categorical=categorical)
        bn.put(test, net.predict(data.iloc[test]), states)

        model = LGBMRegressor(**params).fit(X.iloc[train], truth[train])
        hemeroby = np.clip(model.predict(X.iloc[test]), 0, maximum)
        lgbm.ei[test] = 1 - hemeroby / maximum
        lgbm.hemeroby_class[test] = _nearest_state(hemeroby, states)

    fold_scores, overall = _score_table(true_ei, true_class, folds, n_folds,
                                        {"bn": bn, "lightgbm": lgbm})
    predictions = pd.DataFrame({"fold": folds, "true_ei": true_ei, "bn_ei": bn.ei,
                                "bn_ei_sd": bn.ei_sd, "lgbm_ei": lgbm.ei}, index=data.index)
    settings = {"label": label, "block_size": float(block_size), "n_folds": int(n_folds),
                "n_blocks": int(len(np.unique(blocks))), "n_rows": int(n), "seed": int(seed),
                "hemeroby_max": maximum, "numeric": numeric, "categorical": categorical,
                "features": features, "lightgbm_params": params}
    return CrossValidationResult(fold_scores, overall, predictions, settings)


# -- acoustic check -----------------------------------------------------------------------------
def acoustic_relation(
    ei: Sequence[float] | np.ndarray,
    events: Sequence[float] | np.ndarray,
    hours: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """How the rate of anthropogenic sound events at recording sites changes with EI: a
    Poisson GLM ``events ~ ei`` with log(hours) as offset, so that effort is not mistaken for
    disturbance. A falling rate as EI rises gives a negative slope; ``rate_ratio_per_0.1`` is
    the factor the rate changes by per +0.1 EI. Sites with no effort (hours <= 0) or no EI are
    dropped. ``dispersion`` (Pearson chi2 / df) well above 1 means the Poisson intervals are
    too narrow.

    Returns a dict with slope, slope_ci, rate_ratio_per_0.1, rate_ratio_ci, p_value, n_sites,
    spearman_rho (EI vs events per hour), intercept, dispersion and confidence.
    """
    import statsmodels.api as sm
    from scipy.stats import spearmanr

    # arrays under names of their own: the parameters may be plain sequences
    site_ei, counts, effort = (np.asarray(a, float).ravel() for a in (ei, events, hours))
    if not len(site_ei) == len(counts) == len(effort):
        raise ValueError(
            f"ei, events and hours differ in length ({len(site_ei)}, {len(counts)}, {len(effort)})"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    keep = np.isfinite(site_ei) & np.isfinite(counts) & np.isfinite(effort) & (effort > 0)
    site_ei, counts, effort = site_ei[keep], counts[keep], effort[keep]
    if len(site_ei) < 3:
        raise ValueError(
            f"only {len(site_ei)} recording sites with EI and effort (hours > 0); "
            "at least 3 are needed"
        )
    if (counts < 0).any():
        raise ValueError("events must be counts (non-negative)")
    if np.ptp(site_ei) == 0:
        raise ValueError("EI is the same at every site: no relation can be estimated")
    if not counts.any():
        raise ValueError("no anthropogenic events at any site: the rate's slope is not estimable")

    fit = sm.GLM(counts, sm.add_constant(site_ei, has_constant="add"),
                 family=sm.families.Poisson(), offset=np.log(effort)).fit()
    low, high = np.asarray(fit.conf_int(alpha=1 - confidence))[1]
    slope = float(fit.params[1])
    rho = spearmanr(site_ei, counts / effort).statistic
    return {"slope": slope, "slope_ci": [float(low), float(high)],
            "rate_ratio_per_0.1": float(np.exp(0.1 * slope)),
            "rate_ratio_ci": [float(np.exp(0.1 * low)), float(np.exp(0.1 * high))],
            "p_value": float(fit.pvalues[1]), "n_sites": int(len(site_ei)),
            "spearman_rho": float(rho),
            "intercept": float(fit.params[0]), "dispersion": float(fit.pearson_chi2 / fit.df_resid),
            "confidence": float(confidence)}
