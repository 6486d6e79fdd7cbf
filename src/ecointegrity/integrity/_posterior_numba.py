"""Numba kernels of the latent posterior: one pass over the rows, the posterior of each row
kept in a small buffer (never an (n, K) array for the summaries), parallel over rows.

Inputs are prepared by ``inference``: log CPT rows gathered by precomputed flat indices, soft
evidence already reduced to one log factor per row that has any. ``inference.latent_posterior``
is the plain-numpy reference the tests compare these with.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(inline="always")
def _row(i, prior_log, prior_idx, child_log, child_idx, soft_pos, soft_log, buf):
    k = buf.shape[0]
    p = prior_idx[i]
    for s in range(k):
        buf[s] = prior_log[p, s]
    for c in range(child_idx.shape[1]):
        j = child_idx[i, c]
        if j >= 0:
            for s in range(k):
                buf[s] += child_log[j, s]
    q = soft_pos[i]
    if q >= 0:
        for s in range(k):
            buf[s] += soft_log[q, s]
    top = buf[0]
    for s in range(1, k):
        if buf[s] > top:
            top = buf[s]
    total = 0.0
    for s in range(k):
        buf[s] = np.exp(buf[s] - top)
        total += buf[s]
    for s in range(k):
        buf[s] /= total


@nb.njit(parallel=True, cache=True)
def posterior_rows(prior_log, prior_idx, child_log, child_idx, soft_pos, soft_log, bad, out):
    """Fill ``out`` (n, K) with each row's posterior (NaN where ``bad``)."""
    n, k = out.shape
    for i in nb.prange(n):
        if bad[i]:
            for s in range(k):
                out[i, s] = np.nan
            continue
        buf = np.empty(k)
        _row(i, prior_log, prior_idx, child_log, child_idx, soft_pos, soft_log, buf)
        for s in range(k):
            out[i, s] = buf[s]


@nb.njit(parallel=True, cache=True)
def summary_rows(
    prior_log,
    prior_idx,
    child_log,
    child_idx,
    soft_pos,
    soft_log,
    bad,
    values,
    maximum,
    ei,
    ei_sd,
    entropy,
    mode,
):
    """EI = 1 - E[value]/maximum, its sd, the entropy (bits) and the most probable value."""
    n = ei.shape[0]
    k = values.shape[0]
    for i in nb.prange(n):
        if bad[i]:
            ei[i] = np.nan
            ei_sd[i] = np.nan
            entropy[i] = np.nan
            mode[i] = np.nan
            continue
        buf = np.empty(k)
        _row(i, prior_log, prior_idx, child_log, child_idx, soft_pos, soft_log, buf)
        mean = 0.0
        second = 0.0
        h = 0.0
        best = 0
        for s in range(k):
            mean += buf[s] * values[s]
            second += buf[s] * values[s] * values[s]
            if buf[s] > 0:
                h -= buf[s] * np.log2(buf[s])
            if buf[s] > buf[best]:
                best = s
        ei[i] = 1.0 - mean / maximum
        ei_sd[i] = np.sqrt(max(second - mean * mean, 0.0)) / maximum
        entropy[i] = h
        mode[i] = values[best]
