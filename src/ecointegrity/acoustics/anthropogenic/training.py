"""Training the anthropogenic-sound detector: random windows mixing 0-2 event clips of
distinct classes into forest backgrounds at random SNRs, multi-label BCE."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torch.nn.functional as F

from .._audio import resample
from .dataset import BACKGROUND
from .detector import ANTHROPOGENIC_CLASSES, AnthropogenicDetector
from .network import AnthropogenicNet

__all__ = ["train_anthropogenic"]


def _read_mono(path: str | Path, target: int) -> np.ndarray:
    """A whole (short) file as mono float32 at ``target`` Hz; for training clips only."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(data.mean(axis=1), rate, target)


@dataclass
class _Clip:
    audio: np.ndarray
    anchors: np.ndarray  # sample indices of loud 50 ms frames: a crop keeps one of them


def _clip(audio: np.ndarray, rate: int) -> _Clip:
    frame = rate // 20
    n = max(1, len(audio) // frame)
    energy = np.array([np.mean(audio[i * frame : (i + 1) * frame] ** 2) + 1e-12 for i in range(n)])
    db = 10 * np.log10(energy)
    loud = np.flatnonzero(db >= db.max() - 10)  # the event, not the silence around it
    return _Clip(audio, loud * frame + frame // 2)


def _crop(clip: _Clip, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` piece of an event clip holding one of its loud frames, placed at random."""
    out = np.zeros(size, np.float32)
    anchor = int(rng.choice(clip.anchors))
    pos = int(rng.integers(0, size))  # where the anchor lands in the window
    lo = anchor - pos
    src0, dst0 = max(0, lo), max(0, -lo)
    n = min(len(clip.audio) - src0, size - dst0)
    out[dst0 : dst0 + n] = clip.audio[src0 : src0 + n]
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2) + 1e-12))


@dataclass
class _Mixer:
    """Random training windows: 0-2 event clips of distinct classes mixed into a background
    crop at a random SNR, with random gain."""

    events: dict[int, list[_Clip]]
    backgrounds: list[np.ndarray]
    size: int
    n_classes: int
    snr_db: tuple[float, float] = (-5.0, 20.0)

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        bg_audio = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        if len(bg_audio) >= self.size and rng.random() < 0.9:
            start = int(rng.integers(0, len(bg_audio) - self.size + 1))
            bg = bg_audio[start : start + self.size].copy()
        else:  # plain noise now and then: the model must not need a forest behind an event
            bg = rng.standard_normal(self.size).astype(np.float32)
        bg *= 10 ** (rng.uniform(-60, -25) / 20) / _rms(bg)
        target = np.zeros(self.n_classes, np.float32)
        k = rng.choice([0, 1, 2], p=[0.25, 0.55, 0.2])
        mix = bg
        for c in rng.choice(sorted(self.events), size=k, replace=False):
            clips = self.events[int(c)]
            piece = _crop(clips[int(rng.integers(len(clips)))], self.size, rng)
            snr = rng.uniform(*self.snr_db)
            mix = mix + piece * (_rms(bg) * 10 ** (snr / 20) / _rms(piece))
            target[int(c)] = 1.0
        peak = np.abs(mix).max() + 1e-9
        mix = mix * (10 ** (rng.uniform(-30, -1) / 20) / peak)  # any recording level, never clipped
        return mix.astype(np.float32), target

    def batch(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(self.example(rng) for _ in range(n)), strict=True)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def _background_pool(
    clips: pd.DataFrame, extra: Sequence[str | Path], rate: int
) -> list[np.ndarray]:
    pool = [_read_mono(p, rate) for p in clips[clips.our_class == BACKGROUND].path]
    pool += [_read_mono(p, rate) for p in extra]
    return pool


def train_anthropogenic(
    train_clips: pd.DataFrame,
    *,
    backgrounds: Sequence[str | Path] = (),
    classes: Sequence[str] = ANTHROPOGENIC_CLASSES,
    steps: int = 1500,
    batch_size: int = 48,
    lr: float = 3e-3,
    lowpass_p: float = 0.5,
    seed: int = 0,
    threads: int | None = None,
    log_every: int = 100,
    init: AnthropogenicDetector | None = None,
    **detector_args: Any,
) -> AnthropogenicDetector:
    """A detector trained on ``train_clips`` (path, our_class rows; natural_background rows
    and ``backgrounds`` files are backgrounds), multi-label BCE on random mixtures.

    ``lowpass_p`` of the windows lose everything above a random 3-6 kHz cut, so the model does
    not rely on content that 8 kHz recorders never capture. ``init`` fine-tunes a copy of a
    trained detector (same classes) instead of starting from random weights.
    """
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    det = _detector_to_train(init, classes, detector_args)
    rate = det.sample_rate
    events = _event_clips(train_clips, classes, rate)
    mixer = _Mixer(
        events, _background_pool(train_clips, backgrounds, rate), det.window_samples, len(classes)
    )
    net, front = det._net, det.front_
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    started, cpu0 = time.perf_counter(), time.process_time()
    net.train()
    losses: list[float] = []
    for step in range(steps):
        x, y = mixer.batch(batch_size, rng)
        cut = torch.where(
            torch.rand(batch_size) < lowpass_p,
            torch.empty(batch_size).uniform_(3000, 6000),
            torch.full((batch_size,), float(rate)),
        )
        with torch.no_grad():
            spec = front(x, cut)
        loss = F.binary_cross_entropy_with_logits(net(spec), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(
                f"step {step + 1}/{steps} loss {np.mean(losses[-log_every:]):.4f} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    net.eval()
    det.metadata.update(
        training={
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "lowpass_p": lowpass_p,
            "seed": seed,
            "snr_db": list(mixer.snr_db),
            "clips_per_class": {classes[i]: len(v) for i, v in events.items()},
            "background_sources": len(mixer.backgrounds),
            "final_loss": float(np.mean(losses[-100:])),
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(time.process_time() - cpu0, 1),
        }
    )
    return det


def _detector_to_train(init: AnthropogenicDetector | None, classes: Sequence[str],
                       detector_args: dict[str, Any]) -> AnthropogenicDetector:
    """A copy of ``init`` to fine-tune (same classes), or a new detector, on the CPU."""
    if init is None:
        return AnthropogenicDetector(classes=list(classes), device="cpu", **detector_args)
    if list(init.classes) != list(classes):
        raise ValueError(
            f"fine-tuning keeps the classes of the model: {init.classes}, not {list(classes)}"
        )
    net = AnthropogenicNet(len(classes), init.width)
    net.load_state_dict(init._net.state_dict())
    return AnthropogenicDetector(
        **{**init._settings(), **detector_args},
        device="cpu",
        metadata={"base_model": init.version, "base_training": init.metadata.get("training")},
        net_=net,
    )


def _event_clips(train_clips: pd.DataFrame, classes: Sequence[str],
                 rate: int) -> dict[int, list[_Clip]]:
    """The event clips of each class (by index), read at ``rate``; every class needs one."""
    events: dict[int, list[_Clip]] = {}
    for row in train_clips.itertuples():
        if row.our_class in classes:
            events.setdefault(list(classes).index(row.our_class), []).append(
                _clip(_read_mono(row.path, rate), rate)
            )
    missing = [c for i, c in enumerate(classes) if i not in events]
    if missing:
        raise ValueError(f"no training clips for {missing}")
    return events
