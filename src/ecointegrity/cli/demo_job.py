"""The main job: the whole chain that exists today, on a small area of one country.

Source, in order of preference: ``--data DIR`` (a STAC catalog folder or a GeoTIFF folder);
the public Earth Search STAC API (Landsat Collection 2 Level-2, no credentials) when it can be
reached; otherwise the documented scene simulator, and it says so: 30 years (1996-2025) of
Landsat 5 TM, Landsat 7 ETM+ (SLC-off from 2003), Landsat 8-9 OLI and Sentinel-2A/B MSI by era,
harmonised to OLI bandpasses at loading; the log says which sensors made each year. Then:
ingest into a local STAC catalog, tile the area on the country's national grid, compute the
seven annual products tile by tile (on Dask when a scheduler is given), write COGs and STAC
items; where reference land cover exists (the simulator's truth), train a land-cover model, map
every year and map the change between the first and the last year. The acoustic steps (bats, soundscapes, site evidence) and
the ecosystem-integrity step follow, each a function of its own.

The country (``mexico`` by default, ``colombia``) gives the demo area and the national grid
(:mod:`ecointegrity.cube.countries`); the land-cover scheme and the hemeroby table are the
simulator's own ("simulator-8"), as institutions' schemes are data they supply.

The acoustics and integrity packages are imported inside their steps, so that the command line
starts without PyTorch and pgmpy.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox

if TYPE_CHECKING:
    from ..integrity import IntegrityRun

from ..cube import (
    COUNTRIES,
    Country,
    LocalCatalog,
    Tile,
    TimeRange,
    get_profile,
    ingest_dataset,
    ingest_geotiffs,
    ingest_stac_api,
    item_years,
    platform_label,
    read_product,
    region_geobox,
    simulate,
    tiles_for,
)
from ..cube import country as _country  # run_demo's parameter ``country`` would hide it
from ..landcover import landcover_spec, map_change, run_landcover, train_model
from ..mosaics import run_mosaics

__all__ = [
    "DEMO_BBOX",
    "DEMO_REVISIT_DAYS",
    "DEMO_YEARS",
    "QUICK_YEARS",
    "AcousticsDemo",
    "DemoResult",
    "IntegrityDemo",
    "SoundscapeDemo",
    "demo_geobox",
    "demo_revisit_days",
    "run_acoustics_demo",
    "run_demo",
    "run_integrity_demo",
    "run_soundscape_demo",
    "stac_api_reachable",
]

# Mexico's demo area (Bacalar lagoon); every country's is in ecointegrity.cube.countries.
DEMO_BBOX = COUNTRIES["mexico"].demo_bbox
# A generation of land change, across every sensor era since Landsat 5 alone (``make demo``).
DEMO_YEARS = (1996, 2025)
# A quick look at the present (tests, ``--years 2021/2023``): every sensor of today.
QUICK_YEARS = (2021, 2023)
# Years the demo maps from the Earth Search STAC API at most (the latest of the period).
STAC_API_YEARS = 3
# Days between simulated acquisitions (all platforms together): one Landsat's 16 days for a
# few years; for decades, 16 days per 15 years (32 for 30: ~11 dates a year, ~5 clear views
# of a pixel), so that the simulated dates stay near 350 and 30 years of demo run in under
# 5 minutes on 2 cores.
DEMO_REVISIT_DAYS = 16


def demo_revisit_days(years: tuple[int, int]) -> int:
    """Days between the simulator's dates for a demo of ``years`` (first, last)."""
    n_years = years[1] - years[0] + 1
    return DEMO_REVISIT_DAYS * max(1, -(-n_years // 15))

Say = Callable[[str], None]


@dataclass
class DemoResult:
    source: str
    catalog: Path
    products: Path
    collection: str
    items: int
    landcover: Path | None = None  # the land-cover map catalog, when reference data allowed one
    outputs: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    country: Country = COUNTRIES["mexico"]  # whose demo area and national grid
    years: tuple[int, int] = DEMO_YEARS  # first and last year mapped
    # the simulator's true land cover (year, y, x): the reference of the map's validation
    truth: xr.DataArray | None = None


def stac_api_reachable(url: str, timeout: float = 5.0) -> bool:
    """True when the STAC API answers its landing page within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def demo_geobox(where: str | Country = "mexico") -> GeoBox:
    """A country's demo area on its 30 m national grid (pixel-aligned with its tiles)."""
    area = _country(where)
    return region_geobox(area.national_grid, area.demo_bbox)


def run_demo(
    out: Path,
    *,
    offline: bool = False,
    data: Path | None = None,
    sensor: str = "landsat-c2-l2",
    api_url: str = "https://earth-search.aws.element84.com/v1",
    years: tuple[int, int] = DEMO_YEARS,
    scheduler: str | None = None,
    country: str | Country = "mexico",
    say: Say = print,
) -> DemoResult:
    """Run the chain on ``country``'s demo area and national grid; return where everything is.

    Raises:
        UnknownCountryError: for a country not in ``ecointegrity.cube.COUNTRIES``.
    """
    area = _country(country)
    grid = area.national_grid
    say(f"demo area: {area.demo_area} ({area.name_en}), lon/lat {area.demo_bbox}, "
        f"on the national grid {grid.name} ({grid.crs}, {grid.title})")
    out = Path(out)
    catalog = LocalCatalog(out / "catalog")
    products = LocalCatalog(out / "products", title="ecointegrity products")
    period = TimeRange.years(*years)

    reference = None
    if data is not None:
        source, collection, items = _from_local(catalog, Path(data), sensor, say)
    elif not offline and stac_api_reachable(api_url):
        if years[1] - years[0] + 1 > STAC_API_YEARS:
            # streaming decades of remote scenes takes hours, not the demo's minutes
            years = (years[1] - STAC_API_YEARS + 1, years[1])
            period = TimeRange.years(*years)
            say(f"from the STAC API the demo maps the last {STAC_API_YEARS} years ({period}); "
                "--offline simulates the whole period")
        say(f"STAC API {api_url} is reachable: ingesting Landsat C2 L2 for {area.demo_bbox}, {period}")
        report = ingest_stac_api(catalog, "landsat-c2-l2", bbox=area.demo_bbox, time=period,
                                 api_url=api_url, max_cloud=70, limit=60)
        source, collection, items = f"Earth Search ({api_url})", "landsat-c2-l2", report.items_added
    else:
        why = ("--offline was given" if offline
               else f"the STAC API {api_url} cannot be reached (no network)")
        say(f"{why}: using the scene simulator (ecointegrity.cube.simulate, see docs/simulator.md)")
        source, collection, items, reference = _from_simulator(catalog, demo_geobox(area), years,
                                                               say)

    tiles = tiles_for(grid, area.demo_bbox, clip=True)
    run = run_mosaics(catalog.root, collection, products.root, tiles,
                      range(years[0], years[1] + 1), scheduler=scheduler)
    result = DemoResult(source, out / "catalog", out / "products", collection, items,
                        failed=run.failed, refused=run.refused, country=area, years=years)
    for product in run.products:
        result.outputs += [Path(products.item_dir(product, i)) for i in products.item_ids(product)]
    result.findings += sensors_per_year(products, catalog, collection, years)
    if reference is None:
        result.findings.append(
            "land cover: no reference data for this area (the offline simulator brings its own)"
        )
    elif not run.failed:
        _landcover(out, products, tiles, years, reference, result, say)
    return result


def _landcover(out: Path, products: LocalCatalog, tiles: Sequence[Tile], years: tuple[int, int],
               reference: xr.DataArray, result: DemoResult, say: Say) -> None:
    """Train on the first year's reference, map every year, map change first -> last year."""
    geobox = demo_geobox(result.country)
    scheme = "simulator-8"
    result.truth = reference
    say(f"land cover: training on the {years[0]} reference ({scheme}), "
        "spatial-block cross-validation")
    model = train_model(products, geobox, years[0],
                        reference.sel(year=years[0]).values.astype("int32"),
                        scheme=scheme, per_class=800, block_px=25)
    model_path = model.save(out / "models" / f"landcover-{scheme}.joblib")
    maps = LocalCatalog(out / "landcover", title="ecointegrity land cover")
    result.landcover = out / "landcover"
    run = run_landcover(str(model_path), products.root, maps.root, tiles,
                        range(years[0], years[1] + 1))
    result.failed.update(run.failed)
    change = map_change(maps, products, scheme, geobox, years[0], years[1], out / "change")
    cv = model.cv_report_
    product = landcover_spec(scheme).name
    last = read_product(maps, product, years[1], geobox, ["class"])["class"].values
    accuracy = float((last == reference.sel(year=years[1]).values).mean())
    changed_px = change.result.changed.sum()
    result.findings += [
        f"land cover model {model_path} "
        f"(cross-validated overall accuracy {cv['overall_accuracy']:.3f})",
        f"land-cover maps in {maps.root}/catalog.json; "
        f"{years[1]} map agrees with the truth on {accuracy:.1%} of pixels",
        # 0.09 ha per 30 m pixel
        f"change {years[0]}->{years[1]}: {int(changed_px)} px ({changed_px * 0.09:.1f} ha) "
        f"in {change.raster}, {change.polygons}, {change.matrix_csv}",
    ]
    result.outputs += [Path(maps.item_dir(product, it.id)) for it in run.written]
    result.outputs += [change.raster, change.polygons, change.matrix_csv]


def sensors_per_year(products: LocalCatalog, source: LocalCatalog, collection: str,
                     years: tuple[int, int]) -> list[str]:
    """The years mapped and the sensors behind each, as two log lines (Spanish / English).

    The sensors are the annual products' ``ecointegrity:platforms`` where they record them,
    else the STAC ``platform`` of the source items of each year; years in a row with the same
    sensors share one entry ("2003-2011 Landsat 5 TM + Landsat 7 ETM+ (SLC-off)").
    """
    used: dict[int, set[str]] = {}
    mapped: set[int] = set()
    for product in products.collections():
        for item in products.items(product):
            item_span = item_years(item)
            mapped.update(item_span)
            for year in item_span:
                used.setdefault(year, set()).update(
                    item.properties.get("ecointegrity:platforms") or ())
    if not any(used.values()) and collection in source.collections():
        for item in source.items(collection):
            if item.properties.get("platform"):
                for year in item_years(item):
                    used.setdefault(year, set()).add(str(item.properties["platform"]))
    in_range = sorted(y for y in mapped if years[0] <= y <= years[1])
    lines = [f"años cartografiados / years mapped: {_year_span(in_range)} ({len(in_range)})"]
    if any(used.values()):
        runs: list[tuple[int, int, str]] = []
        for year in sorted(y for y in used if years[0] <= y <= years[1] and used[y]):
            label = " + ".join(platform_label(p, year) for p in sorted(used[year]))
            if runs and runs[-1][2] == label and runs[-1][1] == year - 1:
                runs[-1] = (runs[-1][0], year, label)
            else:
                runs.append((year, year, label))
        # one run of years a line: eight eras would not fit one
        lines.append("sensores por año / sensors per year:\n  " + ";\n  ".join(
            f"{_year_span(list(range(a, b + 1)))} {label}" for a, b, label in runs))
    return lines


def _year_span(years: Sequence[int]) -> str:
    if not years:
        return "none"
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])


