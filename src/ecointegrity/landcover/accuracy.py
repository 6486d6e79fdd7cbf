"""Accuracy assessment and area estimation for land-cover maps (pure numpy/pandas, no I/O).

Two families of statistics live here:

* plain sample statistics (`confusion_matrix`, `accuracy_report`): every sample counts once,
  as in scikit-learn; right for a test set drawn at random from the whole map;
* stratified estimators after Olofsson et al. (2014), "Good practices for estimating area and
  assessing accuracy of land change", Remote Sensing of Environment 148:42-57
  (`stratified_estimates`, `sample_size`, `allocate_sample`, `draw_stratified_sample`), with
  the map classes as strata. Equation numbers in comments refer to that paper.

Confusion matrices are laid out as in the paper: rows are map classes (strata), columns are
reference classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..io import json_ready

__all__ = [
    "AccuracyReport",
    "AreaEstimate",
    "confusion_matrix",
    "accuracy_report",
    "stratified_estimates",
    "sample_size",
    "allocate_sample",
    "draw_stratified_sample",
]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise num / den with NaN (not a warning) where den is zero: undefined, not zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)


def confusion_matrix(
    reference: Any, mapped: Any, classes: Sequence[Any] | None = None, nodata: Any = 0
) -> pd.DataFrame:
    """Count (map class, reference class) pairs.

    The layout follows Olofsson et al. (2014, Table 8): **rows are map classes, columns are
    reference classes**; this is the transpose of scikit-learn's ``confusion_matrix(y_true,
    y_pred)``.

    Args:
        reference: reference (ground-truth) labels, any shape.
        mapped: map labels, same shape as ``reference``.
        classes: labels to tabulate, in this order; default the sorted union of the labels seen.
            Pairs with a label outside ``classes`` are dropped, as scikit-learn's ``labels`` does.
        nodata: label meaning "no data"; a pair is dropped when either side has it (or is NaN).
            ``None`` keeps everything but NaN.

    Returns:
        Integer DataFrame, index ``map`` and columns ``reference``, both over ``classes``.
    """
    ref, mp = np.asarray(reference).ravel(), np.asarray(mapped).ravel()
    if ref.shape != mp.shape:
        raise ValueError(f"reference has {ref.size} values, mapped {mp.size}")
    valid = ~(pd.isna(ref) | pd.isna(mp))
    if nodata is not None:
        valid &= (ref != nodata) & (mp != nodata)
    ref, mp = ref[valid], mp[valid]
    labels = np.unique(np.concatenate([ref, mp])) if classes is None else np.asarray(classes)
    if len(set(labels.tolist())) != labels.size:
        raise ValueError("classes must be unique")
    # Position of each label in `labels` via a sorted copy: vectorised, any label order.
    order = np.argsort(labels, kind="stable")
    k = labels.size

    def position(values: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(labels[order], values), 0, max(k - 1, 0))
        found = labels[order][pos] == values if k else np.zeros(values.shape, bool)
        return np.where(found, order[pos], -1)

    r, m = position(ref), position(mp)
    keep = (r >= 0) & (m >= 0)
    counts = np.bincount(m[keep] * k + r[keep], minlength=k * k).reshape(k, k)
    return pd.DataFrame(
        counts, index=pd.Index(labels, name="map"), columns=pd.Index(labels, name="reference")
    )


@dataclass(frozen=True, eq=False)
class AccuracyReport:
    """Plain (sample-count) accuracy statistics; see `accuracy_report`."""

    classes: tuple[Any, ...]
    overall_accuracy: float
    kappa: float
    macro_f1: float
    user_accuracy: tuple[float, ...]  # precision: correct / mapped as the class
    producer_accuracy: tuple[float, ...]  # recall: correct / reference class
    f1: tuple[float, ...]
    support: tuple[int, ...]  # reference samples per class, as scikit-learn counts it
    confusion: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Per-class table (index ``class``), ready for ``to_csv``."""
        return pd.DataFrame(
            {
                "user_accuracy": self.user_accuracy,
                "producer_accuracy": self.producer_accuracy,
                "f1": self.f1,
                "support": self.support,
            },
            index=pd.Index(self.classes, name="class"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: summary scores, per-class scores and the confusion counts."""
        return json_ready(
            {
                "n": int(self.confusion.to_numpy().sum()),
                "overall_accuracy": self.overall_accuracy,
                "kappa": self.kappa,
                "macro_f1": self.macro_f1,
                "per_class": self.to_frame().to_dict(orient="index"),
                "confusion_map_by_reference": self.confusion.to_dict(orient="index"),
            }
        )


def accuracy_report(
    reference: Any, mapped: Any, classes: Sequence[Any] | None = None, nodata: Any = 0
) -> AccuracyReport:
    """Overall accuracy, Cohen's kappa and per-class user's/producer's accuracy and F1.

    Unweighted sample statistics, matching scikit-learn's ``accuracy_score``,
    ``cohen_kappa_score`` and ``precision_recall_fscore_support``, except that undefined
    values are NaN instead of 0: user's accuracy of a class never mapped, producer's accuracy
    of a class absent from the reference, F1 of a class absent from both. F1 is
    2 TP / (2 TP + FP + FN), so a class mapped but never correct scores 0, not NaN.

    Args:
        reference: reference labels.
        mapped: map labels, same shape.
        classes: labels to report, in this order; default the sorted union of labels seen.
        nodata: label ignored on either side (see `confusion_matrix`).

    Returns:
        An `AccuracyReport`; ``macro_f1`` is the mean F1 over classes with a defined F1.
    """
    cm = confusion_matrix(reference, mapped, classes=classes, nodata=nodata)
    counts = cm.to_numpy().astype(float)
    n = counts.sum()
    tp = np.diag(counts)
    mapped_total, reference_total = counts.sum(axis=1), counts.sum(axis=0)
    ua, pa = _ratio(tp, mapped_total), _ratio(tp, reference_total)
    f1 = _ratio(2 * tp, mapped_total + reference_total)
    oa = tp.sum() / n if n else math.nan
    # Cohen's kappa: agreement beyond chance, chance = product of the two marginals.
    pe = (mapped_total * reference_total).sum() / n**2 if n else math.nan
    kappa = (oa - pe) / (1 - pe) if n and pe != 1 else math.nan
    macro = float(np.nanmean(f1)) if np.isfinite(f1).any() else math.nan
    return AccuracyReport(
        classes=tuple(cm.index.tolist()),
        overall_accuracy=float(oa),
        kappa=float(kappa),
        macro_f1=macro,
        user_accuracy=tuple(ua.tolist()),
        producer_accuracy=tuple(pa.tolist()),
        f1=tuple(f1.tolist()),
        support=tuple(int(s) for s in reference_total),
        confusion=cm,
    )


@dataclass(frozen=True)
class AreaEstimate:
    """Stratified area and accuracy estimates (Olofsson et al. 2014); see `stratified_estimates`.

    Per-class tuples follow ``classes``; ``*_ci`` are confidence-interval half-widths (z * SE).
    """

    classes: tuple[Any, ...]
    confidence: float
    z: float
    total_area: float
    mapped_area: tuple[float, ...]
    weights: tuple[float, ...]  # W_i: share of the map in stratum i
    sample_counts: tuple[int, ...]  # n_i. per stratum
    cell_proportions: tuple[tuple[float, ...], ...]  # p_ij, rows map, columns reference
    proportion: tuple[float, ...]  # p_.j, eq. 9
    proportion_se: tuple[float, ...]  # eq. 10
    area: tuple[float, ...]  # A * p_.j
    area_se: tuple[float, ...]  # eq. 11
    area_ci: tuple[float, ...]
    overall_accuracy: float  # eq. 1
    overall_accuracy_se: float  # eq. 5
    overall_accuracy_ci: float
    user_accuracy: tuple[float, ...]  # eq. 2
    user_accuracy_se: tuple[float, ...]  # eq. 6
    user_accuracy_ci: tuple[float, ...]
    producer_accuracy: tuple[float, ...]  # eq. 3
    producer_accuracy_se: tuple[float, ...]  # eq. 7
    producer_accuracy_ci: tuple[float, ...]

    def proportion_matrix(self) -> pd.DataFrame:
        """Error matrix in estimated area proportions p_ij (the paper's Table 9 body)."""
        return pd.DataFrame(
            self.cell_proportions,
            index=pd.Index(self.classes, name="map"),
            columns=pd.Index(self.classes, name="reference"),
        )

    def to_frame(self) -> pd.DataFrame:
        """Per-class table (index ``class``) with areas, bounds and accuracies, ready for CSV."""
        names = [
            "mapped_area", "weights", "sample_counts", "proportion", "proportion_se", "area",
            "area_se", "area_ci", "user_accuracy", "user_accuracy_se", "user_accuracy_ci",
            "producer_accuracy", "producer_accuracy_se", "producer_accuracy_ci",
        ]  # fmt: skip
        index = pd.Index(self.classes, name="class")
        frame = pd.DataFrame({name: getattr(self, name) for name in names}, index=index)
        at = frame.columns.get_loc("area_ci") + 1
        frame.insert(at, "area_upper", frame["area"] + frame["area_ci"])
        frame.insert(at, "area_lower", frame["area"] - frame["area_ci"])
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: overall figures plus the per-class table."""
        return json_ready(
            {
                "confidence": self.confidence,
                "z": self.z,
                "total_area": self.total_area,
                "overall_accuracy": self.overall_accuracy,
                "overall_accuracy_se": self.overall_accuracy_se,
                "overall_accuracy_ci": self.overall_accuracy_ci,
                "per_class": self.to_frame().to_dict(orient="index"),
            }
        )


def _confusion_counts(confusion: Any) -> tuple[np.ndarray, list[Any]]:
    """A square float array of counts (rows map, columns reference) and its class labels."""
    if isinstance(confusion, pd.DataFrame):
        classes = list(confusion.index)
        if set(confusion.columns) != set(classes):
            raise ValueError("confusion DataFrame needs the same classes as index and columns")
        counts = confusion.loc[:, classes].to_numpy(dtype=float)
    else:
        counts = np.asarray(confusion, dtype=float)
        classes = list(range(1, counts.shape[0] + 1)) if counts.ndim == 2 else []
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {counts.shape}")
    return counts, classes


def _stratum_areas(mapped_area: Any, classes: list[Any]) -> np.ndarray:
    """The mapped area of each class in ``classes`` order."""
    if isinstance(mapped_area, (Mapping, pd.Series)):
        area_i = np.array([mapped_area[c] for c in classes], dtype=float)
    else:
        area_i = np.asarray(mapped_area, dtype=float)
    if area_i.shape != (len(classes),) or (area_i < 0).any() or area_i.sum() <= 0:
        raise ValueError("mapped_area needs one non-negative area per class, positive in total")
    return area_i


@dataclass(frozen=True)
class _Proportions:
    """Olofsson et al. (2014) estimates as arrays over classes (see `AreaEstimate`)."""

    weights: np.ndarray  # W_i
    cells: np.ndarray  # p_ij
    columns: np.ndarray  # p_.j, eq. 9
    columns_se: np.ndarray  # eq. 10
    overall_se: float  # eq. 5
    user: np.ndarray  # eq. 2
    user_var: np.ndarray  # eq. 6 squared
    producer: np.ndarray  # eq. 3
    producer_se: np.ndarray  # eq. 7


def _proportions(counts: np.ndarray, area_i: np.ndarray, n_i: np.ndarray) -> _Proportions:
    w = area_i / area_i.sum()
    # Within-stratum shares n_ij / n_i.; strata with nothing mapped (W=0) contribute nothing.
    share = np.nan_to_num(_ratio(counts, n_i[:, None]))
    p = w[:, None] * share
    p_col = p.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # W_i^2 q (1 - q) / (n_i. - 1) per cell: summed down a column it is eq. 10's variance;
        # on the diagonal it is W_i^2 V(U_i), eq. 5's terms. NaN when n_i. = 1: undefined.
        cell_var = np.where(w[:, None] > 0, (w**2 / (n_i - 1))[:, None] * share * (1 - share), 0.0)
        ua = np.where(n_i > 0, np.diag(share), np.nan)
        ua_var = ua * (1 - ua) / (n_i - 1)
        pa = _ratio(np.diag(p), p_col)
        # Eq. 7 divided through by N^2, so that W_i and p_.j stand for N_i. and N_.j.
        diag = np.diag(cell_var)
        pa_var = ((1 - pa) ** 2 * diag + pa**2 * (cell_var.sum(axis=0) - diag)) / p_col**2
    return _Proportions(w, p, p_col, np.sqrt(cell_var.sum(axis=0)), float(np.sqrt(diag.sum())),
                        ua, ua_var, pa, np.sqrt(pa_var))


def _floats(a: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in a)


def stratified_estimates(
    confusion: Any, mapped_area: Any, confidence: float = 0.95, z: float | None = None
) -> AreaEstimate:
    """Stratified area, accuracy and uncertainty estimates with map classes as strata.

    Implements Olofsson et al. (2014): cell proportions p_ij = W_i n_ij / n_i. (eq. 4 with
    stratified sampling), area proportions p_.j (eq. 9) and their SE (eq. 10), areas A p_.j
    with SE (eq. 11), overall (eq. 1, SE eq. 5), user's (eq. 2, SE eq. 6) and producer's
    accuracy (eq. 3, SE eq. 7). Intervals are z * SE with z the normal quantile for
    ``confidence`` (1.95996 for 0.95).

    Args:
        confusion: sample counts, **rows = map class (stratum), columns = reference class**, as
            a square array (classes are then labelled 1..k) or a DataFrame (e.g. from
            `confusion_matrix`) whose columns are reordered to match its index.
        mapped_area: area of each map class (pixels, ha, ...; the estimated areas come out in
            the same unit): a sequence in row order, or a mapping/Series keyed by class.
        confidence: confidence level of the intervals.
        z: multiplier overriding ``confidence``; the paper rounds to 1.96, and reproducing its
            printed intervals to the hectare needs the same rounding.

    Returns:
        An `AreaEstimate`. SEs are NaN for strata with a single sample (n_i. - 1 = 0).
    """
    counts, classes = _confusion_counts(confusion)
    area_i = _stratum_areas(mapped_area, classes)
    n_i = counts.sum(axis=1)
    if ((n_i == 0) & (area_i > 0)).any():
        raise ValueError("every mapped stratum needs at least one sample")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    z = NormalDist().inv_cdf(0.5 + confidence / 2) if z is None else z
    total = area_i.sum()
    est = _proportions(counts, area_i, n_i)
    return AreaEstimate(
        classes=tuple(classes),
        confidence=confidence,
        z=z,
        total_area=float(total),
        mapped_area=_floats(area_i),
        weights=_floats(est.weights),
        sample_counts=tuple(int(x) for x in n_i),
        cell_proportions=tuple(_floats(row) for row in est.cells),
        proportion=_floats(est.columns),
        proportion_se=_floats(est.columns_se),
        area=_floats(total * est.columns),
        area_se=_floats(total * est.columns_se),
        area_ci=_floats(z * total * est.columns_se),
        overall_accuracy=float(np.trace(est.cells)),
        overall_accuracy_se=est.overall_se,
        overall_accuracy_ci=z * est.overall_se,
        user_accuracy=_floats(est.user),
        user_accuracy_se=_floats(np.sqrt(est.user_var)),
        user_accuracy_ci=_floats(z * np.sqrt(est.user_var)),
        producer_accuracy=_floats(est.producer),
        producer_accuracy_se=_floats(est.producer_se),
        producer_accuracy_ci=_floats(z * est.producer_se),
    )


def sample_size(
    user_accuracies: Sequence[float], weights: Sequence[float], target_se: float = 0.01
) -> int:
    """Total sample size for a target SE of overall accuracy (Olofsson et al. 2014, eq. 13).

    n = (sum_i W_i S_i / S(O))^2 with S_i = sqrt(U_i (1 - U_i)), rounded up.

    Args:
        user_accuracies: expected user's accuracy U_i of each stratum.
        weights: W_i per stratum (mapped areas are fine: they are normalised to sum to 1).
        target_se: wanted standard error S(O) of overall accuracy.

    Returns:
        The total sample size n.
    """
    u, w = np.asarray(user_accuracies, dtype=float), np.asarray(weights, dtype=float)
    if u.shape != w.shape or ((u < 0) | (u > 1)).any() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("need one U_i in [0, 1] and one non-negative weight per stratum")
    if target_se <= 0:
        raise ValueError("target_se must be positive")
    n = (np.sum(w / w.sum() * np.sqrt(u * (1 - u))) / target_se) ** 2
    return math.ceil(n - 1e-9)  # the tolerance keeps float noise from adding a sample


def _round_to_total(quotas: np.ndarray, n: int) -> np.ndarray:
    """Integers summing to n, nearest to quotas (largest-remainder, Hamilton's method)."""
    base = np.floor(quotas).astype(int)
    extra = n - base.sum()
    base[np.argsort(-(quotas - base), kind="stable")[:extra]] += 1
    return base


def allocate_sample(
    n: int, weights: Any, method: str = "proportional", min_per_class: int = 50
) -> Any:
    """Split a total sample size among strata.

    Args:
        n: total number of samples.
        weights: W_i or mapped area per stratum, a sequence or a mapping keyed by class.
            Strata of zero weight (nothing mapped) get no samples.
        method: ``"proportional"`` (n_i proportional to W_i), ``"equal"`` (n / k each), or
            ``"minimum"`` (alias ``"olofsson"``): proportional, but each stratum gets at least
            ``min_per_class``, the compromise that Olofsson et al. (2014, sect. 5.1.2)
            recommend so that rare (change) classes get enough samples (50-100) to estimate
            their user's accuracy.
        min_per_class: floor for ``"minimum"``.

    Returns:
        Integer counts summing to n: a dict keyed like ``weights`` if it is a mapping,
        otherwise a numpy array.
    """
    keys = list(weights.keys()) if isinstance(weights, (Mapping, pd.Series)) else None
    w = np.asarray(list(weights.values()) if keys is not None else weights, dtype=float)
    if n < 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError("need n >= 0 and non-negative weights with a positive sum")
    live = w > 0
    if method == "proportional":
        quotas = n * w / w.sum()
    elif method == "equal":
        quotas = np.where(live, n / live.sum(), 0.0)
    elif method in ("minimum", "olofsson"):
        if min_per_class * live.sum() > n:
            raise ValueError(f"n={n} cannot give {min_per_class} samples to {live.sum()} strata")
        fixed = np.zeros(w.size, bool)
        # Pin strata whose proportional share falls below the floor, then share out the rest
        # proportionally; repeat, as the rest shrinks with each pin. It ends with a stratum
        # still free: n >= floor * k keeps the largest free share at or above the floor.
        while True:
            free = live & ~fixed
            quotas = np.where(fixed, float(min_per_class), 0.0)
            quotas[free] = (n - min_per_class * fixed.sum()) * w[free] / w[free].sum()
            low = free & (quotas < min_per_class)
            if not low.any():
                break
            fixed |= low
    else:
        raise ValueError(f"unknown method {method!r}; use 'proportional', 'equal' or 'minimum'")
    counts = _round_to_total(quotas, n)
    return dict(zip(keys, (int(c) for c in counts), strict=True)) if keys is not None else counts


def draw_stratified_sample(
    class_map: np.ndarray,
    n_per_class: Mapping[Any, int],
    seed: int | np.random.Generator | None = None,
    nodata: Any = 0,
) -> np.ndarray:
    """Stratified random sample of pixel positions, without replacement within each stratum.

    Args:
        class_map: 2-D map of classes (the strata).
        n_per_class: samples to draw per map class.
        seed: seed or `numpy.random.Generator`, for reproducible samples.
        nodata: label that is never sampled (asking for it is an error).

    Returns:
        Integer array of shape (n, 2): (row, col) of each sample, grouped by class in the order
        of ``n_per_class``; ``rows, cols = sample.T`` and ``class_map[rows, cols]`` gives strata.
    """
    class_map = np.asarray(class_map)
    if class_map.ndim != 2:
        raise ValueError(f"class_map must be 2-D, got {class_map.ndim}-D")
    rng = np.random.default_rng(seed)
    flat = class_map.ravel()
    picks = []
    for cls, count in n_per_class.items():
        if nodata is not None and cls == nodata:
            raise ValueError(f"cannot sample the nodata value {nodata!r}")
        where = np.flatnonzero(flat == cls)
        if count < 0 or count > where.size:
            raise ValueError(f"class {cls!r}: {count} samples asked, {where.size} pixels available")
        picks.append(rng.choice(where, size=count, replace=False))
    flat_idx = np.concatenate(picks) if picks else np.empty(0, dtype=np.intp)
    return np.column_stack(np.unravel_index(flat_idx, class_map.shape)).astype(np.intp)
