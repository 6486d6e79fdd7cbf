"""Land-cover change between two maps of one scheme, backed by spectral evidence.

Comparing two independently classified maps (post-classification comparison) reports every
classification error of either year as change. MAD-Mex therefore asks for evidence in the
imagery: a pixel changes class only where its annual geomedians moved more than stable land
does. The threshold is learnt from the data: a high percentile of the spectral distance over
the pixels whose class did not change (their distance is phenology, noise and residual cloud).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

__all__ = [
    "ChangeResult",
    "spectral_distance",
    "detect_change",
    "remove_small_patches",
    "change_matrix",
    "FROM_TO_FACTOR",
]

FROM_TO_FACTOR = 100  # from-to code = from * 100 + to


@dataclass(frozen=True)
class ChangeResult:
    """``from_to`` (y, x) int32: from*100+to where changed, 0 elsewhere; ``changed`` mask; the
    spectral threshold used (None without spectral evidence)."""

    from_to: np.ndarray
    changed: np.ndarray
    threshold: float | None

    def pairs(self) -> dict[tuple[int, int], int]:
        codes, counts = np.unique(self.from_to[self.changed], return_counts=True)
        return {
            (int(c) // FROM_TO_FACTOR, int(c) % FROM_TO_FACTOR): int(n)
            for c, n in zip(codes, counts, strict=True)
        }


def spectral_distance(before: xr.Dataset, after: xr.Dataset, bands: Sequence[str]) -> np.ndarray:
    """Euclidean distance between two geomedians over ``bands`` (y, x), NaN where either is
    missing."""
    a = np.stack([np.asarray(before[b].values, np.float64) for b in bands])
    b = np.stack([np.asarray(after[b].values, np.float64) for b in bands])
    return np.sqrt(((a - b) ** 2).sum(axis=0)).astype(np.float32)


def remove_small_patches(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Drop 8-connected patches of ``mask`` smaller than ``min_px`` pixels."""
    if min_px <= 1:
        return mask
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def detect_change(
    before: np.ndarray,
    after: np.ndarray,
    *,
    distance: np.ndarray | None = None,
    stable_percentile: float = 95.0,
    threshold: float | None = None,
    pixel_area_m2: float = 900.0,
    mmu_ha: float = 0.5,
    nodata: int = 0,
) -> ChangeResult:
    """Change between two class maps.

    Args:
        before, after: (y, x) class maps of one scheme.
        distance: spectral distance between the years' geomedians; without it, plain
            post-classification comparison.
        stable_percentile: percentile of the distance over class-stable pixels used as the
            threshold (when ``threshold`` is not given).
        pixel_area_m2: pixel area; mmu_ha: minimum mapping unit in hectares (MAD-Mex: 0.5).
        nodata: unmapped pixels never change.
    """
    if before.shape != after.shape:
        raise ValueError(f"maps differ in shape: {before.shape} and {after.shape}")
    valid = (before != nodata) & (after != nodata)
    changed = valid & (before != after)
    used = None
    if distance is not None:
        stable = valid & ~changed & np.isfinite(distance)
        used = (
            float(threshold)
            if threshold is not None
            else float(np.percentile(distance[stable], stable_percentile))
        )
        changed &= np.nan_to_num(distance, nan=0.0) > used
    min_px = int(np.ceil(mmu_ha * 10_000 / pixel_area_m2))
    changed = remove_small_patches(changed, min_px)
    from_to = np.where(
        changed, before.astype(np.int32) * FROM_TO_FACTOR + after.astype(np.int32), 0
    ).astype(np.int32)
    return ChangeResult(from_to, changed, used)


def change_matrix(
    before: np.ndarray,
    after: np.ndarray,
    *,
    pixel_area_m2: float = 900.0,
    nodata: int = 0,
    names: dict[int, str] | None = None,
) -> pd.DataFrame:
    """Area in hectares of every (from, to) class pair: rows ``from``, columns ``to``."""
    valid = (before != nodata) & (after != nodata)
    table = pd.crosstab(pd.Series(before[valid], name="from"), pd.Series(after[valid], name="to"))
    table = table * (pixel_area_m2 / 10_000)
    if names:
        table = table.rename(index=names, columns=names)
    return table
