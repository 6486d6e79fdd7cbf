"""The anthropogenic-sound network: a log-mel front end and a small CNN, one logit per class."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AnthropogenicNet", "MelFrontEnd"]


class MelFrontEnd(nn.Module):
    """Log-mel spectrogram (dB) of waveforms; ``lowpass_hz`` per example mimics a recorder
    with a lower sample rate (8 kHz AudioMoth clips have nothing above 4 kHz)."""

    # Buffers registered in __init__; declared so that they read as tensors, not as
    # nn.Module.__getattr__'s "Tensor | Module"
    mel: torch.Tensor
    window: torch.Tensor
    freqs: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, fmin: float) -> None:
        super().__init__()
        import librosa

        mel = librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=sample_rate / 2
        )
        self.register_buffer("mel", torch.from_numpy(mel).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer(
            "freqs", torch.linspace(0, sample_rate / 2, n_fft // 2 + 1), persistent=False
        )
        self.n_fft, self.hop = n_fft, hop

    def forward(self, wave: torch.Tensor, lowpass_hz: torch.Tensor | None = None) -> torch.Tensor:
        spec = torch.stft(
            wave, self.n_fft, self.hop, window=self.window, return_complex=True, center=True
        )
        power = spec.real**2 + spec.imag**2  # (batch, freq, time)
        if lowpass_hz is not None:
            keep = (self.freqs[None, :] <= lowpass_hz[:, None]).float()
            power = power * (keep + 1e-8)[:, :, None]
        mel = torch.matmul(self.mel, power)
        return 10 * torch.log10(mel + 1e-10)


class AnthropogenicNet(nn.Module):
    """Four conv blocks over a log-mel window, then mean over frequency and mean+max over time:
    ~100 k parameters, one logit per class."""

    def __init__(self, n_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(1)]  # learns the input level and spread
        c_in = 1
        for c in (width, 2 * width, 4 * width, 8 * width):
            layers += [
                nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * c_in, n_classes))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.features(logmel[:, None]).mean(dim=2)  # (batch, channels, time)
        return self.head(torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1))
