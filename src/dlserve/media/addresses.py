"""Which IP addresses a media download may connect to: public unicast only.

``is_public_address`` is the one rule, applied to the address a socket is about to connect to (see
:mod:`dlserve.media.guard`). The standard library's ``is_global`` is the base, but it is not enough
on its own: it calls multicast "global", and on Python 3.11 it does not look inside IPv6 addresses
that carry an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64), so those are unwrapped first and the
embedded IPv4 address decides.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Besides what ``is_global`` already excludes: ranges that are not reachable unicast destinations or
# that route to infrastructure (CGNAT, the 6to4 relay anycast, benchmarking, documentation, site-local).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress | str) -> bool:
    """True only for a globally routable unicast address (IPv4 or IPv6)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(inner)
    if any(ip in network for network in _NOT_PUBLIC if network.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
    )


# inet_aton's number forms: decimal, 0x hex, leading-0 octal; one to four parts.
_NUMBER = re.compile(r"(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)", re.IGNORECASE)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a C resolver accepts, or None for a host name.

    Covers ``[::1]``, ``::ffff:127.0.0.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and
    ``127.1``: forms that ``getaddrinfo`` turns into addresses without any DNS query.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # an IPv6 zone id
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    return _inet_aton(text.rstrip("."))


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMBER.fullmatch(part) for part in parts):
        return None
    numbers = [_number(part) for part in parts]
    # All parts but the last are one byte; the last fills the remaining bytes (127.1 = 127.0.0.1).
    last_bytes = 4 - (len(numbers) - 1)
    if any(number > 0xFF for number in numbers[:-1]) or numbers[-1] >= 1 << (8 * last_bytes):
        return None
    value = 0
    for number in numbers[:-1]:
        value = value << 8 | number
    return ipaddress.IPv4Address(value << (8 * last_bytes) | numbers[-1])


def _number(part: str) -> int:
    if part.lower().startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)
