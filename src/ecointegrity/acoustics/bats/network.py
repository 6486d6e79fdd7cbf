"""The bat-call network: a small fully convolutional CenterNet on spectrograms.

Input (batch, 1, 128 frequency rows of 1 kHz, T columns of 1 ms). Two strided convolutions
bring it to cells of 4 kHz x 4 ms, dilated convolutions along time widen the receptive field
to ~120 ms (a CF-FM call lasts up to 80 ms), and one head predicts per cell:

- ``heat``: the probability that a call's centre (box centre in time and frequency) lies here,
- ``size``: log of the call's duration (columns) and bandwidth (rows),
- ``offset``: where in the cell the centre lies (0..1 in time and frequency),
- ``classes``: logits over the model's classes (species or call types).

The same idea as batdetect2's (Mac Aodha et al.) heatmap-and-size design, much smaller, so
that it runs many times faster than real time on a CPU core.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CallNet", "STRIDE_T", "STRIDE_F"]

STRIDE_T = 4  # input columns per output cell (time)
STRIDE_F = 4  # input rows per output cell (frequency)


def _block(c_in: int, c_out: int, dilation: tuple[int, int] = (1, 1)) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CallNet(nn.Module):
    """Heatmap, size, offset and class outputs over a spectrogram (see the module docstring)."""

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        w = width
        self.n_classes = n_classes
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w // 2, 3, stride=2, padding=1, bias=False),  # 2 kHz x 2 ms
            nn.BatchNorm2d(w // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(w // 2, w, 3, stride=2, padding=1, bias=False),  # 4 kHz x 4 ms
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            _block(w, w, dilation=(1, 2)),
            _block(w, w, dilation=(2, 4)),
            _block(w, w, dilation=(1, 8)),
            _block(w, w),
        )
        self.head = nn.Conv2d(w, 5 + max(n_classes, 1), 1)
        # CenterNet's prior: few cells hold a centre, so start the heatmap near 0.01.
        bias = self.head.bias
        assert bias is not None  # built with bias=True; torch types it Optional
        with torch.no_grad():
            bias[0] = -4.6

    def forward(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.head(self.encoder(spec))
        return {
            "heat": out[:, :1],  # logits
            "size": out[:, 1:3],
            "offset": torch.sigmoid(out[:, 3:5]),
            "classes": out[:, 5:],
        }

    def replace_classes(self, n_classes: int) -> None:
        """A new class output (fine-tuning to another species list); everything else is kept."""
        old = self.head
        self.head = nn.Conv2d(old.in_channels, 5 + max(n_classes, 1), 1).to(old.weight.device)
        new_bias, old_bias = self.head.bias, old.bias
        assert new_bias is not None and old_bias is not None  # both built with bias=True
        with torch.no_grad():
            self.head.weight[:5] = old.weight[:5]
            new_bias[:5] = old_bias[:5]
        self.n_classes = n_classes
