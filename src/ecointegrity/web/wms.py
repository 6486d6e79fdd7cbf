"""OGC WMS 1.3.0 for GIS clients (QGIS, ArcGIS): capabilities with a TIME dimension, GetMap parsing.

Layer names are ``product`` (its default band) and ``product.band``. TIME is a year (``2021`` or
any date in it). In WMS 1.3.0, EPSG:4326 bounding boxes are given latitude first; CRS:84 is the
longitude-first alternative. Both are accepted and normalised here, once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from ..cube import NATIONAL_GRIDS
from .errors import RenderError, ServerBusy, UnreadableData, WmsError
from .layers import LayerInfo

if TYPE_CHECKING:
    from .renderer import ProductRenderer

__all__ = [
    "GetMapRequest",
    "SUPPORTED_CRS",
    "capabilities_xml",
    "get_map",
    "operation",
    "parse_getmap",
]

# geographic, web mercator and every national grid (EPSG:6372 Mexico, EPSG:9377 Colombia):
# an institution's GIS asks for maps in its own projection
SUPPORTED_CRS = (
    "EPSG:4326",
    "CRS:84",
    "EPSG:3857",
    *dict.fromkeys(str(grid.crs) for grid in NATIONAL_GRIDS.values()),
)
FORMATS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpeg"}


@dataclass(frozen=True)
class GetMapRequest:
    product: str
    band: str | None
    year: int
    crs: str
    bbox: tuple[float, float, float, float]  # x/y order (lon/lat for geographic CRSs)
    width: int
    height: int
    format: str


def operation(params: Mapping[str, str]) -> str:
    """The request's operation, ``getcapabilities`` or ``getmap`` (upper-cased keys)."""
    if params.get("SERVICE", "WMS").upper() != "WMS":
        raise WmsError("SERVICE must be WMS")
    op = params.get("REQUEST", "").lower()
    if op not in ("getcapabilities", "getmap"):
        raise WmsError("REQUEST must be GetCapabilities or GetMap")
    return op


def get_map(
    renderer: ProductRenderer, params: Mapping[str, str], *, max_pixels: int
) -> tuple[bytes, str]:
    """Answer a GetMap request (upper-cased keys): the picture and its media type.

    Every failure is a :class:`WmsError`: WMS clients expect HTTP 400 whatever went wrong.
    """
    req = parse_getmap(params, renderer.layers(), max_pixels=max_pixels)
    try:
        rgba = renderer.render_bbox(
            req.product, req.year, req.bbox, req.width, req.height, crs=req.crs, band=req.band
        )
    except (UnreadableData, ServerBusy):
        raise  # the server's state, not the request's: 5xx, whatever the protocol
    except (RenderError, ValueError) as err:
        raise WmsError(str(err)) from err
    return renderer.encode(rgba, req.format), f"image/{req.format}"


