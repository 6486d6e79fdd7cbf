"""Settings from environment variables (``ECOINTEGRITY_*``) and an optional TOML file.

Precedence, highest first: keyword arguments, environment variables, the TOML file named by
``ECOINTEGRITY_CONFIG`` (default ``./ecointegrity.toml`` when it exists), built-in defaults.
The defaults need no service at all: local files and SQLite.

The data root is a location, a folder or an object-storage URL (``s3://bucket/prefix``): every
default under it (catalog, products, animations, detection runs) is joined as the location's
kind wants, so a deployment on object storage sets this one name. SQLite needs a local file, so
a data root on object storage asks for ``ECOINTEGRITY_DATABASE_URL`` (PostgreSQL).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .io import is_local, join

__all__ = ["Settings", "get_settings"]


def _config_file() -> Path:
    return Path(os.environ.get("ECOINTEGRITY_CONFIG", "ecointegrity.toml"))


class Settings(BaseSettings):
    """Where data lives and which services to use."""

    model_config = SettingsConfigDict(env_prefix="ECOINTEGRITY_", extra="ignore")

    data_root: str = Field(
        default=".ecointegrity",
        description="Root folder or object-storage URL (s3://bucket/prefix) of catalogs, "
        "products, animations and detection runs.",
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
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Batch jobs (mosaic, landcover map, acoustics detect) serve their progress "
        "for Prometheus on this port (/metrics). Default: none.",
    )
    stac_api: str = Field(
        default="https://earth-search.aws.element84.com/v1",
        description="Public STAC API used by `ingest stac` and the online demo.",
    )

    @field_validator("data_root", mode="before")
    @classmethod
    def _location(cls, value: object) -> object:
        # a Path given in code (tests, notebooks) is a folder; a str may be a URL
        return str(value) if isinstance(value, os.PathLike) else value

    def location(self, *parts: str) -> str:
        """A location under the data root (a path, or a URL on object storage)."""
        return join(self.data_root, *parts)

    @property
    def catalog_location(self) -> str:
        return self.catalog or self.location("catalog")

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        if not is_local(self.data_root):
            raise ValueError(
                f"data_root {self.data_root} is on object storage and SQLite needs a local "
                "file: set ECOINTEGRITY_DATABASE_URL (e.g. postgresql+psycopg://...)"
            )
        return f"sqlite:///{self.location('ecointegrity.sqlite')}"

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
