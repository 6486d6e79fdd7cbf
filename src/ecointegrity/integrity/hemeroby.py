"""Class-to-hemeroby tables: versioned data files, not code.

A table maps the codes of one land-cover scheme to ordinal hemeroby values (0 intact ..
``max``). The shipped tables are provisional (``"provisional": true``); institutions replace
them with their official one, a JSON file of the same shape, and every model and map records
the name and version of the table its labels came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HemerobyTable", "load_hemeroby_table", "shipped_hemeroby_tables"]

_TABLES = Path(__file__).parent / "tables"


@dataclass(frozen=True)
class HemerobyTable:
    name: str
    version: str
    scheme: str
    maximum: float
    values: dict[int, float]  # land-cover code -> hemeroby
    provisional: bool
    source: str = ""

    @property
    def label(self) -> str:
        """``name@version``, as recorded in models and maps."""
        return f"{self.name}@{self.version}" + (" (provisional)" if self.provisional else "")

    @property
    def states(self) -> list[float]:
        """The hemeroby values 0..max the latent node takes (all of them, used or not)."""
        return [float(v) for v in range(int(self.maximum) + 1)]

    def apply(self, land_cover: np.ndarray, nodata: int = 0) -> np.ndarray:
        """Hemeroby of each land-cover code (NaN for nodata and codes not in the table)."""
        codes = np.asarray(land_cover)
        lookup = np.full(max(int(codes.max(initial=0)), max(self.values)) + 1, np.nan, np.float32)
        for code, value in self.values.items():
            lookup[code] = value
        out = np.full(codes.shape, np.nan, np.float32)
        ok = (codes >= 0) & (codes != nodata)
        out[ok] = lookup[codes[ok]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "") -> HemerobyTable:
        try:
            values = {int(c["code"]): float(c["hemeroby"]) for c in data["classes"]}
            table = cls(
                str(data["name"]),
                str(data["version"]),
                str(data["scheme"]),
                float(data["max"]),
                values,
                bool(data.get("provisional", False)),
                str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{origin or 'hemeroby table'}: expected name, version, scheme, max and classes "
                f"[{{code, hemeroby}}] ({exc})"
            ) from None
        bad = {c: v for c, v in values.items() if not 0 <= v <= table.maximum}
        if bad:
            raise ValueError(f"{origin or table.name}: hemeroby outside 0..{table.maximum}: {bad}")
        return table


def shipped_hemeroby_tables() -> list[str]:
    """Names of the tables shipped with the package."""
    return sorted(p.stem for p in _TABLES.glob("*.json"))


def load_hemeroby_table(name_or_path: str | Path) -> HemerobyTable:
    """A shipped table by name (``madmex-31-hemeroby``) or a JSON file of the same shape."""
    path = Path(name_or_path)
    if not path.suffix:
        path = _TABLES / f"{name_or_path}.json"
        if not path.exists():
            raise FileNotFoundError(
                f"no hemeroby table {name_or_path!r}; shipped: {shipped_hemeroby_tables()}"
            )
    return HemerobyTable.from_dict(json.loads(path.read_text()), str(path))
