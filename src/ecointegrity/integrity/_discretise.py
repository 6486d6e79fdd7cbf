"""Quantile bins learnt once and frozen with the model, so later years are read on the same
scale (CONABIO's equal-width bins are recomputed per dataset: maps of two years are then not
comparable)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Discretiser"]


@dataclass
class Discretiser:
    """Numeric variables to quantile-bin codes, categorical ones to category codes; -1 for a
    missing value (or an unknown category).

    Attributes:
        n_bins: bins per numeric variable (fewer when ties make quantiles coincide). A value
            that holds a large share of a variable (a class share of 0 in most cells) gets a
            bin of its own, and the rest is cut into quantiles, so a zero-inflated layer does
            not collapse into one or two bins.
        edges: per numeric variable, the inner bin edges (n_bins - 1 at most).
        categories: per categorical variable, its categories in code order.
    """

    n_bins: int = 5
    edges: dict[str, list[float]] = field(default_factory=dict)
    categories: dict[str, list[Any]] = field(default_factory=dict)

    def fit(
        self, table: pd.DataFrame, numeric: Iterable[str] = (), categorical: Iterable[str] = ()
    ) -> Discretiser:
        for name in numeric:
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
            values = values[np.isfinite(values)]
            if not len(values):
                raise ValueError(f"{name}: no finite values to learn bins from")
            self.edges[name] = _quantile_edges(values, self.n_bins)
        for name in categorical:
            self.categories[name] = sorted(pd.Series(table[name]).dropna().unique().tolist())
        return self

    @property
    def variables(self) -> list[str]:
        return [*self.edges, *self.categories]

    def cardinality(self, name: str) -> int:
        """Number of states of a variable."""
        return len(self.edges[name]) + 1 if name in self.edges else len(self.categories[name])

    def transform(
        self, table: pd.DataFrame | dict[str, np.ndarray], names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Codes (int16, -1 missing) of the variables present in ``table``."""
        out = {}
        for name in names or self.variables:
            if name not in table:
                continue
            values = np.asarray(table[name])
            if name in self.edges:
                numeric = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy(float)
                codes = np.searchsorted(np.asarray(self.edges[name]), numeric, side="right").astype(
                    np.int16
                )
                codes[~np.isfinite(numeric)] = -1
            else:
                codes = pd.Index(self.categories[name]).get_indexer(values.ravel()).astype(np.int16)
            out[name] = codes.reshape(values.shape)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "edges": self.edges, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Discretiser:
        return cls(int(data["n_bins"]), {k: list(v) for k, v in data["edges"].items()},
                   {k: list(v) for k, v in data["categories"].items()})


def _quantile_edges(values: np.ndarray, n_bins: int) -> list[float]:
    """Inner edges (``searchsorted(..., side="right")`` reads them): quantiles, except that
    a minimum holding at least 1/n_bins of the values gets a bin of its own."""
    low = float(values.min())
    at_low = float(np.mean(values == low))
    rest = values[values > low]
    if at_low >= 1 / n_bins and len(rest) and n_bins > 2:
        inner = np.quantile(rest, np.linspace(0, 1, n_bins)[1:-1])
        edges = [float(np.nextafter(low, np.inf)), *(float(e) for e in inner)]
        return sorted(set(edges))
    inner = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    return [float(e) for e in np.unique(inner)]
