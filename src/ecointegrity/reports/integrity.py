"""The ecosystem-integrity report: for decision makers, plain words first, then the evidence.

Contents: a plain-language summary and key figures; the maps of the last year (integrity and
its uncertainty) and of the change since the first year, with coordinates, scale bar, north
arrow and the regions outlined; the trend of integrity over the years; the area per integrity
class per year; the figures per region; the validation (spatially blocked, beside LightGBM)
and the acoustic check; what the model is made of. Spanish (CONABIO's "Índice de Integridad
Ecosistémica", IIE) or English, from the same sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..integrity import (  # noqa: E402
    EI_CLASSES,
    INTACT,
    area_by_class,
    cell_area_km2,
    region_statistics,
)
from .document import Document, Facts, Figure, Heading, Paragraph, Summary, Table  # noqa: E402
from .maps import MapContext, draw_map, figure_png  # noqa: E402
from .wording import Language, Wording  # noqa: E402

__all__ = ["ei_class_names", "integrity_report"]


def ei_class_names(w: Wording) -> dict[str, str]:
    """The reader's names of the keys of ``integrity.EI_CLASSES``."""
    return {
        "heavily_transformed": w(es="muy transformado", en="heavily transformed"),
        "transformed": w(es="transformado", en="transformed"),
        "partly_transformed": w(es="parcialmente transformado", en="partly transformed"),
        "intact": w(es=f"íntegro (≥ {w.number(INTACT, 2)})", en=f"intact (≥ {w.number(INTACT, 2)})"),
    }


def ei_name(w: Wording) -> str:
    """The index's short name: IIE (Índice de Integridad Ecosistémica) or EI."""
    return w(es="IIE", en="EI")


def _ha(km2: float) -> float:
    return km2 * 100.0


def _summary(w: Wording, maps: Mapping[int, xr.Dataset], overall: pd.DataFrame | None,
             acoustic: dict | None, provisional: bool) -> tuple[str, ...]:
    years = sorted(maps)
    last = maps[years[-1]]
    ei = last.ei.values[np.isfinite(last.ei.values)]
    km2 = ei.size * cell_area_km2(last)
    intact, heavy = np.mean(ei >= INTACT), np.mean(ei < 0.25)
    lines = [w(
        es=f"En {years[-1]}, la integridad ecosistémica media de los {w.number(km2)} km² "
           f"cartografiados es {w.number(ei.mean(), 2)} (0 = totalmente transformado, "
           f"1 = íntegro). El {w.percent(intact)} del área está íntegra (IIE de "
           f"{w.number(INTACT, 2)} o más) y el {w.percent(heavy)} muy transformada (menos de "
           f"{w.number(0.25, 2)}).",
        en=f"In {years[-1]}, the mean ecosystem integrity of the {w.number(km2)} km² mapped is "
           f"{w.number(ei.mean(), 2)} (0 = fully transformed, 1 = intact); {w.percent(intact)} "
           f"of the area is intact (EI {w.number(INTACT, 2)} or more) and {w.percent(heavy)} "
           f"heavily transformed (below {w.number(0.25, 2)}).")]
    if len(years) > 1:
        diff = last.ei.values - maps[years[0]].ei.values
        cell = cell_area_km2(last)
        loss, gain = _ha(np.nansum(diff < -0.1) * cell), _ha(np.nansum(diff > 0.1) * cell)
        lines.append(w(
            es=f"Desde {years[0]}, la integridad bajó más de {w.number(0.1, 1)} en "
               f"{w.number(loss, 0)} ha y subió más de {w.number(0.1, 1)} en "
               f"{w.number(gain, 0)} ha (cambio medio {w.signed(np.nanmean(diff), 3)}).",
            en=f"Since {years[0]}, integrity fell by more than {w.number(0.1, 1)} on "
               f"{w.number(loss, 0)} ha and rose by more than {w.number(0.1, 1)} on "
               f"{w.number(gain, 0)} ha (mean change {w.signed(np.nanmean(diff), 3)})."))
    sd = np.nanmean(last.ei_sd.values)
    lines.append(w(
        es=f"La incertidumbre típica del IIE de una celda es ± {w.number(sd, 2)} (desviación "
           "estándar posterior): lea cada celda con ese margen; las cifras de áreas grandes "
           "son más seguras.",
        en=f"The typical uncertainty of a cell's EI is ± {w.number(sd, 2)} (posterior standard "
           "deviation); read single cells with that margin, figures for large areas with more "
           "confidence."))
    if overall is not None and {"bn", "lightgbm"} <= set(overall.index):
        lines.append(w(
            es="Comprobado en zonas que el modelo no vio (bloques espaciales), su IIE sigue a "
               f"la referencia con r = {w.number(overall.loc['bn', 'pearson'], 2)} (error medio "
               f"{w.number(overall.loc['bn', 'mae'], 3)}); un modelo de referencia (LightGBM) "
               f"alcanza r = {w.number(overall.loc['lightgbm', 'pearson'], 2)} en los mismos "
               "bloques.",
            en="Checked on areas the model never saw (spatial blocks), its EI follows the "
               f"reference with r = {w.number(overall.loc['bn', 'pearson'], 2)} (mean error "
               f"{w.number(overall.loc['bn', 'mae'], 3)}); a gradient-boosting baseline "
               f"(LightGBM) reaches r = {w.number(overall.loc['lightgbm', 'pearson'], 2)} on the "
               "same blocks."))
    if acoustic and "slope" in acoustic:
        lines.append(_acoustic_sentence(w, acoustic))
    if provisional:
        lines.append(w(
            es="La hemerobia viene de una tabla clase-hemerobia PROVISIONAL: las cifras son "
               "exploratorias hasta que la tabla oficial de la institución la sustituya.",
            en="Hemeroby comes from a PROVISIONAL class-to-hemeroby table: figures are for "
               "exploration until the institution's official table replaces it."))
    return tuple(lines)


