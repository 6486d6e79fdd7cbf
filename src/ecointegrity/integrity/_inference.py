"""Exact posterior of the latent node given its Markov blanket, for millions of cells at once.

For a discrete Bayesian network with latent node H, parents pa(H) and children c_j with their
other parents (co-parents), the posterior of H given every other variable is

    P(H = k | rest) ∝ P(H = k | pa(H)) · Π_j P(c_j | H = k, copa(c_j)),

which only needs the CPTs of H and of its children, looked up by each cell's codes. An
unobserved child that has no observed descendants sums out of the product exactly (its factor
is 1), so it is left out; soft (virtual) evidence on a child multiplies in
Σ_c λ(c) P(c | H = k, copa), with λ the likelihood of each of its states. Parents and
co-parents must be observed (wall-to-wall layers); a cell missing one gets NaN.

Codes are small integers (a node's state index), -1 for "not observed". Work goes in chunks
of rows so memory stays bounded at national scale; sums are in log space so that the many
small probabilities of a long blanket do not underflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Factor",
    "MarkovBlanket",
    "latent_posterior",
    "latent_posterior_reference",
    "latent_summary",
]

MISSING = -1


@dataclass(frozen=True)
class Factor:
    """A CPT as seen from the latent node.

    ``table`` has one axis per variable in ``variables`` (codes index them) and the latent's
    states on the last axis. For a child's CPT the child itself is the last of ``variables``:
    the table is P(child | H, co-parents) with axes (co-parents..., child, H).
    """

    node: str
    variables: tuple[str, ...]  # the axes of ``table`` other than the latent's, in order
    table: np.ndarray  # probabilities; shape (card of each variable..., K)

    def __post_init__(self) -> None:
        if self.table.ndim != len(self.variables) + 1:
            raise ValueError(
                f"{self.node}: table has {self.table.ndim} axes for {len(self.variables)} "
                "variables + latent"
            )


@dataclass(frozen=True)
class MarkovBlanket:
    """The latent's prior factor P(H | pa(H)) and one factor per child P(c | H, copa(c)),
    every table arranged with the latent's states on the last axis."""

    latent: str
    states: int
    prior: Factor
    children: tuple[Factor, ...]

    @property
    def inputs(self) -> list[str]:
        """Every variable whose codes the posterior reads."""
        seen: dict[str, None] = {}
        for f in (self.prior, *self.children):
            seen.update(dict.fromkeys(f.variables))
        return list(seen)

    @property
    def required(self) -> list[str]:
        """Variables that must be observed: the parents and co-parents."""
        seen: dict[str, None] = dict.fromkeys(self.prior.variables)
        for f in self.children:
            seen.update(dict.fromkeys(v for v in f.variables if v != f.node))
        return list(seen)


def _flat_index(variables: tuple[str, ...], shape: tuple[int, ...], codes: Mapping[str, np.ndarray],
                rows: slice) -> np.ndarray:
    """Row-major index of each row's configuration of ``variables`` (missing codes read as 0;
    those rows are masked by the caller)."""
    index = np.zeros(rows.stop - rows.start, np.int64)
    for axis, name in enumerate(variables):
        index = index * shape[axis] + np.maximum(codes[name][rows], 0)
    return index