def _from_local(catalog: LocalCatalog, data: Path, sensor: str, say: Say) -> tuple[str, str, int]:
    if (data / "catalog.json").exists():
        local = LocalCatalog(data)
        collection = local.collections()[0]
        say(f"using the STAC catalog {data} (collection {collection!r})")
        catalog.ensure_collection(collection, sensor=local.sensor_profile(collection))
        n = catalog.add_items(collection, local.items(collection))
        return f"local catalog {data}", collection, n
    say(f"ingesting GeoTIFFs from {data} as {sensor}")
    report = ingest_geotiffs(catalog, data, sensor, sensor=get_profile(sensor))
    if report.problems:
        say(str(report))
    return f"GeoTIFF folder {data}", sensor, report.items_added


def _from_simulator(
    catalog: LocalCatalog, geobox: GeoBox, years: tuple[int, int], say: Say
) -> tuple[str, str, int, xr.DataArray]:
    revisit = demo_revisit_days(years)
    scenes = simulate(geobox, start_year=years[0], end_year=years[1], revisit_days=revisit,
                      eras=True)
    # One harmonised collection for every sensor, as HLS does: Sentinel-2 on the 30 m grid with
    # Landsat's encoding; each item's platform says which bandpass adjustment loading applies.
    collection = "simulated-landsat-sentinel2"
    profile = get_profile("landsat-c2-l2")
    # The simulator speaks common band names; Landsat C2 assets are named nir08, swir16, swir22.
    rename = {common: profile.asset(common) for common in ("nir", "swir1", "swir2")}
    report = ingest_dataset(catalog, collection, scenes.dataset, sensor=profile, rename=rename)
    events = ", ".join(f"{e.kind} {e.year}" for e in scenes.events)
    shape = tuple(scenes.dataset.odc.geobox.shape)
    say(f"simulated {scenes.dataset.sizes['time']} dates {years[0]}-{years[1]} (one every "
        f"{revisit} days; Landsat 5/7/8/9 and Sentinel-2A/B by era) on {shape} px; "
        f"known change events: {events}")
    return "scene simulator (offline)", collection, report.items_added, scenes.truth.land_cover


