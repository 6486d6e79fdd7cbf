"""Long-duration false-colour spectrograms (Towsey et al. 2014): one 24 h image per site and
local day, R = ACI, G = ENT = 1 - temporal entropy, B = event count, each per bin and minute."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from ...io import atomic_path
from ..errors import AudioFileError
from .indices import FALSE_COLOUR_INDICES, SpectralIndices, compute_spectral_indices
from .run import PARTS, part_name, read_part_spectral, row_timestamp, row_value

__all__ = ["false_colour_by_site_day", "false_colour_spectrogram"]

_MINUTES = 24 * 60
_TITLE_PX = 14
_TICKS_PX = 20


def _normalise(values: np.ndarray) -> np.ndarray:
    """0-1 after clipping at the 2nd and 98th percentiles (robust to a few loud minutes)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    low, high = np.percentile(finite, [2, 98])
    if high <= low:
        return np.where(np.isfinite(values), 0.5, 0.0)
    return np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0, 1)


def _on_grid(spectral: SpectralIndices, grid: np.ndarray) -> dict[str, np.ndarray]:
    """The per-bin arrays resampled onto ``grid`` (Hz); NaN above a segment's own band."""
    if np.array_equal(spectral.frequencies, grid):
        return spectral.values
    out = {}
    for name, array in spectral.values.items():
        rows = [np.interp(grid, spectral.frequencies, row, right=np.nan) for row in array]
        out[name] = np.asarray(rows, dtype=np.float32).reshape(len(array), len(grid))
    return out


def _channels(spectral: SpectralIndices) -> list[np.ndarray]:
    """(segments, bins) arrays for R, G, B: ACI, ENT = 1 - Ht, event count."""
    aci, ht, evn = (spectral.values[k] for k in FALSE_COLOUR_INDICES)
    return [aci, 1.0 - ht, evn]


def false_colour_spectrogram(
    spectral: SpectralIndices,
    minute_times: np.ndarray | Sequence[Any] | None,
    out_png: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Write a 24 h false-colour spectrogram: 1440 minute columns, low frequencies at the bottom.

    Each index is normalised over the whole image (percentiles 2-98) and mapped to R (ACI),
    G (1 - temporal entropy) and B (event count). Minutes without audio stay black; a strip
    below the image marks every hour (longer marks every 6 h).

    Args:
        spectral: per-bin indices of the day's segments.
        minute_times: wall-clock start of each segment (default: ``spectral.times_local``);
            only the time of day is used, NaT segments are dropped.
        out_png: the PNG to write (atomically).
        title: text drawn above the image.

    Returns:
        The PNG path.
    """
    times = pd.to_datetime(
        np.asarray(spectral.times_local if minute_times is None else minute_times)
    )
    bins = len(spectral.frequencies)
    if len(times) != len(spectral) or bins == 0:
        raise ValueError(f"{len(times)} times for {len(spectral)} segments of {bins} bins")
    rgb = np.zeros((bins, _MINUTES, 3), dtype=np.uint8)
    channels = [_normalise(c) for c in _channels(spectral)]
    for i, stamp in enumerate(times):
        if pd.isna(stamp):
            continue
        first = stamp.hour * 60 + stamp.minute
        width = max(1, int(round(float(spectral.durations_s[i]) / 60.0)))
        column = np.stack([c[i] for c in channels], axis=-1)[::-1]  # low frequencies at bottom
        rgb[:, first : min(first + width, _MINUTES)] = (column * 255).astype(np.uint8)[:, None, :]

    canvas = Image.new("RGB", (_MINUTES, _TITLE_PX + bins + _TICKS_PX), (255, 255, 255))
    canvas.paste(Image.fromarray(rgb, "RGB"), (0, _TITLE_PX))
    draw = ImageDraw.Draw(canvas)
    top_khz = float(spectral.frequencies[-1]) / 1000
    legend = f"0-{top_khz:.0f} kHz, R=ACI G=ENT B=EVN"
    draw.text((2, 1), f"{title}  ({legend})" if title else legend, fill=(0, 0, 0))
    base = _TITLE_PX + bins
    for hour in range(25):
        x = min(hour * 60, _MINUTES - 1)
        draw.line([(x, base), (x, base + (6 if hour % 6 == 0 else 3))], fill=(0, 0, 0))
        if hour % 3 == 0 and hour < 24:
            draw.text((x + 2, base + 7), f"{hour:02d}h", fill=(0, 0, 0))
    target = Path(out_png)
    with atomic_path(target, suffix=".png") as tmp:
        canvas.save(tmp, format="PNG")
    return target


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "site"


def _concat(items: list[SpectralIndices], grid: np.ndarray) -> SpectralIndices:
    values = {
        k: np.concatenate([_on_grid(s, grid)[k] for s in items]) for k in FALSE_COLOUR_INDICES
    }
    return SpectralIndices(
        frequencies=grid,
        times_local=np.concatenate([s.times_local for s in items]),
        durations_s=np.concatenate([s.durations_s for s in items]),
        values=values,
    )


def _select(spectral: SpectralIndices, mask: np.ndarray) -> SpectralIndices:
    return SpectralIndices(
        frequencies=spectral.frequencies,
        times_local=spectral.times_local[mask],
        durations_s=spectral.durations_s[mask],
        values={k: v[mask] for k, v in spectral.values.items()},
    )


def false_colour_by_site_day(
    recordings_table: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    indices_dir: str | os.PathLike | None = None,
    **options: Any,
) -> list[Path]:
    """One false-colour PNG per site and local day: ``<site>_<YYYY-MM-DD>.png``.

    Segments are grouped by their own local date, so a recording across midnight feeds two
    days. Recordings without a known start time (table or file name) are left out.

    Args:
        recordings_table: a recordings table (path, site, timestamp_local, utc_offset).
        out_dir: folder of the PNGs.
        indices_dir: a folder of :func:`indices_for_recordings`; its parts are reused instead
            of analysing the recordings again.
        **options: as for :func:`compute_indices` (``segment_s`` 60 gives one column a minute).

    Returns:
        The PNGs written, sorted.
    """
    per_site: dict[str, list[SpectralIndices]] = {}
    for _, row in recordings_table.iterrows():
        path, site = str(row["path"]), row_value(row, "site") or "site"
        part = Path(indices_dir) / PARTS / part_name(path) if indices_dir is not None else None
        try:
            if part is not None and part.exists():
                spectral = read_part_spectral(part)
            else:
                spectral = compute_spectral_indices(path, timestamp=row_timestamp(row), **options)
        except AudioFileError:
            continue
        if len(spectral):
            per_site.setdefault(str(site), []).append(spectral)

    written: list[Path] = []
    for site, items in sorted(per_site.items()):
        grid = max((s.frequencies for s in items), key=lambda f: (f[-1], len(f)))
        merged = _concat(items, grid)
        days = pd.to_datetime(merged.times_local).normalize()
        for day in sorted(d for d in set(days) if pd.notna(d)):
            mask = np.asarray(days == day)
            label = f"{_safe(site)}_{day:%Y-%m-%d}"
            target = Path(out_dir) / f"{label}.png"
            day_spectral = _select(merged, mask)
            written.append(false_colour_spectrogram(day_spectral, None, target, title=label))
    return sorted(written)
