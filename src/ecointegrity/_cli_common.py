"""What every ``ecointegrity`` sub-command shares: the consoles, the error exit, and the
parsing of ``--bbox`` and ``--years``."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

__all__ = ["console", "err", "fail", "parse_bbox", "parse_years"]

console = Console(soft_wrap=True)  # paths and reports must stay copyable
err = Console(stderr=True, soft_wrap=True)


def fail(exc: Exception) -> NoReturn:
    """Print the error (it names the file and the problem) and exit with status 2."""
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--bbox {text!r}: expected minlon,minlat,maxlon,maxlat") from None
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        raise typer.BadParameter(f"--bbox {text!r}: expected minlon,minlat,maxlon,maxlat with min < max")
    return values  # type: ignore[return-value]


def parse_years(text: str) -> range:
    first, _, last = text.partition("/")
    try:
        return range(int(first), int(last or first) + 1)
    except ValueError:
        raise typer.BadParameter(f"--years {text!r}: expected 2020 or 2018/2022") from None