@dataclass
class AcousticsDemo:
    recordings: Path
    detections: Path
    summary: list[str] = field(default_factory=list)


def run_acoustics_demo(out: Path, *, audio: Path | None = None, n_synthetic: int = 12,
                       country: str | Country = "mexico", say: Say = print) -> AcousticsDemo:
    """Bats: scan recordings (``audio``, or synthetic ones from the call generator, placed at
    the centre of ``country``'s demo area), detect calls with the shipped model, and, for
    synthetic ones, score the detections against the generator's annotations."""
    from ..acoustics import (
        detect_recordings,
        evaluate,
        read_detections,
        read_events,
        scan_recordings,
        write_recordings,
        write_synthetic_dataset,
    )

    out = Path(out)
    truth = None
    if audio is None:
        audio = out / "audio"
        say(f"bats: writing {n_synthetic} synthetic ultrasonic recordings "
            "(call generator, docs/synthetic-bat-calls.md)")
        lon, lat = _country(country).demo_centre
        truth = write_synthetic_dataset(audio, n_synthetic, duration_s=(2.0, 4.0), seed=2026,
                                        location=(lat, lon))
    scan = scan_recordings(audio, progress=False)
    table_path = out / "recordings.parquet"
    write_recordings(scan, table_path)
    run = detect_recordings(scan.table, out / "detections")
    result = AcousticsDemo(table_path, out / "detections")
    detections = read_detections(out / "detections")
    result.summary += [
        f"bats: recordings table {table_path} "
        f"({len(scan.table)} files, {len(scan.problems)} unreadable)",
        f"bats: {run}".replace("\n", "\n      "),
    ]
    confident = detections[detections.score >= 0.5]
    if len(confident):
        top = confident["label"].value_counts().head(5)
        result.summary.append(
            "bats: detections >= 0.5 by call type: " + ", ".join(f"{k} {v}" for k, v in top.items())
        )
    if truth is not None:
        # The generator's annotations name recordings by file name, the detections by path.
        names = {str(p): Path(p).name for p in detections["recording"].unique()}
        scored = evaluate(detections.assign(recording=detections["recording"].map(names)),
                          read_events(audio / "annotations.parquet"), threshold=0.5)
        result.summary.append(
            f"bats: against the generator's {scored.n_truth} calls: AP {scored.detection_ap:.3f}, "
            f"precision {scored.precision:.3f}, recall {scored.recall:.3f} at 0.5"
        )
    return result


