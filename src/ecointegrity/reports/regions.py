"""Report cards per region (protected areas, municipalities, states: any polygon file with a
name column) and the ranked table of all of them.

A card gives a region's integrity trend over the years with its uncertainty, the change since
the first year in hectares, its land cover then and now, and what the recorders inside heard.
The figures come from ``integrity.region_trends`` and the maps' pixels; this module words them
and lays them out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..integrity import region_masks, region_names, region_trends  # noqa: E402
from ..landcover import ClassScheme, mapped_area_ha  # noqa: E402
from .document import Document, Facts, Figure, Heading, Paragraph, Summary, Table  # noqa: E402
from .integrity import ei_name  # noqa: E402
from .maps import MapContext, draw_map, figure_png  # noqa: E402
from .publish import publish  # noqa: E402
from .wording import LANGUAGES, Language, Wording, check_language  # noqa: E402

__all__ = ["RegionCards", "publish_region_cards", "region_cards", "slug"]

# Columns of site evidence (``acoustics.site_evidence``) a card shows, when present
_RATE_COLUMNS = ("gunshot_per_100h", "chainsaw_per_100h", "vehicle_per_100h",
                 "machinery_per_100h", "voice_per_100h", "dog_per_100h")


def slug(name: str) -> str:
    """A file-name-safe form of a region name: ``Sian Ka'an`` -> ``sian-kaan``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")
    return text or "region"


@dataclass
class RegionCards:
    """Per region, its card (a `Document`); the ranking of all regions; the figures behind them.

    Attributes:
        trends: long table region x year from ``integrity.region_trends``.
        landcover: long table region x year x class with ``ha`` (empty without land cover).
        sites: the recording sites inside each region (``region`` column added).
        ranking: one row per region, least intact first (what the ranking document prints).
    """

    cards: dict[str, Document]
    ranking_document: Document
    trends: pd.DataFrame
    ranking: pd.DataFrame
    landcover: pd.DataFrame = field(default_factory=pd.DataFrame)
    sites: pd.DataFrame = field(default_factory=pd.DataFrame)


def _landcover_areas(maps: Mapping[int, xr.DataArray], regions: Any,
                     name_column: str | None) -> pd.DataFrame:
    """Hectares of each class per region and year, by counting the map's pixels."""
    rows = []
    masks = region_masks(regions, maps[min(maps)].odc.geobox, name_column)
    for year, class_map in sorted(maps.items()):
        for name, mask in masks.items():
            area = mapped_area_ha(class_map.where(mask))  # NaN outside: not counted
            rows += [{"region": name, "year": year, "class": int(c), "ha": float(ha)}
                     for c, ha in area.items()]
    return pd.DataFrame(rows, columns=["region", "year", "class", "ha"])


def _sites_in(evidence: pd.DataFrame, regions: Any, name_column: str | None) -> pd.DataFrame:
    """Recording sites (rows with latitude/longitude) inside each region."""
    import geopandas as gpd

    usable = evidence.dropna(subset=["latitude", "longitude"])
    if usable.empty:
        return usable.assign(region=pd.Series(dtype=str))
    points = gpd.GeoDataFrame(usable, geometry=gpd.points_from_xy(usable.longitude,
                                                                  usable.latitude),
                              crs="EPSG:4326")
    shapes = gpd.GeoDataFrame({"region": region_names(regions, name_column)},
                              geometry=regions.geometry.to_numpy(),
                              crs=regions.crs).to_crs("EPSG:4326")
    joined = gpd.sjoin(points, shapes, predicate="within", how="inner")
    return pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))


def _crop(da: xr.DataArray, mask: np.ndarray, pad: int = 3) -> xr.DataArray:
    rows, cols = np.nonzero(mask)
    if not rows.size:
        return da
    y0, y1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, mask.shape[0])
    x0, x1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, mask.shape[1])
    return da.isel(y=slice(y0, y1), x=slice(x0, x1))


def _trend_figure(w: Wording, trend: pd.DataFrame, whole: pd.Series) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.fill_between(trend.year, trend.ei_p10, trend.ei_p90, color="#8fbf8f", alpha=0.4,
                    label=w(es="80 % central de las celdas", en="middle 80% of cells"))
    ax.plot(trend.year, trend.mean_ei, color="#1b4d3e", marker="o", markersize=3,
            label=w(es="IIE medio de la región", en="region's mean EI"))
    ax.plot(whole.index, whole.values, color="#777", linestyle="--", linewidth=1,
            label=w(es="toda el área", en="whole area"))
    ax.set_ylim(0, 1)
    ax.set_ylabel(ei_name(w))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return figure_png(fig)


