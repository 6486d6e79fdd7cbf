"""Accuracy assessment and stratified area estimation (ecointegrity.landcover.accuracy).

The worked example is Olofsson et al. (2014), "Good practices for estimating area and
assessing accuracy of land change", Remote Sensing of Environment 148:42-57, section 5.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ecointegrity.landcover.accuracy import (
    accuracy_report,
    allocate_sample,
    confusion_matrix,
    draw_stratified_sample,
    sample_size,
    stratified_estimates,
)

# --- Olofsson et al. (2014), section 5 ---------------------------------------------------------
# Classes 1 deforestation, 2 forest gain, 3 stable forest, 4 stable non-forest.
# Table 8, rows = map class (stratum), columns = reference class. Stratum sample sizes are
# 75, 75, 165, 325 (n = 640), the allocation of section 5.1.2. (The same numbers written
# column by column, [[66,0,1,2],[0,55,0,1],[5,8,153,9],[4,12,11,313]], are this matrix
# transposed: rows = reference. Read that way they give a deforestation area of ~32,275 ha,
# not the paper's 21,158 ha, so the layout below is the paper's.)
OLOFSSON_COUNTS = np.array(
    [
        [66, 0, 5, 4],
        [0, 55, 8, 12],
        [1, 0, 153, 11],
        [2, 1, 9, 313],
    ]
)
OLOFSSON_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]  # 30 m pixels, 10 million in all
HA_PER_PIXEL = 0.09


def _labels_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand a (map x reference) count matrix into per-sample reference and map labels 1..k."""
    rows, cols = np.nonzero(counts)
    reps = counts[rows, cols]
    return np.repeat(cols + 1, reps), np.repeat(rows + 1, reps)


# --- confusion matrix and plain statistics ---------------------------------------------------


def test_confusion_matrix_rows_are_map_columns_are_reference_and_nodata_is_dropped():
    reference = np.array([[1, 1, 2], [0, 2, 3]])
    mapped = np.array([[2, 2, 2], [1, 0, 3]])
    cm = confusion_matrix(reference, mapped)
    assert cm.index.name == "map" and cm.columns.name == "reference"
    assert list(cm.index) == [1, 2, 3] and list(cm.columns) == [1, 2, 3]
    # two pixels mapped 2 whose reference is 1: row 2 (map), column 1 (reference)
    assert cm.loc[2, 1] == 2 and cm.loc[1, 2] == 0
    assert cm.loc[2, 2] == 1 and cm.loc[3, 3] == 1
    # (ref 0, map 1) and (ref 2, map 0) are nodata on one side: dropped
    assert cm.to_numpy().sum() == 4
    # nodata=None keeps 0 as an ordinary class
    assert confusion_matrix(reference, mapped, nodata=None).to_numpy().sum() == 6


def test_confusion_matrix_explicit_classes_order_nan_and_shape_check():
    reference = np.array([3.0, 1.0, np.nan, 1.0, 7.0])
    mapped = np.array([3.0, 3.0, 1.0, 1.0, 7.0])
    cm = confusion_matrix(reference, mapped, classes=[3, 1])  # class 7 not asked for: dropped
    assert list(cm.index) == [3, 1]
    np.testing.assert_array_equal(cm.to_numpy(), [[1, 1], [0, 1]])
    with pytest.raises(ValueError):
        confusion_matrix([1, 2], [1, 2, 3])


def test_accuracy_report_kappa_and_per_class_scores_by_hand():
    # Pairs (map, reference): (1,1)x3, (2,1), (3,1), (2,2), (1,2), (3,3); plus nodata pairs.
    reference = [1, 1, 1, 1, 1, 2, 2, 3, 0, 2]
    mapped = [1, 1, 1, 2, 3, 2, 1, 3, 1, 0]
    # rows map / cols reference:   [[3, 1, 0],   row sums 4, 2, 2
    #                               [1, 1, 0],   col sums 5, 2, 1, n = 8
    #                               [1, 0, 1]]
    # p_o = 5/8; p_e = (4*5 + 2*2 + 2*1) / 64 = 26/64
    # kappa = (40/64 - 26/64) / (1 - 26/64) = 14/38 = 7/19
    r = accuracy_report(reference, mapped)
    assert r.classes == (1, 2, 3)
    assert r.overall_accuracy == pytest.approx(5 / 8)
    assert r.kappa == pytest.approx(7 / 19)
    # user's = precision = diag / row sum; producer's = recall = diag / column sum
    assert r.user_accuracy == pytest.approx((3 / 4, 1 / 2, 1 / 2))
    assert r.producer_accuracy == pytest.approx((3 / 5, 1 / 2, 1))
    # F1 = 2 TP / (row + column): 6/9, 2/4, 2/3
    assert r.f1 == pytest.approx((2 / 3, 1 / 2, 2 / 3))
    assert r.macro_f1 == pytest.approx(11 / 18)
    assert r.support == (5, 2, 1)


