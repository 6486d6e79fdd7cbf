"""Training and fine-tuning the bat-call detector from annotated recordings.

Examples are random crops (``crop_s``) of annotated recordings, drawn near a call most of the
time, and augmented: random gain, real (or synthetic) background noise mixed in at a random
level, and two crops summed into one (overlapping passes of different bats). Targets follow
CenterNet (Zhou et al. 2019): a Gaussian bump at each call's centre cell, with the call's log
duration and log bandwidth and the centre's offset inside the cell regressed there, and its
class there. Losses: CenterNet's focal loss on the heatmap, L1 on size and offset, cross
entropy on the class (events whose label is not one of the model's classes train the detector
only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torch.nn.functional as F

from .._audio import resample
from ..errors import AudioFileError
from ..io.recordings import read_recording_metadata
from .call_types import CALL_TYPES
from .detector import BatDetector
from .network import STRIDE_F, STRIDE_T
from .spectrogram import SpectrogramConfig, spectrogram_batch
from .synth import synth_recording

__all__ = [
    "TrainingRecording",
    "load_training_recordings",
    "synthetic_training_set",
    "targets_for",
    "train_detector",
]


@dataclass
class TrainingRecording:
    """Samples at their real rate and their annotations (the project's event table)."""

    audio: np.ndarray
    sample_rate: float
    events: pd.DataFrame
    name: str = ""


def targets_for(
    events: pd.DataFrame,
    crop_start_s: float,
    n_cells_t: int,
    config: SpectrogramConfig,
    class_index: dict[str, int],
) -> dict[str, np.ndarray]:
    """CenterNet targets on the output grid (cells of the network) for the events of one crop."""
    n_cells_f = config.n_bins // STRIDE_F
    heat = np.zeros((n_cells_f, n_cells_t), np.float32)
    size = np.zeros((2, n_cells_f, n_cells_t), np.float32)
    offset = np.zeros((2, n_cells_f, n_cells_t), np.float32)
    cls = np.full((n_cells_f, n_cells_t), -1, np.int64)
    mask = np.zeros((n_cells_f, n_cells_t), bool)
    tt = np.arange(n_cells_t)[None, :]
    ff = np.arange(n_cells_f)[:, None]
    for ev in events.itertuples(index=False):
        t = config.column_at((ev.start_time + ev.end_time) / 2 - crop_start_s) / STRIDE_T
        f = config.row_at((ev.low_freq + ev.high_freq) / 2) / STRIDE_F
        ti, fi = int(math.floor(t)), int(math.floor(f))
        if not (0 <= ti < n_cells_t and 0 <= fi < n_cells_f):
            continue
        dur = max(ev.end_time - ev.start_time, 1e-4) / config.seconds_per_column  # columns
        bw = max(ev.high_freq - ev.low_freq, 100.0) / config.hz_per_bin  # rows
        sigma_t, sigma_f = max(0.7, dur / STRIDE_T / 8), max(0.7, bw / STRIDE_F / 8)
        bump = np.exp(-((tt - ti) ** 2) / (2 * sigma_t**2) - ((ff - fi) ** 2) / (2 * sigma_f**2))
        np.maximum(heat, bump.astype(np.float32), out=heat)
        heat[fi, ti] = 1.0
        size[:, fi, ti] = (math.log(dur), math.log(bw))
        offset[:, fi, ti] = (t - ti, f - fi)
        cls[fi, ti] = class_index.get(ev.label, -1)
        mask[fi, ti] = True
    return {"heat": heat, "size": size, "offset": offset, "classes": cls, "mask": mask}


def _focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's variant of the focal loss (alpha 2, beta 4), normalised by the centres."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p**2 * (1 - target) ** 4 * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


class _Sampler:
    """Augmented training crops at the model's sample rate."""

    def __init__(
        self,
        recordings: Sequence[TrainingRecording],
        config: SpectrogramConfig,
        crop_samples: int,
        backgrounds: Sequence[np.ndarray],
        rng: np.random.Generator,
    ):
        self.config, self.crop, self.rng = config, crop_samples, rng
        sr = config.sample_rate
        self.audio = [
            resample(np.asarray(r.audio, np.float32), r.sample_rate, sr) for r in recordings
        ]
        self.events = [r.events.reset_index(drop=True) for r in recordings]
        self.backgrounds = [
            resample(np.asarray(b, np.float32), sr, sr)
            for b in backgrounds
            if len(b) >= crop_samples
        ]

    def _crop(self) -> tuple[np.ndarray, pd.DataFrame]:
        rng, sr, n = self.rng, self.config.sample_rate, self.crop
        i = int(rng.integers(len(self.audio)))
        audio, events = self.audio[i], self.events[i]
        if len(audio) < n:
            audio = np.pad(audio, (0, n - len(audio)))
        if len(events) and rng.random() < 0.75:  # mostly near a call, so that centres are common
            ev = events.iloc[int(rng.integers(len(events)))]
            centre = int((ev.start_time + ev.end_time) / 2 * sr)
            start = int(np.clip(centre - rng.integers(n // 8, 7 * n // 8), 0, len(audio) - n))
        else:
            start = int(rng.integers(0, len(audio) - n + 1))
        t0 = start / sr
        inside = events[(events.start_time < t0 + n / sr) & (events.end_time > t0)].copy()
        inside[["start_time", "end_time"]] -= t0
        return audio[start : start + n] * 10 ** (rng.uniform(-20, 6) / 20), inside

    def _distractors(self, audio: np.ndarray) -> np.ndarray:
        """Sounds that are not bat calls, unlabelled, at levels like the calls': band-limited
        noise bursts (insects, rustle), upward sweeps, long tones (stridulation, electronics)
        and clicks. Real recordings are full of them; without them a detector trained on
        synthetic calls calls every blob a bat."""
        rng, sr, n = self.rng, self.config.sample_rate, self.crop
        level = max(float(np.sqrt(np.mean(audio**2))), 1e-4)
        out = audio.copy()
        for _ in range(int(rng.integers(1, 7))):
            kind = rng.choice(["burst", "burst", "upsweep", "tone", "click"])
            dur = {
                "burst": rng.uniform(0.002, 0.03),
                "upsweep": rng.uniform(0.002, 0.02),
                "tone": rng.uniform(0.05, 0.5),
                "click": rng.uniform(0.0002, 0.001),
            }[kind]
            m = max(8, min(n, int(dur * sr)))
            t = np.arange(m) / sr
            if kind == "burst":
                lo = rng.uniform(8e3, 60e3)
                spec = np.fft.rfft(rng.standard_normal(m))
                freqs = np.fft.rfftfreq(m, 1 / sr)
                spec[(freqs < lo) | (freqs > lo + rng.uniform(5e3, 40e3))] = 0
                sound = np.fft.irfft(spec, m)
            elif kind == "upsweep":
                f0 = rng.uniform(10e3, 50e3)
                f1 = f0 + rng.uniform(5e3, 40e3)
                sound = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur)))
            elif kind == "tone":
                f0 = rng.uniform(9e3, 45e3)
                sound = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t)
                if rng.random() < 0.5:  # pulsed, as stridulating insects
                    sound *= np.sin(2 * np.pi * rng.uniform(20, 200) * t) > 0
            else:
                sound = rng.standard_normal(m)
            sound = sound * np.hanning(m) / max(float(np.sqrt(np.mean(sound**2))), 1e-9)
            start = int(rng.integers(0, n - m + 1))
            out[start : start + m] += (sound * level * 10 ** (rng.uniform(-10, 20) / 20)).astype(
                np.float32
            )
        return out

    def sample(self) -> tuple[np.ndarray, pd.DataFrame]:
        audio, events = self._crop()
        if self.rng.random() < 0.6:
            audio = self._distractors(audio)
        if self.rng.random() < 0.3:  # two passes at once
            other, other_events = self._crop()
            audio = audio + other
            events = pd.concat([events, other_events], ignore_index=True)
        if self.backgrounds and self.rng.random() < 0.7:
            bg = self.backgrounds[int(self.rng.integers(len(self.backgrounds)))]
            s = int(self.rng.integers(0, len(bg) - self.crop + 1))
            noise = bg[s : s + self.crop]
            level = 10 ** (self.rng.uniform(-70, -30) / 20) / max(
                float(np.sqrt(np.mean(noise**2))), 1e-9
            )
            audio = audio + noise * level
        return audio.astype(np.float32), events