def _acoustic_sentence(w: Wording, acoustic: dict) -> str:
    lo, hi = acoustic["rate_ratio_ci"]
    ratio, n = acoustic["rate_ratio_per_0.1"], acoustic["n_sites"]
    trend_es = "baja" if hi < 1 else ("sube" if lo > 1 else "no muestra una tendencia clara")
    trend_en = "falls" if hi < 1 else ("rises" if lo > 1 else "shows no clear trend")
    few_es = f"; {n} sitios son muy pocos para concluir." if n < 10 else "."
    few_en = f"; {n} sites are too few to conclude." if n < 10 else "."
    return w(
        es=f"En los {n} sitios de grabación, la tasa de sonidos humanos (disparos, motosierras, "
           f"motores, voces...) {trend_es} cuando el IIE sube: x{w.number(ratio, 2)} por cada "
           f"+{w.number(0.1, 1)} de IIE (IC 95 % {w.number(lo, 2)}–{w.number(hi, 2)}){few_es}",
        en=f"At the {n} recording sites, the rate of human sounds (gunshots, chainsaws, engines, "
           f"voices...) {trend_en} as EI rises: x{w.number(ratio, 2)} per +{w.number(0.1, 1)} EI "
           f"(95% CI {w.number(lo, 2)}–{w.number(hi, 2)}){few_en}")