def _card(w: Wording, name: str, trend: pd.DataFrame, whole: pd.Series,
          ei_maps: Mapping[int, xr.Dataset], mask: np.ndarray, context: MapContext,
          cover: pd.DataFrame, scheme: ClassScheme | None, sites: pd.DataFrame,
          rank: int, n_regions: int, source: str) -> Document:
    years = trend.year.tolist()
    first, last = trend.iloc[0], trend.iloc[-1]
    doc = Document(title=name, subtitle=w(es=f"Ficha de la región · {years[0]}–{years[-1]}",
                                          en=f"Region card · {years[0]}–{years[-1]}"),
                   lang=w.lang, kind="region-card",
                   footer=" · ".join(p for p in ("ecointegrity", source) if p))
    if last.cells == 0:
        doc.add(Paragraph(w(es="Ninguna celda del mapa de integridad cae dentro de esta región.",
                            en="No cell of the integrity map falls inside this region.")))
        return doc
    change = last.mean_ei - first.mean_ei
    direction = w(es="subió", en="rose") if change > 0.005 else (
        w(es="bajó", en="fell") if change < -0.005 else w(es="se mantuvo", en="held steady"))
    lines = [w(
        es=f"En {years[-1]}, la integridad ecosistémica media de {name} es "
           f"{w.number(last.mean_ei, 2)} (± {w.number(last.mean_sd, 2)} por celda); el "
           f"{w.percent(last.intact_percent / 100)} de su área está íntegra. Es la región "
           f"{rank} de {n_regions}, de menor a mayor integridad.",
        en=f"In {years[-1]}, the mean ecosystem integrity of {name} is "
           f"{w.number(last.mean_ei, 2)} (± {w.number(last.mean_sd, 2)} per cell); "
           f"{w.percent(last.intact_percent / 100)} of its area is intact. It ranks {rank} of "
           f"{n_regions}, from least to most intact.")]
    if len(years) > 1:
        lines.append(w(
            es=f"Desde {years[0]} su IIE medio {direction} ({w.signed(change, 3)}): bajó más de "
               f"{w.number(0.1, 1)} en {w.number(last.loss_km2 * 100, 0)} ha y subió más de "
               f"{w.number(0.1, 1)} en {w.number(last.gain_km2 * 100, 0)} ha.",
            en=f"Since {years[0]} its mean EI {direction} ({w.signed(change, 3)}): it fell by more "
               f"than {w.number(0.1, 1)} on {w.number(last.loss_km2 * 100, 0)} ha and rose by "
               f"more than {w.number(0.1, 1)} on {w.number(last.gain_km2 * 100, 0)} ha."))
    lines.append(_sites_sentence(w, sites))
    doc.add(Summary(w(es="En pocas palabras", en="In short"), tuple(lines)),
            Facts(((w(es="área", en="area"), f"{w.number(last.km2 * 100, 0)} ha"),
                   (w(es=f"IIE medio {years[-1]}", en=f"mean EI {years[-1]}"),
                    f"{w.number(last.mean_ei, 2)} ± {w.number(last.mean_sd, 2)}"),
                   (w(es=f"cambio desde {years[0]}", en=f"change since {years[0]}"),
                    w.signed(change, 3)),
                   (w(es="área íntegra", en="area intact"),
                    w.percent(last.intact_percent / 100)))))
    ei = ei_maps[years[-1]].ei
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    draw_map(ax, _crop(ei, mask), lang=w.lang, cmap="RdYlGn", vmin=0, vmax=1,
             colorbar_label=ei_name(w),
             ends=(w(es="transformado", en="transformed"), w(es="íntegro", en="intact")),
             context=context)
    doc.add(Heading(w(es="Integridad", en="Integrity")),
            Figure(figure_png(fig), w(es=f"Integridad ecosistémica en {years[-1]}; la línea "
                                         "negra es el límite de las regiones.",
                                      en=f"Ecosystem integrity in {years[-1]}; black lines are "
                                         "the regions' boundaries."), width=0.8))
    if len(years) > 1:
        doc.add(Figure(_trend_figure(w, trend, whole),
                       w(es="IIE medio por año de la región (la franja: 80 % central de sus "
                            "celdas) y de toda el área.",
                         en="The region's mean EI per year (band: middle 80% of its cells) and "
                            "the whole area's.")))
    doc.add(Table(
        w(es="Integridad por año", en="Integrity per year"),
        (w(es="año", en="year"), w(es="IIE medio", en="mean EI"),
         w(es="incertidumbre (±)", en="uncertainty (±)"), w(es="% íntegro", en="% intact"),
         w(es="IIE, 80 % central", en="EI, middle 80%"),
         w(es="cambio desde el primer año", en="change since first year")),
        tuple((str(r.year), w.number(r.mean_ei, 2), w.number(r.mean_sd, 2),
               w.number(r.intact_percent, 0), f"{w.number(r.ei_p10, 2)}–{w.number(r.ei_p90, 2)}",
               w.signed(r.change_mean_ei, 3)) for r in trend.itertuples()),
        widths=(0.8, 1, 1.1, 1, 1.3, 1.4),
        note=w(es="Incertidumbre: media de la desviación estándar posterior de sus celdas.",
               en="Uncertainty: mean posterior standard deviation of its cells.")))
    if not cover.empty:
        doc.add(Heading(w(es="Cobertura del suelo", en="Land cover")))
        if cover.year.nunique() > 1:
            doc.add(Figure(_cover_figure(w, cover, scheme),
                           w(es="Hectáreas de cada clase de cobertura por año.",
                             en="Hectares of each land-cover class per year.")))
        doc.add(_cover_table(w, cover, scheme))
    doc.add(Heading(w(es="Evidencia acústica", en="Acoustic evidence")))
    if sites.empty:
        doc.add(Paragraph(w(es="No hay grabadoras dentro de esta región.",
                            en="There are no recorders inside this region.")))
    else:
        doc.add(_sites_table(w, sites))
    return doc


