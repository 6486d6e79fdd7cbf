"""The ``ecointegrity`` command: a thin layer over the package's public APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from ._cli_common import console, err, fail, parse_bbox, parse_years
from .cli_acoustics import acoustics_app
from .cli_integrity import integrity_app
from .config import get_settings
from .cube import (
    CubeError,
    LocalCatalog,
    get_profile,
    ingest_eopatch,
    ingest_geotiffs,
    ingest_stac_api,
    national_grid,
    profile_names,
    region_geobox,
    tiles_for,
)
from .landcover import (
    list_schemes,
    load_scheme,
    map_change,
    reference_labels,
    run_landcover,
    train_model,
)
from .mosaics import PRODUCT_NAMES, ProductNotSupportedError, run_mosaics

app = typer.Typer(help="Ecosystem integrity from satellites and sound.", no_args_is_help=True)
ingest_app = typer.Typer(help="Add source data to the local STAC catalog.", no_args_is_help=True)
catalog_app = typer.Typer(help="Inspect the local STAC catalog.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(catalog_app, name="catalog")
landcover_app = typer.Typer(help="Land cover and land-cover change (MAD-Mex).", no_args_is_help=True)
app.add_typer(landcover_app, name="landcover")
app.add_typer(acoustics_app, name="acoustics")
app.add_typer(integrity_app, name="integrity")


CatalogOpt = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog folder (default: from settings, <data_root>/catalog).")
]


def _catalog(path: Path | None) -> LocalCatalog:
    return LocalCatalog(path or get_settings().catalog_location)


def _version(value: bool) -> None:
    if value:
        console.print(f"ecointegrity {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Ecosystem integrity from satellites and sound."""


@app.command()
def config() -> None:
    """Show the settings in effect (environment ECOINTEGRITY_*, ecointegrity.toml, defaults)."""
    s = get_settings()
    table = Table("setting", "value")
    for name in ("data_root", "catalog_location", "database", "scheduler", "stac_api"):
        table.add_row(name, str(getattr(s, name)))
    console.print(table)


