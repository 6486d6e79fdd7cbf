"""Request and response bodies of the React-2-EO API: the contract its OpenAPI schema publishes."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_ASPECT",
    "MIN_BBOX_DEGREES",
    "BBox",
    "CountryInfo",
    "ProductInfo",
    "AnimationRequest",
    "AnimationInfo",
    "ReactionRequest",
    "ReactionInfo",
    "Location",
    "Totals",
]


#: The smallest side of a bbox (degrees, ~11 m): a thinner one has no pixel to show.
MIN_BBOX_DEGREES = 1e-4
#: The longest side of an animation's bbox over its shortest (in web mercator): a frame needs
#: both sides at least a few pixels long.
MAX_ASPECT = 20.0


class BBox(BaseModel):
    """A lon/lat bounding box (WGS84): west, south, east, north."""

    model_config = ConfigDict(extra="forbid")
    west: float = Field(ge=-180, le=180)
    south: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)

    @model_validator(mode="after")
    def _ordered(self) -> BBox:
        if not (self.west < self.east and self.south < self.north):
            raise ValueError("bbox must be west < east and south < north (lon/lat, WGS84)")
        if min(self.east - self.west, self.north - self.south) < MIN_BBOX_DEGREES:
            raise ValueError(
                f"bbox must be at least {MIN_BBOX_DEGREES} degrees (about 10 m) on each side"
            )
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)


class CountryInfo(BaseModel):
    """A country the app can switch to: its names and where the map flies when it is chosen."""

    id: str = Field(description="identifier, as the command line's --country takes it")
    name_es: str
    name_en: str
    view: list[float] = Field(
        min_length=4, max_length=4, description="west, south, east, north (WGS84)"
    )


class PublicText(BaseModel):
    """A product in plain words, in one language."""

    name: str = Field(description="what the public calls it (a tab's label)")
    summary: str = Field(description="one line: what the map shows")
    low: str | None = Field(None, description="what the low end of the colour ramp means")
    high: str | None = Field(None, description="what the high end of the colour ramp means")
    classes: dict[str, str] | None = Field(None, description="class code -> name (class maps)")


class ProductInfo(BaseModel):
    """A product as a map layer: enough to draw its tabs, legend and year range."""

    product: str
    title: str
    description: str
    kind: Literal["continuous", "rgb", "classes"]
    bands: list[str]
    composites: list[str] = Field(
        description="multi-band pictures a tile or animation can name as band"
    )
    default_band: str | None
    default_style: str | None = Field(description="what a map draws when no band is named")
    colormap: str | None
    colormap_stops: list[str] = Field(
        description="the colour map as #rrggbb stops from low to high"
    )
    value_range: list[float] | None
    units: dict[str, str]
    years: list[int]
    bounds: list[float] | None = Field(description="west, south, east, north (WGS84)")
    legend: dict[str, str] | None = Field(None, description="class code -> name (class maps)")
    legend_colors: dict[str, str] | None = Field(
        None, description="class code -> #rrggbb (class maps)"
    )
    public: dict[str, PublicText] = Field(
        description="the product in plain words, per language (es, en): tabs, legends, GIFs"
    )
    version: str = Field(description="changes whenever the product's data does")
    attribution: str


class AnimationRequest(BaseModel):
    """An animation of a product over a bbox and a year range."""

    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    bbox: BBox
    # strict: "2021" (a string) is a client's bug, not a year
    year_from: int = Field(ge=1972, le=2100, strict=True)
    year_to: int = Field(ge=1972, le=2100, strict=True)
    fps: float = Field(
        default=2.0, ge=0.2, le=10, description="frames per second (a frame shows 0.1 to 5 s)"
    )
    size: int = Field(
        default=512,
        ge=64,
        le=4096,
        strict=True,
        description="long side in pixels (at most the server's limit)",
    )
    band: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    format: Literal["gif", "webp"] = "gif"
    lang: Literal["es", "en"] = Field(
        default="es", description="the language of the legend's words (Spanish by default)"
    )

    @model_validator(mode="after")
    def _years(self) -> AnimationRequest:
        if self.year_to < self.year_from:
            raise ValueError("year_to must not be before year_from")
        west, south, east, north = self.bbox.as_tuple()
        if abs(south) < 85 and abs(north) < 85:  # beyond web mercator: the renderer refuses it
            y0, y1 = (math.log(math.tan(math.pi / 4 + math.radians(v) / 2)) for v in (south, north))
            aspect = math.radians(east - west) / (y1 - y0)
            if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
                raise ValueError(
                    f"bbox is {aspect:.3g} times as wide as it is high; an animation's frame "
                    f"needs between 1/{MAX_ASPECT:g} and {MAX_ASPECT:g}"
                )
        return self


class AnimationInfo(BaseModel):
    id: str
    url: str
    product: str
    band: str | None
    bbox: BBox
    year_from: int
    year_to: int
    frames: int
    fps: float
    size: int
    format: str


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ReactionRequest(BaseModel):
    """A like or dislike. ``token`` is a random id the browser keeps (no account); one reaction
    per animation and token, a later one replaces the earlier."""

    model_config = ConfigDict(extra="forbid")
    value: Literal["like", "dislike"]
    token: str = Field(min_length=8, max_length=128)
    location: Location | None = Field(
        default=None, description="device location; coarsened to ~5 km before storage"
    )

    @field_validator("token")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isascii() or not v.isprintable():
            raise ValueError("token must be printable ASCII")
        return v


class ReactionInfo(BaseModel):
    animation_id: str
    value: Literal["like", "dislike"]
    lat: float
    lon: float


class Totals(BaseModel):
    likes: int
    dislikes: int
    reactions: int
    animations: int
