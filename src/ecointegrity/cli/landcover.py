"""``ecointegrity landcover``: class schemes, training, maps and change (MAD-Mex)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import get_settings
from ..cube import CubeError, national_grid, read_product, region_geobox, tiles_for
from ..landcover import (
    draw_validation_sample,
    landcover_spec,
    list_schemes,
    load_scheme,
    map_change,
    reference_labels,
    run_landcover,
    train_model,
)
from ._common import (
    BboxOpt,
    GridOpt,
    MapsOpt,
    ProductsOpt,
    RegionOpt,
    ResolutionOpt,
    SchedulerOpt,
    YearsOpt,
    console,
    exit_if_tiles_failed,
    fail,
    landcover_catalog,
    parse_area,
    parse_bbox,
    parse_years,
    product_catalog,
)
from ._job_metrics import JobMetrics

__all__ = ["landcover_app"]

landcover_app = typer.Typer(
    help="Land cover and land-cover change (MAD-Mex).", no_args_is_help=True
)

MmuOpt = Annotated[float, typer.Option(help="Minimum mapping unit in hectares.")]


@landcover_app.command("schemes")
def landcover_schemes(
    qml: Annotated[
        Path | None, typer.Option(help="Write QGIS styles (.qml) of every scheme here.")
    ] = None,
) -> None:
    """Class schemes available (packaged), optionally exporting their QGIS styles."""
    table = Table("scheme", "version", "classes", "title")
    for name in list_schemes():
        scheme = load_scheme(name)
        table.add_row(scheme.name, scheme.version, str(len(scheme.codes)), scheme.title)
        if qml:
            qml.mkdir(parents=True, exist_ok=True)
            scheme.to_qml(qml / f"{scheme.name}.qml")
    console.print(table)


@landcover_app.command("train")
def landcover_train(
    reference: Annotated[
        Path, typer.Option(help="Reference polygons (GPKG, SHP, GeoParquet) or label raster.")
    ],
    scheme: Annotated[str, typer.Option(help="Class scheme of the reference (name or JSON file).")],
    year: Annotated[int, typer.Option(help="Year of the annual products to train on.")],
    out: Annotated[
        str,
        typer.Option(
            help="Model file to write, a path or an s3:// URL (.joblib; a .json model card "
            "goes beside it)."
        ),
    ],
    column: Annotated[str | None, typer.Option(help="Class column of reference polygons.")] = None,
    recipe: Annotated[str, typer.Option(help="Feature recipe.")] = "madmex-landsat",
    algorithm: Annotated[str, typer.Option(help="lightgbm or random_forest.")] = "lightgbm",
    per_class: Annotated[int, typer.Option(help="Samples per class (cap).")] = 2000,
    block_px: Annotated[
        int, typer.Option(help="Spatial block size for cross-validation (pixels).")
    ] = 32,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: ResolutionOpt = 30.0,
    products_catalog: ProductsOpt = None,
) -> None:
    """Train a land-cover model on reference data; prints its spatial-block cross-validation."""
    geobox = region_geobox(national_grid(grid, resolution), parse_area(bbox, region))
    try:
        nodata = load_scheme(scheme).nodata
        if nodata is None:  # unlabelled pixels need a code of their own
            raise ValueError(f"scheme {scheme!r} has no nodata code: reference labels need one")
        labels = reference_labels(reference, geobox, column=column, nodata=nodata)
        model = train_model(
            product_catalog(products_catalog),
            geobox,
            year,
            labels,
            scheme=load_scheme(scheme).name,
            recipe=recipe,
            algorithm=algorithm,
            per_class=per_class,
            block_px=block_px,
        )
    except (CubeError, ValueError, KeyError) as exc:
        fail(exc)
    model.save(out)
    n_samples = sum(model.class_counts_.values())
    console.print(
        f"model {out} ({model.algorithm}, recipe {model.recipe.name}, {n_samples} samples)"
    )
    _print_cross_validation(model.cv_report_)


def _print_cross_validation(cv: dict) -> None:
    if not cv.get("folds"):
        console.print(f"[yellow]{cv.get('note')}[/]")
        return
    console.print(
        f"spatial-block cross-validation: overall accuracy {cv['overall_accuracy']:.3f}, "
        f"kappa {cv['kappa']:.3f}"
    )
    table = Table("class", "user's", "producer's", "F1", "support")
    for code, row in cv["per_class"].items():
        scores = (
            f"{row[key]:.3f}" if row[key] is not None else "-"
            for key in ("user_accuracy", "producer_accuracy", "f1")
        )
        table.add_row(code, *scores, str(row["support"]))
    console.print(table)


@landcover_app.command("map")
def landcover_map(
    model: Annotated[
        str, typer.Option(help="Model file from `landcover train` (a path or an s3:// URL).")
    ],
    years: YearsOpt,
    mode: Annotated[
        str, typer.Option(help="pixel or object (SLIC segments, as MAD-Mex).")
    ] = "pixel",
    mmu_ha: MmuOpt = 0.5,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: ResolutionOpt = 30.0,
    overwrite: Annotated[bool, typer.Option(help="Recompute maps that exist.")] = False,
    scheduler: SchedulerOpt = None,
    products_catalog: ProductsOpt = None,
    maps_catalog: MapsOpt = None,
) -> None:
    """Land-cover maps tile by tile: class COG (with colour table) and confidence COG."""
    tiles = tiles_for(national_grid(grid, resolution), parse_area(bbox, region))
    year_range = parse_years(years)
    metrics = JobMetrics("landcover", "tile-year")
    metrics.planned(len(tiles) * len(year_range))
    run = run_landcover(
        str(model),
        product_catalog(products_catalog).root,
        landcover_catalog(maps_catalog).root,
        tiles,
        year_range,
        mode=mode,
        mmu_ha=mmu_ha,
        overwrite=overwrite,
        scheduler=scheduler or get_settings().scheduler,
        on_tile=metrics.on_tile,
    )
    console.print(
        f"{len(run.written)} map tiles written, {run.skipped} already there; "
        f"maps in {landcover_catalog(maps_catalog).root}"
    )
    exit_if_tiles_failed(run.failed)


@landcover_app.command("change")
def landcover_change(
    scheme: Annotated[str, typer.Option(help="Class scheme of the maps.")],
    before: Annotated[int, typer.Option("--from", help="First year.")],
    after: Annotated[int, typer.Option("--to", help="Second year.")],
    out: Annotated[
        Path, typer.Option(help="Output folder (from-to COG, GeoPackage, matrix CSV).")
    ],
    mmu_ha: MmuOpt = 0.5,
    no_spectral: Annotated[
        bool, typer.Option("--no-spectral", help="Plain post-classification comparison.")
    ] = False,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    grid: GridOpt = "mexico",
    resolution: ResolutionOpt = 30.0,
    products_catalog: ProductsOpt = None,
    maps_catalog: MapsOpt = None,
) -> None:
    """Change between two years' maps, backed by spectral evidence from the geomedians."""
    geobox = region_geobox(national_grid(grid, resolution), parse_area(bbox, region))
    try:
        result = map_change(
            landcover_catalog(maps_catalog),
            product_catalog(products_catalog),
            load_scheme(scheme).name,
            geobox,
            before,
            after,
            out,
            mmu_ha=mmu_ha,
            spectral_evidence=not no_spectral,
        )
    except (CubeError, ValueError) as exc:
        fail(exc)
    console.print(
        f"{int(result.result.changed.sum())} px changed; "
        f"{result.raster}, {result.polygons}, {result.matrix_csv}"
    )
    console.print(result.matrix.round(1).to_string())


