"""The integrity report for decision makers: one self-contained HTML page and a PDF of it.

Contents: a plain-language summary first, then the EI and uncertainty maps of the last year,
the distribution of EI per year, area by EI class, the change against the first year, the
figures per region (protected areas, municipalities...) when polygons are given, the
validation (spatially blocked, beside LightGBM) and the acoustic check, and what the model is
made of (hemeroby table, arcs). Figures are drawn once with matplotlib and used by both.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from ..io import atomic_path  # noqa: E402

__all__ = ["EI_CLASSES", "area_by_class", "region_statistics", "write_report"]

# CONABIO's scripts call EI >= 0.75 "intact"; the lower breaks split the rest in equal steps
EI_CLASSES = [
    (0.0, 0.25, "heavily transformed"),
    (0.25, 0.5, "transformed"),
    (0.5, 0.75, "partly transformed"),
    (0.75, 1.0001, "intact (EI >= 0.75)"),
]

_STYLE = (
    "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
    "line-height:1.45}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}img{max-width:100%}"
    ".summary{background:#f4f7f2;padding:.8em 1.2em}</style></head><body>"
)


def _cell_km2(ds: xr.Dataset) -> float:
    res = ds.odc.geobox.resolution
    return abs(float(res.x) * float(res.y)) / 1e6


def area_by_class(maps: Mapping[int, xr.Dataset]) -> pd.DataFrame:
    """km2 of each EI class per year (cells with an EI)."""
    rows = []
    for year, ds in sorted(maps.items()):
        ei = ds.ei.values
        for lo, hi, name in EI_CLASSES:
            rows.append(
                {
                    "year": year,
                    "class": name,
                    "km2": float(((ei >= lo) & (ei < hi)).sum() * _cell_km2(ds)),
                }
            )
    return (
        pd.DataFrame(rows)
        .pivot(index="class", columns="year", values="km2")
        .loc[[c[2] for c in EI_CLASSES]]
    )


def region_statistics(ds: xr.Dataset, regions: Any, name_column: str | None) -> pd.DataFrame:
    """Per polygon (a GeoDataFrame): cells, mean EI, mean sd and % intact."""
    from rasterio.features import rasterize

    geobox = ds.odc.geobox
    shapes = regions.to_crs(geobox.crs.to_wkt())
    rows = []
    for i, region in enumerate(shapes.itertuples()):
        mask = rasterize(
            [(region.geometry, 1)],
            out_shape=geobox.shape,
            transform=geobox.affine,
            fill=0,
            all_touched=False,
        ).astype(bool)
        ei = ds.ei.values[mask]
        ei = ei[np.isfinite(ei)]
        rows.append(
            {
                "region": getattr(region, name_column) if name_column else f"region {i + 1}",
                "cells": int(ei.size),
                "km2": ei.size * _cell_km2(ds),
                "mean_ei": float(ei.mean()) if ei.size else np.nan,
                "mean_sd": float(np.nanmean(ds.ei_sd.values[mask])) if ei.size else np.nan,
                "intact_percent": float((ei >= 0.75).mean() * 100) if ei.size else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _figure_maps(ds: xr.Dataset, year: int) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    extent = ds.odc.geobox.extent.boundingbox
    box = (extent.left, extent.right, extent.bottom, extent.top)
    im = axes[0].imshow(ds.ei.values, cmap="RdYlGn", vmin=0, vmax=1, extent=box)
    axes[0].set_title(f"Ecosystem integrity {year}")
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="EI (1 intact)")
    im = axes[1].imshow(ds.ei_sd.values, cmap="magma_r", vmin=0, extent=box)
    axes[1].set_title("Uncertainty (posterior sd of EI)")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _figure_distribution(maps: Mapping[int, xr.Dataset]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for year, ds in sorted(maps.items()):
        ei = ds.ei.values[np.isfinite(ds.ei.values)]
        # matplotlib's hints want a Sequence for bins; an array is what it takes at run time
        bins = cast(Sequence[float], np.linspace(0, 1, 26))
        ax.hist(ei, bins=bins, histtype="step", linewidth=1.5, label=str(year))
    ax.axvline(0.75, color="grey", linestyle=":", label="0.75 (intact)")
    ax.set_xlabel("EI")
    ax.set_ylabel("cells")
    ax.legend()
    fig.tight_layout()
    return fig


def _figure_change(first: xr.Dataset, last: xr.Dataset, years: tuple[int, int]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4.4))
    diff = last.ei.values - first.ei.values
    limit = max(0.1, float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.1)
    im = ax.imshow(diff, cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_title(f"Change in EI, {years[0]} to {years[1]}")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.8, label="EI difference")
    fig.tight_layout()
    return fig


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode()


def _summary(
    maps: Mapping[int, xr.Dataset], validation: Any, acoustic: dict | None, provisional: bool
) -> list[str]:
    years = sorted(maps)
    last = maps[years[-1]]
    ei = last.ei.values[np.isfinite(last.ei.values)]
    km2 = ei.size * _cell_km2(last)
    lines = [
        f"In {years[-1]}, the mean ecosystem integrity of the {km2:,.1f} km2 mapped is "
        f"{ei.mean():.2f} (0 = fully transformed, 1 = intact); "
        f"{np.mean(ei >= 0.75) * 100:.0f}% of the area is intact (EI 0.75 or more) and "
        f"{np.mean(ei < 0.25) * 100:.0f}% heavily transformed (below 0.25)."
    ]
    if len(years) > 1:
        diff = last.ei.values - maps[years[0]].ei.values
        cell = _cell_km2(last)
        lines.append(
            f"Since {years[0]}, integrity fell by more than 0.1 on "
            f"{np.nansum(diff < -0.1) * cell:,.1f} km2 and rose by more than 0.1 on "
            f"{np.nansum(diff > 0.1) * cell:,.1f} km2 (mean change {np.nanmean(diff):+.3f})."
        )
    lines.append(
        f"The typical uncertainty of a cell's EI is +/- {np.nanmean(last.ei_sd.values):.2f} "
        "(posterior standard deviation); read single cells with that margin, areas with more "
        "confidence."
    )
    if validation is not None:
        overall = validation.overall.set_index("model")
        lines.append(
            "Checked on areas the model never saw (spatial blocks), its EI follows the reference "
            f"with r = {overall.loc['bn', 'pearson']:.2f} (mean error "
            f"{overall.loc['bn', 'mae']:.3f}); a gradient-boosting baseline reaches "
            f"r = {overall.loc['lightgbm', 'pearson']:.2f} on the same blocks."
        )
    if acoustic and "slope" in acoustic:
        lo, hi = acoustic["rate_ratio_ci"]
        trend = "falls" if hi < 1 else ("rises" if lo > 1 else "shows no clear trend")
        few = acoustic["n_sites"] < 10
        lines.append(
            f"At the {acoustic['n_sites']} recording sites, the rate of human sounds (gunshots, "
            f"chainsaws, engines, voices...) {trend} as EI rises: "
            f"x{acoustic['rate_ratio_per_0.1']:.2f} per +0.1 EI (95% CI {lo:.2f}-{hi:.2f})"
            + (f"; {acoustic['n_sites']} sites are too few to conclude." if few else ".")
        )
    if provisional:
        lines.append(
            "Hemeroby comes from a PROVISIONAL class-to-hemeroby table: figures are for "
            "exploration until the institution's official table replaces it."
        )
    return lines


_Table = tuple[str, pd.DataFrame]


def _figures(maps: Mapping[int, xr.Dataset]) -> list[tuple[str, plt.Figure]]:
    years = sorted(maps)
    last = maps[years[-1]]
    figures = [
        (f"Ecosystem integrity and its uncertainty, {years[-1]}", _figure_maps(last, years[-1])),
        ("Distribution of EI per year", _figure_distribution(maps)),
    ]
    if len(years) > 1:
        change = _figure_change(maps[years[0]], last, (years[0], years[-1]))
        figures.append((f"Change since {years[0]}", change))
    return figures


def _tables(maps: Mapping[int, xr.Dataset], validation: Any, acoustic: dict | None,
            regions: Any, region_name_column: str | None) -> list[_Table]:
    years = sorted(maps)
    tables = [("Area by EI class (km2)", area_by_class(maps))]
    if regions is not None:
        regional = region_statistics(maps[years[-1]], regions, region_name_column)
        tables.append((f"Regions, {years[-1]}", regional))
    if validation is not None:
        tables.append(("Validation: spatially blocked cross-validation (BN and LightGBM, same "
                       "blocks)", validation.overall.set_index("model")))
    if acoustic and "slope" in acoustic:
        scalars = {k: v for k, v in acoustic.items() if not isinstance(v, (list, tuple))}
        tables.append(("Acoustic check: anthropogenic event rate against EI (Poisson GLM, effort "
                       "offset)", pd.DataFrame([scalars])))
    return tables


def _three_decimals(v: float) -> str:
    return f"{v:,.3f}"


@dataclass
class _Report:
    """Everything the report says, written once as HTML and once as PDF."""

    title: str
    area_name: str
    years: list[int]
    created: str
    summary: list[str]
    figures: list[tuple[str, plt.Figure]]
    tables: list[_Table]
    about: list[str]

    def html(self) -> str:
        title, years = html.escape(self.title), self.years
        parts = [
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
            _STYLE,
            f"<h1>{title}: {html.escape(self.area_name)}</h1><p>Years "
            f"{years[0]}-{years[-1]}; made {self.created} by ecointegrity.</p>"
            "<div class='summary'><h2>Summary</h2>",
            *(f"<p>{html.escape(line)}</p>" for line in self.summary),
            "</div>",
        ]
        for caption, fig in self.figures:
            parts.append(f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' "
                         f"src='data:image/png;base64,{_png(fig)}'>")
        for caption, frame in self.tables:
            parts.append(f"<h2>{html.escape(caption)}</h2>"
                         + frame.to_html(float_format=_three_decimals))
        if self.about:
            parts.append("<h2>The model</h2>"
                         + "".join(f"<p>{html.escape(line)}</p>" for line in self.about))
        parts.append("</body></html>")
        return "\n".join(parts)

    def write_pdf(self, path: Path) -> None:
        """A text page (summary, tables, model), then one page per figure (closed after)."""
        years = self.years
        with atomic_path(path, suffix=".pdf") as tmp, PdfPages(tmp) as doc:
            page = plt.figure(figsize=(8.27, 11.69))
            text = [f"{self.title}: {self.area_name}",
                    f"Years {years[0]}-{years[-1]}; made {self.created}", "", "Summary", ""]
            for line in self.summary:
                text += _wrap(line, 95) + [""]
            for caption, frame in self.tables:
                text += [caption, *frame.to_string(float_format=_three_decimals).splitlines(), ""]
            text += self.about
            page.text(0.06, 0.97, "\n".join(text), va="top", family="monospace", fontsize=7)
            doc.savefig(page)
            plt.close(page)
            for _, fig in self.figures:
                doc.savefig(fig)
                plt.close(fig)


def write_report(
    maps: Mapping[int, xr.Dataset],
    out: str | Path,
    *,
    title: str = "Ecosystem integrity",
    area_name: str = "the study area",
    validation: Any = None,
    acoustic: dict | None = None,
    model: Any = None,
    regions: Any = None,
    region_name_column: str | None = None,
) -> tuple[Path, Path]:
    """Write ``out`` (HTML, self-contained) and the same report as PDF beside it.

    Args:
        maps: per year, a dataset with ``ei`` and ``ei_sd`` on the cell grid.
        validation: a ``validation.CrossValidationResult`` (or None).
        acoustic: the dict of ``validation.acoustic_relation`` (or None).
        model: the ``IntegrityNetwork`` (its table, arcs and version are listed).
        regions: polygons (GeoDataFrame) to summarise, e.g. protected areas.
    Returns:
        The HTML and PDF paths.
    """
    if not maps:
        raise ValueError("no EI maps to report on")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    provisional = model is not None and "provisional" in str(getattr(model, "hemeroby_table", ""))
    summary = _summary(maps, validation, acoustic, provisional)
    figures = _figures(maps)
    tables = _tables(maps, validation, acoustic, regions, region_name_column)
    about = []
    if model is not None:
        about = [f"model version {model.version}; hemeroby table {model.hemeroby_table}",
                 "arcs: " + ", ".join(f"{a} -> {b}" for a, b in model.edges_)]
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = _Report(title, area_name, sorted(maps), created, summary, figures, tables, about)
    with atomic_path(out, suffix=".html") as tmp:
        Path(tmp).write_text(report.html(), encoding="utf-8")
    pdf = out.with_suffix(".pdf")
    report.write_pdf(pdf)
    return out, pdf


def _wrap(line: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(line, width)
