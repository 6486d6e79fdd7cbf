"""The ecosystem-integrity Bayesian network: structure, parameters, posterior of hemeroby.

``IntegrityNetwork`` is a scikit-learn-style estimator around pgmpy. Its latent node is
hemeroby (the degree of human transformation; ordinal states with numeric values 0..max).
Drivers (land-cover shares, recent change, terrain, life zone) point at it, evidence ("sign")
nodes hang from it: EO statistics such as NDVI or WOfS frequency, and acoustic site evidence.
The structure comes from an expert adjacency file (CSV or YAML, as CONABIO keeps it) or is
learnt with pgmpy's hill climbing under white/black lists and tiers; parameters are Bayesian
(BDeu) estimates; numeric inputs are cut at quantile edges frozen in the model.

Prediction does not run a junction tree per cell: ``inference.latent_posterior`` evaluates
the exact posterior of the latent given its Markov blanket, vectorised (validated against
pgmpy's exact inference). Ecosystem integrity is EI = 1 - E[hemeroby] / max.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import __version__
from ..io import atomic_path
from ._discretise import Discretiser
from ._inference import Factor, MarkovBlanket, latent_posterior, latent_summary

if TYPE_CHECKING:  # pgmpy is heavy and only needed by to_pgmpy and structure learning
    from pgmpy.models import DiscreteBayesianNetwork

__all__ = ["IntegrityNetwork", "read_adjacency", "effort_likelihood", "summarise_posterior"]

LATENT = "hemeroby"


def read_adjacency(path: str | Path) -> list[tuple[str, str]]:
    """Arcs of an expert structure file.

    CSV: an adjacency matrix, first column and header the node names, a non-zero cell is an
    arc row -> column (CONABIO's format). YAML: ``{child: [parent, ...]}`` or a list of
    ``[parent, child]`` pairs.
    """
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(path.read_text())
        if isinstance(data, Mapping):
            return [(str(p), str(c)) for c, parents in data.items() for p in (parents or [])]
        if isinstance(data, list) and all(
            isinstance(a, (list, tuple)) and len(a) == 2 for a in data
        ):
            return [(str(a), str(b)) for a, b in data]
        raise ValueError(
            f"{path}: expected {{child: [parents]}} or a list of [parent, child] pairs"
        )
    matrix = pd.read_csv(path, index_col=0)
    if list(matrix.index.astype(str)) != list(matrix.columns.astype(str)):
        raise ValueError(
            f"{path}: the adjacency matrix must list the same nodes as rows and columns"
        )
    values = matrix.fillna(0).to_numpy()
    rows, cols = np.nonzero(values)
    return [(str(matrix.index[i]), str(matrix.columns[j])) for i, j in zip(rows, cols, strict=True)]


def effort_likelihood(
    codes: np.ndarray, effort: np.ndarray, cardinality: int, *, half_effort: float
) -> np.ndarray:
    """Soft evidence for an acoustic node: the observed state's likelihood rises with the
    recording effort behind it, ``w = 1 - 2^(-effort / half_effort)``, the rest is uniform;
    rows without a code (or no effort) carry no evidence (all ones)."""
    codes = np.asarray(codes)
    effort = np.nan_to_num(np.asarray(effort, float), nan=0.0)
    weight = np.where(codes >= 0, 1 - np.exp2(-np.maximum(effort, 0) / half_effort), 0.0)
    out = np.repeat((1 - weight)[:, None], cardinality, axis=1)
    rows = np.flatnonzero(codes >= 0)
    out[rows, codes[rows]] += weight[rows]
    return out


def summarise_posterior(
    posterior: np.ndarray, values: Sequence[float], maximum: float
) -> pd.DataFrame:
    """EI = 1 - E[h]/max, its posterior standard deviation, the entropy (bits) and the most
    probable hemeroby value, per row (NaN where the posterior is NaN)."""
    states = np.asarray(values, float)
    mean = posterior @ states
    sd = np.sqrt(np.maximum(posterior @ states ** 2 - mean ** 2, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(posterior > 0, posterior * np.log2(posterior), 0.0), axis=1)
    valid = np.isfinite(posterior).all(axis=1)
    mode = np.full(len(posterior), np.nan)
    mode[valid] = states[np.argmax(posterior[valid], axis=1)]
    entropy[~valid] = np.nan
    return pd.DataFrame({"ei": 1 - mean / maximum, "ei_sd": sd / maximum, "entropy_bits": entropy,
                         "hemeroby_mode": mode})


@dataclass
class IntegrityNetwork:
    """A discrete Bayesian network with hemeroby as its latent node.

    Args:
        hemeroby_values: the latent's states (ordinal hemeroby values, e.g. 0..18).
        hemeroby_max: the value that means fully transformed (EI = 0).
        structure: arcs (parent, child); None learns them (hill climbing, BIC) from the drivers
            and signs, with ``forbidden``/``required`` arcs and ``tiers`` (a node never points at
            one in an earlier tier).
        acoustic: binned evidence nodes from recordings: children of the latent, unobserved
            (never zero) where a cell holds no site, entered as soft evidence weighted by effort.
        acoustic_counts: event counts at recording sites, ``{count column: effort column}``
            (e.g. ``{"anthropogenic_events": "recording_hours"}``): a Poisson rate per
            hemeroby state, ``effort * exp(a + b * hemeroby)``, fitted on the labelled sites;
            a site's count then enters as the likelihood of each hemeroby state, so the
            evidence sharpens with effort by itself and two parameters are learnt instead of a
            full table (sites are few). Cells without a site are left out, never zero.
        n_bins: quantile bins per numeric variable.
        equivalent_sample_size: BDeu prior strength.
        hemeroby_table: name and version of the table the training label came from.
    """

    hemeroby_values: Sequence[float] = tuple(range(19))
    hemeroby_max: float = 18.0
    structure: Sequence[tuple[str, str]] | None = None
    forbidden: Sequence[tuple[str, str]] = ()
    required: Sequence[tuple[str, str]] = ()
    tiers: Sequence[Sequence[str]] | None = None
    acoustic: Sequence[str] = ()
    acoustic_counts: Mapping[str, str] = field(default_factory=dict)
    n_bins: int = 5
    equivalent_sample_size: float = 10.0
    hemeroby_table: str = ""
    version: str = "0.1.0"
    metadata: dict[str, Any] = field(default_factory=dict)

    # learnt
    discretiser_: Discretiser | None = None
    edges_: list[tuple[str, str]] = field(default_factory=list)
    cpds_: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> {evidence, values}
    rates_: dict[str, dict[str, Any]] = field(default_factory=dict)  # count column -> Poisson fit

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, table: pd.DataFrame, label: str = LATENT, *, numeric: Iterable[str] = (),
            categorical: Iterable[str] = ()) -> IntegrityNetwork:
        """Learn bins, structure (unless given) and CPTs from a cell table whose ``label``
        column holds hemeroby values. Unlabelled rows (NaN) only inform the bins and any CPT
        without hemeroby in it (there is no EM over the latent)."""
        values = np.asarray(self.hemeroby_values, float)
        if len(values) < 2 or np.any(np.diff(values) <= 0):
            raise ValueError(f"hemeroby_values must increase: {list(values)}")
        if self.hemeroby_max < values[-1] or self.hemeroby_max <= 0:
            raise ValueError(
                f"hemeroby_max {self.hemeroby_max} must be positive and >= the largest state "
                f"{values[-1]}"
            )
        numeric, categorical = list(numeric), list(categorical)
        self.discretiser_ = Discretiser(self.n_bins).fit(table, numeric, categorical)
        codes = self.discretiser_.transform(table)
        data = pd.DataFrame({k: np.where(v >= 0, v, np.nan) for k, v in codes.items()})
        data[LATENT] = self._latent_codes(table[label])
        nodes = [LATENT, *numeric, *categorical]
        unknown = [a for arc in (self.structure or []) for a in arc if a not in nodes]
        if unknown:
            raise ValueError(f"structure names nodes that are not columns: {sorted(set(unknown))}")
        self.edges_ = (
            [(parent, child) for parent, child in self.structure]
            if self.structure is not None
            else self._learn(data, nodes)
        )
        self._check_blanket()
        self._estimate(data, nodes)
        self._fit_rates(table, data[LATENT].to_numpy())
        self.metadata.update(
            trained_rows=int(len(table)),
            labelled_rows=int(data[LATENT].notna().sum()),
            software=f"ecointegrity {__version__}",
        )
        return self

    def _latent_codes(self, labels: pd.Series) -> np.ndarray:
        values = np.asarray(self.hemeroby_values, float)
        labels = pd.to_numeric(labels, errors="coerce").to_numpy(float)
        idx = np.searchsorted(values, labels)
        ok = np.isfinite(labels) & (idx < len(values))
        ok[ok] &= values[idx[ok]] == labels[ok]
        if (np.isfinite(labels) & ~ok).any():
            bad = sorted(set(labels[np.isfinite(labels) & ~ok].tolist()))[:5]
            raise ValueError(
                f"hemeroby labels {bad} are not among the network's states {list(values)}"
            )
        return np.where(ok, idx, np.nan)

    def _learn(self, data: pd.DataFrame, nodes: list[str]) -> list[tuple[str, str]]:
        from pgmpy.causal_discovery import ExpertKnowledge
        from pgmpy.estimators import HillClimbSearch

        drivers_and_signs = [n for n in nodes if n not in self.acoustic]
        forbidden = set(map(tuple, self.forbidden))
        if self.tiers:
            rank = {n: i for i, tier in enumerate(self.tiers) for n in tier}
            forbidden |= {(a, b) for a in rank for b in rank if rank[a] > rank[b]}
        # categorical columns: pgmpy picks its discrete scores by dtype
        complete = data[drivers_and_signs].dropna().astype(int).astype("category")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            knowledge = ExpertKnowledge(
                forbidden_edges=sorted(forbidden), required_edges=list(map(tuple, self.required))
            )
            dag = HillClimbSearch(complete).estimate(
                scoring_method="bic-d", expert_knowledge=knowledge, show_progress=False
            )
        edges = [tuple(e) for e in dag.edges()]
        edges += [(LATENT, a) for a in self.acoustic]  # acoustic evidence is about the latent
        return edges

    def _check_blanket(self) -> None:
        children = [c for p, c in self.edges_ if p == LATENT]
        if not children and not any(c == LATENT for _, c in self.edges_):
            raise ValueError("the structure does not connect hemeroby to anything")
        with_children = sorted({p for p, _ in self.edges_ if p in children})
        if with_children:
            raise ValueError(
                f"children of hemeroby must be leaves (evidence), but {with_children} have "
                "children; "
                "forbid arcs out of sign nodes (e.g. with tiers)"
            )

    def _estimate(self, data: pd.DataFrame, nodes: list[str]) -> None:
        from pgmpy.estimators import BayesianEstimator
        from pgmpy.models import DiscreteBayesianNetwork

        used = sorted({a for e in self.edges_ for a in e})
        model = DiscreteBayesianNetwork(self.edges_)
        model.add_nodes_from(used)
        states = {n: list(range(self.cardinality(n))) for n in used}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            est = BayesianEstimator(model, data[used], state_names=states)
            self.cpds_ = {}
            for node in used:
                cpd = est.estimate_cpd(
                    node, prior_type="BDeu", equivalent_sample_size=self.equivalent_sample_size
                )
                self.cpds_[node] = {
                    "evidence": list(cpd.variables[1:]),
                    "values": cpd.get_values()
                    .reshape([cpd.cardinality[0], *cpd.cardinality[1:]])
                    .tolist(),
                }

    def _fit_rates(self, table: pd.DataFrame, latent: np.ndarray) -> None:
        import statsmodels.api as sm

        values = np.asarray(self.hemeroby_values, float)
        self.rates_ = {}
        for count, effort in self.acoustic_counts.items():
            y = pd.to_numeric(table[count], errors="coerce").to_numpy(float)
            e = pd.to_numeric(table[effort], errors="coerce").to_numpy(float)
            ok = np.isfinite(y) & np.isfinite(e) & (e > 0) & np.isfinite(latent)
            # e.g. a cross-validation fold without sites: map without that evidence
            if ok.sum() < 3:
                reason = (f"{count}: {int(ok.sum())} labelled sites with {effort} > 0; "
                          "at least 3 are needed")
                self.metadata.setdefault("rates_skipped", {})[count] = reason
                warnings.warn(reason + "; left out of the model", UserWarning, stacklevel=3)
                continue
            h = values[latent[ok].astype(int)]
            fit = sm.GLM(
                y[ok],
                sm.add_constant(h, has_constant="add"),
                family=sm.families.Poisson(),
                offset=np.log(e[ok]),
            ).fit()
            self.rates_[count] = {
                "effort": effort,
                "intercept": float(fit.params[0]),
                "slope": float(fit.params[1]),
                "slope_se": float(fit.bse[1]),
                "sites": int(ok.sum()),
            }

    def acoustic_likelihood(
        self, table: pd.DataFrame | Mapping[str, np.ndarray]
    ) -> np.ndarray | None:
        """(n, K) likelihood of each row's site counts under each hemeroby state (rows of ones
        without a site), or None when the model has no count evidence or ``table`` lacks it."""
        present = {c: r for c, r in self.rates_.items() if c in table and r["effort"] in table}
        if not present:
            return None
        values = np.asarray(self.hemeroby_values, float)
        n = len(np.asarray(table[next(iter(present))]))
        loglik = np.zeros((n, len(values)))
        for count, rate in present.items():
            y = pd.to_numeric(pd.Series(np.asarray(table[count])), errors="coerce").to_numpy(float)
            e = pd.to_numeric(
                pd.Series(np.asarray(table[rate["effort"]])), errors="coerce"
            ).to_numpy(float)
            ok = np.flatnonzero(np.isfinite(y) & np.isfinite(e) & (e > 0))
            mean = e[ok, None] * np.exp(rate["intercept"] + rate["slope"] * values[None, :])
            loglik[ok] += y[ok, None] * np.log(mean) - mean  # Poisson, without the constant log(y!)
        loglik -= loglik.max(axis=1, keepdims=True)
        return np.exp(loglik)

    # -- structure helpers --------------------------------------------------------------------
    def _fitted_discretiser(self) -> Discretiser:
        # Only fit() and load() set the bins; without them no variable can be coded.
        if self.discretiser_ is None:
            raise AttributeError(
                "IntegrityNetwork is not fitted: call fit() or load() before using its bins"
            )
        return self.discretiser_

    def cardinality(self, node: str) -> int:
        if node == LATENT:
            return len(self.hemeroby_values)
        return self._fitted_discretiser().cardinality(node)

    @property
    def parents(self) -> list[str]:
        return list(self.cpds_[LATENT]["evidence"])

    @property
    def children(self) -> list[str]:
        return [c for p, c in self.edges_ if p == LATENT]

    def blanket(self) -> MarkovBlanket:
        """The latent's CPT and its children's, arranged for `latent_posterior`."""
        k = len(self.hemeroby_values)
        prior_values = np.asarray(self.cpds_[LATENT]["values"], float)  # (K, parents...)
        prior = Factor(LATENT, tuple(self.parents), np.moveaxis(prior_values, 0, -1))
        factors = []
        for child in self.children:
            cpd = self.cpds_[child]
            values = np.asarray(cpd["values"], float)  # (child, evidence...)
            evidence = list(cpd["evidence"])
            copa = [e for e in evidence if e != LATENT]
            order = [1 + evidence.index(e) for e in copa] + [0, 1 + evidence.index(LATENT)]
            factors.append(Factor(child, (*copa, child), np.transpose(values, order)))
        if prior.table.shape[-1] != k:
            raise AssertionError("latent CPT does not match the number of hemeroby states")
        return MarkovBlanket(LATENT, k, prior, tuple(factors))

    # -- prediction ---------------------------------------------------------------------------
    def codes(self, table: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Bin codes of the model's variables present in ``table``."""
        return self._fitted_discretiser().transform(table)

    def predict_proba(self, table: pd.DataFrame | Mapping[str, np.ndarray], *,
                      likelihoods: Mapping[str, np.ndarray] | None = None, acoustic: bool = True,
                      chunk: int = 1_000_000) -> np.ndarray:
        """Posterior P(hemeroby | evidence) per row, (n, K); NaN rows where a driver is missing.
        Site counts in ``table`` enter unless ``acoustic`` is False."""
        latent = self.acoustic_likelihood(table) if acoustic else None
        return latent_posterior(
            self.blanket(),
            self.codes(table),
            likelihoods=likelihoods,
            latent_likelihood=latent,
            chunk=chunk,
        )

    def predict(self, table: pd.DataFrame | Mapping[str, np.ndarray], *,
                likelihoods: Mapping[str, np.ndarray] | None = None, acoustic: bool = True,
                chunk: int = 2_000_000) -> pd.DataFrame:
        """EI, its standard deviation, entropy and the most probable hemeroby, per row
        (float32; the posterior itself is never held). Site counts in ``table`` enter unless
        ``acoustic`` is False."""
        blanket, values = self.blanket(), np.asarray(self.hemeroby_values, float)
        codes = self.codes(table)
        n = len(next(iter(codes.values())))
        site_columns = (
            {c for count, rate in self.rates_.items() for c in (count, rate["effort"])}
            if acoustic
            else set()
        )
        sites = {c: np.asarray(table[c]) for c in site_columns if c in table}
        parts = []
        for start in range(0, n, chunk):  # the count likelihood is (rows, K): built per chunk
            rows = slice(start, min(n, start + chunk))
            soft = None if likelihoods is None else {k: v[rows] for k, v in likelihoods.items()}
            latent = (
                self.acoustic_likelihood({c: v[rows] for c, v in sites.items()}) if sites else None
            )
            parts.append(
                pd.DataFrame(
                    latent_summary(
                        blanket,
                        {k: v[rows] for k, v in codes.items()},
                        values,
                        self.hemeroby_max,
                        likelihoods=soft,
                        latent_likelihood=latent,
                    )
                )
            )
        return pd.concat(parts, ignore_index=True)

    def to_pgmpy(self) -> DiscreteBayesianNetwork:
        """The same network as a pgmpy ``DiscreteBayesianNetwork`` (for checks and for any
        query pgmpy answers)."""
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.models import DiscreteBayesianNetwork

        model = DiscreteBayesianNetwork(self.edges_)
        model.add_nodes_from(self.cpds_)
        for node, cpd in self.cpds_.items():
            values = np.asarray(cpd["values"], float)
            evidence = cpd["evidence"]
            model.add_cpds(
                TabularCPD(
                    node,
                    values.shape[0],
                    values.reshape(values.shape[0], -1),
                    evidence=evidence or None,
                    evidence_card=[self.cardinality(e) for e in evidence] or None,
                )
            )
        return model

    # -- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ecointegrity.integrity.IntegrityNetwork",
            "version": self.version,
            "hemeroby_values": list(map(float, self.hemeroby_values)),
            "hemeroby_max": self.hemeroby_max,
            "hemeroby_table": self.hemeroby_table,
            "acoustic": list(self.acoustic),
            "acoustic_counts": dict(self.acoustic_counts),
            "rates": self.rates_,
            "n_bins": self.n_bins,
            "equivalent_sample_size": self.equivalent_sample_size,
            "edges": [list(e) for e in self.edges_],
            "forbidden": [list(e) for e in self.forbidden],
            "required": [list(e) for e in self.required],
            "tiers": [list(t) for t in self.tiers] if self.tiers else None,
            "discretiser": self._fitted_discretiser().to_dict(),
            "cpds": self.cpds_,
            "metadata": self.metadata,
        }

    def save(self, path: str | Path) -> Path:
        """The model as one JSON file (bins, arcs, CPTs, versions), written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> IntegrityNetwork:
        data = json.loads(Path(path).read_text())
        if data.get("kind") != "ecointegrity.integrity.IntegrityNetwork":
            raise ValueError(f"{path}: not an ecointegrity integrity network")
        net = cls(
            hemeroby_values=data["hemeroby_values"],
            hemeroby_max=data["hemeroby_max"],
            acoustic=data["acoustic"],
            acoustic_counts=data.get("acoustic_counts", {}),
            n_bins=data["n_bins"],
            equivalent_sample_size=data["equivalent_sample_size"],
            hemeroby_table=data["hemeroby_table"],
            version=data["version"],
            metadata=data["metadata"],
            forbidden=[tuple(e) for e in data.get("forbidden", [])],
            required=[tuple(e) for e in data.get("required", [])],
            tiers=data.get("tiers"),
        )
        net.discretiser_ = Discretiser.from_dict(data["discretiser"])
        net.edges_ = [tuple(e) for e in data["edges"]]
        net.structure = list(net.edges_)
        net.cpds_ = data["cpds"]
        net.rates_ = data.get("rates", {})
        return net
