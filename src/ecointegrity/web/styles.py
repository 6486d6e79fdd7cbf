"""How a product's band (or composite) is drawn, from the product's spec.

* single bands: physical values rescaled from the spec's value range to 0-255, then the named
  colour map (rio-tiler's ``cmap``: rdylgn, viridis, blues, rdbu, inferno, rdylbu_r, ...);
* products with an ``rgb`` composite (the geomedian): true colour (red, green, blue) or
  ``false_colour`` (swir1, nir, green), reflectance 0-0.3;
* class maps (``colormap="scheme"``): the COG's own colour table, no rescaling, so a pixel has
  exactly its class colour.

Styles are pure: what needs the data (a COG's colour table, a band's value percentiles) is
asked of the caller through two functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rio_tiler.colormap import cmap as _rio_cmaps

from ..cube import ProductSpec
from .errors import UnknownBand

__all__ = [
    "COMPOSITE_NAMES",
    "ColourTable",
    "Style",
    "StyleKind",
    "build_style",
    "colormap_lut",
    "hex_colour",
    "product_composites",
]

StyleKind = Literal["continuous", "rgb", "classes"]
ColourTable = dict[int, tuple[int, int, int, int]]
ValueRange = tuple[float, float]

# Names accepted for the composites a spec lists in ``extra`` (``rgb``, ``false_colour``).
_COMPOSITE_ALIASES = {
    "rgb": "rgb",
    "true_colour": "rgb",
    "true_color": "rgb",
    "truecolour": "rgb",
    "false_colour": "false_colour",
    "false_color": "false_colour",
}
COMPOSITE_NAMES = {"rgb": "true_colour", "false_colour": "false_colour"}

# Our colour-map names -> rio-tiler's. Today they coincide; the table is the one place to
# map a name that does not (rio-tiler's names are lower-case matplotlib names).
_CMAP_ALIASES = {"grey": "gray", "greys": "greys", "spectral": "spectral"}


@dataclass(frozen=True)
class Style:
    """How one band (or composite) of a product is drawn."""

    kind: StyleKind
    name: str  # the band, or the composite's name
    bands: tuple[str, ...]  # bands read, in order
    label: str  # what the legend calls it
    units: str
    vmin: float = 0.0
    vmax: float = 1.0
    cmap: str | None = None
    lut: np.ndarray | None = None  # continuous: the colour map (256, 4); classes: code -> rgba
    classes: tuple[tuple[int, str, tuple[int, int, int, int]], ...] = ()  # code, name, rgba
    # Paletted pictures (continuous and 8-bit class maps): index -> rgba, and the index of the
    # transparent entry. A paletted PNG encodes ten times faster than RGBA and is smaller.
    palette: np.ndarray | None = None
    transparent: int | None = None

    @property
    def unscale(self) -> bool:
        return self.kind != "classes"

    def indexed(self, data: np.ma.MaskedArray) -> np.ndarray:
        """(1, h, w) masked values -> (h, w) palette indices (paletted styles only)."""
        assert self.transparent is not None
        mask = np.ma.getmaskarray(data)[0]
        values = np.ma.getdata(data)[0]
        if self.kind == "classes":
            codes = values.astype(np.int64, copy=False)
            ok = ~mask & (codes >= 0) & (codes < 256)
            return np.where(ok, codes, self.transparent).astype(np.uint8)
        idx = self.levels(values, self.transparent)  # 0..254: the colour map; 255: transparent
        idx[mask] = self.transparent
        return idx

    def rgba(self, data: np.ma.MaskedArray) -> np.ndarray:
        """(bands, h, w) masked values -> (h, w, 4) uint8, transparent where masked."""
        if self.palette is not None:
            return self.palette[self.indexed(data)]
        mask = np.ma.getmaskarray(data)
        values = np.ma.getdata(data)
        if self.kind == "classes":  # codes beyond 8 bits: a lookup table as long as the codes
            assert self.lut is not None
            codes = values[0].astype(np.int64, copy=False)
            inside = (codes >= 0) & (codes < len(self.lut))
            out = self.lut[np.where(inside, codes, 0)]
            out[~inside | mask[0]] = 0
            return out
        h, w = values.shape[1:]
        out = np.empty((h, w, 4), np.uint8)
        for i in range(3):
            out[..., i] = self.levels(values[i], 256)
        missing = mask.any(axis=0)
        out[..., 3] = 255
        out[missing] = 0
        return out

    def levels(self, values: np.ndarray, n: int) -> np.ndarray:
        """Values -> 0..n-1 (the position on a ramp of n levels from vmin to vmax), uint8."""
        top = n - 1
        span = (self.vmax - self.vmin) or 1.0
        v = (values.astype(np.float32, copy=False) - np.float32(self.vmin)) * np.float32(top / span)
        np.nan_to_num(v, copy=False, nan=0.0)
        np.clip(v, 0, top, out=v)
        return np.rint(v, out=v).astype(np.uint8)


@functools.lru_cache(maxsize=64)
def colormap_lut(name: str) -> np.ndarray:
    """A rio-tiler colour map as a (256, 4) uint8 lookup table."""
    rio_name = _CMAP_ALIASES.get(name.lower(), name.lower())
    table = _rio_cmaps.get(rio_name)
    if not isinstance(table, Mapping):  # interval colour maps are not ramps
        raise ValueError(f"colour map {name!r} is not a 256-entry ramp")
    lut = np.zeros((256, 4), np.uint8)
    for k, v in table.items():
        lut[int(k)] = [int(c) for c in v]
    lut.setflags(write=False)
    return lut


def hex_colour(rgba: Sequence[int]) -> str:
    """``#rrggbb`` of an RGB(A) colour."""
    return "#{:02x}{:02x}{:02x}".format(*[int(c) for c in rgba[:3]])


