"""Maps a reader can place: coordinates, scale bar, north arrow, boundaries, relief.

Every map of a report is drawn here on the grid the data lives on (a national projected grid
such as EPSG:6372 or EPSG:9377): the graticule is drawn as lines of longitude and latitude
projected onto that grid and labelled in degrees and minutes on the frame; the scale bar is
measured in the grid's metres (matplotlib-scalebar); the north arrow points to true north at the
map's centre (on a conic grid it leans by the meridian convergence); region outlines and names
come from the user's polygons; the largest towns inside are named from the gazetteer that ships
with the package (GeoNames); relief, when a DEM is given, is a hillshade under the colours.
Nothing is fetched from the internet.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.colors import LightSource, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib_scalebar.scalebar import ScaleBar  # noqa: E402
from pyproj import Transformer  # noqa: E402

from ..cube import GAZETTEER_CREDIT, places_within  # noqa: E402
from .wording import Language, degrees  # noqa: E402

__all__ = ["Categories", "MapContext", "draw_map", "figure_png", "graticule_step"]

_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


@dataclass(frozen=True)
class Categories:
    """A class legend for categorical maps: codes, their colours (#rrggbb) and names."""

    codes: tuple[int, ...]
    colors: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class MapContext:
    """What frames every map of a report.

    Attributes:
        regions: polygons (GeoDataFrame) outlined on the maps, e.g. protected areas.
        name_column: their name column, printed at each polygon (None: outlines only).
        relief: elevation on the map grid (DataArray); drawn as a hillshade under the data.
        places: label the largest towns inside the map (the shipped gazetteer, GeoNames).
    """

    regions: Any = None
    name_column: str | None = None
    relief: xr.DataArray | None = None
    places: bool = True


def graticule_step(span_degrees: float) -> float:
    """A round spacing in degrees (1′, 2′, 5′, 10′, 15′, 30′, 1°, 2°, 5°, 10°) giving 2-5 lines."""
    for step in (1 / 60, 2 / 60, 5 / 60, 10 / 60, 15 / 60, 0.5, 1, 2, 5, 10, 20):
        if span_degrees / step <= 5:
            return step
    return 30.0


def _extent(da: xr.DataArray) -> tuple[float, float, float, float]:
    box = da.odc.geobox.extent.boundingbox
    return box.left, box.right, box.bottom, box.top


def _graticule(ax: plt.Axes, da: xr.DataArray, lang: Language) -> None:
    """Meridians and parallels across the map, labelled where they cut the frame."""
    geobox = da.odc.geobox
    left, right, bottom, top = _extent(da)
    wgs = geobox.extent.to_crs("EPSG:4326").boundingbox
    to_map = Transformer.from_crs("EPSG:4326", geobox.crs.to_wkt(), always_xy=True)
    step = graticule_step(max(wgs.right - wgs.left, wgs.top - wgs.bottom))
    minutes = step < 1
    style: dict[str, Any] = {"color": "#444", "linewidth": 0.4, "alpha": 0.6,
                             "linestyle": (0, (4, 3))}
    x_ticks, x_labels, y_ticks, y_labels = [], [], [], []
    lat_samples = np.linspace(wgs.bottom - step, wgs.top + step, 60)
    for lon in np.arange(math.floor(wgs.left / step) * step, wgs.right + step, step):
        xs, ys = to_map.transform(np.full_like(lat_samples, lon), lat_samples)
        ax.plot(xs, ys, **style)
        # where this meridian crosses the bottom edge
        x_at = float(np.interp(bottom, ys, xs)) if ys[0] <= bottom <= ys[-1] else None
        if x_at is not None and left <= x_at <= right:
            x_ticks.append(x_at)
            x_labels.append(degrees(float(lon), "lon", lang, minutes))
    lon_samples = np.linspace(wgs.left - step, wgs.right + step, 60)
    for lat in np.arange(math.floor(wgs.bottom / step) * step, wgs.top + step, step):
        xs, ys = to_map.transform(lon_samples, np.full_like(lon_samples, lat))
        ax.plot(xs, ys, **style)
        y_at = float(np.interp(left, xs, ys)) if xs[0] <= left <= xs[-1] else None
        if y_at is not None and bottom <= y_at <= top:
            y_ticks.append(y_at)
            y_labels.append(degrees(float(lat), "lat", lang, minutes))
    ax.set_xticks(x_ticks, x_labels, fontsize=7)
    ax.set_yticks(y_ticks, y_labels, fontsize=7, rotation=90, va="center")
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)


