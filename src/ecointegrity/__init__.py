"""ecointegrity: ecosystem integrity from satellites and sound.

Layers, lowest first (a module never imports one to its right; parts on one level never import
each other):
``io`` <- ``config`` <- ``cube`` <- ``mosaics``, ``landcover``, ``acoustics`` <- ``integrity``
<- ``reports`` <- ``web`` <- ``cli``
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecointegrity")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