def test_accuracy_report_classes_missing_from_one_side_give_nan_not_crash():
    # class 4 is in the reference but never mapped; class 5 is mapped but never in the
    # reference; class 9 is asked for but absent from both.
    reference = [1, 1, 4, 4]
    mapped = [1, 5, 1, 1]
    r = accuracy_report(reference, mapped, classes=[1, 4, 5, 9])
    ua, pa, f1 = r.user_accuracy, r.producer_accuracy, r.f1
    assert ua[0] == pytest.approx(1 / 3) and pa[0] == pytest.approx(1 / 2)
    assert math.isnan(ua[1]) and pa[1] == 0  # never mapped: UA undefined, PA zero
    assert ua[2] == 0 and math.isnan(pa[2])  # never in reference: PA undefined
    assert math.isnan(ua[3]) and math.isnan(pa[3]) and math.isnan(f1[3])
    assert f1[:3] == pytest.approx((0.4, 0.0, 0.0))
    assert r.macro_f1 == pytest.approx(0.4 / 3)  # class 9 (no F1) is left out of the mean
    assert r.support == (2, 2, 0, 0)
    assert r.overall_accuracy == pytest.approx(1 / 4)
    # tables: NaN becomes null in the JSON-ready dict
    frame = r.to_frame()
    assert list(frame.columns) == ["user_accuracy", "producer_accuracy", "f1", "support"]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["per_class"]["4"]["user_accuracy"] is None
    assert d["n"] == 4


# --- Olofsson et al. (2014) worked example ----------------------------------------------------


@pytest.fixture(scope="module")
def olofsson():
    return stratified_estimates(OLOFSSON_COUNTS, OLOFSSON_PIXELS, z=1.96)


def test_olofsson_area_estimates_and_confidence_intervals(olofsson):
    # Paper, section 5.2: areas in ha with 95 % CI half-widths (z = 1.96).
    area_ha = np.array(olofsson.area) * HA_PER_PIXEL
    ci_ha = np.array(olofsson.area_ci) * HA_PER_PIXEL
    np.testing.assert_array_equal(np.round(area_ha), [21_158, 11_686, 285_770, 581_386])
    np.testing.assert_array_equal(np.round(ci_ha), [6_158, 3_756, 15_510, 16_282])
    # area proportions p_.j (eq. 9), Table 9's bottom row
    np.testing.assert_allclose(olofsson.proportion, [0.0235, 0.0130, 0.3175, 0.6460], atol=5e-5)
    assert sum(olofsson.proportion) == pytest.approx(1.0)
    assert olofsson.weights == pytest.approx((0.02, 0.015, 0.32, 0.645))
    assert olofsson.sample_counts == (75, 75, 165, 325)
    # SE of p_.1 by hand (eq. 10): 0.02^2*.88*.12/74 + .32^2*(1/165)(164/165)/164
    #   + .645^2*(2/325)(323/325)/324 = 1.2185e-5 -> 0.0034907
    assert olofsson.proportion_se[0] == pytest.approx(0.0034907, abs=1e-7)


def test_olofsson_exact_normal_quantile_stays_within_a_hectare():
    est = stratified_estimates(OLOFSSON_COUNTS, [p * HA_PER_PIXEL for p in OLOFSSON_PIXELS])
    assert est.z == pytest.approx(1.959964, abs=1e-6)
    np.testing.assert_allclose(est.area, [21_158, 11_686, 285_770, 581_386], atol=1)
    np.testing.assert_allclose(est.area_ci, [6_158, 3_756, 15_510, 16_282], atol=1)


