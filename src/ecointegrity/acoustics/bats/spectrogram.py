"""From samples to the detector's input: real-time rate, resampling, STFT, scaling, crop.

Every recording becomes a spectrogram on one fixed grid, whatever the recorder: samples at
their real rate (time expansion undone), resampled to ``sample_rate``, an STFT of ``n_fft``
samples every ``hop`` samples, the frequency bins from ``min_freq`` upwards (``n_bins`` of
them), and a scaling that makes quiet and loud recorders alike: log magnitude with each
frequency's median over time subtracted (stationary noise - insects, electronics - goes to
zero), or PCEN (Wang et al. 2017; Lostanlen et al. 2019).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import lfilter

from .._audio import resample

__all__ = ["SpectrogramConfig", "spectrogram", "spectrogram_batch"]


@dataclass(frozen=True)
class SpectrogramConfig:
    """The spectrogram grid and scaling a model was trained with (saved with the model).

    The defaults give 1 ms columns (2 ms windows, half overlapping) and 1 kHz rows (two 500 Hz
    bins averaged) over 8-136 kHz: wide enough for the lowest molossids and the highest
    horseshoe bats, fine enough for 2 ms FM sweeps, and small enough to run far faster than
    real time on a CPU.

    Coordinates: column ``c`` spans ``[c, c + 1)`` and row ``r`` spans ``[r, r + 1)``;
    :meth:`time_at` and :meth:`freq_at` turn such (fractional) positions into seconds and Hz.
    """

    sample_rate: int = 256_000
    n_fft: int = 512
    hop: int = 256
    min_freq: float = 8_000.0
    n_bins: int = 128
    freq_pool: int = 2
    scaling: Literal["log", "pcen"] = "log"

    @property
    def seconds_per_column(self) -> float:
        return self.hop / self.sample_rate

    @property
    def hz_per_bin(self) -> float:
        """Height of a row (Hz), after pooling."""
        return self.sample_rate / self.n_fft * self.freq_pool

    @property
    def first_fft_bin(self) -> int:
        return int(round(self.min_freq * self.n_fft / self.sample_rate))

    @property
    def max_freq(self) -> float:
        return self.freq_at(self.n_bins)

    def time_at(self, column: float) -> float:
        """Seconds from the start of the samples to a column position (0.5: column 0's centre)."""
        return ((column - 0.5) * self.hop + self.n_fft / 2) / self.sample_rate

    def column_at(self, seconds: float) -> float:
        return (seconds * self.sample_rate - self.n_fft / 2) / self.hop + 0.5

    def freq_at(self, row: float) -> float:
        """Hz at a row position (0: the lower edge of row 0)."""
        return (self.first_fft_bin - 0.5) * self.sample_rate / self.n_fft + row * self.hz_per_bin

    def row_at(self, hz: float) -> float:
        return (hz - self.freq_at(0.0)) / self.hz_per_bin

    def columns(self, n_samples: int) -> int:
        """Columns of the spectrogram of ``n_samples`` samples (at ``sample_rate``)."""
        return 1 + (n_samples - self.n_fft) // self.hop if n_samples >= self.n_fft else 0

    def to_dict(self) -> dict:
        return asdict(self)


def _pcen(
    power: np.ndarray,
    *,
    time_constant_s: float,
    column_s: float,
    gain: float = 0.98,
    bias: float = 2.0,
    power_exp: float = 0.5,
    eps: float = 1e-6,
) -> np.ndarray:
    """Per-channel energy normalisation over the last axis (time); a first-order IIR smoother."""
    t_frames = time_constant_s / column_s
    b = (np.sqrt(1 + 4 * t_frames**2) - 1) / (2 * t_frames**2)
    # Start the smoother at each row's first value: no onset artefact at the start of a chunk.
    smooth, _ = lfilter([b], [1, b - 1], power, axis=-1, zi=(1 - b) * power[..., :1])
    return ((power / (eps + smooth) ** gain + bias) ** power_exp - bias**power_exp).astype(
        np.float32
    )


def spectrogram_batch(audio: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    """Spectrograms of equal-length chunks: (batch, samples) at ``config.sample_rate`` ->
    (batch, n_bins, columns) float32, low frequencies first."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if x.ndim == 1:
        x = x[None]
    x = x - x.mean(dim=-1, keepdim=True)  # DC offset of cheap recorders
    window = torch.hann_window(config.n_fft)
    spec = torch.stft(x, config.n_fft, config.hop, window=window, center=False, return_complex=True)
    lo, rows = config.first_fft_bin, config.n_bins * config.freq_pool
    power = spec[:, lo : lo + rows].abs().pow(2)
    if power.shape[1] < rows:  # a config reaching past Nyquist: zero rows, not a crash
        power = F.pad(power, (0, 0, 0, rows - power.shape[1]))
    if config.freq_pool > 1:
        power = power.reshape(power.shape[0], config.n_bins, config.freq_pool, -1).mean(dim=2)
    power_np = power.numpy()
    if config.scaling == "pcen":
        return _pcen(power_np * 2**31, time_constant_s=0.06, column_s=config.seconds_per_column)
    logp = np.log1p(power_np * 1e6).astype(np.float32)
    # Stationary noise (a row's median over the chunk) carries no calls.
    return np.maximum(logp - np.median(logp, axis=-1, keepdims=True), 0.0)


def spectrogram(audio: np.ndarray, rate: float, config: SpectrogramConfig) -> np.ndarray:
    """One recording's spectrogram (n_bins, columns); ``rate`` is the real sample rate."""
    return spectrogram_batch(
        resample(np.asarray(audio, np.float32), rate, config.sample_rate), config
    )[0]