def _sites_sentence(w: Wording, sites: pd.DataFrame) -> str:
    if sites.empty:
        return w(es="No hay grabadoras dentro de la región.",
                 en="There are no recorders inside the region.")
    hours = float(sites["recording_hours"].sum()) if "recording_hours" in sites else float("nan")
    gunshots = (int(sites["gunshot_events"].sum()) if "gunshot_events" in sites else None)
    names = sites["site"].astype(str).nunique() if "site" in sites else len(sites)
    text = w(es=f"{names} grabadora(s) dentro grabaron {w.number(hours, 1)} h",
             en=f"{names} recorder(s) inside recorded {w.number(hours, 1)} h")
    if gunshots is not None:
        text += w(es=f" y detectaron {gunshots} disparo(s).", en=f" and detected {gunshots} "
                  "gunshot(s).")
    else:
        text += "."
    return text


def _cover_figure(w: Wording, cover: pd.DataFrame, scheme: ClassScheme | None) -> bytes:
    """Hectares of each class per year, stacked: the land-cover trend of a region."""
    wide = cover.pivot_table(index="year", columns="class", values="ha", aggfunc="sum",
                             fill_value=0.0).sort_index()
    wide = wide[wide.sum().sort_values(ascending=False).index]
    names = scheme.names(w.lang) if scheme is not None else {}
    colors = {c.code: c.color for c in scheme.classes} if scheme is not None else {}
    cycle = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.stackplot(wide.index, wide.T.to_numpy(),
                 labels=[names.get(int(c), str(c)) for c in wide.columns],
                 colors=[colors.get(int(c), cycle(i % 20)) for i, c in enumerate(wide.columns)])
    ax.set_ylabel("ha")
    ax.set_xlim(wide.index.min(), wide.index.max())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return figure_png(fig)


def _cover_table(w: Wording, cover: pd.DataFrame, scheme: ClassScheme | None) -> Table:
    years = sorted(cover.year.unique())
    first, last = years[0], years[-1]
    wide = cover.pivot_table(index="class", columns="year", values="ha", aggfunc="sum",
                             fill_value=0.0)
    wide = wide.reindex(columns=[first, last], fill_value=0.0)
    names = scheme.names(w.lang) if scheme is not None else {}
    colors = {c.code: c.color for c in scheme.classes} if scheme is not None else {}
    rows = []
    for code, row in wide.sort_values(last, ascending=False).iterrows():
        delta = row[last] - row[first]
        rows.append((colors.get(int(code), "#ffffff"), names.get(int(code), str(code)),
                     w.number(row[first], 0), w.number(row[last], 0), w.signed(delta, 0)))
    return Table(
        w(es=f"Cobertura del suelo (ha), {first} y {last}", en=f"Land cover (ha), {first} and {last}"),
        ("", w(es="clase", en="class"), str(first), str(last), w(es="cambio (ha)", en="change (ha)")),
        tuple(rows), swatches=(0,), align=("center", "left", "right", "right", "right"),
        widths=(0.35, 3, 1, 1, 1),
        note=w(es="Áreas contadas en los píxeles del mapa (30 m): sin corregir por sus errores; "
                  "las áreas estimadas con intervalo de confianza están en el documento de "
                  "validación del mapa.",
               en="Areas counted on the map's pixels (30 m), not corrected for its errors; "
                  "areas estimated with confidence intervals are in the map's validation "
                  "document."))