@landcover_app.command("sample")
def landcover_sample(
    scheme: Annotated[str, typer.Option(help="Class scheme of the map (name or JSON file).")],
    year: Annotated[int, typer.Option(help="Year of the map to validate.")],
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat of the map's area.")],
    out: Annotated[
        Path, typer.Option(help="Points to label (.gpkg, or .csv with longitude/latitude).")
    ],
    n: Annotated[int, typer.Option(min=1, help="Total number of points.")] = 600,
    allocation: Annotated[
        str, typer.Option(help="proportional, equal, or minimum (at least --min-per-class).")
    ] = "minimum",
    min_per_class: Annotated[int, typer.Option(help="Points per stratum at least.")] = 50,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed, the same points).")] = 0,
    grid: GridOpt = "mexico",
    maps_catalog: MapsOpt = None,
) -> None:
    """Draw the validation sample of a map: stratified random points (map classes as strata,
    Olofsson et al. 2014) with an empty ``reference`` column for the interpreters; then
    ``ecointegrity report landcover --sample`` writes the validation document."""
    from ..io import atomic_path

    try:
        geobox = region_geobox(national_grid(grid), parse_bbox(bbox))
        product = landcover_spec(scheme).name
        class_map = read_product(landcover_catalog(maps_catalog), product, year, geobox,
                                 ["class"])["class"]
        points = draw_validation_sample(class_map, n, allocation=allocation,
                                        min_per_class=min_per_class, seed=seed)
        if out.suffix.lower() == ".csv":
            with atomic_path(out, suffix=".csv") as tmp:
                points.drop(columns="geometry").to_csv(tmp, index=False)
        else:
            with atomic_path(out, suffix=out.suffix) as tmp:  # the layer named as the file
                points.to_file(tmp, layer=out.stem.replace("-", "_").replace(".", "_"))
    except (CubeError, ValueError, KeyError) as exc:
        fail(exc)
    counts = points.map_class.value_counts().sort_index()
    console.print(f"{len(points)} points in {out} (per map class: "
                  + ", ".join(f"{c}: {k}" for c, k in counts.items())
                  + "); fill the 'reference' column, then run `ecointegrity report landcover`")
