"""ecointegrity.reports: documents an institution can publish, Spanish first, English too.

One engine for every product: builders word the figures of the parts below into a `Document`
(``integrity_report``, ``landcover_change_report``, ``landcover_validation``, ``region_cards``,
``acoustic_sites_report``), and one renderer prints it as a self-contained HTML page and as a
PDF typeset by Typst (the ``typst`` wheel, its own fonts: nothing else to install). Maps carry coordinates, a scale bar,
a north arrow, region boundaries and, from a user's DEM, relief (``maps``).

Layering (a module imports only modules to its left):
wording <- document <- render, maps <- publish, integrity, landcover, acoustics <- regions

Above ``integrity``, ``landcover`` and ``acoustics`` (it reads their figures), below ``web``
(which serves the reports) and ``cli``.
"""

from __future__ import annotations

from .acoustics import acoustic_sites_report
from .document import Document, Facts, Figure, Heading, PageBreak, Paragraph, Summary, Table
from .integrity import integrity_report
from .landcover import SampleDesign, landcover_change_report, landcover_validation
from .maps import Categories, MapContext
from .publish import INDEX, publish, read_index
from .regions import RegionCards, publish_region_cards, region_cards, slug
from .render import ReportError, render_html, write_document
from .wording import LANGUAGES, Language, Wording

__all__ = [
    "INDEX",
    "LANGUAGES",
    "Categories",
    "Document",
    "Facts",
    "Figure",
    "Heading",
    "Language",
    "MapContext",
    "PageBreak",
    "Paragraph",
    "RegionCards",
    "ReportError",
    "SampleDesign",
    "Summary",
    "Table",
    "Wording",
    "acoustic_sites_report",
    "integrity_report",
    "landcover_change_report",
    "landcover_validation",
    "publish",
    "publish_region_cards",
    "read_index",
    "region_cards",
    "render_html",
    "slug",
    "write_document",
]
