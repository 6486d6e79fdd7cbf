"""Settings from environment variables (``ECOINTEGRITY_*``) and an optional TOML file.

Precedence, highest first: keyword arguments, environment variables, the TOML file named by
``ECOINTEGRITY_CONFIG`` (default ``./ecointegrity.toml`` when it exists), built-in defaults.
The defaults need no service at all: local files and SQLite.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "get_settings"]


def _config_file() -> Path:
    return Path(os.environ.get("ECOINTEGRITY_CONFIG", "ecointegrity.toml"))


class Settings(BaseSettings):
    """Where data lives and which services to use."""

    model_config = SettingsConfigDict(env_prefix="ECOINTEGRITY_", extra="ignore")

    data_root: Path = Field(
        default=Path(".ecointegrity"),
        description="Root folder (or fsspec URL) for source catalogs and products.",
    )
    catalog: str | None = Field(
        default=None,
        description="Catalog location: a catalog.json path/URL or a STAC API URL. "
        "Default: <data_root>/catalog.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file under data_root.",
    )
    scheduler: str | None = Field(
        default=None,
        description="Dask scheduler address (tcp://host:8786). Default: local threads.",
    )
    stac_api: str = Field(
        default="https://earth-search.aws.element84.com/v1",
        description="Public STAC API used by `ingest stac` and the online demo.",
    )

    @property
    def catalog_location(self) -> str:
        return self.catalog or str(self.data_root / "catalog")

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_root / 'ecointegrity.sqlite'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests construct ``Settings`` directly)."""
    return Settings()
