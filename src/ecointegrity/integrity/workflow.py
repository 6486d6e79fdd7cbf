"""The integrity workflow at the I/O edge: catalogs and site evidence in, EI maps out.

``integrity_layers`` reads one year of the other parts' products (a land-cover map, NDVI
percentiles, tasselled-cap wetness, WOfS frequency) over an area and aggregates them onto the
cell grid; ``evidence_on_cells`` puts an acoustic site-evidence table (``acoustics.site_evidence``
output, read as a file) on the same cells; ``run_integrity`` trains the network on a year,
validates it (spatially blocked, beside LightGBM), maps every year and writes the maps as
COG + STAC products the API serves like any other.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox

from ..cube import (
    LocalCatalog,
    NoDataError,
    ProductBand,
    ProductSpec,
    Tile,
    read_product,
    read_raster,
    write_product,
)
from .grid import (
    cell_statistics,
    cell_table,
    class_shares,
    majority,
    sites_to_cells,
)
from .hemeroby import HemerobyTable
from .network import IntegrityNetwork
from .validation import CrossValidationResult, acoustic_relation, blocked_cross_validation

__all__ = [
    "IntegrityRun",
    "evidence_on_cells",
    "integrity_layers",
    "integrity_spec",
    "raster_on",
    "run_integrity",
]

SIGNS = ("ndvi_p10", "ndvi_p50", "ndvi_p90", "wetness", "wofs_frequency")
COUNTS = {"anthropogenic_events": "recording_hours", "bat_passes": "n_nights"}


def integrity_spec(model: IntegrityNetwork) -> ProductSpec:
    """The integrity product: EI, its posterior sd, the most probable hemeroby, entropy."""
    return ProductSpec(
        name="ecosystem-integrity",
        title="Ecosystem integrity",
        description=(
            "Ecosystem integrity EI = 1 - E[hemeroby]/max (1 intact, 0 fully transformed) from a "
            "Bayesian network fusing land cover, annual EO products and acoustic site evidence; "
            f"hemeroby table {model.hemeroby_table}."
        ),
        bands=(
            ProductBand(
                "ei",
                "uint8",
                nodata=255,
                scale=0.01,
                description="ecosystem integrity (expected value)",
            ),
            ProductBand(
                "ei_sd",
                "uint8",
                nodata=255,
                scale=0.005,
                description="posterior standard deviation of EI",
            ),
            ProductBand(
                "hemeroby",
                "uint8",
                nodata=255,
                units="class",
                description="most probable hemeroby class",
            ),
            ProductBand(
                "entropy",
                "uint8",
                nodata=255,
                scale=0.02,
                units="bits",
                description="posterior entropy of hemeroby",
            ),
        ),
        colormap="rdylgn",
        value_range=(0.0, 1.0),
        extra={
            "default_band": "ei",
            "model_version": model.version,
            "hemeroby_table": model.hemeroby_table,
            "reading": "1 intact; 0.75 and above is what CONABIO calls intact; 0 fully transformed",
            "public": {
                "es": {"name": "Integridad ecosistémica",
                       "summary": "Qué tan conservado está el ecosistema.",
                       "low": "transformado", "high": "conservado"},
                "en": {"name": "Ecosystem integrity",
                       "summary": "How well kept the ecosystem is.",
                       "low": "transformed", "high": "intact"},
            },
        },
    )


def raster_on(path: str | Path, geobox: GeoBox, *, categorical: bool = False) -> xr.DataArray:
    """A single-band raster (DEM, ecoregions, life zones; any GDAL format and CRS) on
    ``geobox``: bilinear for values, nearest for classes; NaN outside it and for nodata."""
    from odc.geo.xr import xr_coords

    out = read_raster(path, geobox, categorical=categorical)
    return xr.DataArray(out, coords=xr_coords(geobox), dims=("y", "x"), name=Path(path).stem)


def integrity_layers(products: LocalCatalog, landcover: LocalCatalog, geobox: GeoBox, year: int, *,
                     scheme: str, table: HemerobyTable, cell_size: float = 250.0,
                     earlier_year: int | None = None, elevation: xr.DataArray | None = None,
                     zones: xr.DataArray | None = None) -> xr.Dataset:
    """One year's inputs on the cell grid: ``share_<code>`` of every class of the land-cover
    map, ``change`` (share of pixels whose class differs from ``earlier_year``), NDVI
    percentiles, tasselled-cap wetness and WOfS frequency (cell means, when those products
    exist), ``hemeroby``: the cell mean of the land cover through ``table`` (the label); and,
    when given on ``geobox``, terrain from a DEM (``elevation_min/mean/max``, metres) and the
    majority class of an ecoregion or life-zone layer (``zone``)."""
    lc = read_product(landcover, f"landcover-{scheme}", year, geobox, bands=["class"])["class"]
    codes = lc.fillna(0).astype(np.int32)
    hemeroby = codes.copy(data=table.apply(codes.values)).rename("hemeroby")
    layers: list[xr.DataArray | xr.Dataset] = [
        class_shares(codes, cell_size, sorted(table.values)),
        cell_statistics(hemeroby, cell_size, name="hemeroby")["hemeroby_mean"].rename("hemeroby"),
    ]
    if earlier_year is not None:
        before = read_product(
            landcover, f"landcover-{scheme}", earlier_year, geobox, bands=["class"]
        )["class"]
        changed = xr.where(
            (before > 0) & (lc > 0), (before != lc).astype(np.float32), np.nan
        ).rename("change")
        layers.append(
            cell_statistics(changed, cell_size, name="change")["change_mean"].rename("change")
        )
    for product, band, name in (
        ("ndvi", "ndvi_p10", "ndvi_p10"),
        ("ndvi", "ndvi_p50", "ndvi_p50"),
        ("ndvi", "ndvi_p90", "ndvi_p90"),
        ("tasselled_cap", "wetness", "wetness"),
        ("wofs", "frequency", "wofs_frequency"),
    ):
        try:
            values = read_product(products, product, year, geobox, bands=[band])[band]
        except (NoDataError, KeyError, ValueError):
            continue  # a product not made for this area: the network goes without that sign
        layers.append(
            cell_statistics(values.rename(name), cell_size, name=name)[f"{name}_mean"].rename(name)
        )
    if elevation is not None:
        layers.append(cell_statistics(elevation.rename("elevation"), cell_size, name="elevation",
                                      stats=("min", "mean", "max")))
    if zones is not None:
        layers.append(majority(zones, cell_size, name="zone"))
    out = xr.merge(layers, compat="override")
    out.attrs.update(year=year, scheme=scheme, hemeroby_table=table.label,
                     cell_size=float(abs(out.odc.geobox.resolution.x)))
    return out


def evidence_on_cells(evidence: pd.DataFrame, grid: GeoBox) -> pd.DataFrame:
    """Site evidence (``acoustics.site_evidence`` columns) summed per cell: recording_hours,
    n_nights, anthropogenic_events (all classes), bat_passes; indexed by (row, col)."""
    ev = evidence.copy()
    event_columns = [c for c in ev.columns if c.endswith("_events")]
    ev["anthropogenic_events"] = (
        ev[event_columns].fillna(0).sum(axis=1) if event_columns else np.nan
    )
    for column in ("recording_hours", "n_nights", "bat_passes"):
        if column not in ev:
            ev[column] = np.nan
    placed = sites_to_cells(ev, grid)
    cells = placed.groupby(["row", "col"])[
        ["recording_hours", "n_nights", "anthropogenic_events", "bat_passes"]
    ]
    return cells.sum(min_count=1)


@dataclass
class IntegrityRun:
    model: IntegrityNetwork
    layers: dict[int, xr.Dataset]
    maps: dict[int, xr.Dataset]
    validation: CrossValidationResult | None = None
    acoustic: dict | None = None
    items: list = field(default_factory=list)


def _table(layers: xr.Dataset, evidence: pd.DataFrame | None) -> pd.DataFrame:
    table = cell_table(layers)
    if evidence is not None and len(evidence):
        table = table.join(evidence, on=["row", "col"])
    return table


@dataclass(frozen=True)
class _NetworkInputs:
    """The layers that enter the network, by role: drivers and context (first tier), the
    hemeroby label, signs (last tier)."""

    drivers: list[str]
    context: list[str]
    zones: list[str]
    signs: list[str]

    @classmethod
    def of(cls, layers: dict[int, xr.Dataset], train_year: int,
           table: HemerobyTable) -> _NetworkInputs:
        train_layers = layers[train_year]
        drivers = [f"share_{c}" for c, h in sorted(table.values.items())
                   if h >= 8 and f"share_{c}" in train_layers]
        # a layer is an input only where every mapped year has it (the first year has no change)
        drivers += ["change"] if all("change" in ds for ds in layers.values()) else []
        # terrain and zones are context: first tier, free to point at hemeroby or at the signs
        context = [c for c in ("elevation_mean", "elevation_min", "elevation_max")
                   if all(c in ds for ds in layers.values())]
        zones = ["zone"] if all("zone" in ds for ds in layers.values()) else []
        signs = [s for s in SIGNS if all(s in ds for ds in layers.values())]
        return cls(drivers, context, zones, signs)

    @property
    def numeric(self) -> list[str]:
        return self.drivers + self.context + self.signs

    def network(self, structure: Sequence[tuple[str, str]] | None, counts: dict[str, str],
                table: HemerobyTable) -> IntegrityNetwork:
        """An unfitted network: the given arcs, or tiers learnt by hill climbing
        (drivers -> hemeroby -> signs, never between signs)."""
        if structure is not None:
            return IntegrityNetwork(structure=structure, acoustic_counts=counts,
                                    hemeroby_values=table.states, hemeroby_max=table.maximum,
                                    hemeroby_table=table.label)
        forbidden = [(a, b) for a in self.signs for b in self.signs if a != b]
        return IntegrityNetwork(tiers=[self.drivers + self.context + self.zones, ["hemeroby"],
                                       self.signs],
                                forbidden=forbidden, acoustic_counts=counts,
                                hemeroby_values=table.states, hemeroby_max=table.maximum,
                                hemeroby_table=table.label)


def _usable_counts(cells: pd.DataFrame) -> dict[str, str]:
    """The site counts (with their effort column) seen at 3 or more labelled cells with effort:
    fewer cannot estimate a Poisson rate."""
    return {c: e for c, e in COUNTS.items()
            if c in cells and e in cells
            and int((cells[c].notna() & (cells[e] > 0) & cells.label.notna()).sum()) >= 3}


def _validate(cells: pd.DataFrame, inputs: _NetworkInputs,
              make_network: Callable[[], IntegrityNetwork], *, block_size: float, n_folds: int,
              seed: int) -> CrossValidationResult | None:
    """Blocked cross-validation when 50 or more cells are labelled; None otherwise."""
    if int(cells.label.notna().sum()) < 50:
        return None
    with warnings.catch_warnings():  # folds without enough sites map without their counts, as said
        warnings.filterwarnings("ignore", message=".*at least 3 are needed", category=UserWarning)
        return blocked_cross_validation(cells, label="label", block_size=block_size,
                                        n_folds=n_folds, make_network=make_network,
                                        numeric=inputs.numeric, categorical=inputs.zones,
                                        seed=seed)


def _integrity_map(model: IntegrityNetwork, year_layers: xr.Dataset, year_cells: pd.DataFrame,
                   year: int, table: HemerobyTable) -> xr.Dataset:
    """One year's EI, its sd, the most probable hemeroby and the entropy on the cell grid."""
    predicted = model.predict(year_cells)
    grid_shape = (year_layers.sizes["y"], year_layers.sizes["x"])
    return xr.Dataset(
        {"ei": (("y", "x"), predicted.ei.to_numpy().reshape(grid_shape)),
         "ei_sd": (("y", "x"), predicted.ei_sd.to_numpy().reshape(grid_shape)),
         "hemeroby": (("y", "x"), predicted.hemeroby_mode.to_numpy().reshape(grid_shape)),
         "entropy": (("y", "x"), predicted.entropy_bits.to_numpy().reshape(grid_shape))},
        coords=year_layers.coords, attrs={"year": year, "model_version": model.version,
                                          "hemeroby_table": table.label})


