"""Synthetic bat echolocation calls, passes and recordings with exact annotations.

Used to bootstrap a bat call detector/classifier where labelled recordings are scarce, by the
demo and by tests. ``docs/synthetic-bat-calls.md`` gives the equations, the parameter table and
what is *not* modelled. In short:

* **Calls** (``synth_call``): a labelled component (the fundamental, or the dominant harmonic
  where call libraries label that) whose instantaneous frequency follows one of four laws
  (steep ``fm``; ``fm_qcf`` and ``qcf``: a sweep into a shallow tail; ``cf_fm``: a constant
  frequency between brief sweeps), phase ``2*pi*cumsum(f)/sr``, an asymmetric smooth envelope
  and extra components at multiples of its frequency (``harmonics``).
* **Call types** (``CALL_TYPES``): species-*like* parameter ranges taken from published call
  descriptions, not species models.
* **Passes** (``synth_pass``): a bat flies past the microphone in a straight line; distance
  sets the level (spherical spreading plus ISO 9613-1 atmospheric absorption, which also tilts
  each call's spectrum), radial speed the Doppler shift; intervals and parameters jitter from
  call to call; optional echoes.
* **Recordings** (``synth_recording``): passes mixed into a synthetic or real background at a
  per-pass SNR; events in the project's sound event schema (``EVENT_COLUMNS``), in real time.
* **Datasets** (``write_synthetic_dataset``): 16-bit WAV files with GUANO metadata and the
  annotation table, deterministic for a seed.

Everything but the writers is pure numpy and draws randomness only from the ``rng`` given.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf
from guano import GuanoFile
from scipy import fft as sp_fft
from scipy.signal import resample_poly

from ..io import atomic_path
from .events import EVENT_COLUMNS

__all__ = [
    "CALL_TYPES",
    "SYNTH_VERSION",
    "CallParams",
    "CallType",
    "SyntheticPass",
    "SyntheticRecording",
    "atmospheric_absorption",
    "band_noise",
    "band_power",
    "band_power_at",
    "clicks",
    "colored_noise",
    "instantaneous_frequency",
    "measure_snr",
    "mix_at_snr",
    "render_call",
    "sample_call_params",
    "stridulation",
    "synth_background",
    "synth_call",
    "synth_pass",
    "synth_recording",
    "write_recording",
    "write_synthetic_dataset",
]

SYNTH_VERSION = "1.0.0"
CallKind = Literal["fm", "fm_qcf", "qcf", "cf_fm"]
SweepLaw = Literal["hyperbolic", "exponential", "linear"]
Range = tuple[float, float]

SPEED_OF_SOUND = 343.0  # m/s at ~20 degC; the few-% change over the tropics is irrelevant here
TEMPERATURE_C, HUMIDITY_PCT = 25.0, 80.0  # a lowland tropical night (Mexico, Colombia)
_MAX_DOPPLER = 1.03  # flight speeds up to ~10 m/s shift frequencies by up to ~3 %
_NYQUIST_USE = 0.95  # the fundamental must stay below this share of the Nyquist frequency
# With no background, SNR is relative to white noise of this RMS (the level of a quiet
# detector's self-noise), so calls get the same amplitudes as over a real noise floor.
_SILENT_REF_RMS = 3e-4
_CLIP = 0.99


# ----------------------------------------------------------------------------- call types


@dataclass(frozen=True)
class CallType:
    """Species-like parameter ranges of one call design (frequencies in Hz, times in s).

    ``peak_freq`` means: ``fm``, the frequency at the envelope maximum; ``fm_qcf``/``qcf``,
    the middle of the shallow tail (the tail runs from ``2 * peak - end`` down to ``end``);
    ``cf_fm``, the constant frequency. ``harmonics`` are (multiple, amplitude) of components
    at ``multiple * f(t)`` relative to the labelled component; multiples below 1 stand for a
    weak true fundamental where the dominant harmonic is the labelled one (Pteronotus,
    Rhinolophus, Mormoops, phyllostomids). ``fm_fraction`` is the share of the call in the
    steep sweep (``fm_qcf``/``qcf``) or in each of the two sweeps (``cf_fm``). ``alternation``
    raises every second call of a pass by that fraction (Molossus-like frequency alternation).
    """

    name: str
    kind: CallKind
    start_freq: Range
    end_freq: Range
    peak_freq: Range
    duration: Range
    interval: Range
    harmonics: tuple[tuple[float, float], ...] = ((2.0, 0.2), (3.0, 0.07))
    fm_fraction: Range = (0.0, 0.0)
    sweep: SweepLaw = "hyperbolic"
    alternation: float = 0.0
    regions: tuple[str, ...] = ()
    description: str = ""

    @property
    def min_sample_rate(self) -> int:
        """The lowest real-time sample rate that holds the fundamental, Doppler included."""
        top = max(self.start_freq[1], self.end_freq[1], self.peak_freq[1]) * (1 + self.alternation)
        return int(np.ceil(2 * top * _MAX_DOPPLER / _NYQUIST_USE))


def _ct(name: str, kind: CallKind, start: Range, end: Range, peak: Range, dur_ms: Range,
        ipi_ms: Range, **kw) -> CallType:
    """Table shorthand: frequencies in kHz, times in ms."""
    khz = lambda r: (r[0] * 1e3, r[1] * 1e3)  # noqa: E731
    ms = lambda r: (r[0] * 1e-3, r[1] * 1e-3)  # noqa: E731
    return CallType(name, kind, khz(start), khz(end), khz(peak), ms(dur_ms), ms(ipi_ms), **kw)


# Search-phase calls, rounded from published ranges (see docs/synthetic-bat-calls.md). The
# harmonic levels keep >= ~93 % of each call's energy in the labelled component.
CALL_TYPES: dict[str, CallType] = {ct.name: ct for ct in (
    _ct("myotis_fm", "fm", (85, 115), (30, 45), (45, 60), (2, 5), (60, 110),
        harmonics=((2.0, 0.2), (3.0, 0.07)), regions=("MX", "CO", "UK"),
        description="Myotis-like steep downward FM sweep"),
    _ct("phyllostomid_fm", "fm", (95, 115), (55, 70), (70, 85), (0.8, 2.0), (30, 70),
        harmonics=((0.5, 0.1), (1.5, 0.15)), sweep="exponential", regions=("MX", "CO"),
        description="Carollia/Artibeus-like short, faint, multi-harmonic FM; "
                    "the dominant (2nd) harmonic is labelled"),
    _ct("pipistrellus_qcf", "fm_qcf", (60, 80), (43, 52), (45, 55), (4, 8), (60, 110),
        harmonics=((2.0, 0.15),), fm_fraction=(0.3, 0.5), regions=("UK",),
        description="Pipistrellus-like FM into a QCF tail at 45-55 kHz"),
    _ct("eptesicus_fmqcf", "fm_qcf", (45, 60), (24, 30), (27, 33), (6, 14), (100, 180),
        harmonics=((2.0, 0.2), (3.0, 0.07)), fm_fraction=(0.3, 0.5), regions=("MX", "CO", "UK"),
        description="Eptesicus-like FM-QCF ending near 28 kHz"),
    _ct("lasiurus_qcf", "fm_qcf", (45, 60), (33, 38), (35, 42), (6, 11), (80, 150),
        harmonics=((2.0, 0.15),), fm_fraction=(0.2, 0.4), regions=("MX", "CO"),
        description="Lasiurus (blossevillii/borealis group)-like QCF at 35-40 kHz"),
    _ct("tadarida_qcf", "qcf", (27, 35), (22, 26), (23, 28), (8, 16), (120, 250),
        harmonics=((2.0, 0.15), (3.0, 0.05)), fm_fraction=(0.1, 0.25), regions=("MX", "CO"),
        description="Tadarida brasiliensis-like shallow QCF near 25 kHz"),
    _ct("molossus_qcf", "qcf", (36, 44), (30, 35), (32, 37), (6, 12), (70, 150),
        harmonics=((2.0, 0.15),), fm_fraction=(0.1, 0.25), alternation=0.15,
        regions=("MX", "CO"),
        description="Molossus-like low QCF; consecutive calls alternate in frequency"),
    _ct("pteronotus_cf60", "cf_fm", (52, 57), (48, 54), (58, 63), (18, 30), (50, 90),
        harmonics=((0.5, 0.03), (1.5, 0.15)), fm_fraction=(0.06, 0.12), regions=("MX", "CO"),
        description="Pteronotus parnellii-complex-like (P. mesoamericanus) CF-FM; dominant "
                    "2nd harmonic at ~60 kHz labelled"),
    _ct("mormoops_qcf_fm", "cf_fm", (54, 59), (43, 48), (51, 56), (3, 7), (35, 80),
        harmonics=((0.5, 0.05), (1.5, 0.1)), fm_fraction=(0.25, 0.35), regions=("MX", "CO"),
        description="Mormoops megalophylla-like short QCF ending in a downward FM; dominant "
                    "2nd harmonic labelled"),
    _ct("rhinolophus_cf83", "cf_fm", (70, 76), (66, 72), (79, 85), (40, 60), (90, 150),
        harmonics=((0.5, 0.03), (1.5, 0.1)), fm_fraction=(0.03, 0.07), regions=("UK",),
        description="Rhinolophus ferrumequinum-like long CF at ~82 kHz with brief FM ends"),
    _ct("rhinolophus_cf110", "cf_fm", (95, 102), (88, 96), (107, 114), (20, 40), (70, 110),
        harmonics=((0.5, 0.03),), fm_fraction=(0.05, 0.1), regions=("UK",),
        description="Rhinolophus hipposideros-like CF at ~110 kHz (needs >= 250 kHz sampling)"),
)}


@dataclass(frozen=True)
class CallParams:
    """The parameters one call was rendered with: received (Doppler-shifted) values, Hz and s."""

    label: str
    kind: CallKind
    start_freq: float
    end_freq: float
    peak_freq: float
    duration: float
    fm_fraction: float = 0.0
    sweep: SweepLaw = "hyperbolic"
    harmonics: tuple[tuple[float, float], ...] = ()
    doppler: float = 1.0  # factor already applied to the frequencies above
    distance_m: float | None = None  # None: no atmospheric spectral tilt

    @property
    def knee_freq(self) -> float:
        """Where the steep sweep meets the shallow tail (``fm_qcf``/``qcf``); else NaN."""
        if self.kind in ("fm_qcf", "qcf"):
            return min(2 * self.peak_freq - self.end_freq, self.start_freq)
        return float("nan")

    @property
    def low_freq(self) -> float:
        """Lowest frequency of the labelled component (bottom of its bounding box)."""
        return float(min(self.start_freq, self.end_freq, self.peak_freq))

    @property
    def high_freq(self) -> float:
        """Highest frequency of the labelled component (top of its bounding box)."""
        return float(max(self.start_freq, self.end_freq, self.peak_freq))


def _get_type(call_type: str | CallType) -> CallType:
    if isinstance(call_type, CallType):
        return call_type
    try:
        return CALL_TYPES[call_type]
    except KeyError:
        raise ValueError(f"unknown call type {call_type!r}; known: {sorted(CALL_TYPES)}") from None


_OVERRIDABLE = {"start_freq", "end_freq", "peak_freq", "duration", "fm_fraction", "sweep",
                "harmonics", "doppler", "distance_m"}


def sample_call_params(call_type: str | CallType, rng: np.random.Generator,
                       **overrides) -> CallParams:
    """Draw one call's parameters from a type's ranges; ``overrides`` fix any of them.

    Frequencies share one random quantile (plus a little independent spread) so that big and
    small individuals stay self-consistent; the peak is then clipped into the range its law
    allows. Raises ValueError for unknown types or overrides that contradict the law.
    """
    ct = _get_type(call_type)
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"unknown call parameter(s) {sorted(unknown)}; "
                        f"allowed: {sorted(_OVERRIDABLE)}")
    q = np.clip(rng.uniform() + rng.normal(0.0, 0.12, 3), 0.0, 1.0)
    draw = lambda r, u: r[0] + (r[1] - r[0]) * u  # noqa: E731
    start, end, peak = (draw(r, u) for r, u in zip((ct.start_freq, ct.end_freq, ct.peak_freq), q))
    values = dict(
        start_freq=float(start), end_freq=float(end), peak_freq=float(peak),
        duration=float(draw(ct.duration, rng.uniform())),
        fm_fraction=float(draw(ct.fm_fraction, rng.uniform())),
        sweep=ct.sweep, harmonics=tuple(ct.harmonics), doppler=1.0, distance_m=None,
    )
    doppler = float(overrides.pop("doppler", 1.0))
    values.update(overrides)
    values["harmonics"] = tuple((float(m), float(a)) for m, a in values["harmonics"])
    values = _make_consistent(ct.kind, values, fixed=set(overrides))
    params = CallParams(label=ct.name, kind=ct.kind, **values)
    return _shift(params, doppler) if doppler != 1.0 else params


def _make_consistent(kind: CallKind, v: dict, fixed: set[str]) -> dict:
    """Clip drawn values into what the frequency law needs; complain about given ones."""
    s, e, p = v["start_freq"], v["end_freq"], v["peak_freq"]
    if min(s, e, p) <= 0 or v["duration"] <= 0:
        raise ValueError("frequencies and duration must be positive")
    if v["sweep"] not in ("hyperbolic", "exponential", "linear"):
        raise ValueError(f"sweep must be hyperbolic, exponential or linear, got {v['sweep']!r}")
    if kind == "fm":
        if s <= e:
            raise ValueError(f"an fm call sweeps down: start_freq {s:.0f} <= end_freq {e:.0f}")
        lo, hi = e + 0.05 * (s - e), s - 0.05 * (s - e)
    elif kind in ("fm_qcf", "qcf"):
        if "start_freq" not in fixed:
            s = v["start_freq"] = max(s, 1.02 * e)
        if s <= e:
            raise ValueError(f"a {kind} call sweeps down: start_freq {s:.0f} <= end_freq {e:.0f}")
        lo, hi = e * 1.002, (s + e) / 2  # the tail's top (2 * peak - end) may not pass start
        if not 0 < v["fm_fraction"] < 1:
            raise ValueError(f"fm_fraction of a {kind} call must be in (0, 1)")
    else:
        lo, hi = e * 1.002, np.inf  # the terminal FM sweeps down from the CF
        if not 0 < v["fm_fraction"] < 0.5:
            raise ValueError("fm_fraction of a cf_fm call must be in (0, 0.5)")
    if "peak_freq" in fixed and not lo <= p <= hi:
        raise ValueError(f"peak_freq {p:.0f} Hz outside [{lo:.0f}, {hi:.0f}] for a {kind} call")
    v["peak_freq"] = float(np.clip(p, lo, hi))
    return v


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
    if params.high_freq >= _NYQUIST_USE * sample_rate / 2:
        raise ValueError(
            f"{params.label} reaches {params.high_freq / 1e3:.1f} kHz: needs a sample rate above "
            f"{2 * params.high_freq / _NYQUIST_USE:.0f} Hz, got {sample_rate:.0f}")


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
        alpha_ref = float(_absorption_table(np.array([params.peak_freq]))[0])
        neper = params.distance_m * np.log(10) / 20  # dB over the distance -> natural log gain
    for m, amp in ((1.0, 1.0), *params.harmonics):
        if amp <= 0 or m * params.low_freq >= 0.98 * nyquist:
            continue  # silent, or wholly removed by the anti-alias filter
        gain = amp
        if m * params.high_freq > 0.9 * nyquist:  # only components near Nyquist need the fade
            gain = amp * _antialias_gate(m * f, nyquist)
        if params.distance_m is not None:
            # Only the extra loss above the peak frequency is applied: lower components are
            # not lifted, so the labelled one stays dominant as call libraries describe it.
            gain = gain * np.exp(np.minimum(alpha_ref - _absorption_table(m * f), 0.0) * neper)
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


def _scale(params: CallParams, factor: float) -> CallParams:
    """Scale every frequency by ``factor``."""
    return replace(params, start_freq=params.start_freq * factor,
                   end_freq=params.end_freq * factor, peak_freq=params.peak_freq * factor)


def _shift(params: CallParams, doppler: float) -> CallParams:
    """Apply a Doppler factor, and record it."""
    return replace(_scale(params, doppler), doppler=params.doppler * doppler)


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


def _absorption_table(f: np.ndarray) -> np.ndarray:
    """ISO 9613-1 at the module's default atmosphere, interpolated (per-sample use is hot)."""
    grid, alpha = _absorption_grid()
    return np.interp(f, grid, alpha)


