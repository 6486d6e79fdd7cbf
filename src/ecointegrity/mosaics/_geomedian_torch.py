"""The geomedian + MADs on a GPU (PyTorch); also runs on CPU torch, which the tests use.

Same algorithm as the numba kernel (``_geomedian_numba``): Weiszfeld iteration with the
Vardi & Zhang (2000) step when the estimate coincides with observations, stopping per pixel
when the estimate moves less than ``eps``. Instead of one pixel per thread, every iteration
updates a whole batch of pixels at once: tensors are laid out (band, time, pixel), pixel last,
so that every reduction over bands or dates reads memory contiguously on the GPU.

Like the CPU kernel it reproduces ``geomad``: the same start (the band-wise mean for the first
pixel of a row and after a pixel without data, the origin otherwise, or the mean everywhere with
``init_mean``) and the same rounding points (float64 sums, float32 weights and estimates).
This matters: where the objective is flat (a few observations in two clusters) the stopping
rule leaves the estimate at a start-dependent point, up to ~1e-2 apart on real Landsat years.
The data-centre GPUs this targets run float64 at half their float32 rate.

``torch`` is imported only here: it is an optional dependency of the package.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["geomedian_mads_torch"]

MEMORY_BUDGET = 1 << 30  # bytes of working tensors per batch (GPU memory is bounded by this)


def geomedian_mads_torch(
    data: np.ndarray,
    *,
    eps: float,
    maxiters: int,
    device: str | torch.device,
    with_mads: bool = True,
    batch_pixels: int | None = None,
    init_mean: bool = False,
):
    """Geomedian, EMAD, SMAD, BCMAD and clear count of ``data`` (band, time, y, x) float32.

    An observation with NaN in any band is not clear and is left out. Pixels are processed in
    batches of ``batch_pixels`` (default: as many as fit in ``MEMORY_BUDGET`` bytes of working
    tensors). Returns numpy arrays: ``gm`` (band, y, x) float32; ``emad``, ``smad``, ``bcmad``
    (y, x) float32 (NaN when ``with_mads`` is False); ``count`` (y, x) uint16. Pixels without a
    clear observation get NaN and a count of 0.
    """
    nb, nt, ny, nx = data.shape
    npx = ny * nx
    flat = data.reshape(nb, nt, npx)
    # x and three temporaries of its size, plus ~24 (time, pixel) float32 slots: the
    # iteration's and the MADs' distances, and the sort's values and int64 indices
    per_pixel = 4 * nt * (4 * nb + 24)
    batch = batch_pixels or max(1, MEMORY_BUDGET // per_pixel)
    gm = np.full((nb, npx), np.nan, np.float32)
    mads = np.full((3, npx), np.nan, np.float32)
    count = np.zeros(npx, np.uint16)
    seed_with_mean = _mean_start(data) if not init_mean else np.ones(npx, bool)
    for p0 in range(0, npx, batch):
        p1 = min(p0 + batch, npx)
        x = torch.from_numpy(np.ascontiguousarray(flat[:, :, p0:p1], dtype=np.float32)).to(device)
        clear = ~torch.isnan(x).any(dim=0)  # (time, pixel)
        x = torch.where(clear, x, 0.0)  # zeros add nothing to sums; weights are masked too
        seed = torch.from_numpy(seed_with_mean[p0:p1]).to(device)
        y, k = _weiszfeld(x, clear, seed, eps, maxiters)
        gm[:, p0:p1] = y.cpu().numpy()
        count[p0:p1] = k.cpu().numpy()
        if with_mads:
            mads[:, p0:p1] = _mads(x, clear, y, k).cpu().numpy()
    return (gm.reshape(nb, ny, nx), *mads.reshape(3, ny, nx), count.reshape(ny, nx))


def _mean_start(data: np.ndarray) -> np.ndarray:
    """Pixels (flattened) that the reference starts from their mean: the first of each row and
    those after a pixel without clear data; the others start from the origin."""
    empty = np.isnan(data).any(axis=0).all(axis=0)  # (y, x)
    mean_start = np.zeros_like(empty)
    mean_start[:, 0] = True
    mean_start[:, 1:] = empty[:, :-1]
    return mean_start.reshape(-1)


def _weiszfeld(
    x: torch.Tensor, clear: torch.Tensor, seed_with_mean: torch.Tensor, eps: float, maxiters: int
):
    """Geometric medians (band, pixel) of ``x`` (band, time, pixel) over the ``clear`` dates.

    Only the pixels still moving are iterated: when fewer than half of the working set are,
    the working set is compacted (so converged pixels cost nothing), and in between the
    converged ones are held in place by the ``active`` mask.
    """
    f32, f64 = torch.float32, torch.float64
    k = clear.sum(dim=0)  # clear observations per pixel
    mean = (x.sum(dim=1, dtype=f64) / k).to(f32)  # NaN where k == 0, as returned
    y = torch.where(seed_with_mean, mean, torch.zeros_like(mean))
    y = torch.where(k > 0, y, mean)
    idx = torch.nonzero(k > 0).squeeze(1)  # working set: indices of the pixels still iterating
    xa, ca, ka, ya = x[:, :, idx], clear[:, idx], k[idx], y[:, idx]
    active = torch.ones_like(idx, dtype=torch.bool)
    for _ in range(maxiters):
        n_active = int(active.sum())  # one host sync per iteration: cheap next to the batch
        if n_active == 0:
            break
        if n_active < active.numel() // 2:
            y[:, idx] = ya
            idx, xa, ca, ka, ya = (
                idx[active],
                xa[:, :, active],
                ca[:, active],
                ka[active],
                ya[:, active],
            )
            active = torch.ones_like(idx, dtype=torch.bool)
        dist = ((xa.to(f64) - ya.to(f64)[:, None, :]) ** 2).sum(dim=0).sqrt()  # (time, pixel)
        at_estimate = (dist == 0) & ca
        weight = torch.where(ca, torch.where(at_estimate, 1.0, 1.0 / dist), 0.0).to(f32)
        inv_sum = weight.sum(dim=0, dtype=f64)
        weight = (weight.to(f64) / inv_sum).to(f32)
        t = (xa * weight).sum(dim=1, dtype=f64).to(f32)  # float32 products, float64 sum
        zeros = at_estimate.sum(dim=0)
        # Vardi & Zhang: with some observations at the estimate, step towards t damped by their
        # number; with none it is the plain Weiszfeld step (rinv = 0); with all, stay put.
        r = ((t - ya).to(f64) * inv_sum).to(f32).to(f64).norm(dim=0)
        rinv = torch.where(r > 0, zeros / r, 0.0)
        y1 = ((1 - rinv).clamp(min=0) * t.to(f64) + rinv.clamp(max=1) * ya.to(f64)).to(f32)
        y1 = torch.where(zeros == ka, ya, y1)
        step = (y1.to(f64) - ya.to(f64)).norm(dim=0)
        ya = torch.where(active, y1, ya)  # converged pixels do not move any more
        active &= step >= eps
    y[:, idx] = ya
    return y, k


def _mads(x: torch.Tensor, clear: torch.Tensor, gm: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """EMAD, SMAD and BCMAD (3, pixel): medians over the clear dates of the per-observation
    euclidean, cosine and Bray-Curtis distances to the geomedian ``gm`` (band, pixel)."""
    g = gm[:, None, :]
    euclid = (x - g).norm(dim=0)
    cosine = 1 - (x * g).sum(dim=0) / (x.norm(dim=0) * gm.norm(dim=0))
    bray = (x - g).abs().sum(dim=0) / (x + g).abs().sum(dim=0)
    dist = torch.stack([euclid, cosine, bray])  # (3, time, pixel)
    # numpy's median (mean of the two middle values for an even count); torch.nanmedian would
    # return the lower one. Non-clear dates sort last as +inf; the middle comes from the count.
    ordered = torch.where(clear, dist, torch.inf).sort(dim=1).values
    lo = ((k - 1).clamp(min=0) // 2).expand(3, 1, -1)
    hi = (k // 2).expand(3, 1, -1)
    median = 0.5 * (ordered.gather(1, lo) + ordered.gather(1, hi)).squeeze(1)
    return torch.where(k > 0, median, torch.nan)
