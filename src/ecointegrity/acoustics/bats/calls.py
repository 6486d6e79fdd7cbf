"""One bat call: its frequency law, envelope and harmonics rendered to a waveform, and the
atmospheric absorption (ISO 9613-1) that tilts its spectrum with distance.

Each component m (multiple of the labelled frequency) is ``a_m * sin(m * phi(t))`` with
``phi = 2*pi*cumsum(f)/sr``; see ``docs/synthetic-bat-calls.md`` for the equations.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .call_types import (
    NYQUIST_USE,
    CallParams,
    CallType,
    SweepLaw,
    sample_call_params,
)

__all__ = [
    "HUMIDITY_PCT",
    "SPEED_OF_SOUND",
    "TEMPERATURE_C",
    "absorption_table",
    "atmospheric_absorption",
    "instantaneous_frequency",
    "render_call",
    "synth_call",
]

SPEED_OF_SOUND = 343.0  # m/s at ~20 degC; the few-% change over the tropics is irrelevant here
TEMPERATURE_C, HUMIDITY_PCT = 25.0, 80.0  # a lowland tropical night (Mexico, Colombia)


# ----------------------------------------------------------------------------- one call


def _sweep(f0: float, f1: float, x: np.ndarray, law: SweepLaw) -> np.ndarray:
    """Frequency at fraction ``x`` of a sweep from ``f0`` to ``f1``."""
    if law == "hyperbolic":  # the period grows linearly: fast at the top, lingering low
        return f0 * f1 / (f1 + (f0 - f1) * x)
    if law == "exponential":
        return f0 * (f1 / f0) ** x
    return f0 + (f1 - f0) * x


def _sweep_position(f0: float, f1: float, f: float, law: SweepLaw) -> float:
    """Inverse of ``_sweep``: the fraction at which frequency ``f`` is reached."""
    if law == "hyperbolic":
        return f1 * (f0 - f) / (f * (f0 - f1))
    if law == "exponential":
        return float(np.log(f / f0) / np.log(f1 / f0))
    return (f - f0) / (f1 - f0)


def instantaneous_frequency(params: CallParams, t: np.ndarray) -> np.ndarray:
    """The labelled component's frequency (Hz) at times ``t`` (s from the call's start)."""
    u = np.clip(np.asarray(t, dtype=np.float64) / params.duration, 0.0, 1.0)
    s, e, p, a = params.start_freq, params.end_freq, params.peak_freq, params.fm_fraction
    if params.kind == "fm":
        return _sweep(s, e, u, params.sweep)
    if params.kind in ("fm_qcf", "qcf"):
        k = params.knee_freq
        steep = _sweep(s, k, np.minimum(u / a, 1.0), params.sweep)
        tail = k + (e - k) * np.clip((u - a) / (1 - a), 0.0, 1.0)
        return np.where(u < a, steep, tail)
    rise = s + (p - s) * np.minimum(u / a, 1.0)
    fall = p + (e - p) * np.clip((u - (1 - a)) / a, 0.0, 1.0)
    return np.where(u < a, rise, np.where(u > 1 - a, fall, p))


def _envelope(params: CallParams, u: np.ndarray) -> np.ndarray:
    """Asymmetric half-sine rise and fall; flat between them for ``cf_fm``."""
    a = params.fm_fraction
    if params.kind == "fm":
        rise_end = fall_start = float(np.clip(
            _sweep_position(params.start_freq, params.end_freq, params.peak_freq, params.sweep),
            0.1, 0.9))
    elif params.kind in ("fm_qcf", "qcf"):
        rise_end = fall_start = a + 0.5 * (1 - a)  # the envelope peaks mid-tail, at peak_freq
    else:
        rise_end, fall_start = a, 1 - a
    rise = np.sin((0.5 * np.pi / rise_end) * np.minimum(u, rise_end))
    fall = np.cos((0.5 * np.pi / (1 - fall_start)) * np.maximum(u - fall_start, 0.0))
    return rise * fall


def _antialias_gate(f: np.ndarray, nyquist: float) -> np.ndarray:
    """1 below 0.9 Nyquist, a raised-cosine fade to 0 at 0.98: a detector's anti-alias filter."""
    x = np.clip((f - 0.9 * nyquist) / (0.08 * nyquist), 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * x)


def _check_fits(params: CallParams, sample_rate: float) -> None:
    if params.high_freq >= NYQUIST_USE * sample_rate / 2:
        raise ValueError(
            f"{params.label} reaches {params.high_freq / 1e3:.1f} kHz: needs a sample rate above "
            f"{2 * params.high_freq / NYQUIST_USE:.0f} Hz, got {sample_rate:.0f}")


