"""A bat's pass: a straight fly-by past the microphone, its calls levelled by spherical
spreading and atmospheric absorption and shifted by Doppler, with an optional echo."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .call_types import CallType, call_type_of, sample_call_params, scaled, with_doppler
from .calls import SPEED_OF_SOUND, absorption_table, render_call

__all__ = ["PASS_COLUMNS", "SyntheticPass", "synth_pass"]


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
    ct = call_type_of(call_type)
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
    alpha = absorption_table(np.array([base.peak_freq]))[0]
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
        p = with_doppler(scaled(p, jitter_f[i] * (1 + ct.alternation * (order[i] % 2))), doppler[i])
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
    calls = pd.DataFrame(rows, columns=PASS_COLUMNS)
    if rows:
        power = np.asarray(waves)
        audio /= np.sqrt(power.max())
        calls["level_db"] = 10 * np.log10(power / power.max())
    return SyntheticPass(audio.astype(np.float32), calls, ct.name, speed, closest, centre)


PASS_COLUMNS = ["start_time", "end_time", "low_freq", "high_freq", "label", "start_freq",
                 "end_freq", "peak_freq", "duration", "distance_m", "doppler", "level_db",
                 "echo_delay_s", "echo_gain"]
