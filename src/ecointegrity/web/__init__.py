"""ecointegrity.web: the React-2-EO HTTP API (tiles, WMS, slices, animations, reactions).

Sits on top: it reads the product catalogs the lower layers write and never the reverse.
"""

from .app import ApiSettings, create_app

__all__ = ["ApiSettings", "create_app"]
