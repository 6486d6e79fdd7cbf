"""Fast exact prediction of a multiclass LightGBM forest on raster pixels (numba, bit-sliced).

Why not LightGBM's own predictor: on the 2-core benchmark tile (19 features, 8 classes, 100
iterations = 800 trees of ~26 leaves) ``Booster.predict`` runs at ~25,000-42,000 px/s whatever
the feeding (float32 or float64, C-ordered blocks of 262,144 rows or the whole tile, 1 or 2
threads, raw scores): it walks every tree row by row, branch by branch, and the branches do not
predict. Alternatives measured on the same forest and pixels (issue 16, one shared 2-core
machine, same run): treelite 4.8 GTIL ~0.3x LightGBM's speed; tl2cgen 1.0 compiled C (gcc,
``quantize=1``) ~3x, exact, but 150 s of compilation per model and a C compiler at run time;
``lleaves`` 1.3.0 does not build against the llvmlite that numba brings (it calls the removed
legacy pass manager); a per-tree table of leaf bitmasks per (feature, bin) (QuickScorer-like)
~100-140 k px/s on one thread. This module: ~400 k px per CPU-second (~10x LightGBM per core),
raw scores bit-identical to LightGBM's. Per pixel its time goes ~12 % to binning, ~30 % to the
node masks and ~55 % to adding leaf values (one scattered add per pixel and tree, led by the
set bits of each leaf's mask); branch-free leaf indices (bit planes of the leaf number, then a
gather) measured no faster.

How: each feature value becomes its bin among the forest's sorted thresholds on that feature
(``x <= t_k`` iff ``bin(x) <= k``, exact in float64 as LightGBM compares; like LightGBM's
predictor, values within +-1e-35 of zero are read as zero). For a group of 1024
pixels, each (feature, threshold) pair gets a 1024-bit mask of the pixels above it, then each
tree is evaluated for all the group's pixels at once: a node's pixel mask is its parent's AND
(or AND-NOT) the mask of its split, 16 64-bit words in a loop the compiler vectorises. Each
leaf's value is then added to the pixels of its mask, trees in LightGBM's order, so the raw
scores are the same sums in the same order; the softmax is LightGBM's too. Groups of pixels
are spread over numba's threads (``prange``).

Supported: multiclass softmax forests with numerical splits, on finite features (the map's valid
pixels; a forest trained with missing values predicts finite pixels exactly). Anything else
(categorical splits, zero-as-missing, linear trees, binary or other objectives) raises
:class:`UnsupportedForest`, and the caller uses LightGBM's predictor.
:func:`forest_proba_reference` is the plain-numpy reference the tests compare the kernel with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = [
    "ForestTables",
    "UnsupportedForest",
    "compile_forest",
    "forest_predict",
    "forest_proba_reference",
]

# 64-bit words per node mask: 1024 pixels per group. Wider groups spread each node's index
# loads over more pixels (4 words: ~0.9 us/px for the node masks of the benchmark forest, 16:
# ~0.7); the split-mask table (pairs x 16 words, 357 KB for its 2,793 pairs) still sits in L2.
_WORDS = 16
_GROUP = 64 * _WORDS
_CHUNK = 4 * _GROUP  # pixels per parallel task
# LightGBM's kZeroThreshold (a float widened to double): its predictor reads |x| <= this as 0
ZERO = float(np.float32(1e-35))


class UnsupportedForest(ValueError):
    """The booster uses something the fast predictor does not reproduce exactly."""


@dataclass(frozen=True)
class ForestTables:
    """A LightGBM multiclass forest as flat arrays (trees in LightGBM's order, nodes preorder).

    ``thresholds[thr_ptr[f]:thr_ptr[f + 1]]``: sorted distinct thresholds of feature ``f``;
    a split is the pair index ``thr_ptr[f] + k``. Per node: ``parent`` (index within its tree),
    ``pair`` of the parent's split and ``flip`` (all ones for a left child: ``x <= t``).
    Leaves: ``leaf_node`` (index within the tree) and ``leaf_value``.
    """

    n_class: int
    n_feature: int
    thresholds: np.ndarray
    thr_ptr: np.ndarray
    node_ptr: np.ndarray
    parent: np.ndarray
    pair: np.ndarray
    flip: np.ndarray
    leaf_ptr: np.ndarray
    leaf_node: np.ndarray
    leaf_value: np.ndarray


def _check(dump: dict[str, Any]) -> None:
    objective = str(dump.get("objective", ""))
    if not objective.startswith("multiclass ") or dump.get("num_class", 1) < 2:
        raise UnsupportedForest(f"objective {objective!r} (only multiclass softmax)")
    if dump.get("average_output"):
        raise UnsupportedForest("averaged output (boosting='rf')")
    for tree in dump["tree_info"]:
        if tree.get("is_linear"):
            raise UnsupportedForest("linear trees")


def _splits(node: dict[str, Any], out: list[dict[str, Any]]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if "leaf_value" in n:
            continue
        if n["decision_type"] != "<=":
            raise UnsupportedForest(f"categorical split (decision {n['decision_type']!r})")
        if n["missing_type"] == "Zero":
            raise UnsupportedForest("zero-as-missing split")
        out.append(n)
        stack += [n["left_child"], n["right_child"]]


def compile_forest(booster: Any) -> ForestTables:
    """Flatten a ``lightgbm.Booster`` (its best iteration, as ``predict`` uses) into tables.

    Raises:
        UnsupportedForest: the forest uses a feature this predictor does not reproduce.
    """
    dump = booster.dump_model()
    _check(dump)
    trees = [t["tree_structure"] for t in dump["tree_info"]]
    n_feature = int(dump["max_feature_idx"]) + 1
    splits: list[dict[str, Any]] = []
    for tree in trees:
        _splits(tree, splits)
    per_feature: list[set[float]] = [set() for _ in range(n_feature)]
    for n in splits:
        per_feature[n["split_feature"]].add(float(n["threshold"]))
    sorted_thr = [np.array(sorted(s), dtype=np.float64) for s in per_feature]
    thr_ptr = np.zeros(n_feature + 1, dtype=np.int64)
    thr_ptr[1:] = np.cumsum([t.size for t in sorted_thr])
    pair_of = {(f, t): int(thr_ptr[f]) + k for f in range(n_feature)
               for k, t in enumerate(sorted_thr[f].tolist())}
    nodes: dict[str, list[Any]] = {k: [] for k in ("parent", "pair", "flip", "leaf_node", "value")}
    node_ptr, leaf_ptr = [0], [0]
    for tree in trees:
        _flatten(tree, pair_of, nodes)
        node_ptr.append(len(nodes["parent"]))
        leaf_ptr.append(len(nodes["value"]))
    return ForestTables(
        n_class=int(dump["num_class"]), n_feature=n_feature,
        thresholds=np.concatenate([*sorted_thr, np.empty(0)]), thr_ptr=thr_ptr,
        node_ptr=np.asarray(node_ptr, dtype=np.int64),
        parent=np.asarray(nodes["parent"], dtype=np.int32),
        pair=np.asarray(nodes["pair"], dtype=np.int64),
        flip=np.asarray(nodes["flip"], dtype=np.uint64),
        leaf_ptr=np.asarray(leaf_ptr, dtype=np.int64),
        leaf_node=np.asarray(nodes["leaf_node"], dtype=np.int32),
        leaf_value=np.asarray(nodes["value"], dtype=np.float64),
    )


def _flatten(root: dict[str, Any], pair_of: dict[tuple[int, float], int],
             nodes: dict[str, list[Any]]) -> None:
    """Append one tree's nodes in preorder (a parent before its children)."""
    start = len(nodes["parent"])
    stack: list[tuple[dict[str, Any], int, int, bool]] = [(root, 0, 0, False)]
    while stack:
        n, parent, pair, left = stack.pop()
        index = len(nodes["parent"]) - start
        nodes["parent"].append(parent)
        nodes["pair"].append(pair)
        nodes["flip"].append(np.iinfo(np.uint64).max if left else 0)
        if "leaf_value" in n:
            nodes["leaf_node"].append(index)
            nodes["value"].append(float(n["leaf_value"]))
            continue
        split = pair_of[(n["split_feature"], float(n["threshold"]))]
        # right pushed first so that the left subtree is emitted first (order is immaterial)
        stack.append((n["right_child"], index, split, False))
        stack.append((n["left_child"], index, split, True))


# -- kernel ---------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _bin_masks(X, r0, nb, thresholds, thr_ptr, above, count, base, xs):
    """``above[p, w]``: bit r set where pixel ``r0 + 64 w + r`` lies above split pair p."""
    one = np.uint64(1)
    for f in range(X.shape[0]):
        t = thresholds[thr_ptr[f]:thr_ptr[f + 1]]
        m = t.size
        count[: m + 1, :] = 0
        base[:nb] = 0
        for r in range(nb):
            v = np.float64(X[f, r0 + r])
            xs[r] = 0.0 if abs(v) <= ZERO else v
        width = m
        while width > 1:  # branch-free lower bound, all pixels of the group in step
            half = width >> 1
            for r in range(nb):
                b = base[r]
                base[r] = b + half if t[b + half] < xs[r] else b
            width -= half
        for r in range(nb):
            code = base[r] + (1 if (m > 0 and t[base[r]] < xs[r]) else 0)
            count[code, r >> 6] |= one << np.uint64(r & 63)
        for w in range(count.shape[1]):
            acc = np.uint64(0)
            for k in range(m - 1, -1, -1):
                acc |= count[k + 1, w]
                above[thr_ptr[f] + k, w] = acc


@njit(cache=True, inline="always")
def _trees(n_class, node_ptr, parent, pair, flip, leaf_ptr, leaf_node, leaf_value, above,
           full, masks, raw):
    """Add every tree's leaf values to the raw scores of the group's pixels."""
    one = np.uint64(1)
    words = masks.shape[1]
    for tree in range(node_ptr.size - 1):
        k = tree % n_class
        a = node_ptr[tree]
        masks[0, :] = full
        for i in range(a + 1, node_ptr[tree + 1]):
            p = parent[i]
            q = pair[i]
            fl = flip[i]
            for w in range(words):
                masks[i - a, w] = masks[p, w] & (above[q, w] ^ fl)
        for leaf in range(leaf_ptr[tree], leaf_ptr[tree + 1]):
            node = leaf_node[leaf]
            value = leaf_value[leaf]
            for w in range(words):
                bits = masks[node, w]
                while bits:
                    raw[k, 64 * w + trailing_zeros(bits)] += value
                    bits &= bits - one


@njit(cache=True, inline="always")
def _softmax_out(raw, nb, r0, best, confidence, proba):
    """LightGBM's softmax (max-shifted, same order), then first argmax and the maximum."""
    n_class = raw.shape[0]
    for r in range(nb):
        top = raw[0, r]
        for k in range(1, n_class):
            top = max(top, raw[k, r])
        total = 0.0
        for k in range(n_class):
            raw[k, r] = np.exp(raw[k, r] - top)
            total += raw[k, r]
        arg = 0
        for k in range(n_class):
            raw[k, r] = raw[k, r] / total
            if raw[k, r] > raw[arg, r]:
                arg = k
        best[r0 + r] = arg
        confidence[r0 + r] = raw[arg, r]
        if proba.shape[0] > 0:
            for k in range(n_class):
                proba[r0 + r, k] = raw[k, r]


@njit(cache=True, parallel=True)
def _forest_kernel(X, thresholds, thr_ptr, node_ptr, parent, pair, flip, leaf_ptr, leaf_node,
                   leaf_value, n_class, best, confidence, proba):
    n = X.shape[1]
    max_nodes = 1
    for tree in range(node_ptr.size - 1):
        max_nodes = max(max_nodes, node_ptr[tree + 1] - node_ptr[tree])
    max_thr = 0
    for f in range(thr_ptr.size - 1):
        max_thr = max(max_thr, thr_ptr[f + 1] - thr_ptr[f])
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for chunk in prange(n_chunks):
        above = np.empty((max(thr_ptr[-1], 1), _WORDS), np.uint64)
        count = np.empty((max_thr + 1, _WORDS), np.uint64)
        masks = np.empty((max_nodes, _WORDS), np.uint64)
        raw = np.empty((n_class, _GROUP), np.float64)
        base = np.empty(_GROUP, np.int64)
        xs = np.empty(_GROUP, np.float64)
        full = np.empty(_WORDS, np.uint64)
        end = min(n, (chunk + 1) * _CHUNK)
        for r0 in range(chunk * _CHUNK, end, _GROUP):
            nb = min(_GROUP, end - r0)
            for w in range(_WORDS):
                bits = min(64, max(0, nb - 64 * w))
                full[w] = ~np.uint64(0) if bits == 64 else (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
            _bin_masks(X, r0, nb, thresholds, thr_ptr, above, count, base, xs)
            raw[:] = 0.0
            _trees(n_class, node_ptr, parent, pair, flip, leaf_ptr, leaf_node, leaf_value,
                   above, full, masks, raw)
            _softmax_out(raw, nb, r0, best, confidence, proba)


def forest_predict(tables: ForestTables, X: np.ndarray, *, with_proba: bool = False,
                   n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Class index (of the forest's classes), top probability and optionally all probabilities.

    Args:
        tables: from :func:`compile_forest`.
        X: (n_features, n_pixels) float32 or float64, finite (results for rows with NaN are
            unspecified: mask them).
        with_proba: also return the (n_pixels, n_classes) probabilities.
        n_threads: numba threads (default: numba's).

    Returns:
        ``(index int32, confidence float64, proba or None)``, as
        ``proba.argmax(1)``, ``proba.max(1)`` and ``proba`` of ``Booster.predict``.
    """
    if X.ndim != 2 or X.shape[0] != tables.n_feature:
        raise ValueError(f"X must be ({tables.n_feature}, n_pixels); got {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n = X.shape[1]
    best = np.empty(n, dtype=np.int32)
    confidence = np.empty(n, dtype=np.float64)
    proba = np.empty((n if with_proba else 0, tables.n_class), dtype=np.float64)
    previous = get_num_threads()
    if n_threads is not None:
        set_num_threads(max(1, min(n_threads, _max_threads())))
    try:
        _forest_kernel(np.ascontiguousarray(X), tables.thresholds, tables.thr_ptr,
                       tables.node_ptr, tables.parent, tables.pair, tables.flip, tables.leaf_ptr,
                       tables.leaf_node, tables.leaf_value, tables.n_class, best, confidence,
                       proba)
    finally:
        set_num_threads(previous)
    return best, confidence, (proba if with_proba else None)


def _max_threads() -> int:
    from numba import config

    return int(getattr(config, "NUMBA_NUM_THREADS", 1))


def forest_proba_reference(tables: ForestTables, X: np.ndarray) -> np.ndarray:
    """Plain numpy: (n_pixels, n_classes) probabilities of ``X`` (n_features, n_pixels), tree
    by tree, each pixel walked from the root by the tables' own splits."""
    X = np.asarray(X, dtype=np.float64)
    X = np.where(np.abs(X) <= ZERO, 0.0, X)  # as LightGBM's predictor reads its input
    n = X.shape[1]
    raw = np.zeros((tables.n_class, n))
    feature_of_pair = np.repeat(np.arange(tables.n_feature), np.diff(tables.thr_ptr))
    for tree in range(tables.node_ptr.size - 1):
        a, e = tables.node_ptr[tree], tables.node_ptr[tree + 1]
        reach = np.zeros((e - a, n), dtype=bool)
        reach[0] = True
        for i in range(a + 1, e):
            q = tables.pair[i]
            above = X[feature_of_pair[q]] > tables.thresholds[q]
            reach[i - a] = reach[tables.parent[i]] & (~above if tables.flip[i] else above)
        for leaf in range(tables.leaf_ptr[tree], tables.leaf_ptr[tree + 1]):
            raw[tree % tables.n_class] += np.where(reach[tables.leaf_node[leaf]],
                                                   tables.leaf_value[leaf], 0.0)
    raw -= raw.max(axis=0)
    expd = np.exp(raw)
    return (expd / expd.sum(axis=0)).T