@ingest_app.command("stac")
def ingest_stac(
    collection: Annotated[str, typer.Argument(help="Collection id, e.g. landsat-c2-l2 or sentinel-2-l2a.")],
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat")],
    time: Annotated[str, typer.Option(help="Time range: 2020, 2019/2021, 2020-01-01/2020-06-30.")],
    max_cloud: Annotated[float | None, typer.Option(help="Maximum eo:cloud_cover (%).")] = None,
    limit: Annotated[int | None, typer.Option(help="Maximum number of items.")] = None,
    api: Annotated[str | None, typer.Option(help="STAC API URL (default: settings.stac_api).")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Items from a STAC API search (hrefs stay remote; loading streams the COGs)."""
    try:
        report = ingest_stac_api(_catalog(catalog), collection, bbox=parse_bbox(bbox), time=time,
                                 api_url=api or get_settings().stac_api, max_cloud=max_cloud, limit=limit)
    except CubeError as exc:
        fail(exc)
    console.print(str(report))


@ingest_app.command("folder")
def ingest_folder(
    source: Annotated[Path, typer.Argument(help="Folder of single-date, single-band GeoTIFFs.")],
    collection: Annotated[str, typer.Option(help="Collection id to add to.")],
    sensor: Annotated[str, typer.Option(help=f"Sensor profile: {', '.join(profile_names())}.")],
    pattern: Annotated[str | None, typer.Option(help="Regex with groups 'band' and 'date' on file names.")] = None,
    manifest: Annotated[Path | None, typer.Option(help="CSV with columns path,date,band instead of names.")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """A folder of GeoTIFFs: one item per date, one asset per band; broken files are listed."""
    files = [p for p in source.rglob("*") if p.suffix.lower() in (".tif", ".tiff")] if source.is_dir() else []
    kwargs = {"pattern": pattern} if pattern else {}
    try:
        with _bar() as bar:
            task = bar.add_task("checking files", total=len(files))
            report = ingest_geotiffs(_catalog(catalog), source, collection, sensor=get_profile(sensor),
                                     manifest=manifest, progress=lambda n: bar.update(task, completed=n), **kwargs)
    except CubeError as exc:
        fail(exc)
    console.print(str(report))


@ingest_app.command("eopatch")
def ingest_eopatch_cmd(
    source: Annotated[Path, typer.Argument(help="An eo-learn EOPatch folder.")],
    collection: Annotated[str, typer.Option(help="Collection id to add to.")],
    catalog: CatalogOpt = None,
) -> None:
    """The time-dependent arrays of an eo-learn EOPatch, written as COGs + items."""
    try:
        report = ingest_eopatch(_catalog(catalog), source, collection)
    except CubeError as exc:
        fail(exc)
    console.print(str(report))


@catalog_app.command("list")
def catalog_list(catalog: CatalogOpt = None) -> None:
    """Collections with their sensor, item count and time extent."""
    cat = _catalog(catalog)
    table = Table("collection", "items", "from", "to")
    for cid in cat.collections():
        coll = cat.collection(cid)
        start, end = coll.extent.temporal.intervals[0]
        table.add_row(cid, str(len(cat.item_ids(cid))), f"{start:%Y-%m-%d}" if start else "", f"{end:%Y-%m-%d}" if end else "")
    console.print(table)


@app.command()
def tiles(
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat")],
    grid: Annotated[str, typer.Option(help="National grid: mexico or colombia.")] = "mexico",
    resolution: Annotated[float, typer.Option(help="Pixel size in metres.")] = 30.0,
) -> None:
    """Tiles of a national grid covering an area."""
    table = Table("tile", "crs", "shape", "bounds")
    for tile in tiles_for(national_grid(grid, resolution), parse_bbox(bbox)):
        b = tile.geobox.boundingbox
        table.add_row(tile.id, str(tile.geobox.crs), "x".join(map(str, tile.geobox.shape)),
                      f"{b.left:.0f},{b.bottom:.0f},{b.right:.0f},{b.top:.0f}")
    console.print(table)


@app.command()
def mosaic(
    collection: Annotated[str, typer.Option(help="Source collection in the catalog.")],
    years: Annotated[str, typer.Option(help="Year or range: 2020 or 2018/2022.")],
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")] = None,
    region: Annotated[Path | None, typer.Option(help="GeoJSON file of the region (instead of --bbox).")] = None,
    products: Annotated[str | None, typer.Option(help=f"Comma-separated subset of: {', '.join(PRODUCT_NAMES)}.")] = None,
    grid: Annotated[str, typer.Option(help="National grid: mexico or colombia.")] = "mexico",
    resolution: Annotated[float, typer.Option(help="Pixel size in metres.")] = 30.0,
    overwrite: Annotated[bool, typer.Option(help="Recompute products that exist.")] = False,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'.")] = None,
    catalog: CatalogOpt = None,
    products_catalog: Annotated[Path | None, typer.Option(help="Product catalog (default <data_root>/products).")] = None,
) -> None:
    """Annual products (geomedian+MADs, tasselled cap, NDVI, NDWI, NDBI, BU, WOfS), tile by tile."""
    year_range = parse_years(years)
    area = _area(bbox, region)
    settings = get_settings()
    out = str(products_catalog or settings.data_root / "products")
    try:
        run = run_mosaics(str(_catalog(catalog).root), collection, out, tiles_for(national_grid(grid, resolution), area),
                          year_range, products=products.split(",") if products else None, overwrite=overwrite,
                          scheduler=scheduler or settings.scheduler)
    except (CubeError, ProductNotSupportedError, KeyError) as exc:
        fail(exc)
    console.print(f"{run.written} product tiles written, {run.skipped} already there; products in {out}")
    for reason in run.refused.values():
        console.print(f"[yellow]not made:[/] {reason}")
    _report_failed(run.failed)


def _region(path: Path):
    from odc.geo.geom import Geometry, unary_union

    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--region {path}: cannot read GeoJSON ({exc})") from None
    features = doc.get("features") or [doc]
    geoms = [Geometry(f.get("geometry", f), "epsg:4326") for f in features]
    return unary_union(geoms)


def _area(bbox: str | None, region: Path | None):
    if (bbox is None) == (region is None):
        raise typer.BadParameter("give exactly one of --bbox or --region")
    return parse_bbox(bbox) if bbox else _region(region)


ProductsOpt = Annotated[Path | None, typer.Option("--products-catalog", help="Product catalog (default <data_root>/products).")]
MapsOpt = Annotated[Path | None, typer.Option("--maps-catalog", help="Land-cover catalog (default <data_root>/landcover).")]
BboxOpt = Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")]
RegionOpt = Annotated[Path | None, typer.Option(help="GeoJSON file of the region (instead of --bbox).")]
GridOpt = Annotated[str, typer.Option(help="National grid: mexico or colombia.")]


def _products(path: Path | None) -> LocalCatalog:
    return LocalCatalog(path or get_settings().data_root / "products")


def _maps(path: Path | None) -> LocalCatalog:
    return LocalCatalog(path or get_settings().data_root / "landcover")


@landcover_app.command("schemes")
def landcover_schemes(qml: Annotated[Path | None, typer.Option(help="Write QGIS styles (.qml) of every scheme here.")] = None) -> None:
    """Class schemes available (packaged), optionally exporting their QGIS styles."""
    table = Table("scheme", "version", "classes", "title")
    for name in list_schemes():
        sch = load_scheme(name)
        table.add_row(sch.name, sch.version, str(len(sch.codes)), sch.title)
        if qml:
            qml.mkdir(parents=True, exist_ok=True)
            sch.to_qml(qml / f"{sch.name}.qml")
    console.print(table)


@landcover_app.command("train")
def landcover_train(
    reference: Annotated[Path, typer.Option(help="Reference polygons (GPKG, SHP, GeoParquet) or label raster.")],
    scheme: Annotated[str, typer.Option(help="Class scheme of the reference (name or JSON file).")],
    year: Annotated[int, typer.Option(help="Year of the annual products to train on.")],
    out: Annotated[Path, typer.Option(help="Model file to write (.joblib; a .json model card goes beside it).")],
    column: Annotated[str | None, typer.Option(help="Class column of reference polygons.")] = None,
    recipe: Annotated[str, typer.Option(help="Feature recipe.")] = "madmex-landsat",
    algorithm: Annotated[str, typer.Option(help="lightgbm or random_forest.")] = "lightgbm",
    per_class: Annotated[int, typer.Option(help="Samples per class (cap).")] = 2000,
    block_px: Annotated[int, typer.Option(help="Spatial block size for cross-validation (pixels).")] = 32,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: Annotated[float, typer.Option(help="Pixel size in metres.")] = 30.0,
    products_catalog: ProductsOpt = None,
) -> None:
    """Train a land-cover model on reference data; prints its spatial-block cross-validation."""
    geobox = region_geobox(national_grid(grid, resolution), _area(bbox, region))
    try:
        labels = reference_labels(reference, geobox, column=column, nodata=load_scheme(scheme).nodata)
        model = train_model(_products(products_catalog), geobox, year, labels, scheme=load_scheme(scheme).name,
                            recipe=recipe, algorithm=algorithm, per_class=per_class, block_px=block_px)
    except (CubeError, ValueError, KeyError) as exc:
        fail(exc)
    model.save(out)
    cv = model.cv_report_
    console.print(f"model {out} ({model.algorithm}, recipe {model.recipe.name}, {sum(model.class_counts_.values())} samples)")
    if cv.get("folds"):
        console.print(f"spatial-block cross-validation: overall accuracy {cv['overall_accuracy']:.3f}, kappa {cv['kappa']:.3f}")
        table = Table("class", "user's", "producer's", "F1", "support")
        for code, row in cv["per_class"].items():
            table.add_row(code, *(f"{row[k]:.3f}" if row[k] is not None else "-" for k in ("user_accuracy", "producer_accuracy", "f1")),
                          str(row["support"]))
        console.print(table)
    else:
        console.print(f"[yellow]{cv.get('note')}[/]")


@landcover_app.command("map")
def landcover_map(
    model: Annotated[Path, typer.Option(help="Model file from `landcover train`.")],
    years: Annotated[str, typer.Option(help="Year or range: 2020 or 2018/2022.")],
    mode: Annotated[str, typer.Option(help="pixel or object (SLIC segments, as MAD-Mex).")] = "pixel",
    mmu_ha: Annotated[float, typer.Option(help="Minimum mapping unit in hectares.")] = 0.5,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: Annotated[float, typer.Option(help="Pixel size in metres.")] = 30.0,
    overwrite: Annotated[bool, typer.Option(help="Recompute maps that exist.")] = False,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'.")] = None,
    products_catalog: ProductsOpt = None,
    maps_catalog: MapsOpt = None,
) -> None:
    """Land-cover maps tile by tile: class COG (with colour table) and confidence COG."""
    run = run_landcover(str(model), _products(products_catalog).root, _maps(maps_catalog).root,
                        tiles_for(national_grid(grid, resolution), _area(bbox, region)), parse_years(years),
                        mode=mode, mmu_ha=mmu_ha, overwrite=overwrite, scheduler=scheduler or get_settings().scheduler)
    console.print(f"{len(run.written)} map tiles written, {run.skipped} already there; maps in {_maps(maps_catalog).root}")
    _report_failed(run.failed)


@landcover_app.command("change")
def landcover_change(
    scheme: Annotated[str, typer.Option(help="Class scheme of the maps.")],
    before: Annotated[int, typer.Option("--from", help="First year.")],
    after: Annotated[int, typer.Option("--to", help="Second year.")],
    out: Annotated[Path, typer.Option(help="Output folder (from-to COG, GeoPackage, matrix CSV).")],
    mmu_ha: Annotated[float, typer.Option(help="Minimum mapping unit in hectares.")] = 0.5,
    no_spectral: Annotated[bool, typer.Option("--no-spectral", help="Plain post-classification comparison.")] = False,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: Annotated[float, typer.Option(help="Pixel size in metres.")] = 30.0,
    products_catalog: ProductsOpt = None,
    maps_catalog: MapsOpt = None,
) -> None:
    """Change between two years' maps, backed by spectral evidence from the geomedians."""
    geobox = region_geobox(national_grid(grid, resolution), _area(bbox, region))
    try:
        result = map_change(_maps(maps_catalog), _products(products_catalog), load_scheme(scheme).name, geobox, before, after,
                            out, mmu_ha=mmu_ha, spectral_evidence=not no_spectral)
    except (CubeError, ValueError) as exc:
        fail(exc)
    console.print(f"{int(result.result.changed.sum())} px changed; {result.raster}, {result.polygons}, {result.matrix_csv}")
    console.print(result.matrix.round(1).to_string())


def _report_failed(failed: dict[str, str]) -> None:
    if failed:
        err.print(f"[yellow]{len(failed)} tile(s) failed:[/]")
        for key, why in failed.items():
            err.print(f"  {key}: {why}")
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    products_catalog: Annotated[list[Path] | None, typer.Option(
        "--products-catalog",
        help="Product catalog to serve; repeat for several (default <data_root>/products, /landcover and /integrity).")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: settings, SQLite under data_root).")] = None,
) -> None:
    """Start the React-2-EO API (OpenAPI docs at /docs)."""
    import uvicorn

    from .web import create_app

    settings = get_settings()
    settings.data_root.mkdir(parents=True, exist_ok=True)
    catalogs = products_catalog or [_products(None).root, _maps(None).root, str(settings.data_root / "integrity")]
    api = create_app(catalogs, database_url or settings.database, settings.data_root / "animations")
    console.print(f"React-2-EO API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(api, host=host, port=port, log_level="info")


@app.command()
def demo(
    offline: Annotated[bool, typer.Option("--offline", help="Use the scene simulator, not the network.")] = False,
    data: Annotated[Path | None, typer.Option("--data", help="Local data: a STAC catalog or GeoTIFF folder.")] = None,
    sensor: Annotated[str, typer.Option(help="Sensor profile of --data GeoTIFFs.")] = "landsat-c2-l2",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("ecointegrity-demo"),
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'local'.")] = None,
    audio: Annotated[Path | None, typer.Option("--audio", help="Ultrasonic recordings for the bat part (default: synthetic).")] = None,
    audible: Annotated[Path | None, typer.Option("--audible", help="Audible recordings for the soundscape part (default: synthetic).")] = None,
    serve_after: Annotated[bool, typer.Option("--serve", help="Then serve the products (React-2-EO API).")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Run the whole chain on a small area of Mexico and print where the outputs are."""
    from .demo import run_demo

    settings = get_settings()
    try:
        result = run_demo(out, offline=offline, data=data, sensor=sensor, api_url=settings.stac_api,
                          scheduler=scheduler or settings.scheduler, say=console.print)
    except CubeError as exc:
        fail(exc)
    console.rule("ecointegrity demo: done")
    console.print(f"source:      {result.source}")
    console.print(f"catalog:     {result.catalog / 'catalog.json'}  ({result.items} items in {result.collection!r})")
    console.print(f"products:    {result.products / 'catalog.json'}")
    for path in result.outputs:
        console.print(f"  {path}")
    for reason in result.refused.values():
        console.print(f"[yellow]not made:[/] {reason}")
    for line in result.findings:
        console.print(line)
    if result.failed:
        err.print(f"[yellow]{len(result.failed)} tile(s) failed:[/]")
        for key, why in result.failed.items():
            err.print(f"  {key}: {why}")
        raise typer.Exit(1)
    from .demo import run_acoustics_demo

    bats = run_acoustics_demo(out / "acoustics", audio=audio, say=console.print)
    for line in bats.summary:
        console.print(line)
    from .demo import run_soundscape_demo

    soundscapes = run_soundscape_demo(out / "acoustics", bats=bats, audio=audible, say=console.print)
    for line in soundscapes.summary:
        console.print(line)
    from .demo import run_integrity_demo

    integrity = run_integrity_demo(out / "integrity", result, evidence=soundscapes.evidence, say=console.print)
    for line in integrity.summary if integrity else []:
        console.print(line)
    console.print("Open the COGs in QGIS, or the catalogs with pystac / QGIS's STAC browser.")
    served = [p.resolve() for p in (result.products, result.landcover, integrity and integrity.catalog) if p]
    console.print("Serve them: ecointegrity serve " + " ".join(f"--products-catalog {c}" for c in served)
                  + f" (or demo --serve: http://127.0.0.1:{port}/)")
    if serve_after:
        serve(port=port, products_catalog=served, database_url=f"sqlite:///{out.resolve() / 'react2eo.sqlite'}")


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err)