def test_olofsson_accuracies_and_their_intervals(olofsson):
    # Derived from eqs. 1-3 and 5-7 on Table 8, to the paper's printed precision:
    # overall 0.947 +- 0.018; user's 0.88, 0.73, 0.93, 0.96; producer's deforestation 0.75.
    # (A user's accuracy of 0.957 for deforestation, 66/69, would come from the transposed
    # matrix; the paper's stratum 1 has 66 of 75 correct, 0.88.)
    assert round(olofsson.overall_accuracy, 3) == 0.947
    assert round(olofsson.overall_accuracy_ci, 3) == 0.018
    assert np.round(olofsson.user_accuracy, 2).tolist() == [0.88, 0.73, 0.93, 0.96]
    assert np.round(olofsson.user_accuracy_ci, 2).tolist() == [0.07, 0.10, 0.04, 0.02]
    assert np.round(olofsson.producer_accuracy, 2).tolist() == [0.75, 0.85, 0.93, 0.96]
    assert np.round(olofsson.producer_accuracy_ci, 2).tolist() == [0.21, 0.25, 0.03, 0.02]
    # eq. 6 by hand: sqrt(0.88 * 0.12 / (75 - 1)) = 0.037776
    assert olofsson.user_accuracy_se[0] == pytest.approx(0.037776, abs=1e-6)
    # eq. 5 by hand: sum W_i^2 U_i (1 - U_i) / (n_i. - 1) = 8.8930e-5 -> SE 0.0094303
    assert olofsson.overall_accuracy_se == pytest.approx(0.0094303, abs=1e-6)
    # eq. 3 by hand for deforestation: p_11 / p_.1 = 0.0176 / 0.0235086
    assert olofsson.producer_accuracy[0] == pytest.approx(0.0176 / 0.0235086, rel=1e-5)


def test_olofsson_from_labels_through_confusion_matrix_dataframe():
    # End to end: per-sample labels -> confusion_matrix (DataFrame) -> estimates with areas
    # keyed by class in a shuffled order, so orientation and alignment are both exercised.
    reference, mapped = _labels_from_counts(OLOFSSON_COUNTS)
    cm = confusion_matrix(reference, mapped)
    np.testing.assert_array_equal(cm.to_numpy(), OLOFSSON_COUNTS)
    pixels = {4: 6_450_000, 2: 150_000, 1: 200_000, 3: 3_200_000}
    areas = pd.Series({c: px * HA_PER_PIXEL for c, px in pixels.items()})
    est = stratified_estimates(cm, areas, z=1.96)
    assert round(est.area[0]) == 21_158 and round(est.area_ci[0]) == 6_158
    frame = est.to_frame()
    assert frame.loc[1, "area_lower"] == pytest.approx(est.area[0] - est.area_ci[0])
    assert est.proportion_matrix().loc[1, 1] == pytest.approx(0.0176)
    d = json.loads(json.dumps(est.to_dict()))
    assert d["per_class"]["1"]["area"] == pytest.approx(est.area[0])
    assert d["overall_accuracy"] == pytest.approx(est.overall_accuracy)


def test_stratified_equals_plain_statistics_under_proportional_sampling():
    # With n_i. proportional to W_i the stratified estimators reduce to sample proportions.
    counts = np.array([[30, 5, 5], [10, 80, 10], [0, 6, 54]])
    est = stratified_estimates(counts, counts.sum(axis=1) * 1000)
    reference, mapped = _labels_from_counts(counts)
    plain = accuracy_report(reference, mapped)
    assert est.overall_accuracy == pytest.approx(plain.overall_accuracy)
    assert est.proportion == pytest.approx(tuple(counts.sum(axis=0) / counts.sum()))
    assert est.producer_accuracy == pytest.approx(plain.producer_accuracy)
    assert est.user_accuracy == pytest.approx(plain.user_accuracy)


def test_stratified_estimates_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        stratified_estimates(np.ones((2, 3)), [1, 1])
    with pytest.raises(ValueError, match="at least one sample"):
        stratified_estimates([[5, 1], [0, 0]], [10, 10])
    with pytest.raises(ValueError, match="mapped_area"):
        stratified_estimates([[5, 1], [1, 5]], [10])


