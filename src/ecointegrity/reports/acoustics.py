"""The acoustic monitoring report: per recording site, the effort, the bats and the human
sounds heard, with the uncertainty of every rate.

Reads the site evidence table of ``acoustics.site_evidence`` (one row per site and period:
recording hours, nights, bat passes, ``{class}_events`` and ``{class}_per_100h`` with exact
Poisson intervals ``_lo``/``_hi``, the low-effort flag).
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from pyproj import Transformer  # noqa: E402

from .document import Document, Facts, Figure, Heading, Paragraph, Summary, Table  # noqa: E402
from .maps import MapContext, draw_map, figure_png  # noqa: E402
from .wording import Language, Wording  # noqa: E402

__all__ = ["acoustic_sites_report", "sound_class_name"]

_RATE = re.compile(r"^(?P<cls>[a-z0-9_]+)_per_100h$")
_NAMES = {
    "gunshot": ("disparos", "gunshots"), "chainsaw": ("motosierras", "chainsaws"),
    "chain_saw": ("motosierras", "chainsaws"), "vehicle": ("vehículos", "vehicles"),
    "machinery": ("maquinaria", "machinery"), "voice": ("voces", "voices"),
    "dog": ("perros", "dogs"), "domestic_animal": ("animales domésticos", "domestic animals"),
    "siren": ("sirenas", "sirens"), "aircraft": ("aviones", "aircraft"),
}


def sound_class_name(w: Wording, cls: str) -> str:
    """A sound class's plain name in the reader's language (the label itself if unknown)."""
    es, en = _NAMES.get(cls, (cls.replace("_", " "), cls.replace("_", " ")))
    return w(es=es, en=en)


def _classes(evidence: pd.DataFrame) -> list[str]:
    return [m["cls"] for c in evidence.columns if (m := _RATE.match(c))]


def _rate_figure(w: Wording, evidence: pd.DataFrame, classes: list[str]) -> bytes:
    sites = evidence["site"].astype(str).tolist()
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(sites) * max(1, len(classes)) / 2))
    height = 0.8 / max(1, len(classes))
    y = np.arange(len(sites))
    for i, cls in enumerate(classes):
        rate = evidence[f"{cls}_per_100h"].to_numpy(float)
        lo = evidence.get(f"{cls}_per_100h_lo", pd.Series(rate)).to_numpy(float)
        hi = evidence.get(f"{cls}_per_100h_hi", pd.Series(rate)).to_numpy(float)
        ax.barh(y + i * height, rate, height=height, label=sound_class_name(w, cls),
                xerr=np.vstack([np.clip(rate - lo, 0, None), np.clip(hi - rate, 0, None)]),
                error_kw={"elinewidth": 0.7, "capsize": 2})
    ax.set_yticks(y + height * (len(classes) - 1) / 2, sites, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(w(es="eventos por 100 horas de grabación (IC 95 %)",
                    en="events per 100 recording hours (95% CI)"))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    return figure_png(fig)


def _site_map(w: Wording, evidence: pd.DataFrame, background: xr.DataArray,
              context: MapContext) -> bytes:
    fig, ax = plt.subplots(figsize=(6.6, 5.2))
    draw_map(ax, background, lang=w.lang, cmap="RdYlGn", vmin=0, vmax=1,
             colorbar_label=w(es="IIE", en="EI"),
             ends=(w(es="transformado", en="transformed"), w(es="íntegro", en="intact")),
             context=context)
    to_map = Transformer.from_crs("EPSG:4326", background.odc.geobox.crs.to_wkt(), always_xy=True)
    sites = evidence.dropna(subset=["latitude", "longitude"]).drop_duplicates("site")
    xs, ys = to_map.transform(sites.longitude.to_numpy(), sites.latitude.to_numpy())
    ax.scatter(xs, ys, marker="^", s=36, color="#1f3b73", edgecolor="white", zorder=6)
    for x, y, name in zip(xs, ys, sites.site.astype(str), strict=True):
        ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    return figure_png(fig)


def acoustic_sites_report(
    evidence: pd.DataFrame,
    *,
    lang: Language = "es",
    area_name: str,
    background: xr.DataArray | None = None,
    context: MapContext | None = None,
    locale: str | None = None,
    source: str = "",
) -> Document:
    """The acoustic monitoring report of a site evidence table.

    Args:
        evidence: ``acoustics.site_evidence`` output (one row per site and period).
        area_name: how the report names the area.
        background: a map (e.g. the last year's EI) under the recorders' locations.
    """
    if evidence.empty:
        raise ValueError("evidence: the site evidence table has no rows")
    missing = {"site", "recording_hours"} - set(evidence.columns)
    if missing:
        raise ValueError(f"evidence: missing columns {sorted(missing)} "
                         "(give the table of `ecointegrity acoustics evidence`)")
    w = Wording(lang, locale)
    classes = _classes(evidence)
    hours = float(evidence.recording_hours.sum())
    n_sites = evidence.site.astype(str).nunique()
    doc = Document(title=w(es="Monitoreo acústico", en="Acoustic monitoring"),
                   subtitle=area_name, lang=w.lang, kind="acoustic-sites",
                   footer=" · ".join(p for p in ("ecointegrity", source) if p))
    lines = [w(es=f"{n_sites} sitios grabaron {w.number(hours, 1)} horas en total.",
               en=f"{n_sites} sites recorded {w.number(hours, 1)} hours in all.")]
    heard, silent = [], []
    for cls in classes:
        counts = evidence.get(f"{cls}_events", pd.Series(0, index=evidence.index)).fillna(0)
        where = evidence.loc[counts > 0, "site"].astype(str).unique()
        if counts.sum() > 0:
            heard.append(f"{sound_class_name(w, cls)}: {int(counts.sum())} ({', '.join(where)})")
        else:
            silent.append(sound_class_name(w, cls))
    if heard:
        lines.append(w(es="Detectados: ", en="Detected: ") + "; ".join(heard) + ".")
    if silent:
        lines.append(w(es="Sin detecciones: ", en="Not detected: ") + ", ".join(silent) + ".")
    if "low_effort" in evidence and evidence.low_effort.any():
        low = evidence.loc[evidence.low_effort.astype(bool), "site"].astype(str).unique()
        lines.append(w(es=f"Poco esfuerzo de grabación en {', '.join(low)}: sus tasas son poco "
                          "seguras.",
                       en=f"Low recording effort at {', '.join(low)}: their rates are "
                          "uncertain."))
    facts = [(w(es="sitios", en="sites"), w.integer(n_sites)),
             (w(es="horas grabadas", en="hours recorded"), w.number(hours, 1))]
    if "bat_passes" in evidence and evidence.bat_passes.notna().any():
        facts.append((w(es="pases de murciélago", en="bat passes"),
                      w.integer(evidence.bat_passes.sum())))
    doc.add(Summary(w(es="En pocas palabras", en="In short"), tuple(lines)), Facts(tuple(facts)))
    if background is not None and {"latitude", "longitude"} <= set(evidence.columns):
        doc.add(Figure(_site_map(w, evidence, background, context or MapContext()),
                       w(es="Grabadoras (triángulos) sobre la integridad ecosistémica.",
                         en="Recorders (triangles) over ecosystem integrity."), width=0.8))
    heard_classes = [c for c in classes
                     if evidence.get(f"{c}_events", pd.Series(dtype=float)).fillna(0).sum() > 0]
    if heard_classes:
        doc.add(Heading(w(es="Sonidos humanos", en="Human sounds")),
                Figure(_rate_figure(w, evidence, heard_classes),
                       w(es="Tasa de cada tipo de sonido detectado por sitio, con su intervalo de "
                            "confianza del 95 % (Poisson exacto).",
                         en="Rate of each kind of sound detected per site, with its 95% "
                            "confidence interval (exact Poisson).")))
    period = "period" in evidence.columns
    bats = "bat_passes_per_night" in evidence.columns
    effort_rows = tuple(
        (str(r.site), *([str(r.period)] if period else []), w.number(r.recording_hours, 1),
         w.integer(r.get("n_nights", np.nan)),
         *([w.number(r.bat_passes_per_night, 1)] if bats else []),
         w(es="sí", en="yes") if bool(r.get("low_effort", False)) else "")
        for _, r in evidence.iterrows())
    rate_rows = []
    for _, r in evidence.iterrows():
        for c in classes:
            lo, hi = r.get(f"{c}_per_100h_lo", np.nan), r.get(f"{c}_per_100h_hi", np.nan)
            rate_rows.append((str(r.site), *([str(r.period)] if period else []),
                              sound_class_name(w, c), w.integer(r.get(f"{c}_events", np.nan)),
                              w.number(r[f"{c}_per_100h"], 1),
                              f"{w.number(lo, 1)}–{w.number(hi, 1)}"))
    period_head = [w(es="periodo", en="period")] if period else []
    doc.add(Heading(w(es="Por sitio", en="Per site")),
            Table(w(es="Esfuerzo de grabación por sitio", en="Recording effort per site"),
                  (w(es="sitio", en="site"), *period_head, w(es="horas", en="hours"),
                   w(es="noches", en="nights"),
                   *([w(es="pases de murciélago por noche", en="bat passes per night")]
                     if bats else []),
                   w(es="poco esfuerzo", en="low effort")),
                  effort_rows))
    if classes:
        doc.add(Table(w(es="Sonidos humanos por sitio: eventos y tasa por 100 horas (IC 95 %)",
                        en="Human sounds per site: events and rate per 100 hours (95% CI)"),
                      (w(es="sitio", en="site"), *period_head, w(es="sonido", en="sound"),
                       w(es="eventos", en="events"), w(es="tasa /100 h", en="rate /100 h"),
                       w(es="IC 95 %", en="95% CI")),
                      tuple(rate_rows)))
    doc.add(Paragraph(w(es="Las tasas cuentan los eventos que el detector marcó por encima de su "
                           "umbral; los segmentos con voz humana se cuentan pero su audio nunca se "
                           "exporta (privacidad).",
                        en="Rates count the events the detector flagged above its threshold; "
                           "segments with human speech are counted but their audio is never "
                           "exported (privacy)."), small=True))
    return doc