def _sites_table(w: Wording, sites: pd.DataFrame) -> Table:
    rates = [c for c in _RATE_COLUMNS if c in sites.columns]
    label = {"gunshot_per_100h": w(es="disparos por 100 h", en="gunshots per 100 h"),
             "chainsaw_per_100h": w(es="motosierras por 100 h", en="chainsaws per 100 h"),
             "vehicle_per_100h": w(es="vehículos por 100 h", en="vehicles per 100 h"),
             "machinery_per_100h": w(es="maquinaria por 100 h", en="machinery per 100 h"),
             "voice_per_100h": w(es="voces por 100 h", en="voices per 100 h"),
             "dog_per_100h": w(es="perros por 100 h", en="dogs per 100 h")}
    bats = "bat_passes_per_night" in sites.columns
    header = (w(es="sitio", en="site"), w(es="horas", en="hours"),
              *([w(es="pases de murciélago por noche", en="bat passes per night")] if bats else []),
              *(label[c] for c in rates))
    rows = []
    for _, s in sites.iterrows():
        rows.append((str(s.get("site", "")), w.number(s.get("recording_hours", np.nan), 1),
                     *([w.number(s["bat_passes_per_night"], 1)] if bats else []),
                     *(w.number(s[c], 1) for c in rates)))
    return Table(w(es="Grabadoras dentro de la región", en="Recorders inside the region"),
                 header, tuple(rows), widths=(1.6,) + (1.0,) * (len(header) - 1),
                 note=w(es="Tasas por 100 horas de grabación; una tasa con pocas horas es poco "
                           "segura.",
                        en="Rates per 100 recording hours; a rate over few hours is uncertain."))


def _ranking_document(w: Wording, ranking: pd.DataFrame, ei_maps: Mapping[int, xr.Dataset],
                      context: MapContext, years: list[int], source: str) -> Document:
    doc = Document(title=w(es="Integridad ecosistémica por región",
                           en="Ecosystem integrity by region"),
                   subtitle=w.year_range(years[0], years[-1]), lang=w.lang, kind="regions",
                   footer=" · ".join(p for p in ("ecointegrity", source) if p))
    worst = ranking.iloc[0]
    lines = [w(es=f"{len(ranking)} regiones. La de menor integridad en {years[-1]} es "
                  f"{worst.region} (IIE medio {w.number(worst.mean_ei, 2)}).",
               en=f"{len(ranking)} regions. The least intact in {years[-1]} is {worst.region} "
                  f"(mean EI {w.number(worst.mean_ei, 2)}).")]
    if len(years) > 1:
        fell = ranking.sort_values("change").iloc[0]
        lines.append(w(es=f"La mayor caída desde {years[0]} es la de {fell.region} "
                          f"({w.signed(fell.change, 3)}).",
                       en=f"The largest fall since {years[0]} is {fell.region}'s "
                          f"({w.signed(fell.change, 3)})."))
    fig, ax = plt.subplots(figsize=(7.5, 5.8))
    draw_map(ax, ei_maps[years[-1]].ei, lang=w.lang, cmap="RdYlGn", vmin=0, vmax=1,
             colorbar_label=ei_name(w),
             ends=(w(es="transformado", en="transformed"), w(es="íntegro", en="intact")),
             context=context)
    doc.add(Summary(w(es="En pocas palabras", en="In short"), tuple(lines)),
            Figure(figure_png(fig), w(es=f"Las regiones sobre la integridad de {years[-1]}.",
                                      en=f"The regions over {years[-1]}'s integrity.")),
            Table(w(es="Regiones, de menor a mayor integridad", en="Regions, least intact first"),
                  ("#", w(es="región", en="region"), w(es="área (ha)", en="area (ha)"),
                   w(es=f"IIE medio {years[-1]}", en=f"mean EI {years[-1]}"),
                   w(es="incertidumbre (±)", en="uncertainty (±)"),
                   w(es="% íntegro", en="% intact"),
                   w(es=f"cambio desde {years[0]}", en=f"change since {years[0]}"),
                   w(es="pérdida (ha)", en="loss (ha)"), w(es="grabadoras", en="recorders")),
                  tuple((str(r.rank), str(r.region), w.number(r.ha, 0), w.number(r.mean_ei, 2),
                         w.number(r.mean_sd, 2), w.number(r.intact_percent, 0),
                         w.signed(r.change, 3), w.number(r.loss_ha, 0), str(r.recorders))
                        for r in ranking.itertuples()),
                  align=("right", "left") + ("right",) * 7,
                  widths=(0.4, 2.4, 1, 1, 1.1, 0.9, 1.1, 1, 1),
                  note=w(es="Pérdida: hectáreas donde el IIE de una celda bajó más de 0,1 desde "
                            "el primer año.",
                         en="Loss: hectares where a cell's EI fell by more than 0.1 since the "
                            "first year.")))
    return doc


