"""``ecointegrity report``: publishable documents (HTML and PDF, Spanish and English).

``integrity`` (the integrity report of an area), ``landcover-change`` (land cover over the years
and its transitions), ``landcover`` (the validation document of a land-cover map, from a
labelled sample), ``regions`` (a card per polygon of any polygon file with
a name column, and their ranking) and ``acoustics`` (the acoustic monitoring report per site).
Each writes ``<name>.<lang>.html`` and ``.pdf`` into ``--out`` and records them in its
``index.json``, which ``ecointegrity serve --reports`` publishes. The reports package (matplotlib,
Typst) is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..cube import CubeError, LocalCatalog, national_grid, read_product, region_geobox
from ._common import console, fail, parse_bbox, read_table
from .integrity import read_ei_maps

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import xarray as xr

__all__ = ["change_mask", "read_points", "report_app"]

report_app = typer.Typer(
    help="Reports to publish: integrity, land cover and change, land-cover validation, region "
    "cards, acoustic sites (HTML and PDF, Spanish and English).",
    no_args_is_help=True,
)

OutOpt = Annotated[Path, typer.Option(help="Folder of reports (HTML, PDF and index.json).")]
LangOpt = Annotated[
    list[str] | None,
    typer.Option("--lang", help="Language, repeat for several (default: es, then en)."),
]
RegionsOpt = Annotated[
    Path | None,
    typer.Option(help="Polygons (GeoPackage, GeoParquet, Shapefile, GeoJSON) to outline and "
                      "summarise, e.g. protected areas."),
]
NameOpt = Annotated[str | None, typer.Option(help="The polygons' name column.")]
SourceOpt = Annotated[str, typer.Option(help="Data source, printed in every page's footer.")]

_REPORT_ERRORS = (CubeError, FileNotFoundError, ValueError, KeyError, OSError)


def _languages(lang: list[str] | None) -> list[str]:
    from ..reports import LANGUAGES

    langs = lang or list(LANGUAGES)
    bad = [x for x in langs if x not in LANGUAGES]
    if bad:
        raise typer.BadParameter(f"--lang {bad[0]!r}: choose among {', '.join(LANGUAGES)}")
    return langs


def _read_regions(path: Path | None, name_column: str | None) -> gpd.GeoDataFrame | None:
    import geopandas as gpd

    if path is None:
        return None
    try:
        is_parquet = path.suffix.lower() in (".parquet", ".geoparquet")
        regions = gpd.read_parquet(path) if is_parquet else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure names the file
        raise ValueError(f"--regions {path}: cannot read polygons ({exc})") from exc
    if regions.crs is None:
        raise ValueError(f"--regions {path}: the file has no coordinate reference system")
    if name_column is not None and name_column not in regions.columns:
        raise ValueError(f"--regions {path}: no column {name_column!r} "
                         f"(columns: {', '.join(map(str, regions.columns))})")
    return regions


def _relief(dem: Path | None, maps: dict[int, xr.Dataset]) -> xr.DataArray | None:
    if dem is None:
        return None
    from ..integrity import raster_on

    return raster_on(dem, next(iter(maps.values())).odc.geobox)


def _say_written(files: list[Path]) -> None:
    for path in files:
        console.print(f"  {path}")


@report_app.command("integrity")
def report_integrity(
    maps_catalog: Annotated[Path, typer.Argument(help="Catalog of `integrity map --out`.")],
    out: OutOpt = Path("reports"),
    area_name: Annotated[str, typer.Option(help="How the report names the area.")] = "",
    regions: RegionsOpt = None,
    name_column: NameOpt = None,
    dem: Annotated[
        Path | None, typer.Option(help="Elevation raster (any GDAL format): relief under maps.")
    ] = None,
    lang: LangOpt = None,
    source: SourceOpt = "",
) -> None:
    """The integrity report: summary, maps with context, trend, areas, regions, validation."""
    import json

    import pandas as pd

    from ..integrity import IntegrityNetwork
    from ..reports import integrity_report, publish

    try:
        langs = _languages(lang)
        maps = read_ei_maps(maps_catalog)
        shapes = _read_regions(regions, name_column)
        model_file = maps_catalog / "model.json"
        model = IntegrityNetwork.load(model_file) if model_file.exists() else None
        validation_file = maps_catalog / "validation.json"
        saved = json.loads(validation_file.read_text()) if validation_file.exists() else {}
        overall = saved.get("blocked_cv", {}).get("overall")
        relief = _relief(dem, maps)
        files = publish(
            lambda lg: integrity_report(
                maps, lang=lg, area_name=area_name or maps_catalog.name,
                validation=pd.DataFrame(overall) if overall else None,
                acoustic=saved.get("acoustic"), model=model, regions=shapes,
                name_column=name_column, relief=relief, source=source),
            out, "integrity", langs)
    except _REPORT_ERRORS as exc:
        fail(exc)
    console.print(f"integrity report ({', '.join(langs)}):")
    _say_written(files)


def _class_map(maps_catalog: Path, scheme: str, year: int, bbox: str, grid: str) -> xr.DataArray:
    from ..landcover import landcover_spec

    geobox = region_geobox(national_grid(grid), parse_bbox(bbox))
    product = landcover_spec(scheme).name
    return read_product(LocalCatalog(maps_catalog), product, year, geobox, ["class"])["class"]


@report_app.command("landcover")
def report_landcover(
    maps_catalog: Annotated[Path, typer.Argument(help="Land-cover catalog (`landcover map`).")],
    scheme: Annotated[str, typer.Option(help="Class scheme of the map (name or JSON file).")],
    year: Annotated[int, typer.Option(help="Year of the map to validate.")],
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat of the map's area.")],
    sample: Annotated[
        Path, typer.Option(help="Labelled points (GeoPackage, CSV with longitude/latitude), "
                                "e.g. from `landcover sample` after photo-interpretation.")
    ],
    reference_column: Annotated[
        str, typer.Option(help="The sample's column of reference class codes.")
    ] = "reference",
    grid: Annotated[str, typer.Option(help="National grid of the map (mexico, colombia).")] = "mexico",
    map_name: Annotated[str, typer.Option(help="How the document names the map.")] = "",
    allocation: Annotated[
        str, typer.Option(help="How the sample was allocated (proportional, equal, minimum).")
    ] = "minimum",
    min_per_class: Annotated[int, typer.Option(help="The minimum per stratum, if any.")] = 50,
    reference_source: Annotated[
        str, typer.Option(help="Where reference labels come from (printed).")
    ] = "",
    regions: RegionsOpt = None,
    name_column: NameOpt = None,
    out: OutOpt = Path("reports"),
    lang: LangOpt = None,
    source: SourceOpt = "",
) -> None:
    """The validation document of a land-cover map: sample design, error matrices, accuracies
    and areas with 95 % confidence intervals (Olofsson et al. 2014)."""
    from ..landcover import assess_map, load_scheme
    from ..reports import SampleDesign, landcover_validation, publish

    try:
        langs = _languages(lang)
        class_scheme = load_scheme(scheme)
        class_map = _class_map(maps_catalog, scheme, year, bbox, grid)
        points = read_points(sample)
        assessment = assess_map(class_map, points, reference_column)
        if len(assessment.skipped):
            console.print(f"{len(assessment.skipped)} of {len(points)} points skipped: "
                          + ", ".join(f"{n} {why}" for why, n in
                                      assessment.skipped.why.value_counts().items()))
        shapes = _read_regions(regions, name_column)
        design = SampleDesign(allocation, min_per_class, reference_source)
        name = map_name or f"{class_scheme.title or class_scheme.name} {year}"
        files = publish(
            lambda lg: landcover_validation(
                assessment.confusion, assessment.mapped_area_ha, lang=lg, map_name=name,
                scheme=class_scheme, design=design, class_map=class_map,
                sample_xy=assessment.xy, regions=shapes, name_column=name_column,
                source=source)[0],
            out, f"landcover-validation-{year}", langs)
    except _REPORT_ERRORS as exc:
        fail(exc)
    console.print(f"land-cover validation {year} ({', '.join(langs)}):")
    _say_written(files)


@report_app.command("landcover-change")
def report_landcover_change(
    maps_catalog: Annotated[Path, typer.Argument(help="Land-cover catalog (`landcover map`).")],
    scheme: Annotated[str, typer.Option(help="Class scheme of the maps (name or JSON file).")],
    years: Annotated[str, typer.Option(help="First and last year, e.g. 1996/2025.")],
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat of the maps' area.")],
    grid: Annotated[str, typer.Option(help="National grid of the maps (mexico, colombia).")] = "mexico",
    change: Annotated[
        Path | None,
        typer.Option(help="Change raster of `landcover change` (from-to COG): count only the "
                          "changes it kept (spectral evidence, minimum mapping unit)."),
    ] = None,
    area_name: Annotated[str, typer.Option(help="How the report names the area.")] = "",
    regions: RegionsOpt = None,
    name_column: NameOpt = None,
    out: OutOpt = Path("reports"),
    lang: LangOpt = None,
    source: SourceOpt = "",
) -> None:
    """The land-cover and change report: maps of the first and last year, where classes
    changed, area per class over the years, the transitions between classes in hectares."""
    from ..landcover import load_scheme
    from ..reports import landcover_change_report, publish
    from ._common import parse_years

    try:
        langs = _languages(lang)
        class_scheme = load_scheme(scheme)
        span = parse_years(years)
        maps = _landcover_years(maps_catalog, scheme, list(span), bbox, grid)
        changed = change_mask(change, next(iter(maps.values())))
        shapes = _read_regions(regions, name_column)
        files = publish(
            lambda lg: landcover_change_report(
                maps, scheme=class_scheme, lang=lg, area_name=area_name or maps_catalog.name,
                changed=changed, regions=shapes, name_column=name_column, source=source),
            out, f"landcover-change-{span[0]}-{span[-1]}", langs)
    except _REPORT_ERRORS as exc:
        fail(exc)
    console.print(f"land-cover change {span[0]}-{span[-1]} ({', '.join(langs)}):")
    _say_written(files)


def change_mask(path: Path | None, on: xr.DataArray) -> np.ndarray | None:
    """Where a from-to change raster (``landcover change``) records a change, on ``on``'s grid."""
    if path is None:
        return None
    import numpy as np

    from ..integrity import raster_on

    from_to = raster_on(path, on.odc.geobox, categorical=True).values
    return np.isfinite(from_to) & (from_to > 0)


