"""What the PyTorch acoustic models share: where they run, and how they are saved (weights
with their settings in one ``.pt``, the same settings and metadata as a JSON card beside it,
readable without torch; both atomic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..io import atomic_path


def torch_device(device: str | None) -> torch.device:
    """The device asked for, else CUDA when present, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_version(metadata: dict[str, Any]) -> str:
    """The version a model's metadata records; ``"untrained"`` before it is saved trained."""
    return str(metadata.get("version", "untrained"))


def load_checkpoint(path: str | Path, what: str) -> dict[str, Any]:
    """The settings, metadata and weights saved by :func:`save_checkpoint` (on the CPU)."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} model at {path}") from None


def save_checkpoint(
    path: str | Path, settings: dict[str, Any], metadata: dict[str, Any], net: nn.Module
) -> dict[str, Any]:
    """Write ``path`` and its ``.json`` card; returns the metadata as saved (software and
    torch versions added)."""
    path = Path(path)
    meta = {**metadata, "software": f"ecointegrity {__version__}", "torch": str(torch.__version__)}
    state = {
        **settings,
        "metadata": meta,
        "weights": {k: v.cpu() for k, v in net.state_dict().items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
    card = {k: v for k, v in state.items() if k != "weights"}
    with atomic_path(path.with_suffix(".json"), suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(card, indent=2, default=str) + "\n")
    return meta