def latent_posterior_reference(
    blanket: MarkovBlanket,
    codes: Mapping[str, np.ndarray],
    *,
    likelihoods: Mapping[str, np.ndarray] | None = None,
    latent_likelihood: np.ndarray | None = None,
    chunk: int = 1_000_000,
) -> np.ndarray:
    """P(latent | evidence) for every row, in plain numpy: the reference `latent_posterior`
    (numba) is tested against. An (n, K) float64 array, NaN rows where a parent or co-parent is
    missing.

    Args:
        blanket: the latent's Markov blanket.
        codes: per variable, an int array of state indices (-1: not observed). Children may be
            missing from the mapping altogether (not observed anywhere).
        likelihoods: per child, an (n, card) array of soft-evidence likelihoods (rows of ones
            where there is none); a row with hard evidence in ``codes`` uses that instead.
        chunk: rows per step (memory is about chunk x K x 8 bytes a few times over).
    """
    likelihoods = likelihoods or {}
    n = _rows_of(blanket, codes)
    out = np.empty((n, blanket.states))
    log_prior = np.log(blanket.prior.table.reshape(-1, blanket.states))
    # child tables as (co-parent configuration, child state, K)
    children = [
        (f, f.table.reshape(-1, f.table.shape[-2], blanket.states)) for f in blanket.children
    ]
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        m = rows.stop - rows.start
        bad = np.zeros(m, bool)
        for v in blanket.required:
            bad |= codes[v][rows] < 0
        logp = log_prior[
            _flat_index(blanket.prior.variables, blanket.prior.table.shape, codes, rows)
        ]
        for f, table in children:
            card = table.shape[1]
            cpt = table[_flat_index(f.variables[:-1], f.table.shape, codes, rows)]  # (m, card, K)
            observed = codes.get(f.node)
            hard = observed[rows] if observed is not None else np.full(m, MISSING)
            soft = likelihoods.get(f.node)
            if soft is not None:
                lam = np.asarray(soft[rows], float)
                if lam.shape != (m, card):
                    raise ValueError(
                        f"likelihoods of {f.node}: expected shape (n, {card}), got {np.shape(soft)}"
                    )
                factor = np.einsum("mc,mck->mk", lam, cpt)
            elif (hard >= 0).any():
                factor = np.ones((m, blanket.states))
            else:
                continue  # not observed in this chunk: sums out
            has = hard >= 0
            factor[has] = cpt[has, hard[has], :]
            logp += np.log(factor)
        if latent_likelihood is not None:
            logp += np.log(latent_likelihood[rows])
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        p /= p.sum(axis=1, keepdims=True)
        p[bad] = np.nan
        out[rows] = p
    return out


# -- the fast path: numba kernels over prepared indices ------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    prior_log: np.ndarray  # (parent configurations, K)
    child_log: np.ndarray  # (sum over children of co-parent configurations x card, K)
    offsets: tuple[int, ...]  # first row of each child's block in child_log


def _prepare(blanket: MarkovBlanket) -> _Prepared:
    k = blanket.states
    with np.errstate(divide="ignore"):
        prior_log = np.log(blanket.prior.table.reshape(-1, k))
        blocks = [np.log(f.table.reshape(-1, k)) for f in blanket.children]
    offsets = tuple(int(o) for o in np.cumsum([0, *[len(b) for b in blocks]])[:-1])
    child_log = np.vstack(blocks) if blocks else np.zeros((0, k))
    return _Prepared(np.ascontiguousarray(prior_log), np.ascontiguousarray(child_log), offsets)


def _chunk_inputs(
    blanket: MarkovBlanket,
    prepared: _Prepared,
    codes: Mapping[str, np.ndarray],
    likelihoods: Mapping[str, np.ndarray],
    latent_likelihood: np.ndarray | None,
    rows: slice,
):
    m = rows.stop - rows.start
    bad = np.zeros(m, np.bool_)
    for v in blanket.required:
        bad |= codes[v][rows] < 0
    prior_idx = _flat_index(blanket.prior.variables, blanket.prior.table.shape, codes, rows)
    child_idx = np.full((m, len(blanket.children)), -1, np.int64)
    soft_log = np.zeros((m, blanket.states))
    has_soft = np.zeros(m, np.bool_)
    for c, f in enumerate(blanket.children):
        card = f.table.shape[-2]
        copa = _flat_index(f.variables[:-1], f.table.shape, codes, rows)
        observed = codes.get(f.node)
        hard = observed[rows] if observed is not None else np.full(m, MISSING)
        child_idx[:, c] = np.where(hard >= 0, prepared.offsets[c] + copa * card + hard, -1)
        soft = likelihoods.get(f.node)
        if soft is not None:
            lam = np.asarray(soft[rows], float)
            if lam.shape != (m, card):
                raise ValueError(
                    f"likelihoods of {f.node}: expected shape (n, {card}), got {np.shape(soft)}"
                )
            # only rows whose likelihood says something, and that have no hard evidence
            use = (hard < 0) & (np.ptp(lam, axis=1) > 0)
            if use.any():
                cpt = f.table.reshape(-1, card, blanket.states)[copa[use]]  # (u, card, K)
                soft_log[use] += np.log(np.einsum("uc,uck->uk", lam[use], cpt))
                has_soft |= use
    if latent_likelihood is not None:
        lam = np.asarray(latent_likelihood[rows], float)
        if lam.shape != (m, blanket.states):
            raise ValueError(
                f"latent_likelihood: expected shape (n, {blanket.states}), got "
                f"{np.shape(latent_likelihood)}"
            )
        use = np.ptp(lam, axis=1) > 0
        soft_log[use] += np.log(
            np.maximum(lam[use], 1e-300)
        )  # an underflowed state: impossible, not -inf
        has_soft |= use
    soft_pos = np.full(m, -1, np.int64)
    soft_pos[has_soft] = np.arange(int(has_soft.sum()))
    return prior_idx, child_idx, soft_pos, np.ascontiguousarray(soft_log[has_soft]), bad


