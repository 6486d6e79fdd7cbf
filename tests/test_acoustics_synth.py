"""The synthetic bat call generator must make the calls, boxes and SNRs it says it makes.

A detector trained on these recordings learns whatever the annotations claim, so these tests
measure the audio independently (STFT peak tracks, band energies, a Butterworth band-pass)
and compare with the parameters and events returned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from guano import GuanoFile
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from ecointegrity.acoustics.bats.call_types import CALL_TYPES, CallType
from ecointegrity.acoustics.bats.calls import (
    atmospheric_absorption,
    instantaneous_frequency,
    synth_call,
)
from ecointegrity.acoustics.bats.noise import (
    band_power,
    colored_noise,
    measure_snr,
    mix_at_snr,
    synth_background,
)
from ecointegrity.acoustics.bats.passes import synth_pass
from ecointegrity.acoustics.bats.synth import synth_recording, write_synthetic_dataset
from ecointegrity.acoustics.io import EVENT_COLUMNS, validate_events

SR = 256_000


def stft_power(x: np.ndarray, sr: float, win: int, hop: int, nfft: int):
    """(frame centre times, frequencies, |STFT|^2) with a Hann window; frame i is centred on
    sample i * hop."""
    xp = np.pad(np.asarray(x, dtype=np.float64), (win // 2, win // 2))
    frames = sliding_window_view(xp, win)[::hop] * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2
    return np.arange(power.shape[0]) * hop / sr, np.fft.rfftfreq(nfft, 1 / sr), power


def peak_track(x, sr, win, hop, nfft, floor_db=-20.0):
    """Frequency of the strongest bin per frame, for frames within ``floor_db`` of the loudest
    and wholly inside the signal."""
    t, f, p = stft_power(x, sr, win, hop, nfft)
    energy = p.sum(axis=1)
    inside = (t >= win / 2 / sr) & (t <= (len(x) - win / 2) / sr)
    keep = inside & (energy >= energy.max() * 10 ** (floor_db / 10))
    return t[keep], f[np.argmax(p[keep], axis=1)]


def box_fraction(x, sr, boxes, span=None, win=128, hop=16, nfft=512):
    """Share of energy inside the union of (start, end, low, high) boxes, widened by the STFT's
    own resolution (half a window in time, the Hann main lobe in frequency). ``span`` limits
    the denominator to a time interval."""
    t, f, p = stft_power(x, sr, win, hop, nfft)
    dt, df = win / 2 / sr, 2 * sr / win
    inside = np.zeros(p.shape, bool)
    for start, end, low, high in boxes:
        inside |= (((t >= start - dt) & (t <= end + dt))[:, None]
                   & ((f >= low - df) & (f <= high + df))[None, :])
    rows = np.ones(t.size, bool) if span is None else (t >= span[0] - dt) & (t <= span[1] + dt)
    return p[rows][inside[rows]].sum() / p[rows].sum()


# ----------------------------------------------------------------------------- call types


def test_call_types_are_consistent_data():
    wanted = {"myotis_fm", "pipistrellus_qcf", "eptesicus_fmqcf", "lasiurus_qcf", "tadarida_qcf",
              "molossus_qcf", "pteronotus_cf60", "mormoops_qcf_fm", "rhinolophus_cf83"}
    assert wanted <= set(CALL_TYPES)
    for name, ct in CALL_TYPES.items():
        assert isinstance(ct, CallType) and ct.name == name
        assert ct.kind in ("fm", "fm_qcf", "qcf", "cf_fm")
        for lo, hi in (ct.start_freq, ct.end_freq, ct.peak_freq, ct.duration, ct.interval):
            assert 0 < lo <= hi
        assert ct.interval[0] > ct.duration[1], name  # calls of one bat never overlap
        assert ct.min_sample_rate <= SR, name
        assert sum(a * a for _, a in ct.harmonics) < 0.08, name  # labelled part dominates
    assert CALL_TYPES["pteronotus_cf60"].kind == "cf_fm"
    assert 58e3 <= np.mean(CALL_TYPES["pteronotus_cf60"].peak_freq) <= 63e3
    assert 23e3 <= np.mean(CALL_TYPES["tadarida_qcf"].peak_freq) <= 28e3
    assert CALL_TYPES["molossus_qcf"].alternation > 0


def test_bad_parameters_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sweeps down"):
        synth_call("myotis_fm", SR, rng, start_freq=30e3, end_freq=60e3)
    with pytest.raises(TypeError, match="unknown call parameter"):
        synth_call("myotis_fm", SR, rng, loudness=3)
    with pytest.raises(ValueError, match="sample rate"):
        synth_call("rhinolophus_cf110", 192_000, rng)
    with pytest.raises(ValueError, match="unknown call type"):
        synth_call("dracula", SR, rng)


# ----------------------------------------------------------------------------- call shapes


@pytest.mark.parametrize("sweep", ["hyperbolic", "exponential", "linear"])
def test_fm_call_follows_requested_sweep(sweep):
    call, p = synth_call("myotis_fm", SR, np.random.default_rng(1), start_freq=110e3,
                         end_freq=35e3, peak_freq=55e3, duration=4e-3, sweep=sweep, harmonics=())
    assert call.dtype == np.float32 and call.size == round(4e-3 * SR)
    assert (p.start_freq, p.end_freq, p.duration, p.low_freq, p.high_freq) == (
        110e3, 35e3, 4e-3, 35e3, 110e3)
    t, track = peak_track(call, SR, win=64, hop=8, nfft=4096, floor_db=-25)
    law = instantaneous_frequency(p, t)
    assert np.median(np.abs(track - law)) < 2e3
    assert np.max(np.abs(track - law)) < 8e3
    assert np.all(np.diff(track) <= 1e3)  # a downward sweep, never rising beyond a bin
    assert track[0] > 85e3 and track[-1] < 45e3  # it covers most of 110 -> 35 kHz


def test_qcf_call_ends_in_a_shallow_tail():
    call, p = synth_call("pipistrellus_qcf", SR, np.random.default_rng(2), start_freq=75e3,
                         end_freq=46e3, peak_freq=47.5e3, duration=6e-3, fm_fraction=0.35,
                         harmonics=())
    assert p.knee_freq == pytest.approx(49e3)
    t, track = peak_track(call, SR, win=128, hop=8, nfft=4096, floor_db=-25)
    tail = t > 0.45 * p.duration
    assert np.all(np.abs(track[tail] - instantaneous_frequency(p, t[tail])) < 1.5e3)
    assert np.ptp(track[tail]) < 4e3  # the tail is quasi-constant
    assert track.max() > 55e3  # while the start is a steep sweep


@pytest.mark.parametrize("name,cf", [("rhinolophus_cf83", 82e3), ("pteronotus_cf60", 61e3)])
def test_cf_fm_call_has_a_long_flat_part(name, cf):
    call, p = synth_call(name, SR, np.random.default_rng(3), peak_freq=cf, duration=40e-3,
                         fm_fraction=0.06, harmonics=())
    t, track = peak_track(call, SR, win=1024, hop=64, nfft=8192, floor_db=-30)
    flat = np.abs(track - cf) <= 300
    # the constant part is (1 - 2 * 0.06) of the call; the window trims ~1 frame each side
    assert flat.sum() * 64 / SR >= 0.75 * p.duration
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, flat.astype(int), 0]))).max()
    assert runs * 64 / SR >= 0.75 * p.duration  # one contiguous stretch, not scattered frames
    # and brief sweeps at both ends, below the CF
    full_t, full_track = peak_track(call, SR, win=128, hop=16, nfft=4096, floor_db=-30)
    assert full_track[0] < cf - 3e3 and full_track[-1] < cf - 3e3


def test_harmonics_appear_at_twice_the_fundamental():
    kw = dict(start_freq=30e3, end_freq=23e3, peak_freq=24.5e3, duration=10e-3, fm_fraction=0.2)
    with_h, p = synth_call("tadarida_qcf", SR, np.random.default_rng(4),
                           harmonics=((2.0, 0.3),), **kw)
    without, _ = synth_call("tadarida_qcf", SR, np.random.default_rng(4), harmonics=(), **kw)
    band_f, band_2f, band_3f = ((m * p.low_freq - 1e3, m * p.high_freq + 1e3) for m in (1, 2, 3))
    ratio_db = 10 * np.log10(band_power(with_h, SR, band_2f) / band_power(with_h, SR, band_f))
    assert ratio_db == pytest.approx(20 * np.log10(0.3), abs=1.5)
    assert band_power(with_h, SR, band_3f) < 1e-3 * band_power(with_h, SR, band_f)
    assert band_power(without, SR, band_2f) < 1e-4 * band_power(without, SR, band_f)
    # in the spectrogram, the strongest frame's second peak sits at twice its first
    t, f, power = stft_power(with_h, SR, 512, 64, 4096)
    frame = power[np.argmax(power.sum(axis=1))]
    f1 = f[np.argmax(frame)]
    upper = f > 1.5 * f1
    f2 = f[upper][np.argmax(frame[upper])]
    assert f2 == pytest.approx(2 * f1, abs=2 * SR / 4096)


def test_distance_tilts_the_spectrum_by_atmospheric_absorption():
    kw = dict(start_freq=110e3, end_freq=35e3, peak_freq=55e3, duration=4e-3, harmonics=())
    near, _ = synth_call("myotis_fm", SR, np.random.default_rng(5), distance_m=1.0, **kw)
    far, _ = synth_call("myotis_fm", SR, np.random.default_rng(5), distance_m=20.0, **kw)

    def hi_lo(x):
        return band_power(x, SR, (80e3, 110e3)) / band_power(x, SR, (35e3, 50e3))

    assert hi_lo(far) < 0.1 * hi_lo(near)  # > 10 dB more loss at high frequencies over 19 m
    alpha = atmospheric_absorption([20e3, 50e3, 100e3], temperature_c=20, humidity_pct=50)
    assert np.all(np.diff(alpha) > 0)
    assert 1.2 < alpha[1] < 2.2  # ~1.7 dB/m at 50 kHz in the ISO 9613-1 tables' conditions


# ----------------------------------------------------------------------------- boxes


@pytest.mark.parametrize("name", sorted(CALL_TYPES))
def test_box_holds_each_calls_energy(name):
    rng = np.random.default_rng(6)
    for distance in (None, 10.0):
        call, p = synth_call(name, SR, rng, distance_m=distance)
        frac = box_fraction(call, SR, [(0.0, p.duration, p.low_freq, p.high_freq)])
        assert frac >= 0.9, (name, distance, frac)


@pytest.mark.parametrize("name", ["myotis_fm", "molossus_qcf", "pteronotus_cf60",
                                  "phyllostomid_fm", "rhinolophus_cf83"])
def test_recording_events_box_their_calls(name):
    rec = synth_recording(2.0, SR, call_types=[name], rng=np.random.default_rng(7),
                          n_passes=1, background=None, snr_db=(20, 30))
    ev = rec.events
    assert list(ev.columns) == list(EVENT_COLUMNS)
    pd.testing.assert_frame_equal(validate_events(ev), ev)  # the project's event schema
    assert len(ev) >= 3 and set(ev["label"]) == {name}
    assert (ev["score"] == 1).all() and (ev["class_score"] == 1).all()
    assert ev["model"].isna().all() and ev["model_version"].isna().all()
    assert (ev["recording"] == "").all()
    assert (ev["start_time"] < ev["end_time"]).all() and (ev["low_freq"] < ev["high_freq"]).all()
    assert ev["start_time"].is_monotonic_increasing
    for row in ev.itertuples():
        # the call with 2 ms either side; the share is taken over the call's own time span
        i0 = max(int(row.start_time * SR) - 512, 0)
        seg = rec.audio[i0: int(row.end_time * SR) + 512]
        start, end = row.start_time - i0 / SR, row.end_time - i0 / SR
        frac = box_fraction(seg, SR, [(start, end, row.low_freq, row.high_freq)],
                            span=(start, end))
        assert frac >= 0.9, (row, frac)


def test_boxes_hold_the_energy_of_overlapping_passes():
    rng = np.random.default_rng(8)
    rec = synth_recording(2.0, SR, call_types=["tadarida_qcf", "pipistrellus_qcf", "myotis_fm"],
                          rng=rng, background=None, echoes=False)
    ev = rec.events
    assert ev["label"].nunique() == 3 and rec.calls["pass_id"].nunique() == 3
    boxes = ev[["start_time", "end_time", "low_freq", "high_freq"]].to_numpy()
    assert box_fraction(rec.audio, SR, boxes) >= 0.9


def test_empty_recording_has_no_events():
    rec = synth_recording(1.0, SR, call_types=["myotis_fm"], rng=np.random.default_rng(9),
                          n_passes=0)
    assert rec.events.empty and list(rec.events.columns) == list(EVENT_COLUMNS)
    pd.testing.assert_frame_equal(validate_events(rec.events), rec.events)
    assert rec.audio.shape == (SR,) and rec.audio.dtype == np.float32
    assert np.abs(rec.audio).max() > 0  # background only


# ----------------------------------------------------------------------------- passes


def test_pass_approaches_and_recedes():
    sp = synth_pass("myotis_fm", SR, np.random.default_rng(10), duration_s=3.0, centre_s=1.5,
                    min_level_db=-30, echoes=False)
    c = sp.calls
    assert len(c) >= 10
    assert c["start_time"].is_monotonic_increasing
    assert (np.diff(c["doppler"]) < 0).all()  # higher while approaching, lower receding
    assert c["doppler"].iloc[0] > 1 > c["doppler"].iloc[-1]
    loudest = int(np.argmax(c["level_db"]))
    assert 0 < loudest < len(c) - 1 and c["level_db"].max() == 0
    assert c["level_db"].iloc[[0, -1]].max() < -10
    gaps = np.diff(c["start_time"])
    assert gaps.min() > 0.75 * 60e-3  # never closer than the type's shortest interval allows
    assert 60e-3 * 0.9 <= np.median(gaps) <= 110e-3 * 1.1  # species-like intervals


def test_molossus_like_calls_alternate_in_frequency():
    sp = synth_pass("molossus_qcf", SR, np.random.default_rng(11), duration_s=3.0,
                    centre_s=1.5, min_level_db=-30)
    peak = sp.calls["peak_freq"].to_numpy()
    steps = np.sign(np.diff(peak))
    assert len(peak) >= 6 and np.all(steps[1:] == -steps[:-1])
    assert np.median(np.abs(np.diff(np.log(peak)))) == pytest.approx(np.log(1.15), abs=0.03)


# ----------------------------------------------------------------------------- SNR


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 25.0])
def test_mix_at_snr_hits_the_requested_snr(snr):
    rng = np.random.default_rng(12)
    n = SR // 2
    background = (colored_noise(n, SR, rng, exponent=0.0, rms=1e-3, highpass_hz=0.0)
                  + colored_noise(n, SR, rng, exponent=1.0, rms=1e-2))
    call, p = synth_call("pipistrellus_qcf", SR, rng, duration=8e-3)
    offset, band = 40_000, (p.low_freq, p.high_freq)
    before = background.copy()
    mixed = mix_at_snr(background, call, snr, SR, offset=offset, band=band)
    np.testing.assert_array_equal(background, before)
    seg = slice(offset, offset + call.size)
    added = mixed[seg].astype(np.float64) - background[seg]
    # independent noise measure: an 8th-order Butterworth band-pass over the whole background
    sos = signal.butter(8, band, btype="bandpass", fs=SR, output="sos")
    noise_in_band = signal.sosfiltfilt(sos, background.astype(np.float64))[seg]
    measured = 10 * np.log10(np.mean(added ** 2) / np.mean(noise_in_band ** 2))
    assert measured == pytest.approx(snr, abs=0.5)
    broadband = mix_at_snr(background, call, snr, SR, offset=offset)
    added = broadband[seg].astype(np.float64) - background[seg]
    ratio = np.mean(added ** 2) / np.mean(background[seg].astype(np.float64) ** 2)
    assert 10 * np.log10(ratio) == pytest.approx(snr, abs=0.05)
    assert measure_snr(added, background, SR, offset=offset) == pytest.approx(snr, abs=0.05)


def test_mix_at_snr_rejects_calls_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        mix_at_snr(np.ones(100, np.float32), np.ones(50), 10.0, SR, offset=60)


def test_passes_reach_their_snr_in_a_real_background():
    rng = np.random.default_rng(13)
    real = synth_background(SR // 2, SR, rng)  # stands in for a field recording: shorter
    rec = synth_recording(1.5, SR, call_types=["eptesicus_fmqcf", "lasiurus_qcf"], rng=rng,
                          snr_db=(5, 15), background=real)
    assert rec.audio.shape == (int(1.5 * SR),)
    loudest = rec.calls.groupby("pass_id")["snr_db"].max()
    assert len(loudest) == 2 and ((loudest >= 5 - 1e-6) & (loudest <= 15 + 1e-6)).all()
    # before the first call, the audio is the real background (up to an overall scale)
    quiet = rec.audio[: int(rec.events["start_time"].min() * SR)]
    assert quiet.size > 1000 and np.corrcoef(quiet, real[: quiet.size])[0, 1] > 0.999


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_recording():
    kw = dict(call_types=["myotis_fm", "tadarida_qcf"], n_passes=2)
    a = synth_recording(1.0, SR, rng=np.random.default_rng(14), **kw)
    b = synth_recording(1.0, SR, rng=np.random.default_rng(14), **kw)
    c = synth_recording(1.0, SR, rng=np.random.default_rng(15), **kw)
    np.testing.assert_array_equal(a.audio, b.audio)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not np.array_equal(a.audio, c.audio)


def test_same_seed_same_dataset(tmp_path):
    kw = dict(duration_s=(0.5, 1.0), call_types=["myotis_fm", "lasiurus_qcf"], seed=3)
    a = write_synthetic_dataset(tmp_path / "a", 4, **kw)
    b = write_synthetic_dataset(tmp_path / "b", 4, **kw)
    pd.testing.assert_frame_equal(a, b)
    for i in range(4):
        name = f"synth_{i:05d}.wav"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = write_synthetic_dataset(tmp_path / "c", 4, **{**kw, "seed": 4})
    assert not a.equals(c)


# ----------------------------------------------------------------------------- files


def test_time_expansion_writes_slow_files_with_real_time_events(tmp_path):
    rec = synth_recording(1.0, SR, call_types=["pipistrellus_qcf"], rng=np.random.default_rng(16),
                          time_expansion=10)
    assert rec.sample_rate == SR // 10 and rec.real_sample_rate == SR
    assert rec.duration_s == pytest.approx(1.0) and rec.events["end_time"].max() <= 1.0

    table = write_synthetic_dataset(tmp_path, 2, duration_s=(1.0, 1.0), time_expansion=10,
                                    call_types=["pipistrellus_qcf"], empty_fraction=0.0, seed=1,
                                    snr_db=(25, 30))
    for name, ev in table.groupby("recording"):
        info = sf.info(str(tmp_path / name))
        assert info.samplerate == SR // 10 and info.frames == SR and info.subtype == "PCM_16"
        g = GuanoFile(str(tmp_path / name))
        assert g["TE"] == 10 and g["Samplerate"] == SR and g["Length"] == pytest.approx(1.0)
        assert ev["end_time"].max() <= 1.0 and ev["low_freq"].min() > 40e3  # real time and Hz
        # played at the file's rate the loudest call sounds ten times lower and longer
        audio, rate = sf.read(str(tmp_path / name))
        row = ev.iloc[int(np.argmax(ev["end_time"] - ev["start_time"]))]
        seg = audio[int(row.start_time * SR): int(row.end_time * SR)]
        f, pxx = signal.periodogram(seg, fs=rate)
        above = f > 2e3  # past the low-frequency background noise
        peak = f[above][np.argmax(pxx[above])]
        assert row.low_freq / 10 - 200 <= peak <= row.high_freq / 10 + 200


def test_written_dataset_reads_back(tmp_path):
    table = write_synthetic_dataset(tmp_path, 14, duration_s=(0.8, 1.5), seed=5,
                                    location=(19.43, -99.13))
    assert list(table.columns) == list(EVENT_COLUMNS)
    manifest = pd.read_csv(tmp_path / "recordings.csv", keep_default_na=False)
    assert len(manifest) == 14
    assert (manifest["n_events"] == 0).sum() == round(0.15 * 14)  # the negatives
    assert set(table["recording"]) <= set(manifest["recording"])
    parquet = pd.read_parquet(tmp_path / "annotations.parquet")
    pd.testing.assert_frame_equal(parquet, table, check_dtype=False)
    csv = pd.read_csv(tmp_path / "annotations.csv")
    np.testing.assert_allclose(csv[["start_time", "end_time", "low_freq", "high_freq"]],
                               table[["start_time", "end_time", "low_freq", "high_freq"]])
    assert csv["recording"].tolist() == table["recording"].tolist()
    assert set(table["label"]) <= set(CALL_TYPES)
    n_species = table.groupby("recording")["label"].nunique()
    assert (n_species >= 2).any()  # overlapping passes of different types
    for row in manifest.itertuples():
        audio, rate = sf.read(str(tmp_path / row.recording), dtype="float32")
        assert rate == SR and audio.ndim == 1
        assert len(audio) / rate == pytest.approx(row.duration_s)
        ev = table[table["recording"] == row.recording]
        assert len(ev) == row.n_events
        assert (ev["end_time"] <= len(audio) / rate).all()
        g = GuanoFile(str(tmp_path / row.recording))
        assert g["Make"] == "ecointegrity" and g["Model"] == "synthetic"
        assert g["Note"] == "synthetic" and g["TE"] == 1 and g["Samplerate"] == SR
        assert g["Loc Position"] == pytest.approx((19.43, -99.13))
        assert g.get("Timestamp") is not None
        if len(ev):
            counts = ev["label"].value_counts()
            assert g["Species Manual ID"].split(", ")[0] in counts[counts == counts.max()].index
        else:
            assert "Species Manual ID" not in g
