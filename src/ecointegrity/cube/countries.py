"""The countries the platform serves: per country its national grid, a demo area and the app's view.

A country is data, not code: commands and the app look it up here instead of naming Mexico.
Class schemes and hemeroby tables are not part of it: the institutions supply them as data
(``landcover`` and ``integrity`` load them by name).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CubeError
from .grids import NationalGrid, national_grid

__all__ = ["Country", "COUNTRIES", "LonLatBox", "UnknownCountryError", "country"]

#: A lon/lat box (WGS84): west, south, east, north.
LonLatBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Country:
    """A country: its national grid, a small demo area and the web app's default view.

    Attributes:
        id: lower-case identifier, as on the command line (``--country colombia``).
        name_es, name_en: the country's name in Spanish and English.
        grid: name of its national grid (see :data:`~.grids.NATIONAL_GRIDS`).
        demo_area: the demo area's name, as reports print it.
        demo_bbox: the demo area, lon/lat (about 6 x 6 km).
        view_bbox: what the app's map shows when the country is chosen, lon/lat.
    """

    id: str
    name_es: str
    name_en: str
    grid: str
    demo_area: str
    demo_bbox: LonLatBox
    view_bbox: LonLatBox

    @property
    def national_grid(self) -> NationalGrid:
        """The country's national grid at its default resolution (30 m)."""
        return national_grid(self.grid)

    @property
    def demo_centre(self) -> tuple[float, float]:
        """The centre of the demo area as (lon, lat)."""
        west, south, east, north = self.demo_bbox
        return (west + east) / 2, (south + north) / 2


COUNTRIES: dict[str, Country] = {
    "mexico": Country(
        "mexico", "México", "Mexico", "mexico",
        # Bacalar lagoon, Quintana Roo: tropical forest, a large lagoon, a town and farmland.
        demo_area="Bacalar lagoon",
        demo_bbox=(-88.43, 18.62, -88.37, 18.68),
        view_bbox=(-118.4, 14.5, -86.7, 32.7),
    ),
    "colombia": Country(
        "colombia", "Colombia", "Colombia", "colombia",
        # The north-east of the Ciénaga Grande de Santa Marta (Magdalena), around Pueblo Viejo:
        # Colombia's largest coastal lagoon, a Ramsar site and UNESCO biosphere reserve, where
        # the La Barra inlet opens to the Caribbean between Pueblo Viejo and the town of
        # Ciénaga. Lagoon, mangroves, the barrier spit that carries route 90 (whose building cut
        # the lagoon's exchange with the sea and killed mangroves), towns and farmland: the
        # kinds of cover Bacalar's area has, so that the demo's chain reads the same way.
        demo_area="Ciénaga Grande de Santa Marta",
        demo_bbox=(-74.31, 10.95, -74.255, 11.005),
        # Mainland Colombia (San Andrés and Providencia are a zoom away to the north-west).
        view_bbox=(-79.1, -4.3, -66.8, 12.5),
    ),
}


class UnknownCountryError(CubeError, KeyError):
    """A country name that is not in :data:`COUNTRIES`."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown country {name!r}; known: {', '.join(COUNTRIES)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def country(name: str | Country) -> Country:
    """A country by id (``mexico``, ``colombia``; any case), or the country itself.

    Raises:
        UnknownCountryError: for a name not in :data:`COUNTRIES` (the message lists them).
    """
    if isinstance(name, Country):
        return name
    try:
        return COUNTRIES[name.strip().lower()]
    except KeyError:
        raise UnknownCountryError(name) from None