def read_points(path: Path) -> gpd.GeoDataFrame:
    """Points from a vector file, or a CSV with longitude/latitude columns (WGS84)."""
    import geopandas as gpd
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        table = pd.read_csv(path)
        if not {"longitude", "latitude"} <= set(table.columns):
            raise ValueError(f"{path}: a CSV sample needs longitude and latitude columns")
        return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.longitude,
                                                                   table.latitude),
                                crs="EPSG:4326")
    points = gpd.read_file(path)
    if points.crs is None:
        raise ValueError(f"{path}: the file has no coordinate reference system")
    return points


def _landcover_years(maps_catalog: Path, scheme: str, years: list[int], bbox: str,
                     grid: str) -> dict[int, xr.DataArray]:
    return {year: _class_map(maps_catalog, scheme, year, bbox, grid) for year in years}


@report_app.command("regions")
def report_regions(
    maps_catalog: Annotated[Path, typer.Argument(help="Catalog of `integrity map --out`.")],
    regions: Annotated[Path, typer.Option(help="Polygons with a name column (any vector file).")],
    name_column: Annotated[str, typer.Option(help="The polygons' name column.")],
    landcover: Annotated[
        Path | None, typer.Option(help="Land-cover catalog: class areas per region.")
    ] = None,
    scheme: Annotated[str | None, typer.Option(help="Land-cover scheme (with --landcover).")] = None,
    bbox: Annotated[
        str | None, typer.Option(help="Area of the land-cover maps (with --landcover).")
    ] = None,
    grid: Annotated[str, typer.Option(help="National grid (mexico, colombia).")] = "mexico",
    evidence: Annotated[
        Path | None, typer.Option(help="Acoustic site evidence (Parquet/CSV): recorders inside.")
    ] = None,
    out: OutOpt = Path("reports"),
    lang: LangOpt = None,
    source: SourceOpt = "",
) -> None:
    """A report card per region (trend, change in hectares, land cover, recorders) and the
    ranking of all regions."""
    from ..reports import publish_region_cards

    try:
        langs = _languages(lang)
        maps = read_ei_maps(maps_catalog)
        shapes = _read_regions(regions, name_column)
        cover = None
        class_scheme = None
        if landcover is not None:
            from ..landcover import load_scheme

            if scheme is None or bbox is None:
                raise ValueError("--landcover needs --scheme and --bbox")
            class_scheme = load_scheme(scheme)
            cover = _landcover_years(landcover, scheme, sorted(maps), bbox, grid)
        sites = read_table(evidence) if evidence is not None else None
        files = publish_region_cards(maps, shapes, name_column, out, langs, landcover=cover,
                                     scheme=class_scheme, evidence=sites, source=source)
    except _REPORT_ERRORS as exc:
        fail(exc)
    console.print(f"region cards ({', '.join(langs)}): {len(files) // (2 * len(langs)) - 1} "
                  f"regions and their ranking in {out}")


