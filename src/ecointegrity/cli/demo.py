"""``ecointegrity demo``: the whole chain on a small area of a country (``--country``, Mexico by
default; the steps are in ``demo_job``, the reports in ``demo_reports``), then where its outputs
are and how to serve them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import get_settings
from ..cube import COUNTRIES, CubeError, country
from ._common import SchedulerOpt, console, exit_if_tiles_failed, fail
from .demo_job import (
    DEMO_YEARS,
    DemoResult,
    IntegrityDemo,
    run_acoustics_demo,
    run_demo,
    run_integrity_demo,
    run_soundscape_demo,
)
from .demo_reports import ReportsDemo, run_reports_demo
from .serve import serve

__all__ = ["demo"]


def demo(
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the scene simulator, not the network.")
    ] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="Local data: a STAC catalog or GeoTIFF folder.")
    ] = None,
    sensor: Annotated[
        str, typer.Option(help="Sensor profile of --data GeoTIFFs.")
    ] = "landsat-c2-l2",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("ecointegrity-demo"),
    scheduler: SchedulerOpt = None,
    audio: Annotated[
        Path | None,
        typer.Option(
            "--audio", help="Ultrasonic recordings for the bat part (default: synthetic)."
        ),
    ] = None,
    audible: Annotated[
        Path | None,
        typer.Option(
            "--audible", help="Audible recordings for the soundscape part (default: synthetic)."
        ),
    ] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve", help="Then serve the products (React-2-EO API).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
    country_id: Annotated[
        str,
        typer.Option(
            "--country",
            help=f"Country whose demo area and national grid to use: {', '.join(COUNTRIES)}.",
        ),
    ] = "mexico",
    years_text: Annotated[
        str,
        typer.Option(
            "--years",
            help="First and last year mapped, e.g. 2021/2023 for a quick look (default: 30 "
            "years, every sensor era of the simulator).",
        ),
    ] = f"{DEMO_YEARS[0]}/{DEMO_YEARS[1]}",
) -> None:
    """Run the whole chain on a small area of a country and print where the outputs are."""
    settings = get_settings()
    years = _years(years_text)
    try:
        area = country(country_id)  # before any work: an unknown country exits 2 at once
        result = run_demo(out, offline=offline, data=data, sensor=sensor, api_url=settings.stac_api,
                          years=years, scheduler=scheduler or settings.scheduler, country=area,
                          say=console.print)
    except CubeError as exc:
        fail(exc)
    _print_products(result)
    # The acoustic and integrity steps need the annual products: a failed tile stops here.
    exit_if_tiles_failed(result.failed)
    bats = run_acoustics_demo(out / "acoustics", audio=audio, country=area, say=console.print)
    _print_lines(bats.summary)
    soundscapes = run_soundscape_demo(out / "acoustics", bats=bats, audio=audible, country=area,
                                      say=console.print)
    _print_lines(soundscapes.summary)
    integrity = run_integrity_demo(out / "integrity", result, evidence=soundscapes.evidence,
                                   say=console.print)
    _print_lines(integrity.summary if integrity else [])
    reports = run_reports_demo(out / "reports", result, integrity,
                               evidence=soundscapes.evidence, say=console.print)
    _print_lines(reports.summary)
    served = _print_how_to_open(result, integrity, reports, port)
    if serve_after:
        database = f"sqlite:///{out.resolve() / 'react2eo.sqlite'}"
        serve(port=port, products_catalog=served, database_url=database,
              reports=reports.folder)


def _years(text: str) -> tuple[int, int]:
    """``"1996/2025"`` (or one year) as (first, last); a clear error otherwise."""
    parts = text.split("/")
    try:
        first, last = int(parts[0]), int(parts[-1])
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give years as FIRST/LAST, e.g. 2021/2023") from None
    if len(parts) > 2 or last < first:
        raise typer.BadParameter(f"{text!r}: give years as FIRST/LAST, e.g. 2021/2023")
    return first, last


def _print_products(result: DemoResult) -> None:
    console.rule("ecointegrity demo: done")
    grid = result.country.national_grid
    console.print(f"country:     {result.country.name_es} / {result.country.name_en}: "
                  f"{result.country.demo_area}, national grid {grid.name} ({grid.crs})")
    console.print(f"source:      {result.source}")
    console.print(f"catalog:     {result.catalog / 'catalog.json'}  "
                  f"({result.items} items in {result.collection!r})")
    console.print(f"products:    {result.products / 'catalog.json'}")
    # 30 years make hundreds of items: one line per product folder, files one by one
    folders: dict[Path, int] = {}
    for path in (p for p in result.outputs if not p.suffix):  # item folders
        folders[path.parent] = folders.get(path.parent, 0) + 1
    for folder, n in folders.items():
        console.print(f"  {folder}/  ({n} items)")
    for path in (p for p in result.outputs if p.suffix):
        console.print(f"  {path}")
    for reason in result.refused.values():
        console.print(f"[yellow]not made:[/] {reason}")
    _print_lines(result.findings)


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(line)


def _print_how_to_open(
    result: DemoResult, integrity: IntegrityDemo | None, reports: ReportsDemo, port: int
) -> list[str]:
    """Say how to open and serve the outputs; return the catalogs to serve."""
    console.print("Open the COGs in QGIS, or the catalogs with pystac / QGIS's STAC browser.")
    catalogs = (result.products, result.landcover, integrity and integrity.catalog)
    served = [str(path.resolve()) for path in catalogs if path]
    console.print("Serve them: ecointegrity serve "
                  + " ".join(f"--products-catalog {c}" for c in served)
                  + f" --reports {reports.folder.resolve()}"
                  + f" (or demo --serve: http://127.0.0.1:{port}/; reports at /reports)")
    return served