def _rows_of(blanket: MarkovBlanket, codes: Mapping[str, np.ndarray]) -> int:
    missing = [v for v in blanket.required if v not in codes]
    if missing:
        raise KeyError(
            f"codes missing for {missing}: parents and co-parents of {blanket.latent} must be given"
        )
    return len(codes[blanket.required[0]]) if blanket.required else len(next(iter(codes.values())))


def latent_posterior(
    blanket: MarkovBlanket,
    codes: Mapping[str, np.ndarray],
    *,
    likelihoods: Mapping[str, np.ndarray] | None = None,
    latent_likelihood: np.ndarray | None = None,
    chunk: int = 2_000_000,
) -> np.ndarray:
    """P(latent | evidence) for every row: an (n, K) float64 array, NaN rows where a parent or
    co-parent is missing.

    Args:
        blanket: the latent's Markov blanket.
        codes: per variable, an int array of state indices (-1: not observed). Children may be
            absent from the mapping (observed nowhere).
        likelihoods: per child, an (n, card) array of soft-evidence likelihoods (rows of ones
            where there is none); hard evidence in ``codes`` wins where both are given.
        latent_likelihood: an (n, K) likelihood of evidence about the latent itself (e.g. the
            Poisson likelihood of a site's event count under each hemeroby state), rows of ones
            where there is none.
        chunk: rows per step (bounds the index arrays; the output is n x K x 8 bytes).
    """
    from ._posterior_numba import posterior_rows

    n = _rows_of(blanket, codes)
    prepared = _prepare(blanket)
    out = np.empty((n, blanket.states))
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        inputs = _chunk_inputs(blanket, prepared, codes, likelihoods or {}, latent_likelihood, rows)
        prior_idx, child_idx, soft_pos, soft_log, bad = inputs
        posterior_rows(
            prepared.prior_log,
            prior_idx,
            prepared.child_log,
            child_idx,
            soft_pos,
            soft_log,
            bad,
            out[rows],
        )
    return out


def latent_summary(
    blanket: MarkovBlanket,
    codes: Mapping[str, np.ndarray],
    values: np.ndarray,
    maximum: float,
    *,
    likelihoods: Mapping[str, np.ndarray] | None = None,
    latent_likelihood: np.ndarray | None = None,
    chunk: int = 2_000_000,
) -> dict[str, np.ndarray]:
    """Per row, without keeping the posterior: ``ei`` = 1 - E[value]/maximum, ``ei_sd``,
    ``entropy_bits`` and ``hemeroby_mode`` (float32; NaN where a parent is missing). Memory
    is a few arrays of ``chunk`` rows plus the four outputs."""
    from ._posterior_numba import summary_rows

    n = _rows_of(blanket, codes)
    prepared = _prepare(blanket)
    values = np.asarray(values, float)
    out = {
        name: np.empty(n, np.float32) for name in ("ei", "ei_sd", "entropy_bits", "hemeroby_mode")
    }
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        prior_idx, child_idx, soft_pos, soft_log, bad = _chunk_inputs(
            blanket, prepared, codes, likelihoods or {}, latent_likelihood, rows
        )
        summary_rows(
            prepared.prior_log,
            prior_idx,
            prepared.child_log,
            child_idx,
            soft_pos,
            soft_log,
            bad,
            values,
            float(maximum),
            *(out[name][rows] for name in out),
        )
    return out