def parse_getmap(
    params: Mapping[str, str], layers: Sequence[LayerInfo], *, max_pixels: int
) -> GetMapRequest:
    """Validate a GetMap request (upper-cased keys); a WMS-style message in a ``WmsError``."""

    def need(key: str) -> str:
        if not params.get(key):
            raise WmsError(f"GetMap needs the {key} parameter")
        return params[key]

    if params.get("VERSION", "1.3.0") != "1.3.0":
        raise WmsError("only WMS 1.3.0 is served (VERSION=1.3.0)")
    names = need("LAYERS").split(",")
    if len(names) != 1:
        raise WmsError("one layer per GetMap request")
    product, _, band = names[0].partition(".")
    layer = next((lyr for lyr in layers if lyr.product == product), None)
    if layer is None:
        raise WmsError(f"unknown layer {names[0]!r}; see GetCapabilities")
    if band and band not in layer.bands:
        raise WmsError(f"layer {product!r} has no band {band!r}; bands: {', '.join(layer.bands)}")
    crs = need("CRS").upper()
    if crs not in SUPPORTED_CRS:
        raise WmsError(f"CRS {crs} is not supported; use one of {', '.join(SUPPORTED_CRS)}")
    try:
        values = [float(v) for v in need("BBOX").split(",")]
        width, height = int(need("WIDTH")), int(need("HEIGHT"))
    except ValueError as err:
        raise WmsError("BBOX must be four numbers, WIDTH and HEIGHT integers") from err
    if len(values) != 4:
        raise WmsError("BBOX must be four numbers")
    if crs == "EPSG:4326":  # latitude first in WMS 1.3.0
        values = [values[1], values[0], values[3], values[2]]
        crs = "EPSG:4326"
    elif crs == "CRS:84":
        crs = "EPSG:4326"
    minx, miny, maxx, maxy = values
    if not (minx < maxx and miny < maxy):
        raise WmsError("BBOX minimum must be below maximum on both axes")
    if width < 1 or height < 1 or width * height > max_pixels or max(width, height) > 4096:
        raise WmsError(
            f"WIDTH x HEIGHT must be positive, each at most 4096, and at most {max_pixels:,} pixels"
        )
    fmt = FORMATS.get(params.get("FORMAT", "image/png").lower())
    if fmt is None:
        raise WmsError(f"FORMAT must be one of {', '.join(FORMATS)}")
    time = params.get("TIME") or str(max(layer.years))
    match = re.match(r"^(\d{4})", time)
    if not match:
        raise WmsError(f"TIME {time!r} is not a year or a date")
    year = int(match.group(1))
    if year not in layer.years:
        raise WmsError(
            f"TIME {year} is not available for {product}; years: {', '.join(map(str, layer.years))}"
        )
    return GetMapRequest(
        product, band or None, year, crs, (minx, miny, maxx, maxy), width, height, fmt
    )


def capabilities_xml(layers: Sequence[LayerInfo], url: str, attribution: str) -> bytes:
    """WMS 1.3.0 capabilities: one layer per product (and per band), each with a TIME dimension."""
    ns = "http://www.opengis.net/wms"
    ET.register_namespace("", ns)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.Element(f"{{{ns}}}WMS_Capabilities", {"version": "1.3.0"})

    def sub(parent: ET.Element, tag: str, text: object = None, **attrib: object) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ns}}}{tag}", {k: str(v) for k, v in attrib.items()})
        if text is not None:
            el.text = str(text)
        return el

    service = sub(root, "Service")
    sub(service, "Name", "WMS")
    sub(service, "Title", "ecointegrity annual products")
    sub(service, "Abstract", attribution)
    sub(service, "OnlineResource", **{"{http://www.w3.org/1999/xlink}href": url})
    capability = sub(root, "Capability")
    request = sub(capability, "Request")
    for op, formats in (("GetCapabilities", ["text/xml"]), ("GetMap", list(FORMATS))):
        el = sub(request, op)
        for f in formats:
            sub(el, "Format", f)
        http = sub(sub(el, "DCPType"), "HTTP")
        sub(sub(http, "Get"), "OnlineResource", **{"{http://www.w3.org/1999/xlink}href": url + "?"})
    sub(sub(capability, "Exception"), "Format", "XML")
    top = sub(capability, "Layer")
    sub(top, "Title", "ecointegrity")
    for crs in SUPPORTED_CRS:
        sub(top, "CRS", crs)
    for layer in layers:
        names = [(layer.product, layer.title)] + [
            (f"{layer.product}.{b}", f"{layer.title}: {b}") for b in layer.bands
        ]
        for name, title in names:
            el = sub(top, "Layer", queryable="0")
            sub(el, "Name", name)
            sub(el, "Title", title)
            sub(el, "Abstract", layer.description)
            if layer.bounds:
                w, s, e, n = layer.bounds
                geo = sub(el, "EX_GeographicBoundingBox")
                for tag, v in (
                    ("westBoundLongitude", w),
                    ("eastBoundLongitude", e),
                    ("southBoundLatitude", s),
                    ("northBoundLatitude", n),
                ):
                    sub(geo, tag, v)
                sub(
                    el, "BoundingBox", CRS="EPSG:4326", minx=s, miny=w, maxx=n, maxy=e
                )  # lat/lon order
                sub(el, "BoundingBox", CRS="CRS:84", minx=w, miny=s, maxx=e, maxy=n)
            sub(
                el,
                "Dimension",
                ",".join(str(y) for y in layer.years),
                name="time",
                units="ISO8601",
                default=str(max(layer.years)),
            )
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")
