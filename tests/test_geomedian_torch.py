"""The PyTorch geomedian (the GPU path), run on CPU torch, against the numba kernel."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ecointegrity.mosaics import geomedian as gmod  # noqa: E402
from ecointegrity.mosaics._geomedian_torch import geomedian_mads_torch  # noqa: E402
from ecointegrity.mosaics.geomedian import EPS, MAXITERS, geomedian_mads  # noqa: E402

FIELDS = ("gm", "emad", "smad", "bcmad")


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """(6 bands, 25 dates, 40 x 40) reflectance, 30 % of observations not clear, edge pixels."""
    rng = np.random.default_rng(42)
    nb, nt, ny, nx = 6, 25, 40, 40
    x = rng.uniform(0.02, 0.45, (nb, nt, ny, nx)).astype(np.float32)
    x[:, rng.random((nt, ny, nx)) < 0.3] = np.nan
    x[:, :, 0, :3] = np.nan  # no clear observation at all
    x[:, :, 5, 5] = rng.uniform(0.02, 0.45, (nb, 1))  # every observation the same spectrum
    x[:, :, 7, 9] = np.nan
    x[:, 11, 7, 9] = rng.uniform(0.02, 0.45, nb)  # a single clear observation
    x[2, 4, 9, 9] = np.nan  # NaN in one band only: the whole observation is left out
    return x


@pytest.fixture(scope="module")
def torch_result(data):
    return geomedian_mads_torch(data, eps=EPS, maxiters=MAXITERS, device="cpu")


def _assert_close(result, expected, tol: float) -> None:
    for name, got in zip(FIELDS, result[:4], strict=False):
        want = getattr(expected, name)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(result[4], expected.count)


def test_types_and_shapes(torch_result):
    gm, emad, smad, bcmad, count = torch_result
    assert gm.shape == (6, 40, 40) and gm.dtype == np.float32
    for m in (emad, smad, bcmad):
        assert m.shape == (40, 40) and m.dtype == np.float32
    assert count.shape == (40, 40) and count.dtype == np.uint16


def test_matches_numba_reference_start(data, torch_result):
    # same start, same rounding points: only the order of float64 sums differs
    _assert_close(torch_result, geomedian_mads(data, device="cpu"), 1e-6)


def test_matches_numba_mean_start(data):
    mean_start = geomedian_mads_torch(data, eps=EPS, maxiters=MAXITERS, device="cpu", init_mean=True)
    _assert_close(mean_start, geomedian_mads(data, device="cpu", init_mean=True), 1e-6)


def test_within_1e4_of_geomad_on_real_landsat(yatsm_npz):
    geomad = pytest.importorskip("geomad")
    import datetime as dt

    z = np.load(yatsm_npz, allow_pickle=False)
    y = z["Y"].astype(np.float32)
    years = np.array([dt.date.fromordinal(int(d)).year for d in z["dates"]])
    clear = np.isin(y[7], [0, 1]) & (y[:6] != -9999).all(axis=0)
    refl = np.where(clear, y[:6] * 1e-4, np.nan).astype(np.float32)
    worst = 0.0
    for year in range(1985, 2014, 2):
        data = refl[:, years == year, None, :]
        gm = geomedian_mads_torch(data, eps=EPS, maxiters=MAXITERS, device="cpu", with_mads=False)[0]
        ref = geomad.nangeomedian_pcm(np.ascontiguousarray(data.transpose(2, 3, 0, 1)), eps=1e-4).transpose(2, 0, 1)
        worst = max(worst, float(np.nanmax(np.abs(gm - ref))))
    assert worst < 1e-4


def test_edge_pixels(data, torch_result):
    gm, emad, smad, bcmad, count = torch_result
    assert (count[0, :3] == 0).all() and np.isnan(gm[:, 0, :3]).all()
    assert np.isnan(emad[0, :3]).all() and np.isnan(smad[0, :3]).all() and np.isnan(bcmad[0, :3]).all()
    assert count[5, 5] == 25
    # reached from the origin, so equal up to float32 rounding
    np.testing.assert_allclose(gm[:, 5, 5], data[:, 0, 5, 5], rtol=0, atol=1e-7)
    assert emad[5, 5] < 1e-7 and bcmad[5, 5] < 1e-6 and abs(smad[5, 5]) < 1e-6
    assert count[7, 9] == 1
    np.testing.assert_allclose(gm[:, 7, 9], data[:, 11, 7, 9], atol=1e-6)
    assert emad[7, 9] < 1e-6
    assert count[9, 9] == np.isfinite(data[:, :, 9, 9]).all(axis=0).sum()


def test_even_count_median_is_mean_of_middle_values():
    """numpy semantics, not torch.nanmedian's lower middle value."""
    x = np.full((2, 4, 1, 1), np.nan, np.float32)
    x[:, :, 0, 0] = np.array([[0.1, 0.2, 0.3, 0.5], [0.1, 0.1, 0.1, 0.1]], np.float32)
    gm, emad, *_ = geomedian_mads_torch(x, eps=1e-7, maxiters=1000, device="cpu")
    dist = np.linalg.norm(x[:, :, 0, 0] - gm[:, 0, 0, None], axis=0)
    assert np.sort(dist)[1] < np.median(dist) - 0.01  # the two semantics differ here
    assert emad[0, 0] == pytest.approx(np.median(dist), abs=1e-6)


def test_batches_give_the_same_result(data, torch_result):
    small = geomedian_mads_torch(data, eps=EPS, maxiters=MAXITERS, device="cpu", batch_pixels=97)
    for got, want in zip(small, torch_result, strict=False):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6, equal_nan=True)


def test_without_mads(data):
    gm, emad, smad, bcmad, count = geomedian_mads_torch(data, eps=EPS, maxiters=MAXITERS, device="cpu",
                                                        with_mads=False)
    assert np.isnan(emad).all() and np.isnan(smad).all() and np.isnan(bcmad).all()
    assert np.isfinite(gm[:, 1:, :]).all()


def test_dispatch_through_geomedian_mads(data, torch_result):
    """Any device name but ``cpu`` takes the torch path; ``cpu:0`` is torch's CPU under
    another name, so the GPU path is exercised without a GPU."""
    res = geomedian_mads(data, device="cpu:0")
    for name, want in zip(FIELDS, torch_result[:4], strict=False):
        np.testing.assert_array_equal(getattr(res, name), want)


def test_auto_selects_numba_without_cuda(data, monkeypatch):
    monkeypatch.delenv("ECOINTEGRITY_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gmod.default_device() == "cpu"
    import ecointegrity.mosaics._geomedian_torch as tmod

    called = []
    monkeypatch.setattr(tmod, "geomedian_mads_torch", lambda *a, **k: called.append(1))
    auto = geomedian_mads(data, device="auto")
    assert not called
    cpu = geomedian_mads(data, device="cpu")
    for name in (*FIELDS, "count"):
        np.testing.assert_array_equal(getattr(auto, name), getattr(cpu, name))
