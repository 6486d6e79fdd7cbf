"""Privacy and abuse limits of the React-2-EO API (docs/privacy-and-limits.md).

Who the client is behind proxies, rate limits shared by every process on one database, logs
without addresses, and the reaction map against an attacker who reads every answer it can
request: forged reactions beside a lone one, filtered minus unfiltered, parent minus child.

The map tests compare two worlds that the attacker cannot tell apart by what it did or knows:
the lone victim's value is swapped with that of another reaction the attacker cannot see
either. Every answer must be identical in both; the operator's exact view (``Store.stats``,
what the API served before) is shown to tell them apart, so each test reproduces its attack.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3
import pytest
from fastapi.testclient import TestClient

from ecointegrity.web import ApiSettings, create_app
from ecointegrity.web.clients import (
    client_address,
    network_key,
    parse_trusted,
    rate_key,
)
from ecointegrity.web.routers.reactions import h3_resolution_for_zoom
from ecointegrity.web.store import AnimationRecord, Store

NDVI = "a" * 24  # ndvi 2019-2023
WOFS = "b" * 24  # wofs 2010-2012
K = 5

# Places far apart (different H3 resolution-0 cells).
CDMX = (19.4326, -99.1332)
PATAGONIA = (-45.0, -70.0)
SAHARA = (23.0, 12.0)
SIBERIA = (62.0, 100.0)

ATTACKER = "198.51.100.66"  # one network: what one person controls cheaply
VICTIM = "192.0.2.10"
DECOY = "100.64.7.7"


def honest(i: int) -> str:
    """A client of its own network (distinct /24s)."""
    return f"203.0.{i}.10"


# --- fixtures --------------------------------------------------------------------------------


def make_app(root: Path, **settings: Any):
    (root / "products").mkdir(parents=True, exist_ok=True)
    return create_app(
        root / "products",
        f"sqlite:///{root / 'react.sqlite'}",
        root / "animations",
        ApiSettings(**settings),
        site=None,
    )


def save_animations(store: Store) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)  # the same in every world
    for anim_id, product, years in ((NDVI, "ndvi", (2019, 2023)), (WOFS, "wofs", (2010, 2012))):
        store.save_animation(
            AnimationRecord(
                id=anim_id,
                product=product,
                years_from=years[0],
                years_to=years[1],
                minx=-99.3,
                miny=19.2,
                maxx=-98.9,
                maxy=19.6,
                fps=2.0,
                size=256,
                path=f"/nowhere/{anim_id}.gif",
                created_at=when,
            )
        )


class World:
    """One app with its own database; reactions come from given client addresses."""

    def __init__(self, root: Path) -> None:
        self.app = make_app(root, secret="test", reactions_per_minute=10_000)
        self.store: Store = self.app.state.store
        save_animations(self.store)
        self._clients: dict[str, TestClient] = {}

    def client(self, address: str) -> TestClient:
        if address not in self._clients:
            self._clients[address] = TestClient(self.app, client=(address, 40000))
        return self._clients[address]

    def react(
        self, address: str, token: str, anim: str, value: int, where: tuple[float, float]
    ) -> None:
        body = {
            "value": "like" if value > 0 else "dislike",
            "token": f"token-{token}",
            "location": {"lat": where[0], "lon": where[1]},
        }
        r = self.client(address).post(f"/api/animations/{anim}/reactions", json=body)
        assert r.status_code == 200, r.text

    def crowd(self, anim: str, where: tuple[float, float], n: int, first: int = 0) -> None:
        """n honest people, each from a network of their own, alternately liking."""
        for i in range(first, first + n):
            self.react(honest(i), f"honest-{i}", anim, 1 if i % 2 else -1, where)


FILTERS = [
    (product, year)
    for product in (None, "ndvi", "wofs")
    # None, wofs only, no animation, ndvi only: every distinct outcome of the year filter.
    for year in (None, 2011, 2015, 2020)
]


# H3 resolution -> the first map zoom drawn at it: every resolution the API can answer
ZOOM_FOR: dict[int, int] = {}
for _zoom in range(23):
    ZOOM_FOR.setdefault(h3_resolution_for_zoom(_zoom), _zoom)


def attacker_view(world: World) -> list[Any]:
    """Every answer about reactions the attacker can request, at every resolution."""
    c = world.client(ATTACKER)
    view: list[Any] = []
    assert sorted(ZOOM_FOR) == list(range(10))
    for zoom in sorted(ZOOM_FOR.values()):  # H3 resolutions 0..9
        for product, year in FILTERS:
            params = {k: v for k, v in (("product", product), ("year", year)) if v is not None}
            r = c.get("/api/reactions/stats", params={"zoom": zoom, **params})
            assert r.status_code == 200
            view.append(r.json())
    for product, year in FILTERS:
        params = {k: v for k, v in (("product", product), ("year", year)) if v is not None}
        view.append(c.get("/api/reactions/summary", params=params).json())
    return view


def operator_view(world: World) -> list[Any]:
    """The exact per-query threshold (``Store.stats``): what the API published before."""
    return [
        [(s.cell, s.likes, s.dislikes) for s in world.store.stats(res, product, year, K)]
        for res in range(10)
        for product, year in FILTERS
    ]


def published(view: list[Any]) -> int:
    return sum(len(v["features"]) for v in view if "features" in v)


# --- who the client is -----------------------------------------------------------------------


def test_forwarded_for_is_walked_from_the_right_through_trusted_hops_only():
    trusted = parse_trusted(("10.0.0.0/8", "192.168.1.1"))
    # Not from a trusted proxy: the header is the client's own writing, ignored.
    assert client_address("203.0.113.9", ["1.2.3.4"], trusted) == "203.0.113.9"
    # Through the proxy (CIDR): the first untrusted hop from the right is the client, and
    # whatever the client wrote left of it is never read.
    assert client_address("10.1.2.3", ["6.6.6.6, 1.2.3.4"], trusted) == "1.2.3.4"
    assert client_address("10.1.2.3", ["1.2.3.4, 192.168.1.1"], trusted) == "1.2.3.4"
    assert client_address("10.1.2.3", ["6.6.6.6", "1.2.3.4, 10.9.9.9"], trusted) == "1.2.3.4"
    # Ports, brackets, IPv4-mapped peers.
    assert client_address("10.1.2.3", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert client_address("::ffff:10.1.2.3", ["1.2.3.4:5555"], trusted) == "1.2.3.4"
    # Garbage where an address should be: the last trusted hop stands for the client.
    assert client_address("10.1.2.3", ["1.2.3.4, not-an-ip"], trusted) == "10.1.2.3"
    # No header, or only trusted hops: the left-most trusted hop.
    assert client_address("10.1.2.3", [], trusted) == "10.1.2.3"
    # Nothing trusted: the peer, always.
    assert client_address("10.1.2.3", ["1.2.3.4"], ()) == "10.1.2.3"
    # A peer that is no IP address (test client, Unix socket) is kept as it is.
    assert client_address(None, ["1.2.3.4"], trusted) == "unknown"
    with pytest.raises(ValueError):
        parse_trusted(("*",))
    with pytest.raises(ValueError):
        parse_trusted(("10.0.0.300",))
    with pytest.raises(ValueError):
        ApiSettings(forwarded_allow_ips=["*"])


def test_rate_and_network_keys():
    # An IPv6 subscriber has a /64: rotating addresses inside it is one client.
    assert rate_key("2001:db8:1:2::1") == rate_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert rate_key("203.0.113.9") == "203.0.113.9"
    assert network_key("203.0.113.9") == network_key("203.0.113.200") == "203.0.113.0/24"
    assert network_key("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert network_key("testclient") is None


def test_forwarded_allow_ips_from_the_environment(monkeypatch):
    monkeypatch.setenv("ECOINTEGRITY_API_FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.168.1.1")
    assert ApiSettings().forwarded_allow_ips == ["10.0.0.0/8", "192.168.1.1"]
    monkeypatch.setenv("ECOINTEGRITY_API_FORWARDED_ALLOW_IPS", '["172.16.0.0/12"]')
    assert ApiSettings().forwarded_allow_ips == ["172.16.0.0/12"]
    monkeypatch.delenv("ECOINTEGRITY_API_FORWARDED_ALLOW_IPS")
    assert ApiSettings().forwarded_allow_ips == ["127.0.0.1", "::1"]  # loopback only


# --- rate limits -----------------------------------------------------------------------------


def _react(c: TestClient, token: str, headers: dict[str, str] | None = None) -> int:
    body = {"value": "like", "token": f"token-{token}"}
    return c.post(f"/api/animations/{NDVI}/reactions", json=body, headers=headers).status_code


def test_distinct_clients_behind_a_trusted_proxy_are_not_limited_together(tmp_path):
    app = make_app(tmp_path, forwarded_allow_ips=["10.0.0.0/8"], reactions_per_minute=3)
    save_animations(app.state.store)
    proxy = TestClient(app, client=("10.0.0.2", 40000))
    # 50 people behind one ingress, three reactions each: nobody is refused.
    for i in range(50):
        xff = {"X-Forwarded-For": f"198.51.{i}.7"}
        assert [_react(proxy, f"t{i}-{j}", xff) for j in range(3)] == [200, 200, 200]
    # One of them goes on: refused, alone.
    assert _react(proxy, "t0-3", {"X-Forwarded-For": "198.51.0.7"}) == 429
    # Prepending addresses does not help: the proxy's entry is the right-most one.
    spoofed = {"X-Forwarded-For": "1.1.1.1, 198.51.0.7"}
    assert _react(proxy, "t0-4", spoofed) == 429


def test_rotating_forwarded_for_from_an_untrusted_peer_is_still_limited(tmp_path):
    app = make_app(tmp_path, reactions_per_minute=3)  # default: only loopback is trusted
    save_animations(app.state.store)
    direct = TestClient(app, client=("203.0.113.9", 40000))
    codes = [_react(direct, f"rot-{i}", {"X-Forwarded-For": f"198.51.{i}.7"}) for i in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]
    # IPv6: rotating inside one's /64 does not help either.
    v6 = [
        _react(TestClient(app, client=(f"2001:db8:0:1::{i:x}", 40000)), f"v6-{i}")
        for i in range(1, 6)
    ]
    assert v6 == [200, 200, 200, 429, 429]


def test_daily_cap_counts_per_network(tmp_path):
    app = make_app(tmp_path, reactions_per_minute=100, reactions_per_day=4)
    save_animations(app.state.store)
    codes = [
        _react(TestClient(app, client=(f"198.51.100.{i}", 40000)), f"net-{i}") for i in range(6)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]  # one /24, whatever the address
    assert _react(TestClient(app, client=("198.51.101.1", 40000)), "other-net") == 200


def test_two_app_instances_on_one_database_share_one_limit(tmp_path):
    # No configured secret: both processes must find the same one (kept in the database).
    one = make_app(tmp_path, reactions_per_minute=3)
    two = make_app(tmp_path, reactions_per_minute=3)
    save_animations(one.state.store)
    a = TestClient(one, client=("203.0.113.9", 40000))
    b = TestClient(two, client=("203.0.113.9", 40001))
    codes = [_react(c, f"two-{i}") for i, c in enumerate([a, b, a, b, a])]
    assert codes == [200, 200, 200, 429, 429]


def test_two_stores_without_a_secret_agree_and_an_unmigrated_one_warns(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    with Store(url) as one, Store(url) as two:
        one.upgrade()
        day = datetime(2025, 3, 1, tzinfo=UTC).date()
        assert one.client_hash("203.0.113.9", day) == two.client_hash("203.0.113.9", day)
        now = 1_800_000_000.0
        assert one.hit("203.0.113.9", "x", 2, 60, now=now) == (True, 0)
        assert two.hit("203.0.113.9", "x", 2, 60, now=now) == (True, 0)
        assert one.hit("203.0.113.9", "x", 2, 60, now=now)[0] is False
        # A configured secret is used as given (and differs from the database's).
        with Store(url, secret=b"configured") as three:
            assert three.client_hash("203.0.113.9", day) != one.client_hash("203.0.113.9", day)
    with caplog.at_level(logging.WARNING), Store("sqlite://") as bare:
        bare.client_hash("203.0.113.9", day)
    assert "per process" in caplog.text


# --- logs ------------------------------------------------------------------------------------


def test_serve_logs_no_client_address(monkeypatch, tmp_path):
    import uvicorn
    from typer.testing import CliRunner
    from uvicorn.logging import AccessFormatter

    import ecointegrity.web
    from ecointegrity.cli import app as cli
    from ecointegrity.cli import serve as serve_module
    from ecointegrity.config import Settings

    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda api, **kw: calls.update(kw))
    monkeypatch.setattr(
        ecointegrity.web, "create_app", lambda *a, **kw: calls.update(settings=a[3]) or object()
    )
    monkeypatch.setattr(serve_module, "get_settings", lambda: Settings(data_root=tmp_path))
    args = ["serve", "--products-catalog", str(tmp_path), "--database-url", "sqlite://"]
    result = CliRunner().invoke(cli, [*args, "--forwarded-allow-ips", "10.0.0.0/8"])
    assert result.exit_code == 0, result.output
    assert calls["access_log"] is False  # no access log by default
    assert calls["proxy_headers"] is False  # the app walks X-Forwarded-For itself
    assert calls["settings"].forwarded_allow_ips == ["10.0.0.0/8"]
    formats = [f.get("fmt", "") for f in calls["log_config"]["formatters"].values()]
    assert not any("client_addr" in f for f in formats)

    # Opted in, an access line still carries no address.
    result = CliRunner().invoke(cli, [*args, "--access-log"])
    assert result.exit_code == 0, result.output
    assert calls["access_log"] is True
    fmt = calls["log_config"]["formatters"]["access"]["fmt"]
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:51234", "GET", f"/api/animations/{NDVI}/file", "1.1", 200),
        None,
    )
    line = AccessFormatter(fmt=fmt, use_colors=False).format(record)
    assert f"/api/animations/{NDVI}/file" in line and "203.0.113.9" not in line


# --- the reaction map against an attacker ----------------------------------------------------


def _worlds(tmp_path: Path, scenario) -> tuple[World, World]:
    worlds = []
    for name, victim_value in (("like", 1), ("dislike", -1)):
        world = World(tmp_path / name)
        scenario(world, victim_value)
        worlds.append(world)
    return worlds[0], worlds[1]


def test_forged_reactions_beside_a_lone_one_reveal_nothing(tmp_path):
    """(a) Four reactions forged beside a lone one in its cell."""

    def scenario(w: World, v: int) -> None:
        w.crowd(NDVI, CDMX, 8)  # a busy place elsewhere, so the map is not empty
        w.react(VICTIM, "victim", NDVI, v, PATAGONIA)
        w.react(DECOY, "decoy", NDVI, -v, SIBERIA)  # a lone reaction the attacker cannot see
        for i in range(K - 1):  # the forgery: free tokens, one network
            w.react(ATTACKER, f"forged-{i}", WOFS, 1, PATAGONIA)

    like, dislike = _worlds(tmp_path, scenario)
    assert operator_view(like) != operator_view(dislike)  # the attack on a bare threshold
    view = attacker_view(like)
    assert view == attacker_view(dislike)
    assert published(view) > 0  # Mexico City is still on the map


def test_filtered_minus_unfiltered_reveals_nothing(tmp_path):
    """(b) The unfiltered statistics of a cell minus its product-filtered ones."""

    def scenario(w: World, v: int) -> None:
        w.crowd(NDVI, CDMX, K)  # k people react to ndvi in Mexico City ...
        w.react(VICTIM, "victim", WOFS, v, CDMX)  # ... and one to wofs, there too
        w.react(DECOY, "decoy", WOFS, -v, SIBERIA)

    like, dislike = _worlds(tmp_path, scenario)
    assert operator_view(like) != operator_view(dislike)
    view = attacker_view(like)
    assert view == attacker_view(dislike)
    # The ndvi crowd is published, whole, and the unfiltered map shows exactly that.
    res3 = like.client(ATTACKER).get("/api/reactions/stats", params={"zoom": ZOOM_FOR[3]}).json()
    assert [f["properties"]["total"] for f in res3["features"]] == [K]


def test_parent_minus_child_reveals_nothing(tmp_path):
    """(c) An H3 parent's statistics minus its child cell's."""
    # Device locations are snapped to resolution-7 cells: the victim and a crowd in two
    # sibling resolution-7 cells of one resolution-6 parent.
    parent = h3.cell_to_parent(h3.latlng_to_cell(*CDMX, 7), 6)
    crowd_cell, victim_cell = sorted(h3.cell_to_children(parent, 7))[:2]
    crowd_at, victim_at = h3.cell_to_latlng(crowd_cell), h3.cell_to_latlng(victim_cell)

    def scenario(w: World, v: int) -> None:
        w.crowd(NDVI, crowd_at, K, first=1)
        # The decoy is one of the crowd, with the value the victim does not have.
        w.react(honest(0), "honest-0", NDVI, -v, crowd_at)
        w.react(VICTIM, "victim", NDVI, v, victim_at)

    like, dislike = _worlds(tmp_path, scenario)
    assert operator_view(like) != operator_view(dislike)
    view = attacker_view(like)
    assert view == attacker_view(dislike)
    # What is published is complete (victim included), never a child leaving one behind.
    # the parent (resolution 6) whole, never its children (resolution 7) leaving one behind
    res6 = like.client(ATTACKER).get("/api/reactions/stats", params={"zoom": ZOOM_FOR[6]}).json()
    assert [f["properties"]["total"] for f in res6["features"]] == [K + 2]
    res7 = like.client(ATTACKER).get("/api/reactions/stats", params={"zoom": ZOOM_FOR[7]}).json()
    assert res7["features"] == []


def test_public_stats_keep_what_is_safe(tmp_path):
    """Utility: k distinct networks are published at every resolution; reactions stored
    without a network (older rows, non-IP clients) each count as one contributor."""
    world = World(tmp_path)
    world.crowd(NDVI, CDMX, K)
    stored_at = h3.cell_to_latlng(h3.latlng_to_cell(*CDMX, 7))  # device points are snapped
    for res in range(10):
        (cell,) = world.store.public_stats(res)
        assert cell.total == K and cell.cell == h3.latlng_to_cell(*stored_at, res)
    # Many reactions from one network are one contributor.
    for i in range(10):
        world.react(ATTACKER, f"flood-{i}", WOFS, 1, PATAGONIA)
    assert all(c.total == K for res in range(10) for c in world.store.public_stats(res))
    # Without networks (Store.react called directly), each reaction counts alone.
    for i in range(K):
        world.store.react(WOFS, f"direct-{i}", 1, lat=SAHARA[0], lon=SAHARA[1])
    assert sorted(c.total for c in world.store.public_stats(3)) == [K, K]
    assert world.store.public_stats(3, product="wofs")[0].likes == K
    assert world.store.public_stats(3, min_count=K + 1) == []
    with pytest.raises(ValueError):
        world.store.public_stats(10)