def product_composites(spec: ProductSpec) -> dict[str, tuple[str, ...]]:
    """Public composite name (``true_colour``, ``false_colour``) -> its three bands."""
    names = {b.name for b in spec.bands}
    out = {}
    for key, public in COMPOSITE_NAMES.items():
        bands = spec.extra.get(key)
        if isinstance(bands, (list, tuple)) and len(bands) == 3 and all(b in names for b in bands):
            out[public] = tuple(str(b) for b in bands)
    return out


def build_style(
    product: str,
    spec: ProductSpec,
    band: str | None,
    *,
    colour_table: Callable[[str], ColourTable | None],
    auto_range: Callable[[str], ValueRange],
) -> Style:
    """The style of ``band`` (None: the product's default picture).

    Args:
        product: the product's name (for error messages).
        spec: its spec.
        band: a data band, a composite name or alias, or None.
        colour_table: band -> the colour table of its COGs (class maps), or None.
        auto_range: band -> a value range from the data (bands the spec gives none for).
    Raises:
        UnknownBand: neither a band nor a composite of the product.
    """
    composites = product_composites(spec)
    names = [b.name for b in spec.bands]
    if band is None:
        if "true_colour" in composites:
            band = "true_colour"
        else:
            default = spec.extra.get("default_band")
            band = str(default) if default in names else names[0]
    key = _COMPOSITE_ALIASES.get(band.lower())
    if key is not None and COMPOSITE_NAMES[key] in composites:
        public = COMPOSITE_NAMES[key]
        bands = composites[public]
        lo, hi = spec.value_range or auto_range(bands[0])
        label = f"{'true' if key == 'rgb' else 'false'} colour ({', '.join(bands)})"
        return Style("rgb", public, bands, label, spec.band(bands[0]).units, float(lo), float(hi))
    if band not in names:
        raise UnknownBand(product, band, names + list(composites))
    if spec.colormap == "scheme" and np.issubdtype(np.dtype(spec.band(band).dtype), np.integer):
        style = _class_style(spec, band, colour_table(band))
        if style is not None:
            return style
    return _continuous_style(spec, band, composites, auto_range)


