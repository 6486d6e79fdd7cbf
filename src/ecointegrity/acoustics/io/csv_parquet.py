"""The event table as it is (real time, extra columns kept): CSV and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ...io import atomic_path
from .event_table import validate_events

__all__ = ["read_csv", "read_parquet", "write_csv", "write_parquet"]


def read_csv(path: Path, **_: Any) -> pd.DataFrame:
    # no default NA parsing: a recording called "NA" stays a string; "" is missing
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_events(raw)


def write_csv(df: pd.DataFrame, path: Path, **_: Any) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)


def read_parquet(path: Path, **_: Any) -> pd.DataFrame:
    return validate_events(pd.read_parquet(path))


def write_parquet(df: pd.DataFrame, path: Path, **_: Any) -> None:
    out = df.copy()
    out.attrs = {}  # parquet stores attrs as JSON; recording metadata need not survive there
    with atomic_path(path, suffix=".parquet") as tmp:
        out.to_parquet(tmp, index=False)