def _acoustic_check(model: IntegrityNetwork, year_cells: pd.DataFrame) -> dict | None:
    """Anthropogenic event rates against the EI mapped from EO alone, at 3 or more sites."""
    sites = year_cells.recording_hours.notna().to_numpy()
    if sites.sum() < 3 or "anthropogenic_events" not in year_cells:
        return None
    eo_only = model.predict(year_cells[sites], acoustic=False).ei.to_numpy()
    try:
        return acoustic_relation(eo_only, year_cells.anthropogenic_events[sites].to_numpy(),
                                 year_cells.recording_hours[sites].to_numpy())
    except ValueError as exc:  # e.g. no events anywhere: say so in the report
        return {"error": str(exc)}


def _write_maps(run: IntegrityRun, out_catalog: LocalCatalog, cell: float, train_year: int,
                table: HemerobyTable) -> None:
    """The maps as COG + STAC products, and the validation beside them as JSON."""
    spec = integrity_spec(run.model)
    for year, ds in run.maps.items():
        tile = Tile(f"integrity-{int(cell)}m", (0, 0), ds.odc.geobox)
        props = {"ecointegrity:model_version": run.model.version,
                 "ecointegrity:hemeroby_table": table.label, "ecointegrity:train_year": train_year}
        run.items.append(write_product(out_catalog, spec, tile, year, ds, properties=props))
    if run.validation is not None:
        path = Path(out_catalog.root) / "validation.json"
        path.write_text(json.dumps({"blocked_cv": run.validation.to_dict(),
                                    "acoustic": run.acoustic}, indent=1, default=str) + "\n")