def _maps_figure(w: Wording, maps: Mapping[int, xr.Dataset], context: MapContext) -> bytes:
    years = sorted(maps)
    last = maps[years[-1]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    draw_map(axes[0], last.ei, lang=w.lang, cmap="RdYlGn", vmin=0, vmax=1,
             title=w(es=f"Integridad ecosistémica {years[-1]}",
                     en=f"Ecosystem integrity {years[-1]}"),
             colorbar_label=ei_name(w),
             ends=(w(es="transformado", en="transformed"), w(es="íntegro", en="intact")),
             context=context)
    draw_map(axes[1], last.ei_sd, lang=w.lang, cmap="magma_r", vmin=0,
             title=w(es="Incertidumbre (desv. estándar)", en="Uncertainty (standard deviation)"),
             ends=(w(es="más segura", en="more certain"), w(es="menos segura", en="less certain")),
             context=context)
    fig.tight_layout()
    return figure_png(fig)


def _change_figure(w: Wording, first: xr.Dataset, last: xr.Dataset, years: tuple[int, int],
                   context: MapContext) -> bytes:
    diff = last.ei - first.ei
    finite = np.isfinite(diff.values)
    limit = max(0.1, float(np.nanmax(np.abs(diff.values))) if finite.any() else 0.1)
    fig, ax = plt.subplots(figsize=(6.8, 5.2))
    draw_map(ax, diff, lang=w.lang, cmap="RdBu", vmin=-limit, vmax=limit,
             title=w(es=f"Cambio de integridad, {years[0]}–{years[1]}",
                     en=f"Change in integrity, {years[0]}–{years[1]}"),
             colorbar_label=w(es="diferencia de IIE", en="EI difference"),
             ends=(w(es="perdió", en="lost"), w(es="ganó", en="gained")), context=context)
    return figure_png(fig)


def _trend_figure(w: Wording, maps: Mapping[int, xr.Dataset]) -> bytes:
    years = sorted(maps)
    values = [maps[y].ei.values[np.isfinite(maps[y].ei.values)] for y in years]
    mean = [v.mean() for v in values]
    p10 = [np.percentile(v, 10) for v in values]
    p90 = [np.percentile(v, 90) for v in values]
    intact = [np.mean(v >= INTACT) * 100 for v in values]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.fill_between(years, p10, p90, color="#8fbf8f", alpha=0.4,
                    label=w(es="80 % central de las celdas", en="middle 80% of cells"))
    ax.plot(years, mean, color="#1b4d3e", marker="o", markersize=3,
            label=w(es="IIE medio", en="mean EI"))
    ax.set_ylim(0, 1)
    ax.set_ylabel(ei_name(w))
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(years, intact, color="#b5651d", linestyle="--",
               label=w(es="% del área íntegra", en="% of area intact"))
    right.set_ylim(0, 100)
    right.set_ylabel(w(es="% íntegro", en="% intact"))
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return figure_png(fig)


def _area_table(w: Wording, maps: Mapping[int, xr.Dataset]) -> Table:
    area = area_by_class(maps).T * 100.0  # km2 -> ha, years as rows (30 years stay narrow)
    names = ei_class_names(w)
    header = (w(es="año", en="year"), *(names[c[2]] for c in EI_CLASSES), "total")
    rows = tuple(
        (str(year), *(w.number(area.loc[year, c[2]], 0) for c in EI_CLASSES),
         w.number(area.loc[year].sum(), 0))
        for year in area.index)
    return Table(w(es="Área por clase de integridad (ha)", en="Area by integrity class (ha)"),
                 header, rows, widths=(1, 1.4, 1.4, 1.4, 1.4, 1.2))


def _regions_table(w: Wording, maps: Mapping[int, xr.Dataset], regions: Any,
                   name_column: str | None) -> Table:
    years = sorted(maps)
    stats = region_statistics(maps[years[-1]], regions, name_column)
    first = region_statistics(maps[years[0]], regions, name_column).set_index("region")
    stats = stats.sort_values("mean_ei")
    header = (w(es="región", en="region"), w(es="área (ha)", en="area (ha)"),
              w(es=f"IIE medio {years[-1]}", en=f"mean EI {years[-1]}"),
              w(es="incertidumbre (±)", en="uncertainty (±)"),
              w(es="% íntegro", en="% intact"),
              w(es=f"cambio desde {years[0]}", en=f"change since {years[0]}"))
    rows = tuple(
        (str(r.region), w.number(r.km2 * 100, 0), w.number(r.mean_ei, 2), w.number(r.mean_sd, 2),
         w.number(r.intact_percent, 0),
         w.signed(r.mean_ei - first.loc[r.region, "mean_ei"], 3))
        for r in stats.itertuples())
    return Table(w(es=f"Regiones, de menor a mayor integridad ({years[-1]})",
                   en=f"Regions, from least to most intact ({years[-1]})"),
                 header, rows, widths=(2.4, 1, 1, 1, 1, 1.1))


def _validation_table(w: Wording, overall: pd.DataFrame) -> Table:
    label = {"bn": w(es="red bayesiana (este modelo)", en="Bayesian network (this model)"),
             "lightgbm": w(es="LightGBM (referencia)", en="LightGBM (baseline)")}
    metrics = [c for c in ("n", "pearson", "spearman", "mae", "rmse", "accuracy",
                           "accuracy_within_1") if c in overall.columns]
    names = {"n": w(es="celdas", en="cells"), "pearson": "r (Pearson)",
             "spearman": "ρ (Spearman)", "mae": w(es="error medio", en="mean error"),
             "rmse": "RMSE", "accuracy": w(es="acierto de clase", en="class accuracy"),
             "accuracy_within_1": w(es="acierto ±1 clase", en="accuracy ±1 class")}
    rows = tuple(
        (label.get(str(model), str(model)),
         *(w.integer(row[m]) if m == "n" else w.number(row[m], 3) for m in metrics))
        for model, row in overall.iterrows())
    return Table(w(es="Validación cruzada por bloques espaciales (mismos bloques para ambos)",
                   en="Spatially blocked cross-validation (same blocks for both)"),
                 (w(es="modelo", en="model"), *(names[m] for m in metrics)), rows,
                 widths=(2.4,) + (1.0,) * len(metrics))


def _acoustic_table(w: Wording, acoustic: dict) -> Table:
    lo, hi = acoustic["rate_ratio_ci"]
    rows = [
        (w(es="sitios de grabación", en="recording sites"), w.integer(acoustic["n_sites"])),
        (w(es=f"razón de tasas por +{w.number(0.1, 1)} de IIE",
           en=f"rate ratio per +{w.number(0.1, 1)} EI"),
         w.number(acoustic["rate_ratio_per_0.1"], 2)),
        (w(es="intervalo de confianza 95 %", en="95% confidence interval"),
         f"{w.number(lo, 2)}–{w.number(hi, 2)}"),
    ]
    if "p_value" in acoustic:
        rows.append((w(es="valor p", en="p-value"), w.number(acoustic["p_value"], 3)))
    return Table(w(es="Comprobación acústica: tasa de sonidos humanos frente al IIE (GLM de "
                      "Poisson, con el esfuerzo de grabación como offset)",
                   en="Acoustic check: human-sound rate against EI (Poisson GLM, recording "
                      "effort as offset)"),
                 (w(es="cifra", en="figure"), w(es="valor", en="value")), tuple(rows),
                 widths=(3, 1.2))


def _overall(validation: Any) -> pd.DataFrame | None:
    if validation is None:
        return None
    overall = validation.overall if hasattr(validation, "overall") else validation
    return overall.set_index("model") if "model" in overall.columns else overall


def integrity_report(
    maps: Mapping[int, xr.Dataset],
    *,
    lang: Language = "es",
    area_name: str,
    validation: Any = None,
    acoustic: dict | None = None,
    model: Any = None,
    regions: Any = None,
    name_column: str | None = None,
    relief: xr.DataArray | None = None,
    locale: str | None = None,
    source: str = "",
) -> Document:
    """The integrity report of ``maps`` as a `Document` (write it with `write_document`).

    Args:
        maps: per year, a dataset with ``ei`` and ``ei_sd`` on the cell grid.
        area_name: how the report names the area (a place name, a protected area...).
        validation: a ``integrity.CrossValidationResult`` or its ``overall`` table (or None).
        acoustic: the dict of ``integrity.acoustic_relation`` (or None).
        model: the ``IntegrityNetwork`` (version, hemeroby table and arcs are listed).
        regions: polygons (GeoDataFrame) outlined on the maps and summarised in a table.
        name_column: the regions' name column.
        relief: elevation on the maps' grid, drawn as a hillshade under them.
        source: where the data come from, printed in every page's footer.
    """
    if not maps:
        raise ValueError("no EI maps to report on")
    w = Wording(lang, locale)
    years = sorted(maps)
    last = maps[years[-1]]
    context = MapContext(regions, name_column, relief)
    overall = _overall(validation)
    provisional = model is not None and "provisional" in str(getattr(model, "hemeroby_table", ""))
    doc = Document(
        title=w(es="Integridad ecosistémica", en="Ecosystem integrity"),
        subtitle=f"{area_name} · {w.year_range(years[0], years[-1])}",
        lang=w.lang, kind="integrity",
        footer=" · ".join(p for p in ("ecointegrity", source) if p))
    ei = last.ei.values[np.isfinite(last.ei.values)]
    facts = [(w(es=f"IIE medio {years[-1]}", en=f"mean EI {years[-1]}"), w.number(ei.mean(), 2)),
             (w(es="área íntegra", en="area intact"), w.percent(np.mean(ei >= INTACT))),
             (w(es="área cartografiada", en="area mapped"),
              f"{w.number(ei.size * cell_area_km2(last) * 100, 0)} ha")]
    if len(years) > 1:
        change = np.nanmean(last.ei.values - maps[years[0]].ei.values)
        facts.append((w(es=f"cambio medio desde {years[0]}", en=f"mean change since {years[0]}"),
                      w.signed(change, 3)))
    doc.add(Summary(w(es="En pocas palabras", en="In short"),
                    _summary(w, maps, overall, acoustic, provisional)),
            Facts(tuple(facts)),
            Heading(w(es="Mapas", en="Maps")),
            Figure(_maps_figure(w, maps, context),
                   w(es=f"Integridad ecosistémica y su incertidumbre en {years[-1]}. Verde: "
                        "íntegro; rojo: transformado. A la derecha, cuánto puede variar el valor "
                        "de cada celda.",
                     en=f"Ecosystem integrity and its uncertainty in {years[-1]}. Green: intact; "
                        "red: transformed. Right: how much each cell's value may vary.")))
    if len(years) > 1:
        doc.add(Figure(_change_figure(w, maps[years[0]], last, (years[0], years[-1]), context),
                       w(es=f"Cambio del IIE entre {years[0]} y {years[-1]}: rojo donde bajó, "
                            "azul donde subió.",
                         en=f"Change in EI between {years[0]} and {years[-1]}: red where it fell, "
                            "blue where it rose."), width=0.75),
                Heading(w(es="Tendencia", en="Trend")),
                Figure(_trend_figure(w, maps),
                       w(es="IIE medio por año, con la franja donde cae el 80 % central de las "
                            "celdas, y el porcentaje del área íntegra.",
                         en="Mean EI per year, with the band of the middle 80% of cells, and the "
                            "share of the area that is intact.")))
    doc.add(Heading(w(es="Área por clase de integridad", en="Area by integrity class")),
            _area_table(w, maps))
    if regions is not None:
        doc.add(Heading(w(es="Regiones", en="Regions")),
                _regions_table(w, maps, regions, name_column))
    if overall is not None or (acoustic and "slope" in acoustic):
        doc.add(Heading(w(es="¿Qué tan confiable es?", en="How reliable is it?")))
    if overall is not None:
        doc.add(_validation_table(w, overall))
    if acoustic and "slope" in acoustic:
        doc.add(_acoustic_table(w, acoustic))
    elif acoustic and "error" in acoustic:
        doc.add(Paragraph(w(es="Comprobación acústica no posible: ", en="No acoustic check: ")
                          + str(acoustic["error"]), small=True))
    doc.add(Heading(w(es="Método", en="Method")), Paragraph(w(
        es="El IIE es 1 menos la hemerobia esperada (grado de transformación humana) dividida "
           "por su máximo, inferida por una red bayesiana a partir de la cobertura del suelo, "
           "los índices espectrales anuales y, donde hay grabadoras, la evidencia acústica. Cada "
           "celda lleva su distribución posterior completa: la desviación estándar es su "
           "incertidumbre.",
        en="EI is 1 minus the expected hemeroby (degree of human transformation) over its "
           "maximum, inferred by a Bayesian network from land cover, the annual spectral indices "
           "and, where recorders are, acoustic evidence. Every cell carries its full posterior "
           "distribution: its standard deviation is the uncertainty.")))
    if model is not None:
        arcs = ", ".join(f"{a} → {b}" for a, b in model.edges_)
        doc.add(Paragraph(w(es=f"Versión del modelo {model.version}; tabla de hemerobia "
                               f"{model.hemeroby_table}. Arcos: {arcs}.",
                            en=f"Model version {model.version}; hemeroby table "
                               f"{model.hemeroby_table}. Arcs: {arcs}."), small=True))
    return doc
