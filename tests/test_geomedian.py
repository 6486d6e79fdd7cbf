"""Our geomedian kernel against Geoscience Australia's geomad (the production reference) and
against the plain-numpy reference, on real Landsat and on synthetic series."""

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from ecointegrity.mosaics.geomedian import geomad, geomedian_mads, geomedian_reference

geomad_ref = pytest.importorskip("geomad", reason="geomad (test dependency) is not installed")


def _geomad_all(data):
    """geomad's geomedian and MADs; its layout is (y, x, band, time)."""
    x = np.ascontiguousarray(data.transpose(2, 3, 0, 1))
    gm = geomad_ref.nangeomedian_pcm(x, eps=1e-4)
    return gm.transpose(2, 0, 1), geomad_ref.emad_pcm(x, gm), geomad_ref.smad_pcm(x, gm), geomad_ref.bcmad_pcm(x, gm)


def _synthetic(seed=0, ny=24, nx=24, nb=6, nt=30, missing=0.3):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.02, 0.45, (nb, 1, ny, nx))
    data = (base + rng.normal(0, 0.03, (nb, nt, ny, nx))).astype(np.float32)
    data[:, rng.random((nt, ny, nx)) < missing] = np.nan
    return data


@pytest.fixture(scope="module")
def yatsm_years(yatsm_npz):
    """Real Landsat TM/ETM+ SR (Harvard Forest, 300 px): (band, time, 1, 300) per year, NaN not clear."""
    z = np.load(yatsm_npz, allow_pickle=False)
    y = z["Y"].astype(np.float32)
    years = np.array([dt.date.fromordinal(int(d)).year for d in z["dates"]])
    clear = np.isin(y[7], [0, 1]) & (y[:6] != -9999).all(axis=0)
    refl = np.where(clear, y[:6] * 1e-4, np.nan).astype(np.float32)
    return {yr: refl[:, years == yr, None, :] for yr in range(1985, 2014)}


def test_identical_to_geomad_on_real_landsat(yatsm_years):
    worst = {"gm": 0.0, "emad": 0.0, "smad": 0.0, "bcmad": 0.0}
    for year, data in yatsm_years.items():
        ours = geomedian_mads(data, device="cpu")
        gm, emad, smad, bcmad = _geomad_all(data)
        for key, theirs in [("gm", gm), ("emad", emad), ("smad", smad), ("bcmad", bcmad)]:
            diff = np.abs(getattr(ours, key) - theirs)
            assert np.array_equal(np.isnan(getattr(ours, key)), np.isnan(theirs)), (year, key)
            worst[key] = max(worst[key], float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0)
        assert ours.count.max() > 5
    assert worst["gm"] <= 1e-4, worst  # the bar; in fact bit-identical:
    assert worst["gm"] == 0.0, worst
    assert max(worst["emad"], worst["smad"], worst["bcmad"]) < 1e-5, worst


def test_both_starts_converge_to_the_geomedian(yatsm_years):
    """A step below eps does not bound the error where Weiszfeld crawls: on real pixels both
    starts stop up to a few 1e-3 from the converged geomedian; the mean start no farther."""
    worst_reference_start = worst_mean_start = 0.0
    for data in list(yatsm_years.values())[::3]:
        truth = geomedian_mads(data, device="cpu", init_mean=True, eps=1e-9, maxiters=100_000, with_mads=False).gm
        mean_start = geomedian_mads(data, device="cpu", init_mean=True, with_mads=False).gm
        reference_start = geomedian_mads(data, device="cpu", with_mads=False).gm
        worst_mean_start = max(worst_mean_start, float(np.nanmax(np.abs(mean_start - truth))))
        worst_reference_start = max(worst_reference_start, float(np.nanmax(np.abs(reference_start - truth))))
    assert worst_mean_start <= worst_reference_start < 0.01


def test_numba_equals_numpy_reference():
    data = _synthetic(seed=3, ny=10, nx=12)
    ours = geomedian_mads(data, device="cpu", init_mean=True)
    ref = geomedian_reference(data)
    np.testing.assert_array_equal(ours.count, ref.count)
    np.testing.assert_allclose(ours.gm, ref.gm, atol=2e-6)
    for key in ("emad", "smad", "bcmad"):
        np.testing.assert_allclose(getattr(ours, key), getattr(ref, key), atol=2e-6)


def test_edge_pixels():
    data = _synthetic(seed=1, ny=3, nx=3, nt=8, missing=0.0)
    data[:, :, 0, 0] = np.nan  # never clear
    data[:, 1:, 0, 1] = np.nan  # one clear observation
    data[:, :, 0, 2] = data[:, :1, 0, 2]  # all observations identical
    data[2, 3, 1, 1] = np.nan  # one band missing: the whole observation is left out
    res = geomedian_mads(data, device="cpu")
    assert res.count[0, 0] == 0 and np.isnan(res.gm[:, 0, 0]).all() and np.isnan(res.emad[0, 0])
    assert res.count[0, 1] == 1
    np.testing.assert_allclose(res.gm[:, 0, 1], data[:, 0, 0, 1])
    np.testing.assert_allclose(res.gm[:, 0, 2], data[:, 0, 0, 2], atol=1e-7)
    assert res.emad[0, 2] == 0 and res.bcmad[0, 2] == 0
    assert res.count[1, 1] == 7
    # pixels after an empty one restart from their mean: still identical to geomad
    np.testing.assert_array_equal(res.gm, np.nan_to_num(_geomad_all(data)[0], nan=np.nan))


def test_geomedian_resists_outliers_that_the_mean_does_not():
    rng = np.random.default_rng(5)
    clean = np.array([0.04, 0.07, 0.05, 0.30, 0.15, 0.07], np.float32)
    data = np.repeat(clean[:, None, None, None], 20, axis=1) + rng.normal(0, 0.005, (6, 20, 1, 1)).astype(np.float32)
    data[:, :4] += 0.5  # four missed clouds
    gm = geomedian_mads(data, device="cpu").gm[:, 0, 0]
    assert np.abs(gm - clean).max() < 0.01
    assert np.abs(data.mean(axis=1)[:, 0, 0] - clean).max() > 0.09


def test_labelled_geomad_lazy_equals_in_memory():
    data = _synthetic(seed=2, ny=20, nx=16)
    bands = ["blue", "green", "red", "nir", "swir1", "swir2"]
    coords = {"time": np.arange(data.shape[1]), "y": np.arange(20) * -30.0, "x": np.arange(16) * 30.0}
    ds = xr.Dataset({b: (("time", "y", "x"), data[i]) for i, b in enumerate(bands)}, coords=coords)
    eager = geomad(ds, device="cpu")
    lazy_ds = ds.map(lambda v: v.copy(data=da.from_array(v.values, chunks=(5, 7, 8))))
    lazy = geomad(lazy_ds, device="cpu")
    assert isinstance(lazy.red.data, da.Array)
    lazy = lazy.compute()
    assert set(eager.data_vars) == {*bands, "emad", "smad", "bcmad", "count"}
    assert eager["count"].dtype == np.uint16 and eager.red.dims == ("y", "x")
    np.testing.assert_array_equal(eager.x, ds.x)
    # blocks start from their row's mean afresh, so allow eps between chunkings
    for v in eager.data_vars:
        np.testing.assert_allclose(lazy[v].values, eager[v].values, atol=1e-4)