def render_call(params: CallParams, sample_rate: float) -> np.ndarray:
    """Waveform of one call (float32, peak envelope 1 on the labelled component).

    Each component m (multiple of the labelled frequency) is ``a_m * sin(m * phi(t))`` with
    ``phi = 2*pi*cumsum(f)/sr``, faded out near Nyquist; with ``params.distance_m`` set, the
    parts above the peak frequency also lose the atmospheric absorption they suffer beyond
    that of the peak frequency over that distance.
    """
    _check_fits(params, sample_rate)
    n = max(int(round(params.duration * sample_rate)), 2)
    t = np.arange(n) / sample_rate
    f = instantaneous_frequency(params, t)
    phase = (2 * np.pi / sample_rate) * (np.cumsum(f) - f[0])  # phase 0 at the first sample
    nyquist = sample_rate / 2
    out = np.zeros(n)
    if params.distance_m is not None:
        alpha_ref = float(absorption_table(np.array([params.peak_freq]))[0])
        neper = params.distance_m * np.log(10) / 20  # dB over the distance -> natural log gain
    for m, amp in ((1.0, 1.0), *params.harmonics):
        if amp <= 0 or m * params.low_freq >= 0.98 * nyquist:
            continue  # silent, or wholly removed by the anti-alias filter
        gain: float | np.ndarray = amp  # per-sample array once faded or tilted
        if m * params.high_freq > 0.9 * nyquist:  # only components near Nyquist need the fade
            gain = amp * _antialias_gate(m * f, nyquist)
        if params.distance_m is not None:
            # Only the extra loss above the peak frequency is applied: lower components are
            # not lifted, so the labelled one stays dominant as call libraries describe it.
            gain = gain * np.exp(np.minimum(alpha_ref - absorption_table(m * f), 0.0) * neper)
        out += gain * np.sin(m * phase)
    out *= _envelope(params, t / params.duration)
    return out.astype(np.float32)


def synth_call(call_type: str | CallType, sample_rate: float, rng: np.random.Generator,
               **overrides) -> tuple[np.ndarray, CallParams]:
    """One call of ``call_type``: (waveform float32, the CallParams it was rendered with).

    Args:
        call_type: a key of ``CALL_TYPES`` or a ``CallType``.
        sample_rate: real-time sample rate, Hz.
        rng: the only source of randomness.
        **overrides: fix any of start_freq, end_freq, peak_freq, duration, fm_fraction, sweep,
            harmonics, doppler (multiplies all frequencies), distance_m (spectral tilt).
    """
    params = sample_call_params(call_type, rng, **overrides)
    return render_call(params, sample_rate), params


# ----------------------------------------------------------------------------- propagation


def atmospheric_absorption(freq_hz: np.ndarray | float, temperature_c: float = TEMPERATURE_C,
                           humidity_pct: float = HUMIDITY_PCT,
                           pressure_kpa: float = 101.325) -> np.ndarray:
    """Atmospheric absorption of sound, dB/m, after ISO 9613-1 (pure tones, still air)."""
    f = np.asarray(freq_hz, dtype=np.float64)
    t = temperature_c + 273.15
    t_rel, p_rel = t / 293.15, pressure_kpa / 101.325
    h = humidity_pct * 10 ** (-6.8346 * (273.16 / t) ** 1.261 + 4.6151) / p_rel  # molar %
    fr_o = p_rel * (24 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = p_rel * t_rel ** -0.5 * (9 + 280 * h * np.exp(-4.170 * (t_rel ** (-1 / 3) - 1)))
    f2 = f * f
    return 8.686 * f2 * (
        1.84e-11 / p_rel * t_rel ** 0.5
        + t_rel ** -2.5 * (0.01275 * np.exp(-2239.1 / t) / (fr_o + f2 / fr_o)
                           + 0.1068 * np.exp(-3352.0 / t) / (fr_n + f2 / fr_n)))


@lru_cache(maxsize=1)
def _absorption_grid() -> tuple[np.ndarray, np.ndarray]:
    freqs = np.linspace(0.0, 400e3, 1601)
    return freqs, atmospheric_absorption(freqs)


def absorption_table(f: np.ndarray) -> np.ndarray:
    """ISO 9613-1 at the module's default atmosphere, interpolated (per-sample use is hot)."""
    grid, alpha = _absorption_grid()
    return np.interp(f, grid, alpha)