@dataclass
class SoundscapeDemo:
    recordings: Path
    indices: Path
    anthropogenic: Path
    evidence: Path
    false_colour: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


# Two synthetic sites near the bat recordings: the forest interior hears nothing human; the
# edge by the road hears engines and, at night, shots. (type, start second) per recording hour.
# Places are (lat, lon) offsets in degrees from the demo area's centre (at Bacalar: 18.655 N
# 88.41 W and 18.64 N 88.38 W), within its 6 x 6 km in every country.
_SOUNDSCAPE_SITES: dict[str, tuple[tuple[float, float], dict[int, list[tuple[str, float]]]]] = {
    "forest-interior": ((0.005, -0.01), {6: [], 13: [], 22: []}),
    "forest-edge": ((-0.01, 0.02), {6: [("vehicle", 8.0)],
                                      13: [("vehicle", 4.0), ("vehicle", 35.0)],
                                      22: [("gunshot", 20.0), ("gunshot", 44.0)]}),
}
_DEMO_SOUNDSCAPE_NOTE = (
    "demo: a real forest soundscape (scikit-maad, BSD-3-Clause) repeated to a minute, real "
    "handgun rounds (ShotSpotter, CC BY 4.0) and synthetic engines"
)
# What each inserted type is, for the demo's summary.
_INSERTED = {
    "gunshot": "real rounds, ShotSpotter CC BY 4.0: see acoustics/demo_audio",
    "vehicle": "caricatures, not recordings: see acoustics/anthropogenic/synth_audible.py",
}
# The columns of the site evidence table that the demo prints.
_EVIDENCE_SHOWN = ["site", "period", "recording_hours", "bat_passes_per_night", "gunshot_per_100h",
                   "vehicle_per_100h", "machinery_per_100h", "low_effort"]