def region_cards(
    ei_maps: Mapping[int, xr.Dataset],
    regions: Any,
    name_column: str,
    *,
    lang: Language = "es",
    landcover: Mapping[int, xr.DataArray] | None = None,
    scheme: ClassScheme | None = None,
    evidence: pd.DataFrame | None = None,
    locale: str | None = None,
    source: str = "",
) -> RegionCards:
    """A card per region of ``regions`` and their ranking, in one language.

    Args:
        ei_maps: per year, a dataset with ``ei`` and ``ei_sd`` (``integrity`` products).
        regions: polygons (GeoDataFrame, any CRS) with a ``name_column``; names must be unique.
        landcover: per year, the land-cover class map (any grid; areas counted on its pixels).
        scheme: the land-cover scheme (class names and colours).
        evidence: acoustic site evidence (``acoustics.site_evidence``), with latitude/longitude.
    """
    if not ei_maps:
        raise ValueError("no EI maps to report on")
    if regions is None or len(regions) == 0:
        raise ValueError("regions: the polygon file has no features")
    w = Wording(lang, locale)
    years = sorted(ei_maps)
    trends = region_trends(ei_maps, regions, name_column)
    masks = region_masks(regions, ei_maps[years[0]].odc.geobox, name_column)
    whole = pd.Series({y: float(np.nanmean(ei_maps[y].ei.values)) for y in years})
    cover = (_landcover_areas(landcover, regions, name_column) if landcover
             else pd.DataFrame(columns=["region", "year", "class", "ha"]))
    sites = (_sites_in(evidence, regions, name_column) if evidence is not None
             else pd.DataFrame(columns=["region"]))
    last = trends[trends.year == years[-1]].set_index("region")
    ranking = pd.DataFrame({
        "region": last.index, "ha": last.km2.to_numpy() * 100, "mean_ei": last.mean_ei.to_numpy(),
        "mean_sd": last.mean_sd.to_numpy(), "intact_percent": last.intact_percent.to_numpy(),
        "change": last.change_mean_ei.to_numpy(), "loss_ha": last.loss_km2.to_numpy() * 100,
        "recorders": [int((sites.region == r).sum()) if not sites.empty else 0
                      for r in last.index],
    }).sort_values("mean_ei", na_position="last").reset_index(drop=True)
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    context = MapContext(regions, name_column)
    cards = {}
    for row in ranking.itertuples():
        name = str(row.region)
        cards[name] = _card(
            w, name, trends[trends.region == name].sort_values("year"), whole, ei_maps,
            masks[name], context,
            cover[cover.region == name] if not cover.empty else cover, scheme,
            sites[sites.region == name] if not sites.empty else sites,
            int(row.rank), len(ranking), source)
    ranking_doc = _ranking_document(w, ranking, ei_maps, context, years, source)
    return RegionCards(cards, ranking_doc, trends, ranking, cover, sites)


def publish_region_cards(
    ei_maps: Mapping[int, xr.Dataset],
    regions: Any,
    name_column: str,
    folder: str | Path,
    languages: Iterable[str] = LANGUAGES,
    **options: Any,
) -> list[Path]:
    """Write the ranking (``regions.<lang>.*``) and every region's card
    (``region-<slug>.<lang>.*``) into ``folder`` in each language; ``options`` go to
    `region_cards`. The index records each card's region name, for the web's region pages."""
    built = {lang: region_cards(ei_maps, regions, name_column, lang=check_language(lang),
                                **options) for lang in languages}
    if not built:
        raise ValueError("languages: none given")
    names = list(next(iter(built.values())).cards)
    slugs = [slug(name) for name in names]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"column {name_column!r}: region names that differ only in accents or "
                         "punctuation would share a file name; make them distinct")
    files = publish(lambda lang: built[lang].ranking_document, folder, "regions", list(built))
    for name, stem in zip(names, slugs, strict=True):
        files += publish(_card_of(built, name), folder, f"region-{stem}", list(built),
                         extra={"region": name})
    return files


def _card_of(built: Mapping[str, RegionCards], name: str) -> Callable[[Language], Document]:
    def card(lang: Language) -> Document:
        return built[lang].cards[name]

    return card
