"""What the API and WMS publish about a product: :class:`LayerInfo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .product_index import Product
from .styles import Style, StyleKind, hex_colour, product_composites

__all__ = ["LANGUAGES", "LayerInfo", "layer_info", "public_text"]

#: The languages of the public texts: Spanish first.
LANGUAGES = ("es", "en")
_PUBLIC_FIELDS = ("name", "summary", "low", "high")


def public_text(spec: Any) -> dict[str, dict[str, Any]]:
    """What a product is called and shows, in plain words, per language (``es``, ``en``):
    ``name``, ``summary``, and ``low``/``high`` (the ends of a colour ramp) or ``classes``
    (code -> name), from the spec's ``public`` entry. A product without one is called by its
    title and summed up by its description's first sentence, in every language."""
    given = spec.extra.get("public") or {}
    first = spec.description.split(". ")[0].rstrip(".") + "." if spec.description else ""
    out: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        text = given.get(lang) or given.get(LANGUAGES[0]) or {}
        entry: dict[str, Any] = {"name": spec.title, "summary": first, "low": None, "high": None}
        entry.update({k: str(text[k]) for k in _PUBLIC_FIELDS if text.get(k)})
        classes = text.get("classes") or spec.extra.get("legend")
        entry["classes"] = {str(k): str(v) for k, v in classes.items()} if classes else None
        out[lang] = entry
    return out


@dataclass(frozen=True)
class LayerInfo:
    """A product as a map layer: what it is, which years and where, and how it is drawn.

    ``bands`` are the data bands (what a slice or ``product.band`` WMS layer can name);
    ``composites`` the multi-band pictures (``true_colour``, ``false_colour``) that ``tile``,
    ``render_bbox`` and ``animation`` also accept as ``band``. ``default_band`` is the band a
    slice reads when none is named; ``default_style`` what a map draws when none is named.
    ``legend`` maps class codes (as strings) to names and ``legend_colors`` the same codes to
    ``#rrggbb``, for class maps only; continuous products are described by ``colormap``,
    ``colormap_stops``, ``value_range`` and ``units``.
    """

    product: str
    title: str
    description: str
    kind: StyleKind
    bands: tuple[str, ...]
    composites: tuple[str, ...]
    default_band: str | None
    default_style: str | None
    colormap: str | None
    colormap_stops: tuple[str, ...]
    value_range: tuple[float, float] | None
    years: tuple[int, ...]
    bounds: tuple[float, float, float, float] | None
    units: dict[str, str] = field(hash=False)
    legend: dict[str, str] | None = field(hash=False)
    legend_colors: dict[str, str] | None = field(hash=False)
    public: dict[str, dict[str, Any]] = field(hash=False, default_factory=dict)
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists instead of tuples)."""
        return {
            "product": self.product,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "bands": list(self.bands),
            "composites": list(self.composites),
            "default_band": self.default_band,
            "default_style": self.default_style,
            "colormap": self.colormap,
            "colormap_stops": list(self.colormap_stops),
            "value_range": list(self.value_range) if self.value_range else None,
            "years": list(self.years),
            "bounds": list(self.bounds) if self.bounds else None,
            "units": dict(self.units),
            "legend": dict(self.legend) if self.legend else None,
            "legend_colors": dict(self.legend_colors) if self.legend_colors else None,
            "public": {lang: dict(text) for lang, text in self.public.items()},
            "version": self.version,
        }


def layer_info(prod: Product, style: Style) -> LayerInfo:
    """The layer of a product drawn in ``style`` (its default picture)."""
    spec = prod.spec
    names = [b.name for b in spec.bands]
    default = spec.extra.get("default_band")
    legend = colors = None
    if style.kind == "classes":
        legend = {str(c): n for c, n, _ in style.classes}
        colors = {str(c): hex_colour(rgba) for c, _, rgba in style.classes}
    stops: tuple[str, ...] = ()
    if style.lut is not None and style.kind == "continuous":
        stops = tuple(hex_colour(style.lut[i]) for i in np.linspace(0, 255, 9).round().astype(int))
    if style.kind == "continuous":
        colormap = style.cmap
    else:
        colormap = "rgb" if style.kind == "rgb" else spec.colormap
    return LayerInfo(
        product=prod.name,
        title=spec.title,
        description=spec.description,
        kind=style.kind,
        bands=tuple(names),
        composites=tuple(product_composites(spec)),
        default_band=str(default) if default in names else names[0],
        default_style=style.name,
        colormap=colormap,
        colormap_stops=stops,
        value_range=(style.vmin, style.vmax) if style.kind != "classes" else None,
        years=prod.years,
        bounds=prod.bounds,
        units={b.name: b.units for b in spec.bands},
        legend=legend,
        legend_colors=colors,
        public=public_text(spec),
        version=prod.version,
    )
