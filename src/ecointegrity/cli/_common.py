"""What every ``ecointegrity`` command shares: the consoles, progress bars, the option types
used by more than one command, the parsing of ``--bbox``, ``--region`` and ``--years``, the
catalogs the options default to, and the error exits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from odc.geo.geom import Geometry, unary_union
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import get_settings
from ..cube import LocalCatalog

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BboxOpt",
    "CatalogOpt",
    "GridOpt",
    "MapsOpt",
    "ProductsOpt",
    "BAD_INPUT",
    "SOME_INPUTS_FAILED",
    "TILES_FAILED",
    "RegionOpt",
    "RequiredBboxOpt",
    "ResolutionOpt",
    "SchedulerOpt",
    "YearsOpt",
    "console",
    "err",
    "exit_if_tiles_failed",
    "fail",
    "landcover_catalog",
    "parse_area",
    "parse_bbox",
    "parse_years",
    "read_table",
    "product_catalog",
    "progress_bar",
    "source_catalog",
]

console = Console(soft_wrap=True)  # paths and reports must stay copyable
err = Console(stderr=True, soft_wrap=True)

BBOX_HELP = "minlon,minlat,maxlon,maxlat"

RequiredBboxOpt = Annotated[str, typer.Option(help=BBOX_HELP)]
BboxOpt = Annotated[str | None, typer.Option(help=BBOX_HELP)]
RegionOpt = Annotated[
    Path | None, typer.Option(help="GeoJSON file of the region (instead of --bbox).")
]
YearsOpt = Annotated[str, typer.Option(help="Year or range: 2020 or 2018/2022.")]
GridOpt = Annotated[str, typer.Option(help="National grid: mexico or colombia.")]
ResolutionOpt = Annotated[float, typer.Option(help="Pixel size in metres.")]
SchedulerOpt = Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'.")]
# Catalog options are locations (str): a folder or an object-storage URL (typer's Path would
# turn s3://bucket into s3:/bucket).
CatalogOpt = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog folder (default: from settings, <data_root>/catalog)."),
]
ProductsOpt = Annotated[
    str | None,
    typer.Option("--products-catalog", help="Product catalog (default <data_root>/products)."),
]
MapsOpt = Annotated[
    str | None,
    typer.Option("--maps-catalog", help="Land-cover catalog (default <data_root>/landcover)."),
]


def progress_bar() -> Progress:
    """A progress bar on stderr, so that stdout keeps only the results."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


#: Exit statuses: 0 done; 1 some tiles failed (the others finished); 2 a usage or bad-input
#: error (nothing done); 3 finished, but some inputs failed (listed in the summary).
TILES_FAILED, BAD_INPUT, SOME_INPUTS_FAILED = 1, 2, 3


def fail(exc: Exception) -> NoReturn:
    """Print the error (it names the file and the problem) and exit with status 2."""
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(BAD_INPUT)


def exit_if_tiles_failed(failed: dict[str, str]) -> None:
    """List the tiles that failed (the others finished) and exit with status 1, if any did."""
    if failed:
        err.print(f"[yellow]{len(failed)} tile(s) failed:[/]")
        for key, why in failed.items():
            err.print(f"  {key}: {why}")
        raise typer.Exit(TILES_FAILED)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` as four floats, min below max."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--bbox {text!r}: expected minlon,minlat,maxlon,maxlat") from None
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        raise typer.BadParameter(
            f"--bbox {text!r}: expected minlon,minlat,maxlon,maxlat with min < max"
        )
    return values  # four values: the length check above narrows the tuple


def parse_years(text: str) -> range:
    """``2020`` or ``2018/2022`` as a range of years, the last included."""
    first, _, last = text.partition("/")
    try:
        return range(int(first), int(last or first) + 1)
    except ValueError:
        raise typer.BadParameter(f"--years {text!r}: expected 2020 or 2018/2022") from None


def parse_area(
    bbox: str | None, region: Path | None
) -> tuple[float, float, float, float] | Geometry:
    """The area of ``--bbox`` or ``--region`` (exactly one of them)."""
    if bbox is not None and region is None:
        return parse_bbox(bbox)
    if region is not None and bbox is None:
        return _read_region(region)
    raise typer.BadParameter("give exactly one of --bbox or --region")


def _read_region(path: Path) -> Geometry:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--region {path}: cannot read GeoJSON ({exc})") from None
    features = doc.get("features") or [doc]
    geoms = [Geometry(f.get("geometry", f), "epsg:4326") for f in features]
    union = unary_union(geoms)
    if union is None:  # odc-geo returns None only for no geometries at all
        raise typer.BadParameter(f"--region {path}: no geometry in the GeoJSON")
    return union


def source_catalog(path: str | None) -> LocalCatalog:
    """The catalog of source data: ``--catalog``, else the settings' one."""
    return LocalCatalog(path or get_settings().catalog_location)


def product_catalog(path: str | None) -> LocalCatalog:
    """The catalog of annual products: ``--products-catalog``, else ``<data_root>/products``."""
    return LocalCatalog(path or get_settings().location("products"))


def landcover_catalog(path: str | None) -> LocalCatalog:
    """The catalog of land-cover maps: ``--maps-catalog``, else ``<data_root>/landcover``."""
    return LocalCatalog(path or get_settings().location("landcover"))


def read_table(path: Path) -> pd.DataFrame:
    """A table from Parquet (``.parquet``, ``.pq``) or CSV (anything else), e.g. site evidence."""
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)
