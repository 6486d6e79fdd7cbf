"""``ecointegrity ingest``, ``catalog``, ``tiles`` and ``mosaic``: the data cube and its
annual mosaics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import get_settings
from ..cube import (
    CubeError,
    IngestReport,
    check_catalog,
    get_profile,
    ingest_eopatch,
    ingest_geotiffs,
    ingest_stac_api,
    item_years,
    national_grid,
    overview_levels,
    profile_names,
    spec_from_collection,
    tiles_for,
    update_overviews,
)
from ..cube.overviews import OVERVIEW_KEY
from ..cube.products import PRODUCT_KEY
from ..mosaics import PRODUCT_NAMES, ProductNotSupportedError, run_mosaics
from ._common import (
    SOME_INPUTS_FAILED,
    BboxOpt,
    CatalogOpt,
    GridOpt,
    ProductsOpt,
    RegionOpt,
    RequiredBboxOpt,
    ResolutionOpt,
    SchedulerOpt,
    YearsOpt,
    console,
    err,
    exit_if_tiles_failed,
    fail,
    parse_area,
    parse_bbox,
    parse_years,
    product_catalog,
    progress_bar,
    source_catalog,
)
from ._job_metrics import JobMetrics

__all__ = ["catalog_app", "ingest_app", "mosaic", "tiles"]

ingest_app = typer.Typer(help="Add source data to the local STAC catalog.", no_args_is_help=True)
catalog_app = typer.Typer(help="Inspect the local STAC catalog.", no_args_is_help=True)


@ingest_app.command("stac")
def ingest_stac(
    collection: Annotated[
        str, typer.Argument(help="Collection id, e.g. landsat-c2-l2 or sentinel-2-l2a.")
    ],
    bbox: RequiredBboxOpt,
    time: Annotated[str, typer.Option(help="Time range: 2020, 2019/2021, 2020-01-01/2020-06-30.")],
    max_cloud: Annotated[float | None, typer.Option(help="Maximum eo:cloud_cover (%).")] = None,
    limit: Annotated[int | None, typer.Option(help="Maximum number of items.")] = None,
    api: Annotated[
        str | None, typer.Option(help="STAC API URL (default: settings.stac_api).")
    ] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Items from a STAC API search (hrefs stay remote; loading streams the COGs).

    Exit status: 0 all ingested, 3 finished but some items skipped, 2 bad usage or input.
    """
    try:
        report = ingest_stac_api(
            source_catalog(catalog),
            collection,
            bbox=parse_bbox(bbox),
            time=time,
            api_url=api or get_settings().stac_api,
            max_cloud=max_cloud,
            limit=limit,
        )
    except CubeError as exc:
        fail(exc)
    _finish_ingest(report)


@ingest_app.command("folder")
def ingest_folder(
    source: Annotated[Path, typer.Argument(help="Folder of single-date, single-band GeoTIFFs.")],
    collection: Annotated[str, typer.Option(help="Collection id to add to.")],
    sensor: Annotated[str, typer.Option(help=f"Sensor profile: {', '.join(profile_names())}.")],
    pattern: Annotated[
        str | None, typer.Option(help="Regex with groups 'band' and 'date' on file names.")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="CSV with columns path,date,band instead of names.")
    ] = None,
    catalog: CatalogOpt = None,
) -> None:
    """A folder of GeoTIFFs: one item per date, one asset per band; broken files are listed.

    Exit status: 0 all ingested, 3 finished but some files skipped, 2 bad usage or input.
    """
    files = (
        [p for p in source.rglob("*") if p.suffix.lower() in (".tif", ".tiff")]
        if source.is_dir()
        else []
    )
    # Only a given pattern is passed on, so that ingest_geotiffs keeps its own default.
    kwargs = {"pattern": pattern} if pattern else {}
    try:
        with progress_bar() as bar:
            task = bar.add_task("checking files", total=len(files))
            report = ingest_geotiffs(
                source_catalog(catalog),
                source,
                collection,
                sensor=get_profile(sensor),
                manifest=manifest,
                progress=lambda n: bar.update(task, completed=n),
                **kwargs,
            )
    except CubeError as exc:
        fail(exc)
    _finish_ingest(report)


@ingest_app.command("eopatch")
def ingest_eopatch_folder(
    source: Annotated[Path, typer.Argument(help="An eo-learn EOPatch folder.")],
    collection: Annotated[str, typer.Option(help="Collection id to add to.")],
    catalog: CatalogOpt = None,
) -> None:
    """The time-dependent arrays of an eo-learn EOPatch, written as COGs + items.

    Exit status: 0 all ingested, 3 finished but some arrays skipped, 2 bad usage or input.
    """
    try:
        report = ingest_eopatch(source_catalog(catalog), source, collection)
    except CubeError as exc:
        fail(exc)
    _finish_ingest(report)


def _finish_ingest(report: IngestReport) -> None:
    """Print the report; exit 3 when inputs were skipped (the rest is ingested, but a script
    must not take a partial ingest for a whole one)."""
    console.print(str(report))
    if report.problems:
        raise typer.Exit(SOME_INPUTS_FAILED)


@catalog_app.command("list")
def catalog_list(catalog: CatalogOpt = None) -> None:
    """Collections with their sensor, item count and time extent."""
    cat = source_catalog(catalog)
    table = Table("collection", "items", "from", "to")
    for collection_id in cat.collections():
        collection = cat.collection(collection_id)
        start, end = collection.extent.temporal.intervals[0]
        table.add_row(
            collection_id,
            str(len(cat.item_ids(collection_id))),
            f"{start:%Y-%m-%d}" if start else "",
            f"{end:%Y-%m-%d}" if end else "",
        )
    console.print(table)


