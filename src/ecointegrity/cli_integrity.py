"""``ecointegrity integrity``: ecosystem-integrity maps and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import console, fail, parse_bbox, parse_years

integrity_app = typer.Typer(help="Ecosystem integrity: Bayesian-network EI maps and reports.", no_args_is_help=True)


@integrity_app.command("map")
def integrity_map(
    bbox: Annotated[str, typer.Option(help="west,south,east,north in degrees.")],
    years: Annotated[str, typer.Option(help="A year or a range, e.g. 2021/2023.")],
    scheme: Annotated[str, typer.Option(help="Land-cover scheme of the maps (e.g. madmex-31).")],
    products_catalog: Annotated[Path, typer.Option(help="Annual products (NDVI, tasselled cap, WOfS).")],
    landcover_catalog: Annotated[Path, typer.Option(help="Land-cover maps of the scheme.")],
    out: Annotated[Path, typer.Option(help="Integrity catalog (COG + STAC), model and validation.")] = Path("integrity"),
    hemeroby_table: Annotated[str, typer.Option(help="Shipped table name or a JSON file.")] = "madmex-31-hemeroby",
    train_year: Annotated[int | None, typer.Option(help="Year whose labels train the network (default: the last).")] = None,
    evidence: Annotated[Path | None, typer.Option(help="Acoustic site evidence (Parquet/CSV of `acoustics evidence`).")] = None,
    structure: Annotated[Path | None, typer.Option(help="Expert arcs: adjacency CSV or YAML (default: learnt).")] = None,
    cell_size: Annotated[float, typer.Option(help="Cell size in metres (nearest whole number of pixels).")] = 250.0,
    grid: Annotated[str, typer.Option(help="National grid the products are on (mexico, colombia).")] = "mexico",
    dem: Annotated[Path | None, typer.Option(help="DEM raster (any GDAL format): elevation min/mean/max per cell.")] = None,
    zones: Annotated[Path | None, typer.Option(help="Ecoregion or life-zone raster (class codes): majority per cell.")] = None,
    report: Annotated[bool, typer.Option(help="Also write report.html and report.pdf.")] = True,
) -> None:
    """Train the network on one year's cells, validate it on spatial blocks beside LightGBM,
    map EI, its uncertainty and hemeroby for every year, and write them as products."""
    import pandas as pd

    from .cube import LocalCatalog, national_grid, region_geobox
    from .cube.errors import CubeError
    from .integrity import load_hemeroby_table, read_adjacency
    from .integrity.report import write_report
    from .integrity.workflow import evidence_on_cells, integrity_layers, raster_on, run_integrity

    try:
        area = parse_bbox(bbox)
        year_list = list(parse_years(years))
        table = load_hemeroby_table(hemeroby_table)
        geobox = region_geobox(national_grid(grid), area)
        products, maps = LocalCatalog(products_catalog), LocalCatalog(landcover_catalog)
        elevation = raster_on(dem, geobox) if dem is not None else None
        zone_codes = raster_on(zones, geobox, categorical=True) if zones is not None else None
        layers = {y: integrity_layers(products, maps, geobox, y, scheme=scheme, table=table, cell_size=cell_size,
                                      earlier_year=year_list[0] if y != year_list[0] else None, elevation=elevation,
                                      zones=zone_codes) for y in year_list}
        cells = None
        if evidence is not None:
            ev = pd.read_parquet(evidence) if evidence.suffix.lower() in (".parquet", ".pq") else pd.read_csv(evidence)
            cells = evidence_on_cells(ev, next(iter(layers.values())).odc.geobox)
        arcs = read_adjacency(structure) if structure is not None else None
        out.mkdir(parents=True, exist_ok=True)
        run = run_integrity(layers, train_year=train_year or year_list[-1], evidence=cells, structure=arcs,
                            table=table, out_catalog=LocalCatalog(out, title="ecosystem integrity"),
                            model_path=out / "model.json")
    except (CubeError, FileNotFoundError, ValueError, KeyError) as exc:
        fail(exc)
    console.print(f"EI maps {year_list[0]}-{year_list[-1]}: {len(run.items)} items in {out}; model {out / 'model.json'}")
    if run.validation is not None:
        console.print(run.validation.summary())
    if report:
        html, pdf = write_report(run.maps, out / "report.html", area_name=bbox, validation=run.validation,
                                 acoustic=run.acoustic, model=run.model)
        console.print(f"report: {html} and {pdf}")


def _read_maps(catalog_root: Path) -> dict:
    """Every year's EI and sd from an integrity catalog, on the grid the maps were written on."""
    import numpy as np
    import rasterio
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords

    from .cube import LocalCatalog

    if not (catalog_root / "catalog.json").exists():  # LocalCatalog would start a new one there
        raise ValueError(f"{catalog_root}: no catalog.json; give the folder of `ecointegrity integrity map --out`")
    catalog = LocalCatalog(catalog_root)
    items = catalog.items("ecosystem-integrity") if "ecosystem-integrity" in catalog.collections() else []
    if not items:
        raise ValueError(f"{catalog_root}: no ecosystem-integrity items (run `ecointegrity integrity map`)")
    maps = {}
    for item in items:
        year = (item.datetime or item.common_metadata.start_datetime).year
        bands = {}
        for band in ("ei", "ei_sd"):
            with rasterio.open(item.assets[band].href) as src:
                raw = src.read(1).astype(np.float32)
                values = np.where(raw == src.nodata, np.nan, raw * src.scales[0] + src.offsets[0])
                geobox = GeoBox(raw.shape, src.transform, src.crs.to_wkt())
            bands[band] = (("y", "x"), values)
        maps[year] = xr.Dataset(bands, coords=xr_coords(geobox))
    return maps


@integrity_app.command("report")
def integrity_report(
    maps_catalog: Annotated[Path, typer.Argument(help="Integrity catalog written by `integrity map`.")],
    out: Annotated[Path, typer.Option(help="Report (HTML); the PDF goes beside it.")] = Path("integrity-report.html"),
    regions: Annotated[Path | None, typer.Option(help="Polygons to summarise (GeoPackage, GeoParquet, Shapefile).")] = None,
    name_column: Annotated[str | None, typer.Option(help="The regions' name column.")] = None,
    title: Annotated[str, typer.Option(help="Report title.")] = "Ecosystem integrity",
    area_name: Annotated[str, typer.Option(help="How the report names the area.")] = "the mapped area",
) -> None:
    """Write the report (HTML + PDF) from existing maps, for the mapped area and, given
    polygons (e.g. protected areas), for each of them."""
    import json

    import geopandas as gpd

    from .integrity import IntegrityNetwork
    from .integrity.report import write_report

    try:
        maps = _read_maps(maps_catalog)
        shapes = gpd.read_file(regions) if regions is not None else None
        model = IntegrityNetwork.load(maps_catalog / "model.json") if (maps_catalog / "model.json").exists() else None
        validation_file = maps_catalog / "validation.json"
        acoustic = json.loads(validation_file.read_text()).get("acoustic") if validation_file.exists() else None
        html, pdf = write_report(maps, out, title=title, area_name=area_name, acoustic=acoustic, model=model,
                                 regions=shapes, region_name_column=name_column)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        fail(exc)
    console.print(f"report: {html} and {pdf}")
