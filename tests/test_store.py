"""The React-2-EO store (ecointegrity.web.store) on SQLite and on PostgreSQL.

Every storage test runs on both databases. PostgreSQL: $ECOINTEGRITY_TEST_POSTGRES (an admin
URL, default the local server) gets a throw-away database ``eco_test_<random>`` for the session
and every test its own schema in it. When the server is unreachable the PostgreSQL cases skip,
or fail under ECOINTEGRITY_REQUIRE_DATA=1 (CI).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import h3
import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from ecointegrity.web.store import (
    AnimationRecord,
    AnimationStats,
    CellStats,
    ReactionRecord,
    Store,
    UnknownAnimation,
)

PG_ADMIN_URL = os.environ.get(
    "ECOINTEGRITY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = b"test-secret"

# Mexico City and Bogota: two places far apart, in the western hemisphere (negative lon).
CDMX = (19.4326, -99.1332)
BOGOTA = (4.7110, -74.0721)


# --- fixtures --------------------------------------------------------------------------------


def _admin_engine_or_skip(admin_url: str):
    """An autocommit engine on the admin database; skip (or fail in CI) when unreachable."""
    engine = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        engine.dispose()
        shown = make_url(admin_url).render_as_string(hide_password=True)
        msg = f"PostgreSQL not reachable at {shown} (set ECOINTEGRITY_TEST_POSTGRES): {exc}"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
        pytest.skip(msg)
    return engine


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this session (dropped at the end); yields its URL."""
    admin = _admin_engine_or_skip(PG_ADMIN_URL)
    name = f"eco_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_schemas = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database: a SQLite file, or a fresh schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'react.sqlite'}"
    url = request.getfixturevalue("pg_database")
    schema = f"t{next(_schemas)}_{secrets.token_hex(3)}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    # Every connection of the store then works in that schema (tables, alembic_version).
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture
def store(db_url):
    s = Store(db_url, secret=SECRET)
    s.upgrade()
    yield s
    s.close()


def animation(
    id: str = "a" * 24,
    product: str = "ndvi",
    years: tuple[int, int] = (2019, 2023),
    bbox: tuple[float, float, float, float] = (-99.3, 19.2, -98.9, 19.6),
) -> AnimationRecord:
    return AnimationRecord(
        id=id,
        product=product,
        band=None,
        years_from=years[0],
        years_to=years[1],
        minx=bbox[0],
        miny=bbox[1],
        maxx=bbox[2],
        maxy=bbox[3],
        fps=2.0,
        size=512,
        path=f"/data/gifs/{id}.gif",
    )


def rows(store: Store, table: str) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return h3.great_circle_distance(a, b, unit="km")


# --- schema ----------------------------------------------------------------------------------


def test_migrations_create_the_tables(db_url):
    s = Store(db_url, secret=SECRET)
    try:
        assert not {"animations", "reactions", "rate_events"} & set(
            inspect(s.engine).get_table_names()
        )
        s.upgrade()
        s.upgrade()  # at head already: nothing to do, no error
        insp = inspect(s.engine)
        assert {"animations", "reactions", "rate_events", "secrets", "alembic_version"} <= set(
            insp.get_table_names()
        )
        assert {c["name"] for c in insp.get_columns("animations")} == {
            "id",
            "product",
            "band",
            "years_from",
            "years_to",
            "minx",
            "miny",
            "maxx",
            "maxy",
            "fps",
            "size",
            "created_at",
            "path",
        }
        assert {c["name"] for c in insp.get_columns("reactions")} == {
            "id",
            "animation_id",
            "token_hash",
            "value",
            "lat",
            "lon",
            "h3_cell",
            "product",
            "years_from",
            "years_to",
            "created_at",
            "updated_at",
            "network",  # 0002: 12-bit keyed hash of the client's network
        }
        assert {c["name"] for c in insp.get_columns("rate_events")} >= {
            "key_hash",
            "action",
            "window_start",
            "count",
        }
        uniques = [set(u["column_names"]) for u in insp.get_unique_constraints("reactions")]
        assert {"animation_id", "token_hash"} in uniques
        fks = insp.get_foreign_keys("reactions")
        assert fks and fks[0]["referred_table"] == "animations"
        with s.engine.connect() as conn:
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                == "0002_privacy"
            )
    finally:
        s.close()