@report_app.command("acoustics")
def report_acoustics(
    evidence: Annotated[Path, typer.Argument(help="Site evidence (`acoustics evidence`).")],
    out: OutOpt = Path("reports"),
    area_name: Annotated[str, typer.Option(help="How the report names the area.")] = "",
    integrity_catalog: Annotated[
        Path | None, typer.Option(help="Integrity catalog: its last map under the recorders.")
    ] = None,
    regions: RegionsOpt = None,
    name_column: NameOpt = None,
    lang: LangOpt = None,
    source: SourceOpt = "",
) -> None:
    """The acoustic monitoring report: effort, bats and human sounds per site, with intervals."""
    from ..reports import MapContext, acoustic_sites_report, publish

    try:
        langs = _languages(lang)
        table = read_table(evidence)
        background = None
        if integrity_catalog is not None:
            maps = read_ei_maps(integrity_catalog)
            background = maps[max(maps)].ei
        context = MapContext(_read_regions(regions, name_column), name_column)
        files = publish(
            lambda lg: acoustic_sites_report(table, lang=lg, area_name=area_name or evidence.stem,
                                             background=background, context=context,
                                             source=source),
            out, "acoustic-sites", langs)
    except _REPORT_ERRORS as exc:
        fail(exc)
    console.print(f"acoustic monitoring report ({', '.join(langs)}):")
    _say_written(files)
