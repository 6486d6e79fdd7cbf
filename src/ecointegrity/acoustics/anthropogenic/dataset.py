"""The shared labelled clips (ESC-50, UrbanSound8K, FSDD, chainsaw captures, forest
backgrounds) with their source groups, for group-wise train/held-out splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .detector import ANTHROPOGENIC_CLASSES

__all__ = ["BACKGROUND", "HELD_OUT_FOLDS", "SharedDataset", "load_shared_dataset"]

BACKGROUND = "natural_background"
# ESC-50/UrbanSound8K folds 2 and 5, one FSDD speaker and one chainsaw capture are held out
HELD_OUT_FOLDS = ("2", "5", "fsdd:theo", "capture:ChainSaw 2022-05-14 02_34_20")


@dataclass(frozen=True)
class SharedDataset:
    """Labelled clips (``clips``: file, our_class, dataset, group) and the split into train and
    held-out groups."""

    root: Path
    clips: pd.DataFrame

    def split(self, held_out: Sequence[str] = HELD_OUT_FOLDS) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, held-out) clips: whole groups go to one side, never single clips."""
        test = self.clips.group.isin([str(g) for g in held_out])
        return self.clips[~test].reset_index(drop=True), self.clips[test].reset_index(drop=True)


def _group(row: pd.Series) -> str:
    """The source group of a clip: its ESC-50/UrbanSound8K fold; an FSDD clip's speaker; a
    chainsaw capture's own file name, as a capture is one source recording."""
    if not pd.isna(row["fold"]):
        return str(int(row["fold"]))
    name = Path(row["file"]).stem
    if row["dataset"] == "FSDD":
        return "fsdd:" + name.split("_")[1]
    return "capture:" + name


def load_shared_dataset(root: str | Path) -> SharedDataset:
    """The shared anthropogenic clips (``root/metadata.csv``) with a ``group`` column for
    group-wise splits; absolute paths in ``path``."""
    root = Path(root)
    meta = pd.read_csv(root / "metadata.csv")
    meta = meta[meta.our_class.isin([*ANTHROPOGENIC_CLASSES, BACKGROUND])].copy()
    meta["group"] = meta.apply(_group, axis=1)
    meta["path"] = [str(root / f) for f in meta.file]
    return SharedDataset(root, meta.reset_index(drop=True))