# ----------------------------------------------------------------------------- passes


@dataclass(frozen=True)
class SyntheticPass:
    """One bat's pass: its audio track (loudest call at mean power 1) and one row per call.

    ``calls`` has start_time/end_time (s), low_freq/high_freq (Hz, labelled component), label,
    start_freq, end_freq, peak_freq, duration, distance_m, doppler, level_db (call power
    relative to the loudest, dB), echo_delay_s and echo_gain (NaN without echo).
    """

    audio: np.ndarray
    calls: pd.DataFrame
    label: str
    speed_m_s: float
    closest_m: float
    centre_s: float


def synth_pass(call_type: str | CallType, sample_rate: float, rng: np.random.Generator, *,
               duration_s: float, centre_s: float | None = None, min_level_db: float = -20.0,
               echoes: bool = True, speed_m_s: float | None = None,
               closest_m: float | None = None, **overrides) -> SyntheticPass:
    """A straight fly-by past the microphone, closest at ``centre_s``, in a track of ``duration_s``.

    The bat flies at ``speed_m_s`` (default 3-8 m/s) passing ``closest_m`` (default 2-12 m)
    from the microphone. Calls are emitted every interval (drawn once per pass from the type's
    range, jittered ~8 % per call); a call is kept when it lies wholly inside the track and
    its level is no more than ``-min_level_db`` dB below the loudest one's. ``overrides`` fix
    call parameters of the whole pass (before per-call jitter, alternation and Doppler), and
    ``interval`` (s); ``doppler`` and ``distance_m`` come from the flight path.
    """
    ct = _get_type(call_type)
    if {"doppler", "distance_m"} & set(overrides):
        raise TypeError("doppler and distance_m of a pass's calls follow from its flight path")
    n = int(round(duration_s * sample_rate))
    centre = float(rng.uniform(0.1, 0.9) * duration_s if centre_s is None else centre_s)
    speed = float(rng.uniform(3.0, 8.0) if speed_m_s is None else speed_m_s)
    closest = float(rng.uniform(2.0, 12.0) if closest_m is None else closest_m)
    interval = overrides.pop("interval", None)
    base = sample_call_params(ct, rng, **overrides)
    ipi = float(rng.uniform(*ct.interval) if interval is None else interval)
    # Calls of one bat never overlap: with +-20 % duration and ~8 % interval jitter, 1.6 is safe.
    ipi = max(ipi, 1.6 * base.duration)
    # Emission times: a call near closest approach, then intervals both ways (vectorised).
    n_side = int(duration_s / (0.8 * ct.interval[0])) + 2
    steps = ipi * rng.lognormal(0.0, 0.08, (2, n_side))
    offset = rng.uniform(-0.5, 0.5) * ipi
    emit = centre + offset + np.concatenate([-np.cumsum(steps[0])[::-1], [0.0],
                                             np.cumsum(steps[1])])
    dx = speed * (emit - centre)
    r = np.hypot(closest, dx)
    radial = speed * dx / r  # dr/dt, > 0 when receding
    doppler = SPEED_OF_SOUND / (SPEED_OF_SOUND + radial)
    arrive = emit + r / SPEED_OF_SOUND
    alpha = _absorption_table(np.array([base.peak_freq]))[0]
    # Spherical spreading, absorption at the peak frequency, and a few dB of head aim.
    level = (-20 * np.log10(r / closest) - alpha * (r - closest)
             + rng.normal(0.0, 1.5, r.size))
    jitter_f = 1 + rng.normal(0.0, 0.01, r.size)
    jitter_d = np.clip(1 + rng.normal(0.0, 0.05, r.size), 0.8, 1.2)
    has_echo = echoes and rng.uniform() < 0.5
    echo_delay = float(rng.uniform(0.5e-3, 4e-3)) if has_echo else np.nan
    echo_gain = float(rng.uniform(0.1, 0.3)) if has_echo else np.nan

    audio = np.zeros(n, dtype=np.float64)
    rows, waves = [], []
    order = np.arange(r.size) - n_side  # call index relative to the one at closest approach
    for i in np.flatnonzero(level >= level.max() + min_level_db):
        p = replace(base, duration=base.duration * jitter_d[i], distance_m=float(r[i]))
        i0 = int(round(arrive[i] * sample_rate))
        if i0 < 0 or i0 + max(int(round(p.duration * sample_rate)), 2) > n:
            continue  # only calls wholly inside the track
        p = _shift(_scale(p, jitter_f[i] * (1 + ct.alternation * (order[i] % 2))), doppler[i])
        wave = render_call(p, sample_rate).astype(np.float64) * 10 ** (level[i] / 20)
        audio[i0:i0 + wave.size] += wave
        if has_echo:  # a ground/vegetation reflection: delayed, weaker copy
            j0 = i0 + int(round(echo_delay * sample_rate))
            m = max(min(wave.size, n - j0), 0)
            audio[j0:j0 + m] += echo_gain * wave[:m]
        waves.append(float(np.mean(wave ** 2)))
        rows.append(dict(
            start_time=i0 / sample_rate, end_time=(i0 + wave.size) / sample_rate,
            low_freq=p.low_freq, high_freq=p.high_freq, label=ct.name,
            start_freq=p.start_freq, end_freq=p.end_freq, peak_freq=p.peak_freq,
            duration=wave.size / sample_rate, distance_m=float(r[i]), doppler=float(doppler[i]),
            level_db=0.0, echo_delay_s=echo_delay, echo_gain=echo_gain))
    calls = pd.DataFrame(rows, columns=_PASS_COLUMNS)
    if rows:
        power = np.asarray(waves)
        audio /= np.sqrt(power.max())
        calls["level_db"] = 10 * np.log10(power / power.max())
    return SyntheticPass(audio.astype(np.float32), calls, ct.name, speed, closest, centre)


