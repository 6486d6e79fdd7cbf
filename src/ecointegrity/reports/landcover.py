"""The validation document of a land-cover release (Olofsson et al. 2014 good practices).

What an institution publishes beside a map: the class scheme and its legend, the sample design
(stratified random, map classes as strata), the error matrix in sample counts and in estimated
area proportions, user's and producer's accuracies and the area of each class estimated from
the sample, all with 95 % confidence intervals, and how they were computed. The figures come
from ``landcover.stratified_estimates``; this module only words and lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from ..landcover import AreaEstimate, ClassScheme, stratified_estimates  # noqa: E402
from .document import Document, Facts, Figure, Heading, Paragraph, Summary, Table  # noqa: E402
from .maps import Categories, MapContext, draw_map, figure_png  # noqa: E402
from .wording import Language, Wording  # noqa: E402

__all__ = ["SampleDesign", "landcover_validation"]


@dataclass(frozen=True)
class SampleDesign:
    """How the reference sample was drawn and labelled (printed in the document).

    Attributes:
        allocation: ``proportional``, ``equal`` or ``minimum`` (Olofsson's compromise: each
            stratum at least ``min_per_class``), as ``landcover.allocate_sample`` names them.
        reference: where the reference labels come from (photo-interpretation of ..., field
            visits, the simulator's truth).
        seed: the random seed of the draw, so the sample can be drawn again.
    """

    allocation: str = "minimum"
    min_per_class: int = 50
    reference: str = ""
    seed: int | None = None


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


def _matrix_table(w: Wording, est: AreaEstimate, labels: dict[Any, str], values: np.ndarray,
                  caption: str, fmt: Any, total_label: str) -> Table:
    codes = [str(c) for c in est.classes]
    rows = []
    for c, row in zip(est.classes, values, strict=True):
        rows.append((f"{c} {labels[c]}", *(fmt(v) for v in row), fmt(row.sum())))
    rows.append((total_label, *(fmt(v) for v in values.sum(axis=0)), fmt(values.sum())))
    k = len(codes)
    return Table(caption, (w(es="mapa \\ referencia", en="map \\ reference"), *codes, "total"),
                 tuple(rows), widths=(max(2.4, 0.25 * k),) + (1.0,) * (k + 1),
                 note=w(es="Filas: clase del mapa (estrato); columnas: clase de referencia, por "
                           "código (ver la leyenda).",
                        en="Rows: map class (stratum); columns: reference class, by code (see "
                           "the legend)."))


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
    reference = (w(es=f" Etiquetas de referencia: {design.reference}.",
                   en=f" Reference labels: {design.reference}.") if design.reference else "")
    doc.add(
        Heading(w(es="Diseño de muestreo", en="Sample design")),
        Paragraph(w(es="Muestreo aleatorio estratificado: los estratos son las clases del mapa; "
                       f"asignación {allocation}.",
                    en="Stratified random sampling with the map classes as strata; "
                       f"allocation {allocation}.") + seed + reference),
        _design_table(w, est, labels),
        Heading(w(es="Matriz de error", en="Error matrix")),
        _matrix_table(w, est, labels, counts,
                      w(es="Matriz de error en número de puntos de muestra",
                        en="Error matrix in sample counts"),
                      w.integer, "total"),
        _matrix_table(w, est, labels, np.asarray(est.cell_proportions, dtype=float),
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
