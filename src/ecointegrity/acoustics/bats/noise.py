"""Night-time ultrasonic backgrounds (self-noise, coloured and band noise, insect song,
clicks) and band-limited SNR measurement and mixing."""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

__all__ = [
    "band_noise",
    "band_power",
    "band_power_at",
    "clicks",
    "colored_noise",
    "fit_background",
    "measure_snr",
    "mix_at_snr",
    "stridulation",
    "synth_background",
]


# ----------------------------------------------------------------------------- background


def _noise_from_psd(n: int, rng: np.random.Generator, psd: np.ndarray) -> np.ndarray:
    """Gaussian noise (float32) with power ``psd`` per rfft bin; its variance is ``psd.mean()``.

    One inverse FFT of random complex bins: cheaper than filtering white noise.
    """
    k = n // 2 + 1
    spec = rng.standard_normal(2 * k, dtype=np.float32).view(np.complex64)
    spec *= np.sqrt(psd * (n / 2)).astype(np.float32)
    return np.fft.irfft(spec, n).astype(np.float32, copy=False)


def _unit(psd: np.ndarray) -> np.ndarray:
    return psd / max(float(psd.mean()), 1e-30)


def _colored_psd(f: np.ndarray, exponent: float, highpass_hz: float) -> np.ndarray:
    fc = max(highpass_hz, float(f[1]) if f.size > 1 else 1.0)
    x = (f / fc) ** 4
    return _unit(np.maximum(f, fc) ** -exponent * x / (1 + x))


def _band_psd(f: np.ndarray, band: tuple[float, float], skirt: float = 2000.0) -> np.ndarray:
    edge = np.clip(np.minimum(f - (band[0] - skirt), (band[1] + skirt) - f) / skirt, 0.0, 1.0)
    return _unit(0.5 - 0.5 * np.cos(np.pi * edge) + 1e-12)


def colored_noise(n: int, sample_rate: float, rng: np.random.Generator, *,
                  exponent: float = 1.0, rms: float = 0.01,
                  highpass_hz: float = 1000.0) -> np.ndarray:
    """1/f^exponent noise (0 white, 1 pink, 2 brown) of about the given RMS, float32.

    A 2nd-order high-pass at ``highpass_hz`` stands for the detector's input filter and keeps
    brown noise from being all DC.
    """
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    return _noise_from_psd(n, rng, rms ** 2 * _colored_psd(f, exponent, highpass_hz))


def band_noise(n: int, sample_rate: float, rng: np.random.Generator, *,
               band: tuple[float, float], rms: float = 0.003) -> np.ndarray:
    """Noise flat inside ``band`` (Hz) with 2 kHz raised-cosine skirts (wind in leaves, hiss)."""
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    return _noise_from_psd(n, rng, rms ** 2 * _band_psd(f, band))


def stridulation(n: int, sample_rate: float, rng: np.random.Generator, *,
                 carrier_hz: float | None = None, amplitude: float = 0.01) -> np.ndarray:
    """Insect song: trains of tonal syllables (cricket-like 10-20 kHz, katydid-like 20-40 kHz).

    Syllables fill 20-60 % of a 15-60 ms period and come in chirps (or a continuous trill),
    with a weak 2nd harmonic and a slight frequency wobble.
    """
    fc = float(carrier_hz if carrier_hz is not None else
               rng.choice([rng.uniform(10e3, 20e3), rng.uniform(20e3, 40e3)]))
    fc = min(fc, 0.4 * sample_rate)
    period = rng.uniform(0.015, 0.06)
    syllable = rng.uniform(0.2, 0.6) * period
    chirp_period = rng.uniform(0.3, 2.0)
    chirp_on = rng.uniform(0.3, 1.0) * chirp_period  # 1.0: a continuous trill
    length = max(int(syllable * sample_rate), 1)
    # Only the sounding samples are synthesised: the song is mostly silence.
    onsets = np.arange(-rng.uniform(0, period), n / sample_rate, period)
    onsets = onsets[np.mod(onsets + rng.uniform(0, chirp_period), chirp_period) < chirp_on]
    idx = (np.rint(onsets * sample_rate).astype(np.int64)[:, None] + np.arange(length)).ravel()
    keep = (idx >= 0) & (idx < n)
    idx = idx[keep]
    # Every syllable is the same waveform, so one is rendered and copied to each onset.
    tau = np.arange(length) / sample_rate
    phase = 2 * np.pi * fc * tau + 0.3 * np.sin(2 * np.pi * tau / period)
    tone = np.sin(phase) + (0.3 * np.sin(2 * phase) if 2 * fc < 0.45 * sample_rate else 0.0)
    template = (amplitude * np.sin(np.pi * tau / (length / sample_rate)) ** 2 * tone)
    out = np.zeros(n, dtype=np.float32)
    out[idx] = np.tile(template.astype(np.float32), onsets.size)[keep]
    return out


