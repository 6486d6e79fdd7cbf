"""Who a request comes from: the client address behind trusted proxies, and the keys derived
from it for rate limits and for counting distinct networks.

Behind an ingress every request arrives from the proxy, so counting the peer address puts the
whole site in one bucket; trusting ``X-Forwarded-For`` blindly lets a client pick any identity
by writing the header itself. The header is therefore walked from the right (the entry added by
the nearest proxy) through trusted hops only: the first address that is not a trusted proxy is
the client. Entries left of it were written by the client and are never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = [
    "IPNetwork",
    "client_address",
    "network_key",
    "parse_trusted",
    "rate_key",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# An IPv6 subscriber gets a whole /64 (often a /56 or /48): keying rate limits on the single
# address would let one client rotate through 2^64 identities.
_RATE_PREFIX_V6 = 64
# "Networks" for counting independent contributors: an attacker must control this many
# distinct /24s (IPv4) or /48s (IPv6) to forge reactions that count as different people.
_NETWORK_PREFIX_V4 = 24
_NETWORK_PREFIX_V6 = 48


@lru_cache(maxsize=32)
def parse_trusted(specs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Trusted proxies as networks: addresses or CIDRs (``"10.0.0.0/8"``); ``"*"`` is refused.

    Raises ``ValueError`` for anything else, so that a typo fails at start-up rather than
    silently trusting nobody (or everybody).
    """
    networks: list[IPNetwork] = []
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        if spec == "*":
            # Trusting every peer means trusting the client's own header: the bypass we avoid.
            raise ValueError("'*' is not accepted as a trusted proxy: list addresses or CIDRs")
        networks.append(ipaddress.ip_network(spec, strict=False))
    return tuple(networks)


def _parse_ip(value: str | None) -> IPAddress | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4-mapped IPv6 peer ("::ffff:192.0.2.1") is the IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[IPNetwork]
) -> str:
    """The client's address: the peer, or the nearest untrusted hop of ``X-Forwarded-For``.

    ``forwarded_for`` are the values of every ``X-Forwarded-For`` header in order (a proxy may
    add a header instead of extending one). The header is read only when the peer is trusted,
    and then walked from the right while hops are trusted. An entry that is not an address (the
    client may write anything there) stops the walk at the last trusted hop, which then stands
    for the client: such requests share that proxy's bucket instead of escaping limits.

    A peer that is not an IP address (a Unix socket, a test client) is returned as it is.
    """
    peer_ip = _parse_ip(peer)
    if peer_ip is None:
        return peer or "unknown"
    if not trusted or not _is_trusted(peer_ip, trusted):
        return str(peer_ip)
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    current = peer_ip
    for hop in reversed(hops):
        if not hop:
            continue
        address = _parse_ip(hop)
        if address is None:
            return str(current)
        current = address
        if not _is_trusted(address, trusted):
            return str(address)
    # Every hop was a trusted proxy (or there was no header): the left-most one is the client.
    return str(current)


def rate_key(client: str) -> str:
    """What rate limits count: the IPv4 address, the IPv6 /64, or the non-IP peer as is."""
    address = _parse_ip(client)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{_RATE_PREFIX_V6}", strict=False))
    return str(address) if address is not None else client


def network_key(client: str) -> str | None:
    """The client's network (IPv4 /24, IPv6 /48); None when the client is not an IP address.

    Used for daily caps and, hashed, to count distinct contributors in the statistics.
    """
    address = _parse_ip(client)
    if address is None:
        return None
    prefix = _NETWORK_PREFIX_V4 if address.version == 4 else _NETWORK_PREFIX_V6
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
