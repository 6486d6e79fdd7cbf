"""Limits and policies of a deployment (environment variables ``ECOINTEGRITY_API_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    """Limits and policies of a deployment (environment variables ``ECOINTEGRITY_API_*``)."""

    model_config = SettingsConfigDict(env_prefix="ECOINTEGRITY_API_", extra="ignore")

    attribution: str = "ecointegrity · Landsat/Sentinel-2 courtesy of USGS/ESA"
    cors_origins: list[str] = ["*"]
    max_frames: int = 40
    max_animation_px: int = 1024
    max_slice_pixels: int = 4_000_000
    max_body_bytes: int = 16_384
    reactions_per_minute: int = 30
    animations_per_minute: int = 10
    min_reactions_per_cell: int = Field(default=5, description="k-anonymity of the reaction map")
    tile_cache_seconds: int = 86_400
    tile_cache_mb: float = Field(
        default=64, description="encoded tiles kept in memory; 0 turns the cache off"
    )
    secret: str | None = Field(default=None, description="server secret for the daily IP-hash salt")