def clicks(n: int, sample_rate: float, rng: np.random.Generator, *, rate_hz: float = 2.0,
           amplitude: float = 0.2) -> np.ndarray:
    """Impulsive broadband clicks (rain drops, handling): Poisson times, decaying noise bursts."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(rng.poisson(rate_hz * n / sample_rate)):
        length = max(int(rng.uniform(1e-4, 1e-3) * sample_rate), 4)
        i0 = int(rng.integers(0, max(n - length, 1)))
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.25 * length))
        burst = np.diff(burst, prepend=0.0)  # emphasise highs, as a sharp impact does
        burst *= amplitude * rng.uniform(0.1, 1.0) / max(np.abs(burst).max(), 1e-12)
        m = min(length, n - i0)
        out[i0:i0 + m] += burst[:m].astype(np.float32)
    return out


def synth_background(n: int, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A random night-time ultrasonic background (float32): always a white self-noise floor and
    pink or brown low-frequency noise; sometimes band-limited noise, insect song and clicks."""
    f = np.arange(n // 2 + 1, dtype=np.float32) * np.float32(sample_rate / n)
    # The Gaussian parts share one spectrum and so one inverse FFT.
    psd = np.full(f.size, 10 ** (2 * rng.uniform(-3.6, -3.1)), dtype=np.float32)  # self-noise
    psd += 10 ** (2 * rng.uniform(-2.7, -1.7)) * _colored_psd(f, float(rng.choice([1.0, 2.0])),
                                                              1000.0)
    if rng.uniform() < 0.3:
        lo = rng.uniform(10e3, 0.2 * sample_rate)
        psd += 10 ** (2 * rng.uniform(-3.6, -2.8)) * _band_psd(f, (lo, lo * rng.uniform(1.2, 2)))
    out = _noise_from_psd(n, rng, psd)
    if rng.uniform() < 0.4:
        out += stridulation(n, sample_rate, rng, amplitude=10 ** rng.uniform(-3.2, -2.0))
    if rng.uniform() < 0.3:
        out += clicks(n, sample_rate, rng, rate_hz=rng.uniform(0.5, 5.0),
                      amplitude=10 ** rng.uniform(-2.0, -0.7))
    return out


def fit_background(bg: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n``-sample stretch of ``bg``; mirrored repeats when ``bg`` is shorter."""
    bg = np.asarray(bg)
    if bg.ndim != 1 or bg.size == 0:
        raise ValueError(f"a background must be a non-empty 1-D array, got shape {bg.shape}")
    if np.issubdtype(bg.dtype, np.integer):
        bg = bg / float(np.iinfo(bg.dtype).max + 1)
    bg = bg.astype(np.float32)
    if bg.size >= n:
        i0 = int(rng.integers(0, bg.size - n + 1))
        return bg[i0:i0 + n].copy()
    # Mirroring keeps the waveform continuous where copies meet (no click at the seams).
    reps = np.concatenate([bg, bg[::-1]])
    return np.resize(reps, n).astype(np.float32)


# ----------------------------------------------------------------------------- SNR


_EDGE_HZ = 2000.0  # width of the band-pass's transitions, centred on the band edges
_MARGIN_S = 5e-3  # context filtered either side of a segment, so its ends do not leak


def band_power(x: np.ndarray, sample_rate: float,
               band: tuple[float, float] | None = None) -> float:
    """Mean power (mean square) of ``x`` band-passed to ``band`` (Hz); None: broadband.

    The band-pass is zero-phase, applied as an FFT mask whose power response is 1 inside the
    band, 0 outside and falls along a raised cosine 2 kHz wide centred on each edge (half
    power at the edges, like an analogue filter's -3 dB points); white noise so keeps exactly
    its ``(high - low) / (sample_rate / 2)`` share.
    """
    return band_power_at(x, 0, len(x), sample_rate, band, margin_s=0.0)


def band_power_at(x: np.ndarray, start: int, stop: int, sample_rate: float,
                  band: tuple[float, float] | None = None, *,
                  margin_s: float = _MARGIN_S) -> float:
    """``band_power`` of ``x[start:stop]``, filtering ``margin_s`` of ``x`` either side too.

    The context keeps the filter's response to the cut ends (strong low-frequency noise
    leaking into an ultrasonic band) out of the measured samples.
    """
    if not 0 <= start < stop <= len(x):
        raise ValueError(f"segment [{start}, {stop}) is empty or outside 0..{len(x)}")
    if band is None:
        seg = np.asarray(x[start:stop], dtype=np.float64)
        return float(np.mean(seg * seg))
    m = int(round(margin_s * sample_rate))
    c0, c1 = max(start - m, 0), min(stop + m, len(x))
    ctx = np.asarray(x[c0:c1], dtype=np.float64)
    n_fft = sp_fft.next_fast_len(ctx.size, real=True)
    f = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    # distance into the band in units of the transition width: <= -0.5 out, >= 0.5 in
    inside = np.minimum(f - band[0], band[1] - f) / _EDGE_HZ
    power = 0.5 + 0.5 * np.sin(np.pi * np.clip(inside, -0.5, 0.5))
    y = sp_fft.irfft(sp_fft.rfft(ctx, n_fft) * np.sqrt(power), n_fft)
    seg = y[start - c0:stop - c0]
    return float(np.mean(seg * seg))


def measure_snr(call: np.ndarray, background: np.ndarray, sample_rate: float, *,
                offset: int = 0, band: tuple[float, float] | None = None) -> float:
    """SNR in dB of ``call`` placed at ``offset`` (samples) in ``background``.

    ``10 log10(P_call / P_noise)``: P_call is the call's mean square over its own samples
    (all its components), P_noise the background's ``band_power_at`` over those same samples
    (``band=None``: broadband).
    """
    call = np.asarray(call, dtype=np.float64)
    if offset < 0 or offset + call.size > len(background):
        raise ValueError(f"call of {call.size} samples at {offset} does not fit a background "
                         f"of {len(background)}")
    p_noise = band_power_at(background, offset, offset + call.size, sample_rate, band)
    if p_noise <= 0:
        raise ValueError("the background has no power in the band: SNR is undefined")
    return float(10 * np.log10(np.mean(call * call) / p_noise))


def mix_at_snr(background: np.ndarray, call: np.ndarray, snr_db: float, sample_rate: float, *,
               offset: int = 0, band: tuple[float, float] | None = None) -> np.ndarray:
    """``background`` with ``call`` added at ``offset`` (samples), scaled to ``snr_db``.

    SNR as in ``measure_snr``. Returns a new float32 array; the background is not modified.
    """
    call = np.asarray(call, dtype=np.float64)
    gain = 10 ** ((snr_db - measure_snr(call, background, sample_rate, offset=offset,
                                        band=band)) / 20)
    out = np.array(background, dtype=np.float32, copy=True)
    out[offset:offset + call.size] += (gain * call).astype(np.float32)
    return out