@catalog_app.command("check")
def catalog_check(
    catalog: CatalogOpt = None,
    collection: Annotated[
        list[str] | None, typer.Option("--collection", help="Only this collection (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write every asset's result (.csv or .parquet).")
    ] = None,
) -> None:
    """Open and fully decode every raster asset; list the missing or damaged ones.

    Exit status 0 when every asset reads, 3 when some do not (they are listed), 2 for a bad
    catalog or collection. Point --catalog at a product catalog to check what `serve` serves.
    """
    cat = source_catalog(catalog)
    with progress_bar() as bar:
        task = bar.add_task("checking", total=None)
        try:
            result = check_catalog(
                cat, collection,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except KeyError as exc:
            fail(ValueError(exc.args[0]))
    if out is not None:
        write_table = result.table.to_parquet if out.suffix == ".parquet" else result.table.to_csv
        write_table(out, index=False)
    for row in result.problems.itertuples():
        err.print(f"[red]{row.collection}/{row.item}/{row.asset}[/]: {row.problem} ({row.href})")
    console.print(str(result))
    if not result.ok:
        raise typer.Exit(SOME_INPUTS_FAILED)


@catalog_app.command("overviews")
def catalog_overviews(
    products_catalog: Annotated[
        str | None,
        typer.Argument(help="Product catalog (folder or s3:// URL; default <data_root>/products)."),
    ] = None,
    product: Annotated[
        list[str] | None, typer.Option("--product", help="Only this product (repeatable).")
    ] = None,
    years: Annotated[
        str | None, typer.Option(help="Year or range: 2020 or 2018/2022 (default: every year).")
    ] = None,
    tile_px: Annotated[
        int | None,
        typer.Option(min=16, max=4096, help="Overview tile size in pixels (default: the "
                     "product's pyramid's, else 1024, as the national grid's tiles)."),
    ] = None,
) -> None:
    """(Re)build the overview pyramids national map viewers read (120 m, 480 m, 1.92 km...).

    Product runs build them as they write tiles; this rebuilds them for catalogs written before,
    or after tiles were changed by hand. Exit status 0, or 2 for a bad catalog or product.
    """
    cat = product_catalog(products_catalog)
    names = product or [
        c for c in cat.collections()
        if PRODUCT_KEY in cat.collection(c).extra_fields
        and OVERVIEW_KEY not in cat.collection(c).extra_fields
    ]
    wanted = parse_years(years) if years else None
    table = Table("product", "year", "overview tiles", "levels")
    for name in names:
        try:
            spec_from_collection(cat, name)
            found = sorted({y for it in cat.items(name) for y in item_years(it)})
        except (CubeError, KeyError) as exc:
            fail(exc if isinstance(exc, CubeError) else ValueError(f"{name}: not a product"))
        for year in found:
            if wanted is not None and year not in wanted:
                continue
            written = update_overviews(cat, name, year, tile_px=tile_px)
            levels = ", ".join(f"{lv.resolution:g} m" for lv in overview_levels(cat, name))
            table.add_row(name, str(year), str(len(written)), levels or "none needed")
    console.print(table)


def tiles(
    bbox: RequiredBboxOpt,
    grid: GridOpt = "mexico",
    resolution: ResolutionOpt = 30.0,
) -> None:
    """Tiles of a national grid covering an area."""
    table = Table("tile", "crs", "shape", "bounds")
    for tile in tiles_for(national_grid(grid, resolution), parse_bbox(bbox)):
        bounds = tile.geobox.boundingbox
        table.add_row(
            tile.id,
            str(tile.geobox.crs),
            "x".join(map(str, tile.geobox.shape)),
            f"{bounds.left:.0f},{bounds.bottom:.0f},{bounds.right:.0f},{bounds.top:.0f}",
        )
    console.print(table)


def mosaic(
    collection: Annotated[str, typer.Option(help="Source collection in the catalog.")],
    years: YearsOpt,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    products: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated subset of: {', '.join(PRODUCT_NAMES)}."),
    ] = None,
    grid: GridOpt = "mexico",
    resolution: ResolutionOpt = 30.0,
    overwrite: Annotated[bool, typer.Option(help="Recompute products that exist.")] = False,
    scheduler: SchedulerOpt = None,
    catalog: CatalogOpt = None,
    products_catalog: ProductsOpt = None,
) -> None:
    """Annual products (geomedian+MADs, tasselled cap, NDVI, NDWI, NDBI, BU, WOfS), tile by tile."""
    year_range = parse_years(years)
    area = parse_area(bbox, region)
    settings = get_settings()
    out = str(product_catalog(products_catalog).root)
    tiles = tiles_for(national_grid(grid, resolution), area)
    metrics = JobMetrics("mosaic", "tile-year")
    metrics.planned(len(tiles) * len(year_range))
    try:
        run = run_mosaics(
            str(source_catalog(catalog).root),
            collection,
            out,
            tiles,
            year_range,
            products=products.split(",") if products else None,
            overwrite=overwrite,
            scheduler=scheduler or settings.scheduler,
            on_tile=metrics.on_tile,
        )
    except (CubeError, ProductNotSupportedError, KeyError) as exc:
        fail(exc)
    console.print(
        f"{run.written} product tiles written, {run.skipped} already there; products in {out}"
    )
    for reason in run.refused.values():
        console.print(f"[yellow]not made:[/] {reason}")
    exit_if_tiles_failed(run.failed)