_PASS_COLUMNS = ["start_time", "end_time", "low_freq", "high_freq", "label", "start_freq",
                 "end_freq", "peak_freq", "duration", "distance_m", "doppler", "level_db",
                 "echo_delay_s", "echo_gain"]
_CALL_COLUMNS = [*_PASS_COLUMNS, "snr_db", "pass_id", "harmonics_high_freq"]


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


def _fit_background(bg: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
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


# ----------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class SyntheticRecording:
    """A synthetic recording as it would be written.

    ``sample_rate`` is the file's rate: the real-time rate divided by ``time_expansion``.
    ``events`` has exactly ``EVENT_COLUMNS`` with times in real seconds and the labelled
    component's frequency box in real Hz. ``calls`` has the same rows (same order) with extra
    detail: pass_id, snr_db, start/end/peak frequency, distance, Doppler, echo, and
    harmonics_high_freq (top of the highest component kept below Nyquist).
    """

    audio: np.ndarray
    sample_rate: int
    events: pd.DataFrame
    time_expansion: int = 1
    calls: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def real_sample_rate(self) -> int:
        return self.sample_rate * self.time_expansion

    @property
    def duration_s(self) -> float:
        """Real-time duration."""
        return len(self.audio) / self.real_sample_rate


def _events_frame(calls: pd.DataFrame) -> pd.DataFrame:
    """The sound event schema from per-call rows (recording filled in by writers).

    Built with the dtypes ``events.validate_events`` gives (a test holds them equal), without
    its per-call checks: the generator's own values are valid by construction.
    """
    n = len(calls)
    col = lambda name: calls[name].to_numpy(np.float64) if n else np.zeros(0)  # noqa: E731
    return pd.DataFrame({
        "recording": pd.Series([""] * n, dtype=str),
        "start_time": col("start_time"),
        "end_time": col("end_time"),
        "low_freq": col("low_freq"),
        "high_freq": col("high_freq"),
        "label": pd.Series(calls["label"].tolist() if n else [], dtype=str),
        "score": np.ones(n),
        "class_score": np.ones(n),
        "model": pd.Series([None] * n, dtype=object),
        "model_version": pd.Series([None] * n, dtype=object),
    }, columns=list(EVENT_COLUMNS))


def _noise_band_power(bg: np.ndarray | None, i0: int, i1: int, sample_rate: float,
                      band: tuple[float, float]) -> float:
    if bg is None:  # white reference noise: its power spreads evenly up to Nyquist
        return _SILENT_REF_RMS ** 2 * (band[1] - band[0]) / (sample_rate / 2)
    return max(band_power_at(bg, i0, i1, sample_rate, band), 1e-20)


def synth_recording(duration_s: float, sample_rate: int, *, call_types: Sequence[str],
                    rng: np.random.Generator, n_passes: int | None = None,
                    snr_db: tuple[float, float] = (0.0, 30.0),
                    background: None | str | np.ndarray = "synthetic",
                    time_expansion: int = 1, echoes: bool = True) -> SyntheticRecording:
    """A recording with ``n_passes`` passes mixed into a background.

    Args:
        duration_s: real-time length, s.
        sample_rate: real-time sample rate, Hz (the rate calls are synthesised at).
        call_types: types to draw passes from (distinct while there are enough).
        rng: the only source of randomness.
        n_passes: passes to add; None means one per entry of ``call_types``; 0 an empty
            recording (a negative).
        snr_db: each pass's SNR (that of its loudest call) is uniform in this range; calls
            that would fall below the lower bound are not emitted (the bat is out of range).
        background: None (silence; SNR then refers to white noise of RMS 3e-4), "synthetic"
            (``synth_background``), or a real 1-D recording at ``sample_rate`` (a random
            stretch of it is used, mirrored repeats if it is too short).
        time_expansion: the file's rate is ``sample_rate / time_expansion``; events stay in
            real time.
        echoes: allow echoes (each pass has one with probability 0.5).

    Returns:
        SyntheticRecording; the audio is scaled down as a whole if it would clip (SNRs hold).
    """
    if time_expansion < 1 or sample_rate % time_expansion:
        raise ValueError(f"time_expansion must be a positive divisor of sample_rate "
                         f"({sample_rate}), got {time_expansion}")
    if snr_db[0] > snr_db[1]:
        raise ValueError(f"snr_db range {snr_db} is reversed")
    types = list(call_types)
    n_passes = len(types) if n_passes is None else int(n_passes)
    if n_passes > 0 and not types:
        raise ValueError("call_types is empty but passes were asked for")
    for name in types:
        ct = _get_type(name)
        if ct.min_sample_rate > sample_rate:
            raise ValueError(f"{name} needs a sample rate of at least {ct.min_sample_rate} Hz")
    n = int(round(duration_s * sample_rate))
    if isinstance(background, str):
        if background != "synthetic":
            raise ValueError(
                f"background must be None, 'synthetic' or an array, got {background!r}")
        bg = synth_background(n, sample_rate, rng)
    elif background is None:
        bg = None
    else:
        bg = _fit_background(background, n, rng)

    # distinct types while there are enough, then round again
    picks = (rng.permutation(len(types)).tolist() * (n_passes // max(len(types), 1) + 1))
    picks = picks[:n_passes]
    # Passes cluster around one moment so that several species overlap, as at a feeding site.
    focus = rng.uniform(0.3, 0.7)
    centres = np.clip(focus + rng.uniform(-0.15, 0.15, len(picks)), 0.1, 0.9) * duration_s
    mix = np.zeros(n, dtype=np.float32) if bg is None else bg.copy()
    tables = []
    for pass_id, (k, centre) in enumerate(zip(picks, centres)):
        snr = float(rng.uniform(*snr_db))
        sp = synth_pass(types[k], sample_rate, rng, duration_s=duration_s, centre_s=centre,
                        min_level_db=snr_db[0] - snr, echoes=echoes)
        if sp.calls.empty:
            continue
        calls = sp.calls.copy()
        i0 = np.rint(calls["start_time"].to_numpy() * sample_rate).astype(int)
        i1 = np.rint(calls["end_time"].to_numpy() * sample_rate).astype(int)
        noise = np.array([_noise_band_power(bg, a, b, sample_rate, (lo, hi)) for a, b, lo, hi in
                          zip(i0, i1, calls["low_freq"], calls["high_freq"])])
        ref = int(np.argmax(calls["level_db"].to_numpy()))
        gain = np.sqrt(10 ** (snr / 10) * noise[ref])  # the loudest call has mean power 1
        mix += (gain * sp.audio).astype(np.float32)
        calls["snr_db"] = calls["level_db"] + 10 * np.log10(gain ** 2 / noise)
        calls["pass_id"] = pass_id
        calls["harmonics_high_freq"] = _harmonics_top(_get_type(types[k]), calls, sample_rate)
        tables.append(calls)
    peak = float(np.abs(mix).max()) if n else 0.0
    if peak > _CLIP:
        mix *= _CLIP / peak
    calls = (pd.concat(tables, ignore_index=True).sort_values("start_time", kind="stable")
             .reset_index(drop=True) if tables else pd.DataFrame(columns=_CALL_COLUMNS))
    return SyntheticRecording(mix, sample_rate // time_expansion, _events_frame(calls),
                              time_expansion, calls)


def _harmonics_top(ct: CallType, calls: pd.DataFrame, sample_rate: float) -> np.ndarray:
    """Top frequency of the highest component that survives the anti-alias fade, per call."""
    multiples = np.array([1.0] + [m for m, a in ct.harmonics if a > 0])
    top = calls["high_freq"].to_numpy()[:, None] * multiples[None, :]
    return np.where(top < 0.98 * sample_rate / 2, top, 0.0).max(axis=1)


# ----------------------------------------------------------------------------- writing


def _guano_chunk(fields: dict) -> bytes:
    """A RIFF ``guan`` sub-chunk holding ``fields`` serialised by the guano package."""
    g = GuanoFile()
    for key, value in fields.items():
        if value is not None:
            g[key] = value
    payload = bytes(g.serialize())  # already padded to an even length
    return b"guan" + struct.pack("<I", len(payload)) + payload


def write_recording(path: str | os.PathLike, recording: SyntheticRecording, *,
                    timestamp: dt.datetime | None = None,
                    location: tuple[float, float] | None = None,
                    guano: bool = True, extra_guano: dict | None = None) -> None:
    """Write ``recording`` atomically as 16-bit PCM WAV, with GUANO metadata if ``guano``.

    GUANO: Make "ecointegrity", Model "synthetic", Timestamp, Samplerate (real-time, i.e. TE
    times the file's rate, as the GUANO spec asks), TE, Length (real s), Species Manual ID
    (call types by number of calls, dominant first; absent for negatives), Note "synthetic",
    Temperature Ext and Humidity of the modelled atmosphere, Loc Position if given.
    """
    path = Path(path)
    audio = np.clip(recording.audio, -1.0, 1.0)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, audio, recording.sample_rate, subtype="PCM_16", format="WAV")
        if guano:
            species = _species(recording.events)
            fields = {
                "Make": "ecointegrity", "Model": "synthetic",
                "Firmware Version": f"synth {SYNTH_VERSION}",
                "Timestamp": timestamp or dt.datetime(2024, 1, 1, 20, 0, 0),
                "Samplerate": recording.real_sample_rate, "TE": recording.time_expansion,
                "Length": recording.duration_s,
                "Species Manual ID": ", ".join(species) if species else None,
                "Loc Position": tuple(location) if location is not None else None,
                "Temperature Ext": TEMPERATURE_C, "Humidity": HUMIDITY_PCT,
                "Note": "synthetic", **(extra_guano or {}),
            }
            _append_chunk(tmp, _guano_chunk(fields))


def _species(events: pd.DataFrame) -> list[str]:
    """Labels by number of calls, dominant first; ties by name so the order is reproducible."""
    counts = events["label"].value_counts(sort=False)
    return sorted(counts.index, key=lambda s: (-counts[s], s))


def _append_chunk(wav_path: str, chunk: bytes) -> None:
    """Append a RIFF sub-chunk to a WAV file and fix the RIFF size, in place.

    Done by hand rather than with GuanoFile.write so the audio is written once, by
    soundfile, inside our own atomic temporary file.
    """
    with open(wav_path, "r+b") as fh:
        fh.seek(0, os.SEEK_END)
        fh.write(chunk)
        size = fh.tell()
        fh.seek(4)
        fh.write(struct.pack("<I", size - 8))


def _load_background(item: str | os.PathLike | np.ndarray, sample_rate: int) -> np.ndarray:
    """A background as a 1-D float32 array at ``sample_rate`` (files resampled, first channel)."""
    if not isinstance(item, (str, os.PathLike)):
        return np.asarray(item, dtype=np.float32)
    data, rate = sf.read(str(item), dtype="float32", always_2d=True)
    data = data[:, 0]
    try:  # time-expanded files: their real-time rate is TE times the file's
        rate *= int(GuanoFile(str(item)).get("TE", 1) or 1)
    except (ValueError, OSError):  # not a WAV, or no readable GUANO: take the file's rate
        pass
    if rate != sample_rate:
        g = gcd(int(rate), int(sample_rate))
        data = resample_poly(data, sample_rate // g, int(rate) // g).astype(np.float32)
    return data


def write_synthetic_dataset(out_dir: str | os.PathLike, n_recordings: int, *,
                            sample_rate: int = 256000,
                            duration_s: tuple[float, float] = (1.0, 5.0),
                            call_types: Sequence[str] | None = None, seed: int = 0,
                            empty_fraction: float = 0.15, snr_db: tuple[float, float] = (0, 30),
                            backgrounds: Sequence[np.ndarray | str | os.PathLike] | None = None,
                            guano: bool = True, time_expansion: int = 1,
                            multi_species_fraction: float = 0.25,
                            location: tuple[float, float] | None = None) -> pd.DataFrame:
    """Write ``n_recordings`` WAV files and their annotations; deterministic given ``seed``.

    ``round(empty_fraction * n)`` recordings are empty (negatives); of the rest,
    ``round(multi_species_fraction * rest)`` have 2-3 overlapping passes of different types,
    the others one pass. Backgrounds: synthetic, or one of ``backgrounds`` (arrays at
    ``sample_rate`` or audio files, resampled) chosen at random per recording.

    Writes ``synth_00000.wav`` ..., ``annotations.parquet`` and ``annotations.csv`` (the event
    table, ``recording`` relative to ``out_dir``) and ``recordings.csv`` (one row per file,
    negatives included: recording, duration_s, sample_rate, time_expansion, n_events,
    species, background).

    Returns:
        The annotation table (``EVENT_COLUMNS``).
    """
    out = Path(out_dir)
    names = list(call_types) if call_types is not None else [
        k for k, ct in CALL_TYPES.items() if ct.min_sample_rate <= sample_rate]
    if not names:
        raise ValueError(f"no call type fits a sample rate of {sample_rate} Hz")
    for name in names:
        ct = _get_type(name)
        if ct.min_sample_rate > sample_rate:
            raise ValueError(f"{name} needs a sample rate of at least {ct.min_sample_rate} Hz")
    bgs = [_load_background(b, sample_rate) for b in backgrounds or ()]
    seeds = np.random.SeedSequence(seed).spawn(n_recordings + 1)
    plan = np.random.default_rng(seeds[0])
    n_empty = int(round(empty_fraction * n_recordings))
    order = plan.permutation(n_recordings)
    empty = set(order[:n_empty].tolist())
    multi = set(order[n_empty:n_empty + int(round(multi_species_fraction
                                                   * (n_recordings - n_empty)))].tolist())
    start = dt.datetime(2024, 1, 1, 20, 0, 0)

    events, manifest = [], []
    for i in range(n_recordings):
        rng = np.random.default_rng(seeds[i + 1])
        duration = float(np.round(rng.uniform(*duration_s), 3))
        k = 0 if i in empty else (int(rng.integers(2, 4)) if i in multi else 1)
        types = [names[j] for j in rng.permutation(len(names))[:max(k, 1)]]
        if bgs:
            b = int(rng.integers(len(bgs)))
            background, bg_name = bgs[b], f"backgrounds[{b}]"
        else:
            background, bg_name = "synthetic", "synthetic"
        rec = synth_recording(duration, sample_rate, call_types=types, rng=rng,
                              n_passes=min(k, len(types)), snr_db=snr_db,
                              background=background, time_expansion=time_expansion)
        name = f"synth_{i:05d}.wav"
        write_recording(out / name, rec, timestamp=start + dt.timedelta(minutes=10 * i),
                        location=location, guano=guano,
                        extra_guano={"ecointegrity|Seed": seed, "ecointegrity|Index": i})
        ev = rec.events.copy()
        ev["recording"] = name
        events.append(ev)
        manifest.append(dict(recording=name, duration_s=rec.duration_s,
                             sample_rate=rec.sample_rate, time_expansion=time_expansion,
                             n_events=len(ev), species=", ".join(_species(ev)),
                             background=bg_name))
    table = (pd.concat(events, ignore_index=True) if events else _events_frame(pd.DataFrame()))
    table = table[list(EVENT_COLUMNS)]
    with atomic_path(out / "annotations.parquet", suffix=".parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out / "annotations.csv", suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "recordings.csv", suffix=".csv") as tmp:
        pd.DataFrame(manifest).to_csv(tmp, index=False)
    return table
