"""The address rule: only public unicast addresses, however they are spelled. (No traffic: pure logic.)"""

from __future__ import annotations

import ipaddress

import pytest

from dlserve.media.addresses import embedded_ipv4, is_public_address, parse_ip_literal

NOT_PUBLIC = [
    # loopback
    "127.0.0.1",
    "127.255.255.254",
    "::1",
    # private
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "fc00::1",
    "fd12:3456::1",
    # link-local, cloud metadata among them
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "fe80::1%eth0",
    # unspecified, "this network", broadcast
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "::",
    # multicast
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",
    # reserved and special-purpose
    "240.0.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "192.88.99.1",
    "2001:db8::1",
    "fec0::1",
    "100::1",
    "2001::1",  # Teredo
    # IPv6 spellings of internal IPv4 addresses
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("0x7f.1", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("2852039166", "169.254.169.254"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("127.0.0.1.", "127.0.0.1"),
    ],
)
def test_odd_spellings_parse_to_the_address_a_resolver_would_use(spelling: str, address: str) -> None:
    parsed = parse_ip_literal(spelling.replace("%25", "%"))
    assert parsed == ipaddress.ip_address(address)
    assert not is_public_address(parsed)


@pytest.mark.parametrize(
    "host", ["example.com", "media.test", "1.2.3.4.5", "256.1.1.1", "0x1g.1", "1..1", ""]
)
def test_host_names_and_non_addresses_are_not_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


def test_embedded_ipv4_is_found_in_every_ipv6_wrapping() -> None:
    inner = ipaddress.IPv4Address("127.0.0.1")
    for wrapped in ("::ffff:127.0.0.1", "::127.0.0.1", "2002:7f00:1::5", "64:ff9b::127.0.0.1"):
        assert embedded_ipv4(ipaddress.IPv6Address(wrapped)) == inner
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1")) is None
