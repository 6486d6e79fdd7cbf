"""Limits and policies of a deployment (environment variables ``ECOINTEGRITY_API_*``)."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .clients import parse_trusted

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    """Limits and policies of a deployment (environment variables ``ECOINTEGRITY_API_*``).

    Privacy and abuse settings (docs/privacy-and-limits.md):

    * ``forwarded_allow_ips`` (``ECOINTEGRITY_API_FORWARDED_ALLOW_IPS``, JSON list or one
      comma-separated string; ``ecointegrity serve --forwarded-allow-ips``): the proxies whose
      ``X-Forwarded-For`` is believed, as addresses or CIDRs. The client is the first address,
      from the right, that is not one of them. Default: loopback only (a proxy on the same
      host); ``[]`` trusts no header. ``"*"`` is refused: it would let clients pick their
      identity.
    * ``secret`` (``ECOINTEGRITY_API_SECRET``): keys the daily salt of the rate-limit hashes
      and the network hashes of reactions. Unset, a random secret is created once in the
      database and shared by every worker and replica on it; set it (outside the database) so
      that a copy of the database alone cannot be used to test IP addresses against it.
    * ``reactions_per_minute`` / ``animations_per_minute``: per client (an IPv4 address or an
      IPv6 /64). ``reactions_per_day`` / ``animations_per_day``: per network (IPv4 /24, IPv6
      /48), so that forging many reactions or animations needs many networks.
    * ``min_reactions_per_cell``: k of the reaction map. A published count never singles out
      reactions from fewer than k client networks, whatever resolutions and filters are read.
    """

    model_config = SettingsConfigDict(env_prefix="ECOINTEGRITY_API_", extra="ignore")

    # Names only, no words: the same credit reads right in Spanish and English (maps and GIFs)
    attribution: str = "ecointegrity · Landsat: USGS · Sentinel-2: ESA/Copernicus"
    cors_origins: list[str] = ["*"]
    max_frames: int = 40
    max_animation_px: int = 1024
    max_slice_pixels: int = 4_000_000
    max_body_bytes: int = 16_384
    reactions_per_minute: int = 30
    animations_per_minute: int = 10
    reactions_per_day: int = Field(
        default=1_000, description="reactions per client network (IPv4 /24, IPv6 /48) per day"
    )
    animations_per_day: int = Field(
        default=200, description="new animations per client network (IPv4 /24, IPv6 /48) per day"
    )
    min_reactions_per_cell: int = Field(
        default=5, description="k-anonymity of the reaction map, in distinct client networks"
    )
    public_url: str | None = Field(
        default=None,
        description="the service's address as clients see it (https://host/prefix), used in "
        "WMS capabilities; unset: the address the request came to, with an untrusted Host "
        "header replaced by the server's own address",
    )
    render_wait_s: float = Field(
        default=10.0,
        description="how long a map or tile waits for a read slot before answering 503 (busy)",
    )
    reports_dir: str | None = Field(
        default=None,
        description="folder of `ecointegrity report` output (index.json) served at /reports",
    )
    tile_cache_seconds: int = 86_400
    tile_cache_mb: float = Field(
        default=64, description="encoded tiles kept in memory; 0 turns the cache off"
    )
    secret: str | None = Field(
        default=None,
        description="server secret for the daily IP-hash salt (unset: one kept in the database)",
    )
    # NoDecode: the environment value is parsed below, so that the comma-separated form that
    # uvicorn's FORWARDED_ALLOW_IPS takes works here too.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"],
        description="proxies (addresses or CIDRs) whose X-Forwarded-For is believed",
    )

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_forwarded(cls, value: object) -> object:
        # "10.0.0.0/8, 192.168.1.1" as uvicorn takes it, besides a JSON list.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded(cls, value: list[str]) -> list[str]:
        parse_trusted(tuple(value))  # a malformed entry fails at start-up, not per request
        return value
