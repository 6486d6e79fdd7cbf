"""ecointegrity.web: the React-2-EO HTTP API (tiles, WMS, slices, animations, reactions).

Sits on top: it reads the product catalogs the lower layers write and never the reverse.

Layering, lowest first: ``errors`` <- the drawing modules (``styles``, ``datasets``, ``cache``,
``encoding``, ``geometry``, ``drawing``, ``animation``) <- ``product_index``, ``layers`` <-
``renderer``; ``store``, ``settings``, ``models`` <- ``deps`` <- ``routers`` <- ``app``.
"""

from .app import create_app
from .renderer import ProductRenderer
from .settings import ApiSettings

__all__ = ["ApiSettings", "ProductRenderer", "create_app"]