def _write_demo_soundscapes(folder: Path, area: Country, days: int = 2) -> pd.DataFrame:
    from ..acoustics import synth_soundscape, write_soundscape
    from ..acoustics.anthropogenic import demo_sounds

    real = demo_sounds(16000)
    lon, lat = area.demo_centre
    truth = []
    for s, (site, ((dlat, dlon), plan)) in enumerate(_SOUNDSCAPE_SITES.items()):
        # rounded: at Bacalar the places are exactly those of the first demo
        location = (round(lat + dlat, 6), round(lon + dlon, 6))
        for day in range(days):
            for hour, events in plan.items():
                start = dt.datetime(2024, 1, 10 + day, hour, 0, 0)
                path = folder / site / f"{start:%Y%m%d_%H%M%S}.WAV"
                audio, table = synth_soundscape(
                    60.0, 16000, events=events, hour=hour, seed=100 * s + 10 * day + hour,
                    recording=str(path), background=real.soundscape_at(hour),
                    sounds={"gunshot": real.gunshots},
                )
                write_soundscape(path, audio, 16000, timestamp=start, location=location, site=site,
                                 note=_DEMO_SOUNDSCAPE_NOTE)
                truth.append(table)
    return pd.concat(truth, ignore_index=True)


def _found(truth: pd.DataFrame, events: pd.DataFrame) -> int:
    """Inserted events overlapped in time by a detected event of the same class (recordings
    compared as absolute paths: the scan names them so, the demo's folder may be relative)."""
    hits = 0
    detected = events.recording.map(os.path.abspath)
    for row in truth.itertuples():
        same = events[(detected == os.path.abspath(row.recording)) & (events.label == row.label)]
        hits += bool(((same.start_time < row.end_time) & (same.end_time > row.start_time)).any())
    return hits


