"""``ecointegrity integrity``: ecosystem-integrity maps (their documents: ``ecointegrity report``).

The integrity package (pgmpy, LightGBM) and the reports are imported inside each command, so
that the rest of the command line starts without them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..cube import CubeError, LocalCatalog, national_grid, read_product, region_geobox
from ._common import console, fail, parse_bbox, parse_years, read_table

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from odc.geo.geobox import GeoBox

    from ..integrity import HemerobyTable

__all__ = ["integrity_app", "read_ei_maps"]

integrity_app = typer.Typer(
    help="Ecosystem integrity: Bayesian-network EI maps and reports.", no_args_is_help=True
)

INTEGRITY_PRODUCT = "ecosystem-integrity"


@integrity_app.command("map")
def integrity_map(
    bbox: Annotated[str, typer.Option(help="west,south,east,north in degrees.")],
    years: Annotated[str, typer.Option(help="A year or a range, e.g. 2021/2023.")],
    scheme: Annotated[str, typer.Option(help="Land-cover scheme of the maps (e.g. madmex-31).")],
    products_catalog: Annotated[
        Path, typer.Option(help="Annual products (NDVI, tasselled cap, WOfS).")
    ],
    landcover_catalog: Annotated[Path, typer.Option(help="Land-cover maps of the scheme.")],
    out: Annotated[
        Path, typer.Option(help="Integrity catalog (COG + STAC), model and validation.")
    ] = Path("integrity"),
    hemeroby_table: Annotated[
        str, typer.Option(help="Shipped table name or a JSON file.")
    ] = "madmex-31-hemeroby",
    train_year: Annotated[
        int | None, typer.Option(help="Year whose labels train the network (default: the last).")
    ] = None,
    evidence: Annotated[
        Path | None,
        typer.Option(help="Acoustic site evidence (Parquet/CSV of `acoustics evidence`)."),
    ] = None,
    structure: Annotated[
        Path | None, typer.Option(help="Expert arcs: adjacency CSV or YAML (default: learnt).")
    ] = None,
    cell_size: Annotated[
        float, typer.Option(help="Cell size in metres (nearest whole number of pixels).")
    ] = 250.0,
    grid: Annotated[
        str, typer.Option(help="National grid the products are on (mexico, colombia).")
    ] = "mexico",
    dem: Annotated[
        Path | None,
        typer.Option(help="DEM raster (any GDAL format): elevation min/mean/max per cell."),
    ] = None,
    zones: Annotated[
        Path | None,
        typer.Option(help="Ecoregion or life-zone raster (class codes): majority per cell."),
    ] = None,
    report: Annotated[
        bool, typer.Option(help="Also write the integrity report (reports/, HTML and PDF, es and en).")
    ] = True,
) -> None:
    """Train the network on one year's cells, validate it on spatial blocks beside LightGBM,
    map EI, its uncertainty and hemeroby for every year, and write them as products."""
    from ..integrity import load_hemeroby_table, read_adjacency, run_integrity

    try:
        area = parse_bbox(bbox)
        year_list = list(parse_years(years))
        table = load_hemeroby_table(hemeroby_table)
        geobox = region_geobox(national_grid(grid), area)
        layers = _cell_layers(
            LocalCatalog(products_catalog), LocalCatalog(landcover_catalog), geobox, year_list,
            scheme=scheme, table=table, cell_size=cell_size, dem=dem, zones=zones,
        )
        cells = None
        if evidence is not None:
            cells = _evidence_cells(evidence, next(iter(layers.values())).odc.geobox)
        arcs = read_adjacency(structure) if structure is not None else None
        out.mkdir(parents=True, exist_ok=True)
        run = run_integrity(
            layers,
            train_year=train_year or year_list[-1],
            evidence=cells,
            structure=arcs,
            table=table,
            out_catalog=LocalCatalog(out, title="ecosystem integrity"),
            model_path=out / "model.json",
        )
    except (CubeError, FileNotFoundError, ValueError, KeyError) as exc:
        fail(exc)
    console.print(
        f"EI maps {year_list[0]}-{year_list[-1]}: {len(run.items)} items in {out}; "
        f"model {out / 'model.json'}"
    )
    if run.validation is not None:
        console.print(run.validation.summary())
    if report:
        from ..reports import LANGUAGES, integrity_report, publish

        files = publish(lambda lang: integrity_report(
            run.maps, lang=lang, area_name=bbox, validation=run.validation,
            acoustic=run.acoustic, model=run.model), out / "reports", "integrity", LANGUAGES)
        console.print("integrity report: " + ", ".join(str(f) for f in files))


def _cell_layers(
    products: LocalCatalog,
    maps: LocalCatalog,
    geobox: GeoBox,
    years: list[int],
    *,
    scheme: str,
    table: HemerobyTable,
    cell_size: float,
    dem: Path | None,
    zones: Path | None,
) -> dict[int, xr.Dataset]:
    """Each year's cell layers; change is measured against the first year."""
    from ..integrity import integrity_layers, raster_on

    elevation = raster_on(dem, geobox) if dem is not None else None
    zone_codes = raster_on(zones, geobox, categorical=True) if zones is not None else None
    return {
        year: integrity_layers(
            products, maps, geobox, year, scheme=scheme, table=table, cell_size=cell_size,
            earlier_year=years[0] if year != years[0] else None,
            elevation=elevation, zones=zone_codes,
        )
        for year in years
    }


def _evidence_cells(evidence: Path, cell_grid: GeoBox) -> pd.DataFrame:
    """The acoustic site evidence (Parquet or CSV) placed on the cells of ``cell_grid``."""
    from ..integrity import evidence_on_cells

    return evidence_on_cells(read_table(evidence), cell_grid)


def read_ei_maps(catalog_root: Path) -> dict[int, xr.Dataset]:
    """Every year's EI and sd from an integrity catalog, on the grid the maps were written on."""
    # Not in the cube's public API yet: the grid an item was written on, from its proj:* fields.
    from ..cube.load import native_geobox

    if not (catalog_root / "catalog.json").exists():  # LocalCatalog would start a new one there
        raise ValueError(f"{catalog_root}: no catalog.json; "
                         "give the folder of `ecointegrity integrity map --out`")
    catalog = LocalCatalog(catalog_root)
    has_product = INTEGRITY_PRODUCT in catalog.collections()
    items = catalog.items(INTEGRITY_PRODUCT) if has_product else []
    if not items:
        raise ValueError(
            f"{catalog_root}: no ecosystem-integrity items (run `ecointegrity integrity map`)"
        )
    maps = {}
    for item in items:
        when = item.datetime or item.common_metadata.start_datetime
        if when is None:
            raise ValueError(f"{catalog_root}: item {item.id} has no date")
        geobox = native_geobox([item])
        if geobox is None:
            raise ValueError(f"{catalog_root}: item {item.id} records no grid (proj:* fields)")
        maps[when.year] = read_product(catalog, INTEGRITY_PRODUCT, when.year, geobox,
                                       ["ei", "ei_sd"])
    return maps