def _class_style(spec: ProductSpec, band: str, table: ColourTable | None) -> Style | None:
    """A class map drawn in its class colours; None without any colour table to draw it in."""
    pb = spec.band(band)
    legend = spec.extra.get("legend") or {}
    if (
        (table is None or not legend)
        and band == spec.extra.get("default_band")
        and spec.extra.get("scheme")
    ):
        # No colour table in the COG, or no legend in the spec: the scheme's own.
        table, legend = _scheme_colours(str(spec.extra["scheme"]), table, legend)
    if table is None:
        return None
    lut = np.zeros((max(max(table) + 1, 256), 4), np.uint8)
    for code, rgba in table.items():
        lut[code] = rgba
    nodata = None if pb.nodata is None else int(pb.nodata)
    if nodata is not None and 0 <= nodata < len(lut):
        lut[nodata] = 0
    lut.setflags(write=False)
    if isinstance(legend, Mapping) and legend:
        codes = sorted(int(c) for c in legend)
        names = {int(c): str(n) for c, n in legend.items()}
    else:  # no legend: the colour table's visible entries
        codes = [c for c, v in sorted(table.items()) if v[3] > 0 and tuple(v) != (0, 0, 0, 255)]
        names = {c: str(c) for c in codes}
    if nodata is not None:
        codes = [c for c in codes if c != nodata]
    classes = tuple((c, names[c], _rgba(lut[c])) for c in codes if c < len(lut))
    palette = transparent = None
    if len(lut) == 256 and nodata is not None and 0 <= nodata < 256:
        palette, transparent = lut, nodata  # the COG's table as it is
    return Style(
        "classes",
        band,
        (band,),
        pb.description or band,
        pb.units,
        lut=lut,
        classes=classes,
        palette=palette,
        transparent=transparent,
    )


def _rgba(values: Sequence[int]) -> tuple[int, int, int, int]:
    r, g, b, a = (int(v) for v in values)
    return (r, g, b, a)


def _scheme_colours(
    scheme_name: str, table: ColourTable | None, legend: object
) -> tuple[ColourTable | None, object]:
    """Fill a missing colour table or legend from the land-cover scheme a product names."""
    from ..landcover import load_scheme  # lazily: the land-cover package is heavy

    try:
        scheme = load_scheme(scheme_name)
    except Exception:  # an unknown scheme file: draw what the COG says
        return table, legend
    table = table or {int(c): _rgba(v) for c, v in scheme.colormap().items()}
    legend = legend or {str(c): n for c, n in scheme.names("es").items()}
    return table, legend


def _continuous_style(
    spec: ProductSpec,
    band: str,
    composites: Mapping[str, tuple[str, ...]],
    auto_range: Callable[[str], ValueRange],
) -> Style:
    """A band drawn in a colour map over its value range."""
    pb = spec.band(band)
    default = spec.extra.get("default_band")
    ranges = spec.extra.get("value_ranges") or {}
    in_composite = any(band in bands for bands in composites.values())
    is_default = band == default or (isinstance(default, str) and band.startswith(default))
    if isinstance(ranges, Mapping) and band in ranges:
        lo, hi = ranges[band]
    elif spec.value_range and (in_composite or is_default):
        lo, hi = spec.value_range
    else:
        lo, hi = auto_range(band)
    if spec.colormap not in (None, "rgb", "scheme"):
        cmap = str(spec.colormap)
    else:
        cmap = "gray" if in_composite else "viridis"
    try:
        lut = colormap_lut(cmap)
    except Exception:  # an unknown name in a spec: still draw, in a neutral map
        cmap, lut = "viridis", colormap_lut("viridis")
    label = spec.title if band == default else f"{spec.title}: {band}"
    # 255 of the colour map's 256 entries, evenly spaced, and one transparent entry.
    palette = np.zeros((256, 4), np.uint8)
    palette[:255] = lut[np.rint(np.linspace(0, 255, 255)).astype(int)]
    palette.setflags(write=False)
    return Style(
        "continuous",
        band,
        (band,),
        label,
        pb.units,
        float(lo),
        float(hi),
        cmap,
        lut,
        palette=palette,
        transparent=255,
    )