def run_integrity(layers: dict[int, xr.Dataset], *, train_year: int,
                  evidence: pd.DataFrame | None = None,
                  structure: Sequence[tuple[str, str]] | None = None, table: HemerobyTable,
                  out_catalog: LocalCatalog | None = None, model_path: Path | None = None,
                  block_size: float | None = None, n_folds: int = 5, seed: int = 0) -> IntegrityRun:
    """Train on ``train_year``'s cells (label: their land-cover hemeroby), validate, map every
    year, and write the maps (and the model, JSON) when asked.

    Drivers are the class shares whose hemeroby is 8 or more, ``change`` when present; signs
    are the EO statistics present; site counts enter as Poisson evidence when ``evidence`` has
    enough sites (3 or more with effort). Without ``structure`` the arcs are learnt by hill
    climbing within tiers (drivers -> hemeroby -> signs), never between signs.
    """
    train_layers = layers[train_year]
    inputs = _NetworkInputs.of(layers, train_year, table)
    cells = _table(train_layers, evidence)
    cells["label"] = np.round(cells.pop("hemeroby"))
    counts = _usable_counts(cells)
    make_network = partial(inputs.network, structure, counts, table)

    model = make_network().fit(cells, label="label", numeric=inputs.numeric,
                               categorical=inputs.zones)
    model.metadata.update(train_year=train_year, drivers=inputs.drivers,
                          context=inputs.context + inputs.zones, signs=inputs.signs,
                          cell_size=train_layers.attrs.get("cell_size"))
    run = IntegrityRun(model, layers, {})
    cell = float(train_layers.attrs.get("cell_size", abs(train_layers.odc.geobox.resolution.x)))
    run.validation = _validate(cells, inputs, make_network, block_size=block_size or 4 * cell,
                               n_folds=n_folds, seed=seed)
    for year, year_layers in sorted(layers.items()):
        year_cells = _table(year_layers, evidence)
        run.maps[year] = _integrity_map(model, year_layers, year_cells, year, table)
        if year == train_year and evidence is not None and counts:
            run.acoustic = _acoustic_check(model, year_cells)
    if model_path is not None:
        model.save(model_path)
    if out_catalog is not None:
        _write_maps(run, out_catalog, cell, train_year, table)
    return run