def test_models_match_the_migration(store):
    """The ORM models and the migrated schema agree (autogenerate would find nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ecointegrity.web.store.tables import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_uses_wal_and_in_memory_works(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'w.sqlite'}")
    s.upgrade()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    s.close()
    with Store("sqlite://") as mem:  # one shared connection: the schema survives
        mem.upgrade()
        mem.save_animation(animation())
        assert mem.react("a" * 24, "t", 1).value == 1


def test_unsupported_database_is_refused():
    with pytest.raises(ValueError, match="unsupported"):
        Store("mysql://u@localhost/db")


# --- animations ------------------------------------------------------------------------------


def test_save_and_get_animation(store):
    assert store.get_animation("nope") is None
    rec = animation(bbox=(-99.25, 19.25, -98.75, 19.75))
    saved = store.save_animation(rec)
    assert saved.created_at is not None and saved.created_at.tzinfo is not None
    got = store.get_animation(rec.id)
    assert got == saved
    assert got.bbox == (-99.25, 19.25, -98.75, 19.75)
    assert (got.product, got.band, got.years_from, got.years_to, got.fps, got.size, got.path) == (
        "ndvi",
        None,
        2019,
        2023,
        2.0,
        512,
        f"/data/gifs/{rec.id}.gif",
    )
    # Same content hash again: the first one stays, no duplicate-key error.
    again = store.save_animation(animation(bbox=(-99.25, 19.25, -98.75, 19.75)))
    assert again.created_at == saved.created_at
    assert store.totals()["animations"] == 1


def test_save_animation_validates(store):
    with pytest.raises(ValueError):
        store.save_animation(animation(years=(2023, 2019)))
    with pytest.raises(ValueError):
        store.save_animation(animation(bbox=(-99.0, 19.0, -98.0, 95.0)))


# --- reactions -------------------------------------------------------------------------------


def test_reaction_upsert_replaces_the_earlier_one(store):
    store.save_animation(animation())
    first = store.react("a" * 24, "browser-1", 1)
    assert isinstance(first, ReactionRecord) and first.value == 1
    assert first.created_at == first.updated_at
    second = store.react("a" * 24, "browser-1", -1, lat=19.5, lon=-99.0, device_location=True)
    assert second.id == first.id
    assert second.value == -1
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert (second.lat, second.lon) != (first.lat, first.lon)  # location replaced too
    other = store.react("a" * 24, "browser-2", 1)
    assert other.id != first.id
    assert len(rows(store, "reactions")) == 2
    assert store.reaction_counts("a" * 24) == {"likes": 1, "dislikes": 1, "total": 2}
    assert store.get_reaction("a" * 24, "browser-1").value == -1
    assert store.get_reaction("a" * 24, "browser-3") is None


def test_reaction_validation(store):
    store.save_animation(animation())
    for bad in (0, 2, -2, True, "1", 1.5):
        with pytest.raises(ValueError):
            store.react("a" * 24, "t", bad)
    with pytest.raises(ValueError):
        store.react("a" * 24, "", 1)
    with pytest.raises(ValueError):
        store.react("a" * 24, "t", 1, lat=19.0)  # lon missing
    with pytest.raises(ValueError):
        store.react("a" * 24, "t", 1, lat=91.0, lon=0.0)
    with pytest.raises(UnknownAnimation) as info:
        store.react("f" * 24, "t", 1)
    assert isinstance(info.value, KeyError)
    assert "f" * 24 in str(info.value)
    assert rows(store, "reactions") == []


def test_token_is_never_stored_raw(store):
    store.save_animation(animation())
    token = "raw-browser-token-" + secrets.token_hex(8)
    rec = store.react("a" * 24, token, 1)
    assert rec.token_hash == hashlib.sha256(token.encode()).hexdigest()
    (row,) = rows(store, "reactions")
    assert row["token_hash"] == rec.token_hash
    assert all(token not in str(v) for v in row.values())


def test_device_location_is_coarsened(store):
    store.save_animation(animation())
    home = (19.43261234, -99.13321234)
    rec = store.react("a" * 24, "t", 1, lat=home[0], lon=home[1], device_location=True)
    res7 = h3.latlng_to_cell(*home, 7)
    centre = h3.cell_to_latlng(res7)
    assert (rec.lat, rec.lon) == pytest.approx(centre, abs=1e-9)  # the res-7 cell centre...
    assert (rec.lat, rec.lon) != home  # ...never the input
    assert km(home, (rec.lat, rec.lon)) < 3.0  # within a res-7 cell (edge ~1.4 km)
    assert h3.get_resolution(rec.h3_cell) == 9
    assert h3.cell_to_parent(rec.h3_cell, 7) == res7
    (row,) = rows(store, "reactions")
    assert (row["lat"], row["lon"]) == (rec.lat, rec.lon)
    # Two homes in one res-7 cell are indistinguishable once stored.
    neighbour = h3.cell_to_latlng(h3.cell_to_children(res7, 9)[-1])
    rec2 = store.react("a" * 24, "t2", 1, lat=neighbour[0], lon=neighbour[1], device_location=True)
    assert (rec2.lat, rec2.lon, rec2.h3_cell) == (rec.lat, rec.lon, rec.h3_cell)


def test_given_point_without_device_is_snapped_to_res9(store):
    store.save_animation(animation())
    rec = store.react("a" * 24, "t", 1, lat=19.43261234, lon=-99.13321234)
    assert (rec.lat, rec.lon) == pytest.approx(h3.cell_to_latlng(rec.h3_cell), abs=1e-9)
    assert rec.h3_cell == h3.latlng_to_cell(19.43261234, -99.13321234, 9)


def test_default_location_is_the_bbox_centre(store):
    store.save_animation(animation(bbox=(-99.4, 19.0, -98.8, 19.8)))
    rec = store.react("a" * 24, "t", 1)
    assert (rec.lat, rec.lon) == pytest.approx((19.4, -99.1))
    assert rec.h3_cell == h3.latlng_to_cell(19.4, -99.1, 9)
    assert (rec.product, rec.years_from, rec.years_to) == ("ndvi", 2019, 2023)
    # A bbox across the antimeridian (Fiji) is centred on it, not on the other side of Earth.
    store.save_animation(animation(id="b" * 24, bbox=(177.0, -19.0, -179.0, -16.0)))
    rec = store.react("b" * 24, "t", 1)
    assert (rec.lat, rec.lon) == pytest.approx((-17.5, 179.0))


# --- statistics ------------------------------------------------------------------------------


def _spread(centre: tuple[float, float], n: int, res: int = 9) -> list[tuple[float, float]]:
    """n distinct res-9 cell centres near `centre` (all in one res-7 cell)."""
    parent = h3.latlng_to_cell(*centre, 7)
    children = sorted(h3.cell_to_children(parent, res))
    assert len(children) >= n
    return [h3.cell_to_latlng(c) for c in children[:n]]


@pytest.fixture
def populated(store):
    """ndvi 2019-2023: 7 reactions in Mexico City (5 likes), 3 in Bogota (all likes);
    wofs 2010-2012: 4 dislikes in Mexico City."""
    store.save_animation(animation("a" * 24, "ndvi", (2019, 2023)))
    store.save_animation(animation("b" * 24, "wofs", (2010, 2012)))
    store.save_animation(animation("c" * 24, "ndvi", (2000, 2001)))  # no reactions
    tokens = (f"tok{i}" for i in itertools.count())
    for i, (lat, lon) in enumerate(_spread(CDMX, 7)):
        store.react("a" * 24, next(tokens), 1 if i < 5 else -1, lat=lat, lon=lon)
    for lat, lon in _spread(BOGOTA, 3):
        store.react("a" * 24, next(tokens), 1, lat=lat, lon=lon)
    for lat, lon in _spread(CDMX, 4):
        store.react("b" * 24, next(tokens), -1, lat=lat, lon=lon)
    return store


def test_stats_aggregate_across_resolutions(populated):
    store = populated
    cdmx7 = h3.latlng_to_cell(*CDMX, 7)
    for res in range(0, 10):
        cells = store.stats(res, min_count=1)
        assert all(isinstance(c, CellStats) and c.resolution == res for c in cells)
        assert sum(c.total for c in cells) == 14  # nothing lost or double counted
        assert sum(c.likes for c in cells) == 8 and sum(c.dislikes for c in cells) == 6
        assert all(c.total == c.likes + c.dislikes for c in cells)
        assert all(c.like_share == pytest.approx(c.likes / c.total) for c in cells)
        assert all((c.lat, c.lon) == pytest.approx(h3.cell_to_latlng(c.cell)) for c in cells)
        assert all(h3.get_resolution(c.cell) == res for c in cells)
        if res <= 7:  # the two cities are two cells
            assert len(cells) == 2
            top = cells[0]  # busiest first
            assert top.cell == h3.cell_to_parent(cdmx7, res)
            assert (top.likes, top.dislikes, top.total) == (5, 6, 11)
    assert len(store.stats(9, min_count=1)) == 7 + 3  # distinct res-9 cells
    with pytest.raises(ValueError):
        store.stats(10)


def test_stats_k_anonymity(populated):
    store = populated
    # Bogota has 3 reactions: hidden at the default min_count=5, shown at 3.
    assert [c.total for c in store.stats(5)] == [11]
    assert sorted(c.total for c in store.stats(5, min_count=3)) == [3, 11]
    assert store.stats(5, min_count=12) == []
    # At res 9 every cell holds one or two reactions: nothing is published.
    assert store.stats(9) == []


def test_stats_filters(populated):
    store = populated
    (ndvi,) = store.stats(6, product="ndvi")
    assert (ndvi.likes, ndvi.dislikes) == (5, 2)
    assert store.stats(6, product="wofs", min_count=4)[0].dislikes == 4
    assert store.stats(6, product="wofs") == []  # 4 < 5
    assert sum(c.total for c in store.stats(6, year=2021, min_count=1)) == 10  # ndvi 2019-2023
    assert sum(c.total for c in store.stats(6, year=2011, min_count=1)) == 4  # wofs 2010-2012
    assert sum(c.total for c in store.stats(6, year=2019, min_count=1)) == 10  # range ends count
    assert store.stats(6, year=2015, min_count=1) == []
    # bbox around Bogota only; whole cells with all their reactions.
    near_bogota = (-74.5, 4.3, -73.6, 5.1)
    (cell,) = store.stats(4, min_count=1, bbox=near_bogota)
    assert cell.total == 3 and cell.cell == h3.latlng_to_cell(*BOGOTA, 4)
    # A bbox that only touches the edge of a coarse cell still returns that cell, complete.
    big = h3.latlng_to_cell(*CDMX, 2)
    edge_lat, edge_lon = h3.cell_to_boundary(big)[0]
    tiny = (edge_lon - 0.01, edge_lat - 0.01, edge_lon + 0.01, edge_lat + 0.01)
    assert [(c.cell, c.total) for c in store.stats(2, min_count=1, bbox=tiny)] == [(big, 11)]
    assert store.stats(5, min_count=1, bbox=(10.0, 40.0, 20.0, 50.0)) == []  # Europe


def test_stats_geojson_is_lon_lat(populated):
    fc = populated.stats_geojson(6, min_count=3)
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == 2
    for f in fc["features"]:
        assert f["type"] == "Feature"
        assert f["geometry"]["type"] == "Polygon"
        ring = f["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 7  # closed hexagon (or pentagon)
        props = f["properties"]
        assert set(props) >= {"cell", "likes", "dislikes", "total", "like_share", "lat", "lon"}
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        # Both cities: longitude around -74..-99 (x first), latitude 4..20 (y second).
        assert all(-100 < x < -73 for x in lons) and all(4 < y < 20 for y in lats)
        assert min(lons) < props["lon"] < max(lons) and min(lats) < props["lat"] < max(lats)
        boundary = h3.cell_to_boundary(props["cell"])
        assert ring[:-1] == [[lng, lat] for lat, lng in boundary]


def test_totals_and_top_animations(populated):
    store = populated
    assert store.totals() == {"likes": 8, "dislikes": 6, "reactions": 14, "animations": 3}
    assert store.totals(product="ndvi") == {
        "likes": 8,
        "dislikes": 2,
        "reactions": 10,
        "animations": 2,
    }
    assert store.totals(year=2011) == {"likes": 0, "dislikes": 4, "reactions": 4, "animations": 1}
    assert store.totals(product="nope")["reactions"] == 0
    top = store.top_animations()
    assert [t.id for t in top] == ["a" * 24, "b" * 24]  # the one without reactions is absent
    first = top[0]
    assert isinstance(first, AnimationStats)
    assert (first.likes, first.dislikes, first.total) == (8, 2, 10)
    assert first.like_share == pytest.approx(0.8)
    assert (first.minx, first.miny, first.maxx, first.maxy) == (-99.3, 19.2, -98.9, 19.6)
    assert (first.product, first.years_from, first.years_to) == ("ndvi", 2019, 2023)
    assert not hasattr(first, "path")  # public listing: no server paths
    assert [t.id for t in store.top_animations(1)] == ["a" * 24]
    assert [t.id for t in store.top_animations(product="wofs")] == ["b" * 24]
    assert [t.id for t in store.top_animations(year=2020)] == ["a" * 24]
    # k-anonymity as on the map: "b" has 4 reactions, fewer than k = 5
    assert [t.id for t in store.top_animations(min_reactions=5)] == ["a" * 24]
    assert store.top_animations(min_reactions=11) == []
    # counted as the map counts contributors: six reactions from one network are one
    for i in range(6):
        store.react("c" * 24, f"same-net-{i}", 1, lat=CDMX[0], lon=CDMX[1], network="10.0.0.0/24")
    assert "c" * 24 not in [t.id for t in store.top_animations(min_reactions=2)]
    assert "c" * 24 in [t.id for t in store.top_animations(min_reactions=1)]


# --- rate limiting ---------------------------------------------------------------------------


def test_rate_limit_windows_and_retry_after(store):
    start = 1_700_000_040.0  # a window boundary for 60 s windows (windows align on the epoch)
    assert start % 60 == 0
    now = start + 15.5
    assert [store.hit("203.0.113.7", "react", 3, 60, now=now + i) for i in range(3)] == [
        (True, 0)
    ] * 3
    allowed, retry = store.hit("203.0.113.7", "react", 3, 60, now=now + 10)
    assert not allowed and retry == math.ceil(start + 60 - (now + 10)) == 35
    assert store.hit("203.0.113.7", "react", 3, 60, now=start + 59.9) == (False, 1)  # >= 1 s
    # Other clients, other actions and other window lengths are counted separately.
    assert store.hit("203.0.113.8", "react", 3, 60, now=now)[0]
    assert store.hit("203.0.113.7", "animate", 3, 60, now=now)[0]
    assert store.hit("203.0.113.7", "react", 100, 3600, now=now)[0]
    # The next window starts afresh.
    assert store.hit("203.0.113.7", "react", 3, 60, now=start + 60) == (True, 0)
    # limit 0: always refused; datetimes are accepted for `now`.
    when = datetime.fromtimestamp(now, UTC)
    assert store.hit("203.0.113.9", "x", 0, 10, now=when) == (False, math.ceil(start + 20 - now))


def test_rate_limit_stores_no_ip_and_salt_rotates_daily(store, db_url):
    ip = "198.51.100.23"
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store.hit(ip, "react", 5, 60, now=now)
    (row,) = rows(store, "rate_events")
    assert all(ip not in str(v) for v in row.values())
    assert row["key_hash"] == store.client_hash(ip, date(2025, 3, 1))
    assert row["count"] == 1
    # Yesterday's hash cannot be linked to today's; the same secret gives the same hash.
    assert store.client_hash(ip, date(2025, 3, 2)) != store.client_hash(ip, date(2025, 3, 1))
    other = Store(db_url, secret=SECRET)
    assert other.client_hash(ip, date(2025, 3, 1)) == row["key_hash"]
    other.close()
    with Store("sqlite://") as unsalted:  # default: a random secret per process
        assert unsalted.client_hash(ip, date(2025, 3, 1)) != row["key_hash"]
    # Next day, same IP: a new key, a new counter (and yesterday's row is purged by then).
    store.hit(ip, "react", 5, 60, now=now + timedelta(days=1))
    (row2,) = rows(store, "rate_events")
    assert row2["key_hash"] == store.client_hash(ip, date(2025, 3, 2)) != row["key_hash"]
    assert row2["count"] == 1


def test_rate_rows_are_purged(store):
    t = 1_800_000_000.0
    for i in range(5):
        store.hit(f"10.0.0.{i}", "react", 5, 60, now=t)
    assert len(rows(store, "rate_events")) == 5
    assert store.purge_rate_events(now=t + 30) == 0  # window still open
    # An opportunistic purge runs on a hit once the purge interval has passed.
    store.hit("10.0.0.99", "react", 5, 60, now=t + 3600)
    assert [r["key_hash"] for r in rows(store, "rate_events")] == [
        store.client_hash("10.0.0.99", datetime.fromtimestamp(t + 3600, UTC).date())
    ]


def test_rate_limit_counts_concurrent_hits(store):
    now = 1_900_000_000.0
    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda _: store.hit("192.0.2.1", "react", 50, 60, now=now), range(80))
        )
    assert sum(allowed for allowed, _ in results) == 50
    (row,) = rows(store, "rate_events")
    assert row["count"] == 80


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_reactions_are_all_counted(store):
    store.save_animation(animation())
    n_threads, per_thread = 50, 100
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        barrier.wait()  # all threads write at the same time
        for i in range(per_thread):
            store.react("a" * 24, f"tok-{t}-{i}", 1 if i % 3 else -1)

    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(worker, range(n_threads)))  # re-raises any worker error

    totals = store.totals()
    assert totals["reactions"] == n_threads * per_thread == 5000
    assert totals["dislikes"] == n_threads * len(range(0, per_thread, 3))
    with store.engine.connect() as conn:
        from ecointegrity.web.store.tables import Reaction

        n_rows = conn.execute(select(func.count()).select_from(Reaction)).scalar_one()
        n_tokens = conn.execute(select(func.count(func.distinct(Reaction.token_hash)))).scalar_one()
    assert n_rows == n_tokens == 5000


def test_same_token_concurrently_leaves_one_row(store):
    store.save_animation(animation())
    n = 32
    barrier = threading.Barrier(n)

    def worker(i: int) -> ReactionRecord:
        barrier.wait()
        return store.react("a" * 24, "one-browser", 1 if i % 2 else -1)

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(worker, range(n)))
    assert len({r.id for r in results}) == 1
    assert len(rows(store, "reactions")) == 1
    # What is stored is exactly what one of the writers (the last to commit) wrote.
    assert store.get_reaction("a" * 24, "one-browser") in results
    assert store.totals()["reactions"] == 1


# --- PostgreSQL availability -----------------------------------------------------------------


def test_unreachable_postgres_skips_or_fails_in_ci(monkeypatch):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"
    monkeypatch.delenv("ECOINTEGRITY_REQUIRE_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        _admin_engine_or_skip(unreachable)
    monkeypatch.setenv("ECOINTEGRITY_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="ECOINTEGRITY_REQUIRE_DATA=1"):
        _admin_engine_or_skip(unreachable)


def test_two_stores_without_a_secret_share_one_bucket(db_url):
    """Workers and replicas on one database count a client once, with no secret configured:
    the secret is created once in the database and read by every store."""
    one, two = Store(db_url), Store(db_url)
    try:
        one.upgrade()
        now = 1_800_000_000.0
        hits = [s.hit("203.0.113.7", "react", 3, 60, now=now) for s in (one, two, one, two)]
        assert [allowed for allowed, _ in hits] == [True, True, True, False]
        (row,) = rows(one, "rate_events")
        assert row["count"] == 4
        (secret,) = rows(one, "secrets")
        assert len(bytes.fromhex(secret["value"])) == 32
    finally:
        one.close()
        two.close()


def test_public_stats_count_networks_and_release_top_down(store):
    """Store.public_stats: k distinct networks, per stratum, parents never minus a lone child."""
    store.save_animation(animation("a" * 24, "ndvi", (2019, 2023)))
    store.save_animation(animation("b" * 24, "wofs", (2010, 2012)))
    crowd, lone = _spread(CDMX, 2)
    for i in range(5):
        store.react("a" * 24, f"crowd{i}", 1, lat=crowd[0], lon=crowd[1], network=f"10.{i}.0.0/24")
    for i in range(9):  # many reactions, one network
        store.react("b" * 24, f"flood{i}", 1, lat=crowd[0], lon=crowd[1], network="10.99.0.0/24")
    record = store.react("a" * 24, "lone", -1, lat=lone[0], lon=lone[1], network="10.7.0.0/24")
    assert record.network is not None and 0 <= record.network < 4096
    assert all("10.7.0.0" not in str(v) for r in rows(store, "reactions") for v in r.values())
    # The exact view publishes the crowd's res-9 cell, and its parent with the lone one in it.
    assert [c.total for c in store.stats(9)] == [14]
    # Public: the wofs flood is one contributor (never published); in the ndvi stratum the
    # res-9 crowd cell would leave the lone reaction alone in its parent, so it is held back.
    assert [(c.likes, c.dislikes) for c in store.public_stats(7)] == [(5, 1)]
    assert [c.total for c in store.public_stats(8)] == [6]  # both share their res-8 parent
    assert store.public_stats(9) == []
    assert store.public_stats(7, product="wofs") == []
    assert store.public_stats(7, year=2011) == []
    assert [c.total for c in store.public_stats(7, year=2020)] == [6]