def run_soundscape_demo(out: Path, *, bats: AcousticsDemo | None = None, audio: Path | None = None,
                        country: str | Country = "mexico", say: Say = print) -> SoundscapeDemo:
    """Audible soundscapes: scan recordings (``audio``, or synthetic ones at two sites of
    ``country``'s demo area with known engines and shots), compute soundscape indices and
    false-colour days, detect anthropogenic sounds with the shipped model, and write the site
    evidence table (with the bat recordings and detections of ``bats``, when given)."""
    from ..acoustics import (
        ANTHROPOGENIC_CLASSES,
        detect_recordings,
        false_colour_by_site_day,
        indices_for_recordings,
        read_detections,
        scan_recordings,
        site_evidence,
        write_evidence,
        write_recordings,
    )

    out = Path(out)
    truth = None
    if audio is None:
        audio = out / "audible"
        say("soundscapes: writing audible recordings at 2 sites, 2 days: real forest "
            "soundscapes and gunshots, synthetic engines (acoustics/anthropogenic/synth_audible.py)")
        truth = _write_demo_soundscapes(audio, _country(country))
    scan = scan_recordings(audio, progress=False)
    table_path = out / "audible-recordings.parquet"
    write_recordings(scan, table_path)
    indices = indices_for_recordings(scan.table, out / "indices", progress=False)
    pngs = false_colour_by_site_day(scan.table, out / "false-colour", indices_dir=out / "indices")
    run = detect_recordings(scan.table, out / "anthropogenic", model="anthropogenic")
    events = read_detections(out / "anthropogenic")
    recordings, bat_events = scan.table, None
    if bats is not None:
        recordings = pd.concat([pd.read_parquet(bats.recordings), scan.table], ignore_index=True)
        bat_events = read_detections(bats.detections)
    evidence = site_evidence(recordings, bat_detections=bat_events, anthropogenic=events,
                             indices=indices.indices, period="month", classes=ANTHROPOGENIC_CLASSES)
    evidence_path = Path(write_evidence(evidence, out / "site-evidence.parquet"))
    write_evidence(evidence, out / "site-evidence.csv")

    result = SoundscapeDemo(table_path, out / "indices" / "indices.parquet", out / "anthropogenic",
                            evidence_path, pngs)
    by_class = ", ".join(f"{k} {v}" for k, v in events.label.value_counts().items())
    result.summary += [
        f"soundscapes: {len(scan.table)} recordings; indices of {len(indices.indices)} one-minute "
        f"segments -> {result.indices} ({indices.audio_hours_per_cpu_hour:,.0f} audio hours per "
        f"CPU-hour); {len(pngs)} false-colour day(s) in {out / 'false-colour'}",
        f"anthropogenic: {run}".replace("\n", "\n      "),
        "anthropogenic: events by class: " + (by_class or "none"),
    ]
    if truth is not None:
        for label, inserted in truth.groupby("label"):
            result.summary.append(
                f"anthropogenic: inserted {label}s found {_found(inserted, events)} of "
                f"{len(inserted)} ({_INSERTED[label]})"
            )
    shown = evidence[_EVIDENCE_SHOWN].to_string(index=False, float_format=lambda v: f"{v:.1f}")
    result.summary.append(f"site evidence -> {evidence_path} (and .csv):\n" + shown)
    return result


@dataclass
class IntegrityDemo:
    catalog: Path
    run: IntegrityRun
    summary: list[str] = field(default_factory=list)


def run_integrity_demo(
    out: Path,
    result: DemoResult,
    *,
    evidence: Path | None = None,
    years: tuple[int, int] | None = None,
    say: Say = print,
) -> IntegrityDemo | None:
    """Ecosystem integrity on the demo area: the land-cover maps and annual products on 240 m
    cells, the acoustic site evidence on its cells, the network trained on the last year's
    land-cover hemeroby (provisional simulator table), and EI maps of every year as products,
    for ``years`` (default: those ``result`` mapped). None when the demo made no land-cover
    maps. (Its report is written with the others: ``demo_reports``.)"""
    from ..integrity import evidence_on_cells, integrity_layers, load_hemeroby_table, run_integrity

    if result.landcover is None:
        return None
    years = years or result.years
    out = Path(out)
    table = load_hemeroby_table("simulator-8-hemeroby")
    geobox = demo_geobox(result.country)
    products, maps = LocalCatalog(result.products), LocalCatalog(result.landcover)
    say(f"integrity: {table.label} hemeroby, 250 m cells (240 m: 8 Landsat pixels), "
        f"years {years[0]}-{years[1]}")
    layers = {
        year: integrity_layers(products, maps, geobox, year, scheme="simulator-8", table=table,
                               cell_size=250, earlier_year=None if year == years[0] else years[0])
        for year in range(years[0], years[1] + 1)
    }
    cells = None
    if evidence is not None and evidence.exists():
        cells = evidence_on_cells(pd.read_parquet(evidence), next(iter(layers.values())).odc.geobox)
    catalog = LocalCatalog(out, title="ecointegrity ecosystem integrity")
    run = run_integrity(layers, train_year=years[1], evidence=cells, table=table,
                        out_catalog=catalog, model_path=out / "model.json")
    demo = IntegrityDemo(out, run)
    last = run.maps[years[1]].ei.values
    demo.summary.append(f"integrity: EI maps {years[0]}-{years[1]} in {out} (mean EI {years[1]}: "
                        f"{float(np.nanmean(last)):.2f})")
    if run.validation is not None:
        demo.summary.append(
            "integrity: " + run.validation.summary().replace("\n", "\n      ").rstrip()
        )
    return demo
