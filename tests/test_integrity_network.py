"""The ecosystem-integrity network: exact agreement with pgmpy (hard, soft and missing
evidence), the numba kernels against their numpy reference, structure files and learning,
frozen bins, persistence, and the hemeroby tables."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from ecointegrity.integrity import (
    IntegrityNetwork,
    effort_likelihood,
    load_hemeroby_table,
    read_adjacency,
    shipped_hemeroby_tables,
    summarise_posterior,
)
from ecointegrity.integrity._discretise import Discretiser
from ecointegrity.integrity._inference import (
    latent_posterior,
    latent_posterior_reference,
    latent_summary,
)

EDGES = [("crops", "hemeroby"), ("urban", "hemeroby"), ("hemeroby", "ndvi"), ("elevation", "ndvi"),
         ("hemeroby", "wofs"), ("hemeroby", "gunshots")]
NUMERIC = ["crops", "urban", "elevation", "ndvi", "wofs", "gunshots"]


def _cells(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    crops, urban = rng.random(n), rng.random(n) ** 3
    elevation = rng.normal(500, 200, n)
    hemeroby = np.clip(np.round(18 * (0.6 * crops + 0.4 * urban) + rng.normal(0, 2, n)), 0, 18)
    ndvi = 0.8 - 0.03 * hemeroby + rng.normal(0, 0.05, n) + 1e-4 * (elevation - 500)
    wofs = rng.random(n) * (hemeroby < 5)
    site = rng.random(n) < 0.05  # a few cells hold a recorder
    gunshots = np.where(site, hemeroby / 18 * 10 + rng.poisson(1, n), np.nan)
    return pd.DataFrame(dict(crops=crops, urban=urban, elevation=elevation, hemeroby=hemeroby, ndvi=ndvi,
                             wofs=wofs, gunshots=gunshots, hours=np.where(site, rng.uniform(1, 200, n), 0)))


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return _cells()


@pytest.fixture(scope="module")
def network(cells) -> IntegrityNetwork:
    return IntegrityNetwork(structure=EDGES, acoustic=["gunshots"], hemeroby_table="test@1").fit(cells, numeric=NUMERIC)


def _pgmpy_posterior(net: IntegrityNetwork, codes: dict, likelihood: np.ndarray | None, row: int) -> np.ndarray:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    evidence = {v: int(c[row]) for v, c in codes.items() if c[row] >= 0}
    virtual = None
    if likelihood is not None and np.ptp(likelihood[row]) > 0 and "gunshots" not in evidence:
        virtual = [TabularCPD("gunshots", net.cardinality("gunshots"), likelihood[row][:, None])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        query = VariableElimination(net.to_pgmpy()).query(["hemeroby"], evidence=evidence, virtual_evidence=virtual,
                                                          show_progress=False)
    return query.values


def test_posterior_equals_pgmpy_exact_inference(network, cells):
    codes = network.codes(cells.drop(columns="hemeroby"))
    rng = np.random.default_rng(1)
    # soft evidence from the recorders, weighted by effort; the hard codes of that node removed
    likelihood = effort_likelihood(codes["gunshots"], cells.hours.to_numpy(), network.cardinality("gunshots"),
                                   half_effort=20)
    soft_codes = {k: v for k, v in codes.items() if k != "gunshots"}
    codes["wofs"] = np.where(rng.random(len(cells)) < 0.3, -1, codes["wofs"])  # unobserved leaves
    soft_codes["wofs"] = codes["wofs"]
    rows = np.concatenate([rng.choice(np.flatnonzero(cells.gunshots.notna()), 15, replace=False),
                           rng.choice(len(cells), 15, replace=False)])
    hard = latent_posterior(network.blanket(), codes)
    soft = latent_posterior(network.blanket(), soft_codes, likelihoods={"gunshots": likelihood})
    for row in rows:
        np.testing.assert_allclose(hard[row], _pgmpy_posterior(network, codes, None, row), atol=1e-9, rtol=0)
        np.testing.assert_allclose(soft[row], _pgmpy_posterior(network, soft_codes, likelihood, row), atol=1e-9, rtol=0)


def test_numba_kernels_match_the_numpy_reference(network, cells):
    codes = network.codes(cells.drop(columns="hemeroby"))
    codes["crops"][:7] = -1  # a missing driver: no posterior
    likelihood = {"gunshots": effort_likelihood(codes.pop("gunshots"), cells.hours.to_numpy(),
                                                network.cardinality("gunshots"), half_effort=20)}
    blanket = network.blanket()
    reference = latent_posterior_reference(blanket, codes, likelihoods=likelihood)
    fast = latent_posterior(blanket, codes, likelihoods=likelihood, chunk=999)
    np.testing.assert_allclose(fast, reference, atol=1e-12, rtol=0, equal_nan=True)
    assert np.isnan(fast[:7]).all() and np.isfinite(fast[7:]).all()
    np.testing.assert_allclose(fast[7:].sum(axis=1), 1)
    summary = latent_summary(blanket, codes, np.arange(19.0), 18.0, likelihoods=likelihood, chunk=1234)
    expected = summarise_posterior(reference, np.arange(19.0), 18.0)
    for name in ("ei", "ei_sd", "entropy_bits", "hemeroby_mode"):
        np.testing.assert_allclose(summary[name], expected[name], atol=1e-5, equal_nan=True)


def test_ei_follows_hemeroby_and_acoustic_evidence_sharpens_it(network):
    test = _cells(4000, seed=7)
    without = network.predict(test.drop(columns=["hemeroby", "gunshots"]))
    codes = network.codes(test.drop(columns=["hemeroby"]))
    likelihood = effort_likelihood(codes.pop("gunshots"), test.hours.to_numpy(), network.cardinality("gunshots"),
                                   half_effort=20)
    with_sites = network.predict(test.drop(columns=["hemeroby", "gunshots"]), likelihoods={"gunshots": likelihood})
    truth = 1 - test.hemeroby / 18
    assert np.corrcoef(without.ei, truth)[0, 1] > 0.8
    sites = test.gunshots.notna().to_numpy()
    error_with = np.abs(with_sites.ei - truth)[sites].mean()
    error_without = np.abs(without.ei - truth)[sites].mean()
    assert error_with < 0.9 * error_without  # the recorders' evidence moves EI towards the truth
    np.testing.assert_allclose(with_sites.ei[~sites], without.ei[~sites], atol=1e-6)  # none: unchanged


def test_effort_likelihood():
    lik = effort_likelihood(np.array([2, -1, 0, 1]), np.array([20.0, 50.0, 0.0, np.nan]), 3, half_effort=20)
    np.testing.assert_allclose(lik[0], [0.5, 0.5, 1.0])  # half weight at the half effort
    np.testing.assert_allclose(lik[1:], 1.0)  # no code, no effort, unknown effort: no evidence


def test_missing_driver_is_nan_and_missing_leaf_drops_out(network, cells):
    codes = network.codes(cells.drop(columns=["hemeroby", "gunshots"]).iloc[:3])
    codes["urban"][0] = -1
    post = latent_posterior(network.blanket(), codes)
    assert np.isnan(post[0]).all()
    without_ndvi = dict(codes)
    without_ndvi["ndvi"] = np.full(3, -1, np.int16)
    assert not np.allclose(latent_posterior(network.blanket(), without_ndvi)[1], post[1])
    with pytest.raises(KeyError, match="parents and co-parents"):
        latent_posterior(network.blanket(), {"ndvi": codes["ndvi"]})


def test_bins_are_frozen_with_the_model(network, cells, tmp_path):
    path = network.save(tmp_path / "ei.json")
    loaded = IntegrityNetwork.load(path)
    later = _cells(500, seed=3)
    later["ndvi"] += 0.2  # a greener year is read on the old bins, not re-binned
    np.testing.assert_array_equal(loaded.codes(later)["ndvi"], network.codes(later)["ndvi"])
    pd.testing.assert_frame_equal(loaded.predict(later), network.predict(later))
    assert loaded.hemeroby_table == "test@1" and loaded.edges_ == network.edges_
    (tmp_path / "other.json").write_text('{"kind": "something else"}')
    with pytest.raises(ValueError, match="not an ecointegrity integrity network"):
        IntegrityNetwork.load(tmp_path / "other.json")


def test_discretiser_quantiles_categories_and_missing():
    table = pd.DataFrame({"x": np.arange(100.0), "zone": ["a", "b"] * 50})
    d = Discretiser(4).fit(table, ["x"], ["zone"])
    assert d.edges["x"] == pytest.approx([24.75, 49.5, 74.25])
    codes = d.transform(pd.DataFrame({"x": [0, 50, 99, np.nan], "zone": ["b", "a", "c", None]}))
    assert codes["x"].tolist() == [0, 2, 3, -1] and codes["zone"].tolist() == [1, 0, -1, -1]
    assert Discretiser.from_dict(d.to_dict()) == d


def test_zero_inflated_layer_keeps_its_bins():
    # 70% of cells without cropland: zero gets a bin, the rest is cut into quantiles
    x = np.r_[np.zeros(70), np.linspace(0.01, 1, 30)]
    d = Discretiser(5).fit(pd.DataFrame({"x": x}), ["x"])
    codes = d.transform(pd.DataFrame({"x": x}))["x"]
    assert np.bincount(codes).tolist() == [70, 8, 7, 7, 8]
    assert Discretiser.from_dict(json.loads(json.dumps(d.to_dict()))) == d  # the tiny edge survives JSON


def test_structure_files(tmp_path):
    nodes = ["crops", "hemeroby", "ndvi"]
    matrix = pd.DataFrame(0, index=nodes, columns=nodes)
    matrix.loc["crops", "hemeroby"] = matrix.loc["hemeroby", "ndvi"] = 1
    matrix.to_csv(tmp_path / "adj.csv")
    assert sorted(read_adjacency(tmp_path / "adj.csv")) == [("crops", "hemeroby"), ("hemeroby", "ndvi")]
    (tmp_path / "s.yaml").write_text("hemeroby: [crops]\nndvi: [hemeroby]\n")
    assert sorted(read_adjacency(tmp_path / "s.yaml")) == [("crops", "hemeroby"), ("hemeroby", "ndvi")]
    matrix.drop(columns="ndvi").to_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="same nodes as rows and columns"):
        read_adjacency(tmp_path / "bad.csv")


def test_learnt_structure_respects_tiers_and_keeps_signs_as_leaves(cells):
    net = IntegrityNetwork(tiers=[["crops", "urban", "elevation"], ["hemeroby"], ["ndvi", "wofs"]],
                           forbidden=[("ndvi", "wofs"), ("wofs", "ndvi")], acoustic=["gunshots"])
    net.fit(cells, numeric=NUMERIC)
    rank = {"crops": 0, "urban": 0, "elevation": 0, "hemeroby": 1, "ndvi": 2, "wofs": 2, "gunshots": 2}
    assert all(rank[a] <= rank[b] for a, b in net.edges_)
    assert ("hemeroby", "gunshots") in net.edges_ and "crops" in net.parents
    assert net.predict(cells.drop(columns=["hemeroby", "gunshots"])).ei.notna().all()


def test_bad_structures_and_labels(cells):
    with pytest.raises(ValueError, match="must be leaves"):
        IntegrityNetwork(structure=[*EDGES, ("ndvi", "wofs")]).fit(cells, numeric=NUMERIC)
    with pytest.raises(ValueError, match="not columns"):
        IntegrityNetwork(structure=[("slope", "hemeroby"), ("hemeroby", "ndvi")]).fit(cells, numeric=NUMERIC)
    odd = cells.assign(hemeroby=cells.hemeroby + 0.5)
    with pytest.raises(ValueError, match="not among the network's states"):
        IntegrityNetwork(structure=EDGES).fit(odd, numeric=NUMERIC)


def test_hemeroby_tables():
    assert {"madmex-31-hemeroby", "csi-17-hemeroby", "simulator-8-hemeroby"} <= set(shipped_hemeroby_tables())
    table = load_hemeroby_table("madmex-31-hemeroby")
    assert table.provisional and table.scheme == "madmex-31" and set(table.values) == set(range(1, 32))
    assert "provisional" in table.label and table.states == [float(v) for v in range(19)]
    hem = table.apply(np.array([[29, 28], [0, 1]]))
    assert hem[0].tolist() == [18, 14] and np.isnan(hem[1, 0]) and hem[1, 1] == 3
    with pytest.raises(FileNotFoundError, match="no hemeroby table 'inegi-99'"):
        load_hemeroby_table("inegi-99")