def train_detector(
    recordings: Sequence[TrainingRecording],
    classes: Sequence[str],
    *,
    base: BatDetector | None = None,
    config: SpectrogramConfig | None = None,
    backgrounds: Sequence[np.ndarray] = (),
    steps: int = 1500,
    batch_size: int = 16,
    crop_s: float = 0.512,
    learning_rate: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    device: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> BatDetector:
    """Train a detector (or fine-tune ``base``: its network is kept, its class head replaced
    when the class list differs).

    Args:
        recordings: annotated recordings (real-time samples and events).
        classes: the class head's labels; events with other labels train detection only.
        backgrounds: recordings of the deployment's noise (no calls) mixed into crops.
        steps: optimiser steps of ``batch_size`` crops of ``crop_s`` seconds.
        progress: called as ``progress(step, steps, loss)``.

    Returns:
        The trained detector, with its training recipe in ``metadata``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = list(classes)
    detector = _detector_to_train(base, classes, config, width, device)
    cfg = detector.config
    crop = (
        max(STRIDE_T, round(crop_s / cfg.seconds_per_column) // STRIDE_T * STRIDE_T) - 1
    ) * cfg.hop + cfg.n_fft
    sampler = _Sampler(recordings, cfg, crop, backgrounds, rng)
    index = {c: i for i, c in enumerate(classes)}
    net, dev = detector._net, detector._torch_device
    optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=learning_rate, total_steps=steps, pct_start=0.1
    )
    net.train()
    started = time.perf_counter()
    losses = []
    for step in range(steps):
        spec, t = _training_batch(sampler, batch_size, cfg, index, dev)
        loss = _loss(net(spec), t, bool(classes))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, steps, float(np.mean(losses[-20:])))
    net.eval()
    detector.metadata.update(
        {
            "training": {
                "recordings": len(recordings),
                "events": int(sum(len(r.events) for r in recordings)),
                "backgrounds": len(backgrounds),
                "steps": steps,
                "batch_size": batch_size,
                "crop_s": crop_s,
                "learning_rate": learning_rate,
                "seed": seed,
                "fine_tuned_from": base.version if base else None,
                "final_loss": float(np.mean(losses[-50:])),
                "seconds": round(time.perf_counter() - started, 1),
            },
        }
    )
    return detector


def _training_batch(sampler: _Sampler, batch_size: int, cfg: SpectrogramConfig,
                    index: dict[str, int],
                    dev: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Spectrograms (batch, 1, rows, whole cells of columns) of augmented crops, and their
    CenterNet targets, on ``dev``."""
    batch = [sampler.sample() for _ in range(batch_size)]
    spec = spectrogram_batch(np.stack([a for a, _ in batch]), cfg)
    n_cells_t = spec.shape[-1] // STRIDE_T
    spec = spec[..., : n_cells_t * STRIDE_T]
    targets = [targets_for(ev, 0.0, n_cells_t, cfg, index) for _, ev in batch]
    t = {k: torch.from_numpy(np.stack([x[k] for x in targets])).to(dev) for k in targets[0]}
    return torch.from_numpy(spec)[:, None].to(dev), t


def _detector_to_train(
    base: BatDetector | None,
    classes: list[str],
    config: SpectrogramConfig | None,
    width: int,
    device: str | None,
) -> BatDetector:
    """``base`` (its class head replaced when the class list differs), or a new detector."""
    if base is None:
        return BatDetector(
            classes=classes, config=config or SpectrogramConfig(), width=width, device=device
        )
    if list(base.classes) != classes:
        base._net.replace_classes(len(classes))
        base.classes = classes
    base._net.to(base._torch_device)
    return base


def _loss(
    out: dict[str, torch.Tensor], t: dict[str, torch.Tensor], has_classes: bool
) -> torch.Tensor:
    """Focal loss on the heatmap; L1 on size and offset and cross entropy on the class at the
    centre cells (labelled events only)."""
    mask = t["mask"]
    loss = _focal_loss(out["heat"][:, 0], t["heat"])
    if mask.any():
        size = out["size"].permute(0, 2, 3, 1)[mask]
        offset = out["offset"].permute(0, 2, 3, 1)[mask]
        loss = loss + 0.5 * F.l1_loss(size, t["size"].permute(0, 2, 3, 1)[mask])
        loss = loss + F.l1_loss(offset, t["offset"].permute(0, 2, 3, 1)[mask])
        labelled = t["classes"][mask] >= 0
        if labelled.any() and has_classes:
            logits = out["classes"].permute(0, 2, 3, 1)[mask][labelled]
            loss = loss + 0.5 * F.cross_entropy(logits, t["classes"][mask][labelled])
    return loss


def load_training_recordings(
    annotations: pd.DataFrame,
    audio_root: str | Path | None = None,
    *,
    recordings: Sequence[str] | None = None,
) -> tuple[list[TrainingRecording], dict[str, str]]:
    """Annotated recordings for :func:`train_detector`: the audio of every recording named in
    ``annotations`` (paths absolute or relative to ``audio_root``), at its real rate.

    ``recordings`` adds files annotated as empty (no calls: negatives). Returns the recordings
    and the files that could not be read, with the reason (they are skipped, not fatal).
    """
    root = Path(audio_root) if audio_root is not None else None
    names = list(dict.fromkeys([*annotations["recording"].astype(str), *(recordings or [])]))
    out, problems = [], {}
    for name in names:
        path = Path(name) if root is None or Path(name).is_absolute() else root / name
        try:
            meta = read_recording_metadata(path)
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (AudioFileError, RuntimeError, OSError) as exc:
            problems[name] = str(getattr(exc, "reason", exc))
            continue
        te = float(meta.get("time_expansion") or 1.0)
        events = annotations[annotations["recording"].astype(str) == name]
        out.append(TrainingRecording(audio[:, 0], rate * te, events.reset_index(drop=True), name))
    return out, problems


def synthetic_training_set(
    n_recordings: int,
    *,
    seed: int = 0,
    call_types: Sequence[str] | None = None,
    sample_rate: int = 256_000,
    duration_s: tuple[float, float] = (1.0, 3.0),
    backgrounds: Sequence[np.ndarray] = (),
) -> list[TrainingRecording]:
    """Recordings from the call generator (docs/synthetic-bat-calls.md): a quarter without
    calls, the rest with one to three passes of the given call types."""
    rng = np.random.default_rng(seed)
    types = list(call_types or CALL_TYPES)
    out = []
    for i in range(n_recordings):
        k = int(rng.integers(0, 4))
        background: str | np.ndarray = "synthetic"
        if backgrounds and rng.random() < 0.5:
            background = backgrounds[int(rng.integers(len(backgrounds)))]
        rec = synth_recording(
            float(rng.uniform(*duration_s)),
            sample_rate,
            rng=rng,
            background=background,
            call_types=list(rng.choice(types, max(k, 1), replace=False)),
            n_passes=None if k else 0,
        )
        out.append(TrainingRecording(rec.audio, rec.sample_rate, rec.events, f"synthetic-{i:05d}"))
    return out