def _north_arrow(ax: plt.Axes, da: xr.DataArray) -> None:
    """An arrow to true north at the map centre, leaning by the grid's meridian convergence."""
    geobox = da.odc.geobox
    left, right, bottom, top = _extent(da)
    cx, cy = (left + right) / 2, (bottom + top) / 2
    to_wgs = Transformer.from_crs(geobox.crs.to_wkt(), "EPSG:4326", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4326", geobox.crs.to_wkt(), always_xy=True)
    lon, lat = to_wgs.transform(cx, cy)
    nx, ny = to_map.transform(lon, min(lat + 0.01, 89.99))
    angle = math.atan2(nx - cx, ny - cy)  # radians clockwise from the grid's up
    length = 24.0  # points
    ax.annotate(
        "", xy=(0.93, 0.84), xycoords="axes fraction",
        xytext=(-length * math.sin(angle), -length * math.cos(angle)), textcoords="offset points",
        arrowprops={"arrowstyle": "simple,head_width=0.7,head_length=0.9,tail_width=0.25",
                    "facecolor": "black", "edgecolor": "white", "linewidth": 0.6,
                    "shrinkA": 0, "shrinkB": 0},
    )
    ax.annotate("N", xy=(0.93, 0.84), xycoords="axes fraction",
                xytext=(3 * math.sin(angle), 3 * math.cos(angle)), textcoords="offset points",
                ha="center", va="bottom", fontsize=9, fontweight="bold", path_effects=_HALO)


def _regions(ax: plt.Axes, da: xr.DataArray, context: MapContext) -> None:
    shapes = context.regions.to_crs(da.odc.geobox.crs.to_wkt())
    shapes.boundary.plot(ax=ax, color="black", linewidth=0.8)
    if context.name_column:
        left, right, bottom, top = _extent(da)
        for name, geometry in zip(shapes[context.name_column], shapes.geometry, strict=True):
            point = geometry.representative_point()
            if left <= point.x <= right and bottom <= point.y <= top:
                ax.text(point.x, point.y, str(name), fontsize=7, ha="center", va="center",
                        path_effects=_HALO, clip_on=True)


def _places(ax: plt.Axes, da: xr.DataArray, limit: int = 6) -> bool:
    """Dots and names of the largest places of the gazetteer inside the map; True if any."""
    geobox = da.odc.geobox
    wgs = geobox.extent.to_crs("EPSG:4326").boundingbox
    towns = places_within(wgs.left, wgs.bottom, wgs.right, wgs.top, limit=limit)
    if not towns:
        return False
    to_map = Transformer.from_crs("EPSG:4326", geobox.crs.to_wkt(), always_xy=True)
    left, right, bottom, top = _extent(da)
    ax.text(0.995, 0.005, GAZETTEER_CREDIT, transform=ax.transAxes, ha="right", va="bottom",
            fontsize=5.5, color="#333", path_effects=_HALO)  # CC BY: the names' source
    for town in towns:
        x, y = to_map.transform(town.longitude, town.latitude)
        if left <= x <= right and bottom <= y <= top:
            ax.plot(x, y, "o", markersize=3.5, color="black", markeredgecolor="white",
                    markeredgewidth=0.8, zorder=6)
            ax.annotate(town.name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                        fontstyle="italic", path_effects=_HALO, zorder=6, annotation_clip=True)
    return True


def _hillshade(ax: plt.Axes, relief: xr.DataArray,
               box: tuple[float, float, float, float]) -> None:
    res = relief.odc.geobox.resolution
    shade = LightSource(azdeg=315, altdeg=45).hillshade(
        np.nan_to_num(relief.values.astype(float), nan=float(np.nanmin(relief.values))),
        vert_exag=2, dx=abs(res.x), dy=abs(res.y))
    ax.imshow(shade, cmap="gray", extent=box, vmin=0, vmax=1, interpolation="bilinear")


def draw_map(
    ax: plt.Axes,
    da: xr.DataArray,
    *,
    lang: Language,
    cmap: str | ListedColormap = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    categories: Categories | None = None,
    colorbar_label: str | None = None,
    ends: tuple[str, str] | None = None,
    title: str = "",
    context: MapContext | None = None,
) -> None:
    """Draw ``da`` (y, x on an odc-geo grid) with its frame of reference onto ``ax``.

    Args:
        categories: draw classes with their own colours and a legend (land cover).
        colorbar_label: the colour bar's label (continuous maps).
        ends: plain words at the colour bar's two ends, e.g. ("transformado", "íntegro").
    """
    context = context or MapContext()
    box = _extent(da)
    alpha = 0.8 if context.relief is not None else 1.0
    if context.relief is not None:
        _hillshade(ax, context.relief, box)
    values = np.asarray(da.values, dtype=float)
    if categories is not None:
        lookup = {code: i for i, code in enumerate(categories.codes)}
        index = np.full(values.shape, np.nan)
        for code, i in lookup.items():
            index[values == code] = i
        cmap = ListedColormap(list(categories.colors))
        ax.imshow(np.ma.masked_invalid(index), cmap=cmap, vmin=-0.5,
                  vmax=len(categories.codes) - 0.5, extent=box, interpolation="nearest",
                  alpha=alpha)
        present = set(np.unique(values[np.isfinite(values)]).astype(int).tolist())
        handles = [Patch(facecolor=c, edgecolor="#555", label=n)
                   for code, c, n in zip(categories.codes, categories.colors, categories.names,
                                         strict=True) if code in present]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
                  frameon=False, borderaxespad=0)
    else:
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax,
                          extent=box, interpolation="nearest", alpha=alpha)
        bar = plt.colorbar(image, ax=ax, shrink=0.82, pad=0.02)
        if colorbar_label:
            bar.set_label(colorbar_label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
        if ends:
            bar.ax.text(0.5, -0.03, ends[0], transform=bar.ax.transAxes, ha="center",
                        va="top", fontsize=7)
            bar.ax.text(0.5, 1.03, ends[1], transform=bar.ax.transAxes, ha="center",
                        va="bottom", fontsize=7)
    if context.regions is not None:
        _regions(ax, da, context)
    if context.places:
        _places(ax, da)
    _graticule(ax, da, lang)
    ax.set_xlabel("")  # the frame is labelled in degrees; plotting helpers may name the axes
    ax.set_ylabel("")
    ax.set_aspect("equal")
    if da.odc.geobox.crs.units[0] in ("metre", "m"):
        ax.add_artist(ScaleBar(1.0, "m", location="lower left", box_alpha=0.75,
                               length_fraction=0.3, font_properties={"size": 7},
                               scale_loc="top", border_pad=0.6))
    _north_arrow(ax, da)
    if title:
        ax.set_title(title, fontsize=10)


def figure_png(fig: plt.Figure, dpi: int = 170) -> bytes:
    """The figure as PNG bytes (closed after: reports draw many figures)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def single_map(da: xr.DataArray, *, lang: Language, size: Sequence[float] = (6.5, 5.2),
               **options: Any) -> bytes:
    """One map (see `draw_map`) as PNG bytes."""
    fig, ax = plt.subplots(figsize=tuple(size))
    draw_map(ax, da, lang=lang, **options)
    return figure_png(fig)
