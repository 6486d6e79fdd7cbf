"""Training the anthropogenic-sound detector: random windows mixing 0-2 event clips of
distinct classes (and now and then a distractor: a sound of none of the classes) into forest
backgrounds at random SNRs, multi-label BCE."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.signal import butter, fftconvolve, sosfilt

from .dataset import BACKGROUND
from .detector import ANTHROPOGENIC_CLASSES, AnthropogenicDetector
from .network import AnthropogenicNet
from .sources import OTHER, read_clip

__all__ = ["train_anthropogenic"]


def _read_row(row: Any, target: int) -> np.ndarray:
    """The clip of a clip-table row (its ``start_s``-``end_s`` part when it has one)."""
    return read_clip(
        row.path, target, getattr(row, "start_s", np.nan), getattr(row, "end_s", np.nan)
    )


@dataclass
class _Clip:
    audio: np.ndarray
    anchors: np.ndarray  # sample indices of loud 50 ms frames: a crop keeps one of them
    source: str = ""  # the dataset it comes from: a class's sources are drawn equally often


def _clip(audio: np.ndarray, rate: int, source: str = "") -> _Clip:
    frame = rate // 20
    n = max(1, len(audio) // frame)
    energy = np.array([np.mean(audio[i * frame : (i + 1) * frame] ** 2) + 1e-12 for i in range(n)])
    db = 10 * np.log10(energy)
    loud = np.flatnonzero(db >= db.max() - 10)  # the event, not the silence around it
    return _Clip(audio, loud * frame + frame // 2, source)


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
    crop at a random SNR, with random gain; in ``distractor_p`` of the windows also a
    distractor (a knock, clapping, fireworks...) that leaves the targets as they are."""

    events: dict[int, list[_Clip]]
    backgrounds: list[np.ndarray]
    size: int
    n_classes: int
    snr_db: tuple[float, float] = (-5.0, 20.0)
    rate: int = 16000
    far_p: float = 0.5  # share of event crops heard far away in a forest (see _far)
    distractors: list[_Clip] = field(default_factory=list)
    distractor_p: float = 0.3

    def __post_init__(self) -> None:
        # one dataset (hundreds of urban rounds from one test) must not drown the others
        self._by_source = {
            c: [[k for k in clips if k.source == s] for s in sorted({k.source for k in clips})]
            for c, clips in self.events.items()
        }

    def _pick(self, c: int, rng: np.random.Generator) -> _Clip:
        sources = self._by_source[c]
        clips = sources[int(rng.integers(len(sources)))]
        return clips[int(rng.integers(len(clips)))]

    def _far(self, piece: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The sound as a distant recorder under a canopy hears it: high frequencies absorbed
        (a low-pass at 1-4 kHz) and a reverberant tail (exponentially decaying noise, RT60
        0.3-1.5 s, 0.3-1 of the direct sound's level)."""
        cut = rng.uniform(1000, 4000)
        out = sosfilt(butter(2, cut, "lowpass", fs=self.rate, output="sos"), piece)
        rt60 = rng.uniform(0.3, 1.5)
        t = np.arange(int(min(rt60, 1.0) * self.rate)) / self.rate
        tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
        wet = fftconvolve(out, tail)[: len(out)]
        wet *= rng.uniform(0.3, 1.0) * _rms(out) / _rms(wet)
        return (out + wet).astype(np.float32)

    def _add(self, mix: np.ndarray, bg: np.ndarray, clip: _Clip,
             rng: np.random.Generator) -> np.ndarray:
        """``mix`` with a crop of ``clip`` (heard far away in ``far_p`` of the cases) at a
        random SNR over the background ``bg``."""
        piece = _crop(clip, self.size, rng)
        if rng.random() < self.far_p:
            piece = self._far(piece, rng)
        snr = rng.uniform(*self.snr_db)
        return mix + piece * (_rms(bg) * 10 ** (snr / 20) / _rms(piece))

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
            mix = self._add(mix, bg, self._pick(int(c), rng), rng)
            target[int(c)] = 1.0
        if self.distractors and rng.random() < self.distractor_p:
            mix = self._add(mix, bg, self.distractors[int(rng.integers(len(self.distractors)))], rng)
        peak = np.abs(mix).max() + 1e-9
        mix = mix * (10 ** (rng.uniform(-30, -1) / 20) / peak)  # any recording level, never clipped
        return mix.astype(np.float32), target

    def batch(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(self.example(rng) for _ in range(n)), strict=True)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def _background_pool(
    clips: pd.DataFrame, extra: Sequence[str | Path], rate: int
) -> list[np.ndarray]:
    pool = [_read_row(r, rate) for r in clips[clips.our_class == BACKGROUND].itertuples()]
    pool += [read_clip(p, rate) for p in extra]
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
    far_p: float = 0.5,
    distractor_p: float = 0.3,
    seed: int = 0,
    threads: int | None = None,
    log_every: int = 100,
    init: AnthropogenicDetector | None = None,
    **detector_args: Any,
) -> AnthropogenicDetector:
    """A detector trained on ``train_clips`` (path, our_class rows; natural_background rows
    and ``backgrounds`` files are backgrounds, ``other`` rows distractors), multi-label BCE on
    random mixtures.

    ``lowpass_p`` of the windows lose everything above a random 3-6 kHz cut, so the model does
    not rely on content that 8 kHz recorders never capture; ``far_p`` of the event crops are
    heard as from far under a canopy (low-passed, with a reverberant tail); ``distractor_p`` of
    the windows also hold a distractor clip, with no target. A class's clips are
    drawn source by source (the ``dataset`` column), so a large source does not drown the
    others. ``init`` fine-tunes a copy of a
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
        events, _background_pool(train_clips, backgrounds, rate), det.window_samples,
        len(classes), rate=rate, far_p=far_p,
        distractors=[_clip(_read_row(r, rate), rate) for r in
                     train_clips[train_clips.our_class == OTHER].itertuples()],
        distractor_p=distractor_p,
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
            "far_p": far_p,
            "distractor_p": distractor_p,
            "distractor_clips": len(mixer.distractors),
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
                _clip(_read_row(row, rate), rate, str(getattr(row, "dataset", "")))
            )
    missing = [c for i, c in enumerate(classes) if i not in events]
    if missing:
        raise ValueError(f"no training clips for {missing}")
    return events