# --- sample design ----------------------------------------------------------------------------


def test_sample_size_olofsson_eq13_example():
    # Section 5.1.1: S_i = sqrt(U_i(1-U_i)) = .458, .490, .300, .218;
    # sum W_i S_i = 0.2531; n = (0.2531 / 0.01)^2 = 640.5 -> 641
    assert sample_size([0.7, 0.6, 0.9, 0.95], [0.02, 0.015, 0.32, 0.645], target_se=0.01) == 641
    # weights may be given as mapped areas
    assert sample_size([0.7, 0.6, 0.9, 0.95], OLOFSSON_PIXELS) == 641
    assert sample_size([0.7, 0.6, 0.9, 0.95], [0.02, 0.015, 0.32, 0.645], target_se=0.02) == 161


def test_allocate_sample_methods():
    w = [0.02, 0.015, 0.32, 0.645]
    prop = allocate_sample(641, w, "proportional")
    np.testing.assert_array_equal(prop, [13, 10, 205, 413])
    equal = allocate_sample(641, w, "equal")
    assert equal.sum() == 641 and equal.max() - equal.min() <= 1
    # the paper's compromise: 75 for each change stratum, the rest proportional to W_i
    minimum = allocate_sample(641, w, "minimum", min_per_class=75)
    np.testing.assert_array_equal(minimum, [75, 75, 163, 328])
    assert allocate_sample(641, w, "olofsson").tolist() == [50, 50, 179, 362]
    # mapping in, mapping out; empty strata get nothing
    d = allocate_sample(100, {1: 0.0, 2: 0.1, 3: 0.9}, "minimum", min_per_class=20)
    assert d == {1: 0, 2: 20, 3: 80}
    with pytest.raises(ValueError):
        allocate_sample(100, w, "minimum", min_per_class=30)
    with pytest.raises(ValueError):
        allocate_sample(100, w, "neyman")


@pytest.fixture
def class_map():
    rng = np.random.default_rng(0)
    m = rng.choice([0, 1, 2, 3], size=(60, 40), p=[0.2, 0.5, 0.29, 0.01])
    m[0, :3] = 4  # a tiny stratum of exactly three pixels
    return m


def test_draw_stratified_sample_counts_strata_nodata_and_no_duplicates(class_map):
    wanted = {1: 40, 2: 25, 3: 5, 4: 3}
    sample = draw_stratified_sample(class_map, wanted, seed=42)
    assert sample.shape == (73, 2) and sample.dtype.kind == "i"
    rows, cols = sample.T
    assert rows.min() >= 0 and rows.max() < 60 and cols.min() >= 0 and cols.max() < 40
    strata = class_map[rows, cols]
    assert {c: int((strata == c).sum()) for c in wanted} == wanted
    assert not (strata == 0).any()
    assert len({(r, c) for r, c in sample}) == len(sample)  # without replacement
    assert sorted(map(tuple, sample[strata == 4])) == [(0, 0), (0, 1), (0, 2)]


def test_draw_stratified_sample_is_seeded(class_map):
    wanted = {1: 30, 2: 30}
    a = draw_stratified_sample(class_map, wanted, seed=7)
    b = draw_stratified_sample(class_map, wanted, seed=7)
    c = draw_stratified_sample(class_map, wanted, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g = draw_stratified_sample(class_map, wanted, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, g)


def test_draw_stratified_sample_rejects_impossible_requests(class_map):
    with pytest.raises(ValueError, match="available"):
        draw_stratified_sample(class_map, {4: 4}, seed=0)
    with pytest.raises(ValueError, match="nodata"):
        draw_stratified_sample(class_map, {0: 1}, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        draw_stratified_sample(class_map.ravel(), {1: 1}, seed=0)
    assert draw_stratified_sample(class_map, {}, seed=0).shape == (0, 2)


def test_reports_frame_round_trip_to_csv(tmp_path, olofsson):
    path = tmp_path / "areas.csv"
    olofsson.to_frame().to_csv(path)
    back = pd.read_csv(path, index_col="class")
    assert back.loc[1, "area"] * HA_PER_PIXEL == pytest.approx(21_157.76, abs=0.01)
