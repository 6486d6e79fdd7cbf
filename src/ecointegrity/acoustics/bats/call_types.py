"""Bat call designs: species-*like* parameter ranges (``CALL_TYPES``) and the draw of one
call's parameters from them (``sample_call_params``), kept consistent with the call's frequency
law. ``docs/synthetic-bat-calls.md`` gives the parameter table and its sources.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

__all__ = [
    "CALL_TYPES",
    "CallKind",
    "CallParams",
    "CallType",
    "MAX_DOPPLER",
    "NYQUIST_USE",
    "Range",
    "SweepLaw",
    "call_type_of",
    "sample_call_params",
    "scaled",
    "with_doppler",
]

CallKind = Literal["fm", "fm_qcf", "qcf", "cf_fm"]
SweepLaw = Literal["hyperbolic", "exponential", "linear"]
Range = tuple[float, float]

MAX_DOPPLER = 1.03  # flight speeds up to ~10 m/s shift frequencies by up to ~3 %
NYQUIST_USE = 0.95  # the fundamental must stay below this share of the Nyquist frequency


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
        return int(np.ceil(2 * top * MAX_DOPPLER / NYQUIST_USE))


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


def call_type_of(call_type: str | CallType) -> CallType:
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
    ct = call_type_of(call_type)
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"unknown call parameter(s) {sorted(unknown)}; "
                        f"allowed: {sorted(_OVERRIDABLE)}")
    q = np.clip(rng.uniform() + rng.normal(0.0, 0.12, 3), 0.0, 1.0)
    draw = lambda r, u: r[0] + (r[1] - r[0]) * u  # noqa: E731
    ranges = (ct.start_freq, ct.end_freq, ct.peak_freq)
    start, end, peak = (draw(r, u) for r, u in zip(ranges, q, strict=True))
    # Mixed value types (floats, a sweep law, harmonic pairs, None) that overrides may replace
    values: dict[str, Any] = dict(
        start_freq=float(start),
        end_freq=float(end),
        peak_freq=float(peak),
        duration=float(draw(ct.duration, rng.uniform())),
        fm_fraction=float(draw(ct.fm_fraction, rng.uniform())),
        sweep=ct.sweep,
        harmonics=tuple(ct.harmonics),
        doppler=1.0,
        distance_m=None,
    )
    doppler = float(overrides.pop("doppler", 1.0))
    values.update(overrides)
    values["harmonics"] = tuple((float(m), float(a)) for m, a in values["harmonics"])
    values = _make_consistent(ct.kind, values, fixed=set(overrides))
    params = CallParams(label=ct.name, kind=ct.kind, **values)
    return with_doppler(params, doppler) if doppler != 1.0 else params


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


def scaled(params: CallParams, factor: float) -> CallParams:
    """Scale every frequency by ``factor``."""
    return replace(
        params,
        start_freq=params.start_freq * factor,
        end_freq=params.end_freq * factor,
        peak_freq=params.peak_freq * factor,
    )


def with_doppler(params: CallParams, doppler: float) -> CallParams:
    """Apply a Doppler factor, and record it."""
    return replace(scaled(params, doppler), doppler=params.doppler * doppler)
