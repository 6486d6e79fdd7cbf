"""The ``ecointegrity`` command: a thin layer over the package's public APIs.

One module per part (``cube``, ``landcover``, ``acoustics``, ``integrity``, ``report``,
``serve``, ``demo``); what they share (consoles, progress bars, option types, parsing, the error exit)
is in ``_common``. This module only composes them into the root app.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .. import __version__
from ..config import get_settings
from . import acoustics, cube, demo, integrity, landcover, report, serve
from ._common import console

__all__ = ["app"]

app = typer.Typer(help="Ecosystem integrity from satellites and sound.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"ecointegrity {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Ecosystem integrity from satellites and sound."""


@app.command()
def config() -> None:
    """Show the settings in effect (environment ECOINTEGRITY_*, ecointegrity.toml, defaults)."""
    settings = get_settings()
    table = Table("setting", "value")
    for name in ("data_root", "catalog_location", "database", "scheduler", "stac_api"):
        try:
            value = str(getattr(settings, name))
        except ValueError as exc:  # a setting that cannot work as given says why
            value = f"[red]{exc}[/]"
        table.add_row(name, value)
    console.print(table)


# Registration order is the order of --help: commands as before, then the groups.
# (Modules, not their functions, are imported here: `cli.demo` stays the module.)
for command in (cube.tiles, cube.mosaic, serve.serve, demo.demo):
    app.command()(command)
app.add_typer(cube.ingest_app, name="ingest")
app.add_typer(cube.catalog_app, name="catalog")
app.add_typer(landcover.landcover_app, name="landcover")
app.add_typer(acoustics.acoustics_app, name="acoustics")
app.add_typer(integrity.integrity_app, name="integrity")
app.add_typer(report.report_app, name="report")
