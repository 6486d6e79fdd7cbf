"""The React-2-EO store: one object over the database, composing the parts of this package.

>>> store = Store("sqlite:///react.sqlite", secret=b"...")  # doctest: +SKIP
>>> store.upgrade()  # doctest: +SKIP
>>> store.save_animation(AnimationRecord(  # doctest: +SKIP
...     id=h, product="ndvi", years_from=2019, years_to=2023, minx=-99.3, miny=19.2,
...     maxx=-98.9, maxy=19.6, fps=2.0, size=512, path="gifs/h.gif"))
>>> store.react(h, token, +1, lat=19.43, lon=-99.13, device_location=True)  # doctest: +SKIP
>>> store.stats_geojson(resolution=5)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, ParamSpec

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from .database import Database
from .ratelimit import RateLimit, RateLimiter
from .reactions import Reactions
from .records import AnimationRecord, AnimationStats, CellStats, ReactionRecord
from .secrets import SecretSource
from .statistics import Statistics, cells_geojson

__all__ = ["Store"]

_P = ParamSpec("_P")


def _as_geojson(stats: Callable[_P, list[CellStats]]) -> Callable[_P, dict[str, Any]]:
    """A method taking the parameters of ``stats`` and returning its cells as GeoJSON.

    So that :meth:`Store.stats_geojson` declares no parameters of its own to keep in step.
    """

    def stats_geojson(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, Any]:
        """:meth:`stats` as a GeoJSON FeatureCollection of cell polygons ([lon, lat] order)."""
        return cells_geojson(stats(*args, **kwargs))

    # So that help() and inspect show the parameters, as for a method written out in full.
    stats_geojson.__signature__ = inspect.signature(stats).replace(  # type: ignore[attr-defined]
        return_annotation="dict[str, Any]"
    )
    return stats_geojson


class Store:
    """The React-2-EO database (SQLite or PostgreSQL); thread-safe, one per process.

    ``secret`` keys the daily salt of the rate-limit hashes and the network hashes of
    reactions. Without one, a random secret is created once in the database and shared by
    every process on it (so workers and replicas count a client in one bucket); before the
    migrations ran, a random secret per process stands in.
    """

    def __init__(self, database_url: str | URL, secret: bytes | str | None = None) -> None:
        self._database = Database(database_url)
        self.url: URL = self._database.url
        self.engine: Engine = self._database.engine
        self._secret = SecretSource(self._database, secret)
        self._reactions = Reactions(self._database, self._secret)
        self._statistics = Statistics(self._database)
        self._rate_limiter = RateLimiter(self._database, self._secret)

    # --- schema ---------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the packaged Alembic migrations up to ``revision`` (default: the latest).

        Runs on this store's own engine (so SQLite gets the same pragmas and locking) and inside
        one transaction; on PostgreSQL the migrations take an advisory lock, so several
        workers starting at once upgrade one after the other.
        """
        self._database.upgrade(revision)
        self._secret.reset()  # the secrets table may exist now

    def close(self) -> None:
        """Close all pooled connections."""
        self._database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- animations and reactions ---------------------------------------------------------

    def save_animation(self, record: AnimationRecord) -> AnimationRecord:
        """Store an animation; saving an id that exists keeps the stored one (same content).

        Returns the stored record (with ``created_at`` filled in).
        """
        return self._reactions.save_animation(record)

    def get_animation(self, animation_id: str) -> AnimationRecord | None:
        """The stored animation, or None."""
        return self._reactions.get_animation(animation_id)

    def react(
        self,
        animation_id: str,
        token: str,
        value: int,
        lat: float | None = None,
        lon: float | None = None,
        device_location: bool = False,
        network: str | None = None,
    ) -> ReactionRecord:
        """Record (or replace) a browser's like (+1) or dislike (-1) of an animation.

        See :meth:`Reactions.react` for how the location is coarsened and what is kept of the
        client's ``network`` (``clients.network_key``). Raises ``ValueError``
        for a bad value, token or point and :class:`UnknownAnimation` when the animation is
        not stored.
        """
        return self._reactions.react(
            animation_id,
            token,
            value,
            lat=lat,
            lon=lon,
            device_location=device_location,
            network=network,
        )

    def get_reaction(self, animation_id: str, token: str) -> ReactionRecord | None:
        """This browser's current reaction to the animation, or None."""
        return self._reactions.get_reaction(animation_id, token)

    # --- statistics -----------------------------------------------------------------------

    def reaction_counts(self, animation_id: str) -> dict[str, int]:
        """{"likes", "dislikes", "total"} of one animation (no location, so no k-anonymity)."""
        return self._statistics.reaction_counts(animation_id)

    def stats(
        self,
        resolution: int,
        product: str | None = None,
        year: int | None = None,
        min_count: int = 5,
        bbox: Sequence[float] | None = None,
    ) -> list[CellStats]:
        """Reactions aggregated per H3 cell at ``resolution`` (0..9), busiest cells first.

        Cells with fewer than ``min_count`` reactions are left out (k-anonymity); see
        :meth:`Statistics.cells` for ``year`` and ``bbox``.
        """
        return self._statistics.cells(
            resolution, product=product, year=year, min_count=min_count, bbox=bbox
        )

    # Same parameters as stats(), declared once.
    stats_geojson = _as_geojson(stats)

    def public_stats(
        self,
        resolution: int,
        product: str | None = None,
        year: int | None = None,
        min_count: int = 5,
        bbox: Sequence[float] | None = None,
    ) -> list[CellStats]:
        """Per-cell statistics safe to publish: no combination of answers (resolutions,
        filters) singles out fewer than ``min_count`` contributing networks.

        What the public API serves; :meth:`stats` is the operator's exact view. See
        :meth:`Statistics.public_cells`.
        """
        return self._statistics.public_cells(
            resolution, min_count=min_count, product=product, year=year, bbox=bbox
        )

    # Same parameters as public_stats(), declared once.
    public_stats_geojson = _as_geojson(public_stats)

    def totals(self, product: str | None = None, year: int | None = None) -> dict[str, int]:
        """{"likes", "dislikes", "reactions", "animations"} overall or for a product / year."""
        return self._statistics.totals(product=product, year=year)

    def top_animations(
        self,
        n: int = 10,
        product: str | None = None,
        year: int | None = None,
        min_reactions: int = 1,
    ) -> list[AnimationStats]:
        """The ``n`` animations with the most reactions (then most likes, then newest), among
        those with at least ``min_reactions`` (the map's k)."""
        return self._statistics.top_animations(
            n, product=product, year=year, min_reactions=min_reactions
        )

    # --- rate limiting --------------------------------------------------------------------

    def client_hash(self, client_key: str, day: date) -> str:
        """sha256(salt + key) with salt = HMAC-SHA256(secret, UTC date): what is stored."""
        return self._rate_limiter.client_hash(client_key, day)

    def hit(
        self,
        client_key: str,
        action: str,
        limit: int,
        window_s: int,
        now: float | datetime | None = None,
    ) -> tuple[bool, int]:
        """Count one ``action`` by ``client_key`` (an IP address); (allowed, retry_after_s).

        At most ``limit`` hits per fixed window of ``window_s`` seconds; when refused,
        ``retry_after_s`` is the number of seconds until the window ends (>= 1).
        """
        return self._rate_limiter.hit(client_key, RateLimit(action, limit, window_s), now)

    def purge_rate_events(self, now: float | datetime | None = None) -> int:
        """Delete the rows of rate windows that have ended; returns how many."""
        return self._rate_limiter.purge(now)
