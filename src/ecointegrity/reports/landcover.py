"""The validation document of a land-cover release (Olofsson et al. 2014 good practices).

What an institution publishes beside a map: the class scheme and its legend, the sample design
(stratified random, map classes as strata), the error matrix in sample counts and in estimated
area proportions, user's and producer's accuracies and the area of each class estimated from
the sample, all with 95 % confidence intervals, and how they were computed. The figures come
from ``landcover.stratified_estimates``; this module only words and lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..landcover import (  # noqa: E402
    AreaEstimate,
    ClassScheme,
    mapped_area_ha,
    stratified_estimates,
)
from .document import Document, Facts, Figure, Heading, Paragraph, Summary, Table  # noqa: E402
from .maps import Categories, MapContext, draw_map, figure_png  # noqa: E402
from .wording import Language, Wording  # noqa: E402

__all__ = ["SampleDesign", "landcover_change_report", "landcover_validation"]


@dataclass(frozen=True)
class SampleDesign:
    """How the reference sample was drawn and labelled (printed in the document).

    Attributes:
        allocation: ``proportional``, ``equal`` or ``minimum`` (Olofsson's compromise: each
            stratum at least ``min_per_class``), as ``landcover.allocate_sample`` names them.
        reference: where the reference labels come from (photo-interpretation of ..., field
            visits, the simulator's truth): one text, or one per language ({"es": ..., "en": ...}).
        seed: the random seed of the draw, so the sample can be drawn again.
    """

    allocation: str = "minimum"
    min_per_class: int = 50
    reference: str | Mapping[str, str] = ""
    seed: int | None = None

    def reference_in(self, lang: str) -> str:
        if isinstance(self.reference, Mapping):
            return self.reference.get(lang) or next(iter(self.reference.values()), "")
        return self.reference


def _labels(estimate: AreaEstimate, scheme: ClassScheme | None,
            class_names: Mapping[Any, str] | None, lang: Language) -> dict[Any, str]:
    names = scheme.names(lang) if scheme is not None else dict(class_names or {})
    return {c: str(names.get(c, c)) for c in estimate.classes}


def _summary(w: Wording, est: AreaEstimate, labels: dict[Any, str], n: int) -> tuple[str, ...]:
    level = w.percent(est.confidence)
    lines = [w(
        es=f"Según {w.integer(n)} puntos de verificación, el mapa acierta en el "
           f"{w.percent(est.overall_accuracy, 1)} del área (± {w.percent(est.overall_accuracy_ci, 1)}"
           f" con {level} de confianza).",
        en=f"Checked against {w.integer(n)} reference points, the map is right on "
           f"{w.percent(est.overall_accuracy, 1)} of the area (± {w.percent(est.overall_accuracy_ci, 1)}"
           f" at {level} confidence).")]
    ua = np.array(est.user_accuracy, dtype=float)
    pa = np.array(est.producer_accuracy, dtype=float)
    if np.isfinite(ua).any():
        i = int(np.nanargmin(ua))
        lines.append(w(
            es=f"La clase menos fiable en el mapa es «{labels[est.classes[i]]}»: de lo que el "
               f"mapa muestra como tal, es correcto el {w.percent(ua[i])} (exactitud del "
               "usuario).",
            en=f"The least reliable class on the map is '{labels[est.classes[i]]}': of what the "
               f"map shows as such, {w.percent(ua[i])} is right (user's accuracy)."))
    if np.isfinite(pa).any():
        j = int(np.nanargmin(pa))
        lines.append(w(
            es=f"La clase que el mapa más omite es «{labels[est.classes[j]]}»: el mapa "
               f"encuentra el {w.percent(pa[j])} de su área real (exactitud del productor).",
            en=f"The class the map misses most is '{labels[est.classes[j]]}': the map finds "
               f"{w.percent(pa[j])} of its real area (producer's accuracy)."))
    lines.append(w(
        es="Las áreas de cada clase se estiman con la muestra, no contando píxeles del mapa: "
           "contar píxeles arrastra los errores del mapa. Cada área lleva su intervalo de "
           "confianza.",
        en="Class areas are estimated from the sample, not by counting map pixels, which would "
           "carry the map's errors. Each area comes with its confidence interval."))
    return tuple(lines)


def _legend_table(w: Wording, est: AreaEstimate, labels: dict[Any, str],
                  scheme: ClassScheme | None) -> Table:
    if scheme is not None:
        colors = {c.code: c.color for c in scheme.classes}
        rows = tuple((str(c), colors.get(c, "#ffffff"), labels[c]) for c in est.classes)
        return Table(w(es=f"Esquema de clases {scheme} y leyenda",
                       en=f"Class scheme {scheme} and legend"),
                     (w(es="código", en="code"), "color" if w.lang == "es" else "colour",
                      w(es="clase", en="class")), rows, swatches=(1,),
                     align=("left", "center", "left"), widths=(0.8, 0.8, 5))
    pairs = tuple((str(c), labels[c]) for c in est.classes)
    return Table(w(es="Clases", en="Classes"), (w(es="código", en="code"), w(es="clase",
                 en="class")), pairs, align=("left", "left"), widths=(0.8, 5.8))


def _design_table(w: Wording, est: AreaEstimate, labels: dict[Any, str]) -> Table:
    rows = tuple(
        (f"{c} {labels[c]}", w.number(a, 0), w.number(wi, 4), w.integer(n))
        for c, a, wi, n in zip(est.classes, est.mapped_area, est.weights, est.sample_counts,
                               strict=True))
    rows += (("total", w.number(est.total_area, 0), w.number(1.0, 4),
              w.integer(sum(est.sample_counts))),)
    return Table(w(es="Estratos: área cartografiada, peso W_i y puntos de muestra n_i",
                   en="Strata: mapped area, weight W_i and sample points n_i"),
                 (w(es="estrato (clase del mapa)", en="stratum (map class)"),
                  w(es="área cartografiada (ha)", en="mapped area (ha)"), "W_i", "n_i"),
                 rows, widths=(3, 1.4, 1, 1))


def _matrix_table(w: Wording, classes: Sequence[Any], labels: dict[Any, str], values: np.ndarray,
                  caption: str, fmt: Any, total_label: str, note: str | None = None) -> Table:
    """A square matrix with row and column totals; rows labelled, columns by code."""
    codes = [str(c) for c in classes]
    rows = []
    for c, row in zip(classes, values, strict=True):
        rows.append((f"{c} {labels[c]}", *(fmt(v) for v in row), fmt(row.sum())))
    rows.append((total_label, *(fmt(v) for v in values.sum(axis=0)), fmt(values.sum())))
    k = len(codes)
    corner = w(es="mapa \\ referencia", en="map \\ reference") if note is None else w(
        es="antes \\ después", en="before \\ after")
    return Table(caption, (corner, *codes, "total"),
                 tuple(rows), widths=(max(2.4, 0.25 * k),) + (1.0,) * (k + 1),
                 note=note or w(es="Filas: clase del mapa (estrato); columnas: clase de "
                                   "referencia, por código (ver la leyenda).",
                                en="Rows: map class (stratum); columns: reference class, by code "
                                   "(see the legend)."))


def _accuracy_table(w: Wording, est: AreaEstimate, labels: dict[Any, str]) -> Table:
    rows = tuple(
        (f"{c} {labels[c]}",
         w.plus_minus(ua * 100, uci * 100, 1), w.plus_minus(pa * 100, pci * 100, 1),
         w.number(mapped, 0), w.plus_minus(area, aci, 0))
        for c, ua, uci, pa, pci, mapped, area, aci in zip(
            est.classes, est.user_accuracy, est.user_accuracy_ci, est.producer_accuracy,
            est.producer_accuracy_ci, est.mapped_area, est.area, est.area_ci, strict=True))
    level = w.percent(est.confidence)
    return Table(
        w(es=f"Exactitud y área estimada por clase (± intervalo de confianza {level})",
          en=f"Accuracy and estimated area per class (± {level} confidence interval)"),
        (w(es="clase", en="class"), w(es="exactitud del usuario (%)", en="user's accuracy (%)"),
         w(es="exactitud del productor (%)", en="producer's accuracy (%)"),
         w(es="área cartografiada (ha)", en="mapped area (ha)"),
         w(es="área estimada (ha)", en="estimated area (ha)")),
        rows, widths=(2.6, 1.3, 1.3, 1.2, 1.6),
        note=w(es="Exactitud del usuario: de lo que el mapa llama así, cuánto lo es (errores de "
                  "comisión). Del productor: de lo que hay en la realidad, cuánto encuentra el "
                  "mapa (omisión).",
               en="User's accuracy: of what the map calls a class, how much is it (commission "
                  "errors). Producer's: of what is really there, how much the map finds "
                  "(omission)."))


def _map_figure(w: Wording, class_map: xr.DataArray, est: AreaEstimate, labels: dict[Any, str],
                scheme: ClassScheme | None, points: Any, context: MapContext) -> bytes:
    colors = ({c.code: c.color for c in scheme.classes} if scheme is not None else {})
    cycle = plt.get_cmap("tab20")
    codes = tuple(int(c) for c in est.classes)
    palette = tuple(colors.get(c, matplotlib.colors.to_hex(cycle(i % 20)))
                    for i, c in enumerate(codes))
    fig, ax = plt.subplots(figsize=(7.5, 5.6))
    draw_map(ax, class_map, lang=w.lang,
             categories=Categories(codes, palette, tuple(labels[c] for c in est.classes)),
             context=context)
    if points is not None and len(points):
        xs, ys = points
        ax.scatter(xs, ys, s=4, facecolor="white", edgecolor="black", linewidth=0.4,
                   label=w(es="puntos de verificación", en="reference points"), zorder=5)
    return figure_png(fig)


def landcover_validation(
    confusion: pd.DataFrame | np.ndarray,
    mapped_area_ha: Any,
    *,
    lang: Language = "es",
    map_name: str,
    scheme: ClassScheme | None = None,
    class_names: Mapping[Any, str] | None = None,
    design: SampleDesign | None = None,
    class_map: xr.DataArray | None = None,
    sample_xy: tuple[np.ndarray, np.ndarray] | None = None,
    regions: Any = None,
    name_column: str | None = None,
    confidence: float = 0.95,
    z: float | None = None,
    locale: str | None = None,
    source: str = "",
) -> tuple[Document, AreaEstimate]:
    """The validation document of a land-cover map, and the estimates it prints.

    Args:
        confusion: sample counts, rows = map class (stratum), columns = reference class (a
            DataFrame from ``landcover.confusion_matrix`` or a square array, classes 1..k).
        mapped_area_ha: mapped area of each class in hectares (sequence in row order, or a
            mapping keyed by class).
        map_name: how the document names the map ("Cobertura del suelo 2025, Bacalar").
        scheme: the class scheme (names in the reader's language, colours); else
            ``class_names``.
        design: how the sample was drawn (printed in the sample-design section).
        class_map: the map itself, drawn with the sample points (``sample_xy``, map CRS).
        z: the normal quantile of the intervals (default from ``confidence``; Olofsson et al.
            print theirs with 1.96).
    """
    est = stratified_estimates(confusion, mapped_area_ha, confidence=confidence, z=z)
    counts = (confusion.loc[list(est.classes), list(est.classes)].to_numpy(dtype=float)
              if isinstance(confusion, pd.DataFrame) else np.asarray(confusion, dtype=float))
    w = Wording(lang, locale)
    labels = _labels(est, scheme, class_names, w.lang)
    n = int(counts.sum())
    design = design or SampleDesign()
    doc = Document(
        title=w(es="Validación del mapa de cobertura del suelo",
                en="Validation of the land-cover map"),
        subtitle=map_name, lang=w.lang, kind="landcover-validation",
        footer=" · ".join(p for p in ("ecointegrity", source) if p))
    doc.add(
        Summary(w(es="En pocas palabras", en="In short"), _summary(w, est, labels, n)),
        Facts(((w(es="exactitud global", en="overall accuracy"),
                f"{w.percent(est.overall_accuracy, 1)} ± {w.percent(est.overall_accuracy_ci, 1)}"),
               (w(es="puntos de verificación", en="reference points"), w.integer(n)),
               (w(es="clases", en="classes"), w.integer(len(est.classes))),
               (w(es="área total", en="total area"), f"{w.number(est.total_area, 0)} ha"))),
        Heading(w(es="Esquema de clases", en="Class scheme")),
        _legend_table(w, est, labels, scheme))
    if class_map is not None:
        doc.add(Figure(_map_figure(w, class_map, est, labels, scheme, sample_xy,
                                   MapContext(regions, name_column)),
                       w(es=f"{map_name}, con los puntos de verificación (blancos).",
                         en=f"{map_name}, with the reference points (white).")))
    allocation = {
        "proportional": w(es="proporcional al área de cada estrato",
                          en="proportional to each stratum's area"),
        "equal": w(es="igual en cada estrato", en="equal in every stratum"),
        "minimum": w(es=f"proporcional al área con un mínimo de {design.min_per_class} puntos "
                        "por estrato (Olofsson et al. 2014, sección 5.1.2)",
                     en=f"proportional to area with at least {design.min_per_class} points per "
                        "stratum (Olofsson et al. 2014, section 5.1.2)"),
    }.get(design.allocation, design.allocation)
    allocation = {"olofsson": allocation}.get(design.allocation, allocation)
    seed = (w(es=f" Semilla aleatoria {design.seed}.", en=f" Random seed {design.seed}.")
            if design.seed is not None else "")
    source_of_labels = design.reference_in(w.lang)
    reference = (w(es=f" Etiquetas de referencia: {source_of_labels}.",
                   en=f" Reference labels: {source_of_labels}.") if source_of_labels else "")
    doc.add(
        Heading(w(es="Diseño de muestreo", en="Sample design")),
        Paragraph(w(es="Muestreo aleatorio estratificado: los estratos son las clases del mapa; "
                       f"asignación {allocation}.",
                    en="Stratified random sampling with the map classes as strata; "
                       f"allocation {allocation}.") + seed + reference),
        _design_table(w, est, labels),
        Heading(w(es="Matriz de error", en="Error matrix")),
        _matrix_table(w, est.classes, labels, counts,
                      w(es="Matriz de error en número de puntos de muestra",
                        en="Error matrix in sample counts"),
                      w.integer, "total"),
        _matrix_table(w, est.classes, labels, np.asarray(est.cell_proportions, dtype=float),
                      w(es="Matriz de error en proporciones de área estimadas (p_ij = W_i n_ij / n_i)",
                        en="Error matrix in estimated area proportions (p_ij = W_i n_ij / n_i)"),
                      lambda v: w.number(v, 4), w(es="total (p_·j)", en="total (p_·j)")),
        Heading(w(es="Exactitud y área", en="Accuracy and area")),
        _accuracy_table(w, est, labels),
        Paragraph(w(
            es=f"Exactitud global {w.percent(est.overall_accuracy, 1)} ± "
               f"{w.percent(est.overall_accuracy_ci, 1)} (error estándar "
               f"{w.number(est.overall_accuracy_se, 4)}).",
            en=f"Overall accuracy {w.percent(est.overall_accuracy, 1)} ± "
               f"{w.percent(est.overall_accuracy_ci, 1)} (standard error "
               f"{w.number(est.overall_accuracy_se, 4)}).")),
        Heading(w(es="Método", en="Method")),
        Paragraph(w(
            es="Estimadores estratificados de Olofsson et al. (2014), «Good practices for "
               "estimating area and assessing accuracy of land change», Remote Sensing of "
               "Environment 148: 42–57: proporciones de celda (ec. 4), área por clase (ec. 9–11), "
               "exactitud global, del usuario y del productor (ec. 1–3) y sus errores estándar "
               f"(ec. 5–7). Intervalos = z × error estándar, z = {w.number(est.z, 2)}.",
            en="Stratified estimators of Olofsson et al. (2014), 'Good practices for estimating "
               "area and assessing accuracy of land change', Remote Sensing of Environment 148: "
               "42–57: cell proportions (eq. 4), class areas (eq. 9–11), overall, user's and "
               "producer's accuracy (eq. 1–3) and their standard errors (eq. 5–7). Intervals = "
               f"z × standard error, z = {w.number(est.z, 2)}."), small=True))
    return doc, est


def _class_areas(maps: Mapping[int, xr.DataArray], nodata: int) -> pd.DataFrame:
    """Hectares per class (rows) and year (columns), counted on the maps' pixels."""
    columns = {year: mapped_area_ha(class_map, nodata=nodata)
               for year, class_map in sorted(maps.items())}
    return pd.DataFrame(columns).fillna(0.0).sort_index()


def _shown_years(years: list[int], most: int = 6) -> list[int]:
    """The first, the last and evenly spaced years between: a table that fits a page."""
    if len(years) <= most:
        return years
    picks = np.linspace(0, len(years) - 1, most).round().astype(int)
    return [years[i] for i in sorted(set(picks.tolist()))]


def _transitions(maps: Mapping[int, xr.DataArray], first: int, last: int, nodata: int,
                 changed: np.ndarray | None) -> pd.DataFrame:
    """Hectares that went from one class (rows) to another (columns), first to last year."""
    before = np.asarray(maps[first].values)
    after = np.asarray(maps[last].values)
    valid = np.isfinite(before) & np.isfinite(after) & (before != nodata) & (after != nodata)
    moved = valid & (before != after)
    if changed is not None:
        moved &= changed
    res = maps[last].odc.geobox.resolution
    pixel_ha = abs(float(res.x) * float(res.y)) / 1e4
    table = pd.crosstab(pd.Series(before[moved].astype(int), name="from"),
                        pd.Series(after[moved].astype(int), name="to"))
    return table * pixel_ha


def _class_maps_figure(w: Wording, maps: Mapping[int, xr.DataArray], years: tuple[int, int],
                       categories: Categories, context: MapContext) -> bytes:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.9))
    present: set[int] = set()
    for ax, year in zip(axes, years, strict=True):
        draw_map(ax, maps[year], lang=w.lang, categories=categories, title=str(year),
                 context=context)
        ax.get_legend().remove()
        values = np.asarray(maps[year].values, dtype=float)
        present |= set(np.unique(values[np.isfinite(values)]).astype(int).tolist())
    # one legend for both maps: every class either year shows
    fig.legend(handles=[Patch(facecolor=c, edgecolor="#555", label=n)
                        for code, c, n in zip(categories.codes, categories.colors,
                                              categories.names, strict=True) if code in present],
               loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    fig.tight_layout()
    return figure_png(fig)


def _change_figure(w: Wording, after: xr.DataArray, moved: np.ndarray, categories: Categories,
                   context: MapContext, years: tuple[int, int]) -> bytes:
    shown = after.where(moved)
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    draw_map(ax, shown, lang=w.lang, categories=categories, context=context,
             title=w(es=f"Cambios {years[0]}–{years[1]}: clase a la que pasaron",
                     en=f"Changes {years[0]}–{years[1]}: the class they became"))
    ax.set_facecolor("#ececec")
    return figure_png(fig)


def _area_trend_figure(w: Wording, areas: pd.DataFrame, categories: Categories) -> bytes:
    color = dict(zip(categories.codes, categories.colors, strict=True))
    name = dict(zip(categories.codes, categories.names, strict=True))
    order = areas.sum(axis=1).sort_values(ascending=False).index
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.stackplot(areas.columns, areas.loc[order].to_numpy(),
                 labels=[name.get(int(c), str(c)) for c in order],
                 colors=[color.get(int(c), "#999999") for c in order])
    ax.set_ylabel("ha")
    ax.set_xlim(min(areas.columns), max(areas.columns))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return figure_png(fig)


def landcover_change_report(
    maps: Mapping[int, xr.DataArray],
    *,
    scheme: ClassScheme,
    lang: Language = "es",
    area_name: str,
    changed: np.ndarray | None = None,
    regions: Any = None,
    name_column: str | None = None,
    locale: str | None = None,
    source: str = "",
) -> Document:
    """The land-cover and change report of a series of maps (one per year, same grid).

    Args:
        maps: per year, the class map (``class`` of a land-cover product).
        scheme: the maps' class scheme (names in the reader's language, colours).
        changed: the first-to-last change mask of ``landcover.detect_change`` (changes backed by
            spectral evidence, above the minimum mapping unit); None counts every pixel whose
            class differs.
    """
    if len(maps) < 1:
        raise ValueError("no land-cover maps to report on")
    w = Wording(lang, locale)
    years = sorted(maps)
    first, last = years[0], years[-1]
    nodata = scheme.nodata if scheme.nodata is not None else -1
    names = scheme.names(w.lang)
    categories = Categories(tuple(scheme.codes), tuple(c.color for c in scheme.classes),
                            tuple(names[c] for c in scheme.codes))
    context = MapContext(regions, name_column)
    areas = _class_areas(maps, nodata)
    total = float(areas[last].sum())
    moves = _transitions(maps, first, last, nodata, changed)
    moved_ha = float(moves.to_numpy().sum())
    net = (areas[last] - areas[first]).sort_values()
    doc = Document(title=w(es="Cobertura del suelo y su cambio", en="Land cover and its change"),
                   subtitle=f"{area_name} · {w.year_range(first, last)}", lang=w.lang,
                   kind="landcover-change",
                   footer=" · ".join(p for p in ("ecointegrity", source) if p))
    lines = [w(es=f"Área cartografiada: {w.number(total, 0)} ha, clasificada con el esquema "
                  f"{scheme}.",
               en=f"Area mapped: {w.number(total, 0)} ha, classified with scheme {scheme}.")]
    if len(years) > 1:
        lines.append(w(
            es=f"Entre {first} y {last} cambió de clase {w.number(moved_ha, 0)} ha "
               f"({w.percent(moved_ha / total if total else np.nan, 1)} del área).",
            en=f"Between {first} and {last}, {w.number(moved_ha, 0)} ha changed class "
               f"({w.percent(moved_ha / total if total else np.nan, 1)} of the area)."))
        if len(net) and net.iloc[0] < 0:
            lines.append(w(es=f"La clase que más área perdió es «{names.get(int(net.index[0]))}» "
                              f"({w.signed(net.iloc[0], 0)} ha); la que más ganó, "
                              f"«{names.get(int(net.index[-1]))}» ({w.signed(net.iloc[-1], 0)} ha).",
                           en=f"The class that lost most is '{names.get(int(net.index[0]))}' "
                              f"({w.signed(net.iloc[0], 0)} ha); the one that gained most, "
                              f"'{names.get(int(net.index[-1]))}' ({w.signed(net.iloc[-1], 0)} ha)."))
        if changed is not None:
            lines.append(w(es="Solo cuentan los cambios respaldados por evidencia espectral y por "
                              "encima de la unidad mínima cartografiable.",
                           en="Only changes backed by spectral evidence and above the minimum "
                              "mapping unit count."))
    doc.add(Summary(w(es="En pocas palabras", en="In short"), tuple(lines)))
    doc.add(Heading(w(es="Mapas", en="Maps")),
            Figure(_class_maps_figure(w, maps, (first, last), categories, context),
                   w(es=f"Cobertura del suelo en {first} y en {last}.",
                     en=f"Land cover in {first} and in {last}.")))
    if len(years) > 1:
        before, after = np.asarray(maps[first].values), np.asarray(maps[last].values)
        moved = np.isfinite(before) & np.isfinite(after) & (before != after)
        if changed is not None:
            moved &= changed
        doc.add(Figure(_change_figure(w, maps[last], moved, categories, context, (first, last)),
                       w(es="Píxeles que cambiaron de clase, en el color de su clase nueva; en "
                            "gris, sin cambio.",
                         en="Pixels that changed class, in the colour of their new class; grey: "
                            "no change."), width=0.8),
                Heading(w(es="Área por clase", en="Area by class")),
                Figure(_area_trend_figure(w, areas, categories),
                       w(es="Hectáreas de cada clase por año.",
                         en="Hectares of each class per year.")))
    shown = _shown_years(years)
    doc.add(Table(
        w(es="Área por clase (ha)", en="Area by class (ha)"),
        (w(es="clase", en="class"), *(str(y) for y in shown),
         *([w(es=f"cambio {first}–{last}", en=f"change {first}–{last}")] if len(years) > 1 else [])),
        tuple((f"{int(c)} {names.get(int(c), c)}", *(w.number(areas.loc[c, y], 0) for y in shown),
               *([w.signed(areas.loc[c, last] - areas.loc[c, first], 0)] if len(years) > 1 else []))
              for c in areas.index),
        widths=(2.6,) + (1.0,) * (len(shown) + (len(years) > 1)),
        note=w(es="Áreas contadas en los píxeles de los mapas, sin corregir por sus errores: las "
                  "áreas estimadas con intervalos de confianza están en el documento de validación.",
               en="Areas counted on the maps' pixels, not corrected for their errors: areas "
                  "estimated with confidence intervals are in the validation document.")))
    if len(years) > 1 and moved_ha > 0:
        codes = [int(c) for c in scheme.codes if c in set(moves.index) | set(moves.columns)]
        full = moves.reindex(index=codes, columns=codes, fill_value=0.0)
        doc.add(Heading(w(es="Transiciones", en="Transitions")),
                _matrix_table(w, codes, {c: names.get(c, str(c)) for c in codes},
                              full.to_numpy(), w(es=f"De qué clase a qué clase, {first}–{last} "
                                                    "(ha; filas: antes, columnas: después)",
                                                 en=f"From which class to which, {first}–{last} "
                                                    "(ha; rows: before, columns: after)"),
                              lambda v: w.number(v, 1), "total",
                              note=w(es="Filas: clase en el primer año; columnas: clase en el "
                                        "último, por código (ver la leyenda del mapa).",
                                     en="Rows: class in the first year; columns: class in the "
                                        "last, by code (see the map's legend).")))
        top = full.stack().sort_values(ascending=False)
        top = top[top > 0].head(10)
        doc.add(Table(w(es="Las transiciones más grandes", en="The largest transitions"),
                      (w(es="de", en="from"), w(es="a", en="to"), "ha"),
                      tuple((names.get(int(a), str(a)), names.get(int(b), str(b)), w.number(v, 1))
                            for (a, b), v in top.items()),
                      align=("left", "left", "right"), widths=(2, 2, 1)))
    return doc

