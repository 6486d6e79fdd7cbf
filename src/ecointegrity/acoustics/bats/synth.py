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

Modules: ``call_types`` (designs, parameter draws) <- ``calls`` (rendering, absorption) <-
``passes`` (fly-bys); ``noise`` (backgrounds, SNR) <- ``synth`` (recordings, datasets).
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from guano import GuanoFile
from scipy.signal import resample_poly

from ...io import atomic_path
from ..io.event_table import EVENT_COLUMNS
from .call_types import CALL_TYPES, CallType, call_type_of
from .calls import HUMIDITY_PCT, TEMPERATURE_C
from .noise import band_power_at, fit_background, synth_background
from .passes import PASS_COLUMNS, synth_pass

__all__ = [
    "SYNTH_VERSION",
    "SyntheticRecording",
    "synth_recording",
    "write_recording",
    "write_synthetic_dataset",
]

SYNTH_VERSION = "1.0.0"
# With no background, SNR is relative to white noise of this RMS (the level of a quiet
# detector's self-noise), so calls get the same amplitudes as over a real noise floor.
SILENT_REF_RMS = 3e-4
_CLIP = 0.99
_CALL_COLUMNS = [*PASS_COLUMNS, "snr_db", "pass_id", "harmonics_high_freq"]


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
        return SILENT_REF_RMS ** 2 * (band[1] - band[0]) / (sample_rate / 2)
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
    _check_sample_rate(types, sample_rate)
    n = int(round(duration_s * sample_rate))
    bg = _background(background, n, sample_rate, rng)

    # distinct types while there are enough, then round again
    picks = (rng.permutation(len(types)).tolist() * (n_passes // max(len(types), 1) + 1))
    picks = picks[:n_passes]
    # Passes cluster around one moment so that several species overlap, as at a feeding site.
    focus = rng.uniform(0.3, 0.7)
    centres = np.clip(focus + rng.uniform(-0.15, 0.15, len(picks)), 0.1, 0.9) * duration_s
    mix = np.zeros(n, dtype=np.float32) if bg is None else bg.copy()
    tables = []
    for pass_id, (k, centre) in enumerate(zip(picks, centres, strict=True)):
        calls = _mix_pass(mix, bg, call_type_of(types[k]), sample_rate, rng,
                          duration_s=duration_s, centre_s=centre, snr_db=snr_db, echoes=echoes)
        if calls is not None:
            calls["pass_id"] = pass_id
            calls["harmonics_high_freq"] = _harmonics_top(call_type_of(types[k]), calls,
                                                          sample_rate)
            tables.append(calls)
    peak = float(np.abs(mix).max()) if n else 0.0
    if peak > _CLIP:
        mix *= _CLIP / peak
    calls = (pd.concat(tables, ignore_index=True).sort_values("start_time", kind="stable")
             .reset_index(drop=True) if tables else pd.DataFrame(columns=_CALL_COLUMNS))
    return SyntheticRecording(mix, sample_rate // time_expansion, _events_frame(calls),
                              time_expansion, calls)


def _check_sample_rate(call_types: Sequence[str], sample_rate: float) -> None:
    for name in call_types:
        ct = call_type_of(name)
        if ct.min_sample_rate > sample_rate:
            raise ValueError(f"{name} needs a sample rate of at least {ct.min_sample_rate} Hz")


def _background(background: None | str | np.ndarray, n: int, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray | None:
    """``n`` samples of the background asked for; None for silence."""
    if isinstance(background, str):
        if background != "synthetic":
            raise ValueError(
                f"background must be None, 'synthetic' or an array, got {background!r}")
        return synth_background(n, sample_rate, rng)
    if background is None:
        return None
    return fit_background(background, n, rng)


def _mix_pass(mix: np.ndarray, bg: np.ndarray | None, call_type: CallType, sample_rate: int,
              rng: np.random.Generator, *, duration_s: float, centre_s: float,
              snr_db: tuple[float, float], echoes: bool) -> pd.DataFrame | None:
    """Add one pass to ``mix`` (in place) at an SNR drawn from ``snr_db``; its calls with their
    SNRs, or None when no call of it was loud enough."""
    snr = float(rng.uniform(*snr_db))
    sp = synth_pass(call_type, sample_rate, rng, duration_s=duration_s, centre_s=centre_s,
                    min_level_db=snr_db[0] - snr, echoes=echoes)
    if sp.calls.empty:
        return None
    calls = sp.calls.copy()
    i0 = np.rint(calls["start_time"].to_numpy() * sample_rate).astype(int)
    i1 = np.rint(calls["end_time"].to_numpy() * sample_rate).astype(int)
    bands = zip(i0, i1, calls["low_freq"], calls["high_freq"], strict=True)
    noise = np.array([_noise_band_power(bg, a, b, sample_rate, (lo, hi)) for a, b, lo, hi in bands])
    ref = int(np.argmax(calls["level_db"].to_numpy()))
    gain = np.sqrt(10 ** (snr / 10) * noise[ref])  # the loudest call has mean power 1
    mix += (gain * sp.audio).astype(np.float32)
    calls["snr_db"] = calls["level_db"] + 10 * np.log10(gain ** 2 / noise)
    return calls


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
    _check_sample_rate(names, sample_rate)
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
    background: str | np.ndarray  # a loaded array, or the name of a synthetic background
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
