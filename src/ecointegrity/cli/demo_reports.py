"""The demo's reports: what an institution would publish from the demo's outputs.

Into ``<out>/reports``, in Spanish and English, HTML and PDF: the integrity report, the
land-cover and change report of the whole period, the validation document of the last year's
land-cover map, a card per region of a demo polygon file (written beside them as
``regions.gpkg``, so it can be opened and replaced) with their ranking, and the acoustic
monitoring report of the recording sites.

The land-cover validation follows the practice a real release follows: a stratified random
sample of the map (Olofsson et al. 2014 allocation), labelled from a reference; here the
reference is the simulator's true land cover, so the sample (``landcover-sample-<year>.gpkg``)
comes already labelled, where an institution's interpreters would fill the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cube import Country, LocalCatalog, read_product
from ..io import atomic_path
from ..landcover import assess_map, draw_validation_sample, landcover_spec, load_scheme
from .demo_job import DemoResult, IntegrityDemo, demo_geobox
from .report import change_mask

__all__ = ["ReportsDemo", "demo_regions", "run_reports_demo"]

Say = Callable[[str], object]
SCHEME = "simulator-8"
# Reference points of the demo's validation sample; at least this many per map class
SAMPLE_POINTS, SAMPLE_MIN_PER_CLASS, SAMPLE_SEED = 400, 30, 2026


@dataclass
class ReportsDemo:
    folder: Path
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def demo_regions(area: Country) -> Any:
    """Three demo polygons over the demo area (a GeoDataFrame, WGS84, name column ``nombre``):
    its northern and southern halves and a core overlapping both, as a protected area overlaps
    municipalities. Made-up shapes, named as such."""
    import geopandas as gpd
    from shapely.geometry import box

    west, south, east, north = area.demo_bbox
    mid = (south + north) / 2
    dx, dy = (east - west) / 4, (north - south) / 4
    return gpd.GeoDataFrame(
        {"nombre": ["Mitad norte (demo)", "Mitad sur (demo)", "Núcleo (demo)"]},
        geometry=[box(west, mid, east, north), box(west, south, east, mid),
                  box(west + dx, south + dy, east - dx, north - dy)],
        crs="EPSG:4326")


def _write_vector(frame: Any, path: Path) -> Path:
    with atomic_path(path, suffix=path.suffix) as tmp:
        frame.to_file(tmp, layer=path.stem.replace("-", "_"), driver="GPKG")
    return path


def _validation_sample(class_map: Any, truth: np.ndarray, folder: Path, year: int) -> Any:
    """The stratified sample of the map, labelled from the simulator's truth at each point."""
    sample = draw_validation_sample(class_map, SAMPLE_POINTS, allocation="minimum",
                                    min_per_class=SAMPLE_MIN_PER_CLASS, seed=SAMPLE_SEED)
    cols, rows = ~class_map.odc.geobox.affine @ (sample.x.to_numpy(), sample.y.to_numpy())
    sample["reference"] = truth[rows.astype(int), cols.astype(int)].astype("int64")
    _write_vector(sample, folder / f"landcover-sample-{year}.gpkg")
    return sample


def _detected_change(result: DemoResult, on: Any) -> np.ndarray | None:
    """The demo's change map (first to last year, spectral evidence and MMU), as a mask."""
    if result.landcover is None:
        return None
    first, last = result.years
    path = result.landcover.parent / "change" / f"change-{SCHEME}-{first}-{last}.tif"
    return change_mask(path, on) if path.exists() else None


def run_reports_demo(out: Path, result: DemoResult, integrity: IntegrityDemo | None, *,
                     evidence: Path | None = None, say: Say = print) -> ReportsDemo:
    """Write the demo's reports (see the module docstring) into ``out``."""
    from ..reports import (
        MapContext,
        SampleDesign,
        acoustic_sites_report,
        integrity_report,
        landcover_change_report,
        landcover_validation,
        publish,
        publish_region_cards,
    )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    demo = ReportsDemo(out)
    area = result.country
    place = f"{area.demo_area} (demo)"
    source = "demo: " + result.source
    regions = demo_regions(area)
    demo.files.append(_write_vector(regions, out / "regions.gpkg"))
    sites = pd.read_parquet(evidence) if evidence is not None and evidence.exists() else None
    say(f"reports (es, en; HTML and PDF) in {out}")
    maps = integrity.run.maps if integrity is not None else {}
    if integrity is not None:
        run = integrity.run
        demo.files += publish(lambda lang: integrity_report(
            maps, lang=lang, area_name=place, validation=run.validation, acoustic=run.acoustic,
            model=run.model, regions=regions, name_column="nombre", source=source),
            out, "integrity")
    last = result.years[1]
    scheme = load_scheme(SCHEME)
    if result.landcover is not None and result.truth is not None:
        product = landcover_spec(SCHEME).name
        geobox = demo_geobox(area)
        catalog = LocalCatalog(result.landcover)
        class_map = read_product(catalog, product, last, geobox, ["class"])["class"]
        truth = result.truth.sel(year=last).values
        sample = _validation_sample(class_map, truth, out, last)
        assessment = assess_map(class_map, sample)
        design = SampleDesign("minimum", SAMPLE_MIN_PER_CLASS,
                              {"es": "la cobertura verdadera del simulador de escenas (demo)",
                               "en": "the scene simulator's true land cover (demo)"}, SAMPLE_SEED)
        estimates = {}

        def validation(lang: str) -> Any:
            doc, estimates[lang] = landcover_validation(
                assessment.confusion, assessment.mapped_area_ha, lang=lang,  # type: ignore[arg-type]
                map_name=f"{scheme.title or SCHEME} {last}, {place}", scheme=scheme,
                design=design, class_map=class_map, sample_xy=assessment.xy, regions=regions,
                name_column="nombre", source=source)
            return doc

        demo.files += publish(validation, out, f"landcover-validation-{last}")
        cover = {year: read_product(catalog, product, year, geobox, ["class"])["class"]
                 for year in range(result.years[0], last + 1)}
        changed = _detected_change(result, cover[last])
        demo.files += publish(lambda lang: landcover_change_report(
            cover, scheme=scheme, lang=lang, area_name=place, changed=changed,
            regions=regions, name_column="nombre", source=source),
            out, f"landcover-change-{result.years[0]}-{last}")
        est = next(iter(estimates.values()))
        demo.summary.append(
            f"land-cover validation {last}: {len(sample)} stratified points, overall accuracy "
            f"{est.overall_accuracy:.3f} ± {est.overall_accuracy_ci:.3f} (95% CI, Olofsson et al. "
            "2014)")
        if maps:
            demo.files += publish_region_cards(maps, regions, "nombre", out,
                                               landcover={y: cover[y] for y in maps if y in cover},
                                               scheme=scheme, evidence=sites, source=source)
    elif maps:
        demo.files += publish_region_cards(maps, regions, "nombre", out, evidence=sites,
                                           source=source)
    if sites is not None and len(sites):
        background = maps[max(maps)].ei if maps else None
        demo.files += publish(lambda lang: acoustic_sites_report(
            sites, lang=lang, area_name=place, background=background,
            context=MapContext(regions, "nombre"), source=source), out, "acoustic-sites")
    pdfs = sum(1 for f in demo.files if f.suffix == ".pdf")
    demo.summary.append(f"reports: {pdfs} PDF and {pdfs} HTML documents (es, en) in {out} "
                        f"(index.json lists them; region cards for {len(regions)} demo regions "
                        f"from {out / 'regions.gpkg'})")
    return demo
