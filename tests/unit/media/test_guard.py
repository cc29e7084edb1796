"""The URL check and the connection gate, with injected resolvers and loopback sockets only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dlserve.media.guard import AddressPolicy, ConnectionGate, GateClosed, RefusedAddress, RefusedURL


def resolver_for(table: dict[str, list[str]]) -> Any:
    """A resolver answering from ``table``; unknown names fail like a DNS miss."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, (a, port, 0, 0)) if ":" in a else (socket.AF_INET, (a, port))
            for a in table[host]
        ]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener that accepts and then just holds connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield server
    server.close()
    for conn in accepted:
        conn.close()


# -- check_url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://media.example/video.mp4",
        "gopher://media.example/",
        "data:video/mp4;base64,AAAA",
        "javascript:alert(1)",
        "dict://127.0.0.1:11211/",
        "//media.example/video.mp4",
        "media.example/video.mp4",
    ],
)
def test_only_http_and_https_urls_are_accepted(url: str) -> None:
    policy = AddressPolicy(allow_private=True)
    with pytest.raises(RefusedURL, match="Only http:// and https://"):
        policy.check_url(url)


def test_a_url_without_host_or_with_a_bad_port_is_refused() -> None:
    policy = AddressPolicy(allow_private=True)
    with pytest.raises(RefusedURL, match="no host"):
        policy.check_url("http:///video.mp4")
    with pytest.raises(RefusedURL, match="malformed"):
        policy.check_url("http://media.example:99999/video.mp4")


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.0.10", "169.254.169.254", "224.0.0.1", "240.0.0.1",
     "100.64.1.1", "0.0.0.0", "::1", "fd00::5", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
     "64:ff9b::a9fe:a9fe"],
)  # fmt: skip
def test_names_resolving_to_internal_addresses_are_refused(address: str) -> None:
    policy = AddressPolicy(resolver=resolver_for({"internal.example": [address]}))
    with pytest.raises(RefusedURL, match="non-public address"):
        policy.check_url("https://internal.example/watch?v=1")


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f.1", "2130706433", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]",
     "[::ffff:7f00:1]", "169.254.169.254", "[::ffff:169.254.169.254]", "2852039166", "0", "LOCALHOST."],
)  # fmt: skip
def test_internal_address_literals_in_any_spelling_are_refused(host: str) -> None:
    # The resolver knows only localhost; literals must never need it.
    policy = AddressPolicy(resolver=resolver_for({"localhost.": ["127.0.0.1"]}))
    with pytest.raises(RefusedURL, match="non-public address"):
        policy.check_url(f"http://{host}:8080/video.mp4")


def test_public_names_pass_and_unresolvable_ones_are_refused_clearly() -> None:
    policy = AddressPolicy(resolver=resolver_for({"media.example": ["93.184.216.34", "2606:2800:220:1::1"]}))
    policy.check_url("https://media.example/video.mp4")
    with pytest.raises(RefusedURL, match="could not be resolved"):
        policy.check_url("https://nowhere.example/video.mp4")


def test_allow_private_lifts_the_address_rule_but_not_the_scheme_rule() -> None:
    policy = AddressPolicy(allow_private=True, resolver=resolver_for({}))
    policy.check_url("http://127.0.0.1:8000/v.mp4")
    with pytest.raises(RefusedURL):
        policy.check_url("file:///etc/passwd")


# -- the gate ----------------------------------------------------------------------------------------


def test_the_gate_refuses_internal_addresses_without_connecting(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    gate = ConnectionGate(AddressPolicy(resolver=resolver_for({"internal.example": ["127.0.0.1"]})))
    for host in ("internal.example", "127.0.0.1", "0x7f.1", "2130706433", "::ffff:127.0.0.1"):
        with pytest.raises(RefusedAddress):
            gate.connect((host, port), timeout=2)
    assert len(gate.refusals) == 5


def test_the_gate_connects_to_the_address_it_checked_not_to_a_second_answer(listener: socket.socket) -> None:
    """DNS rebinding: the name is resolved once per connection, by the gate, and the socket goes to
    exactly the address that passed. The name is never handed to the system resolver."""
    port = listener.getsockname()[1]
    resolve = resolver_for({"media.test": ["127.0.0.1"]})
    gate = ConnectionGate(AddressPolicy(allow_private=True, resolver=resolve))
    sock = gate.connect(("media.test", port), timeout=2)
    try:
        assert sock.getpeername()[0] == "127.0.0.1"
    finally:
        sock.close()
    assert resolve.calls == ["media.test"]


def test_a_rebinding_answer_is_refused_at_connect_after_the_url_check_passed() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        return [(socket.AF_INET, (next(answers)[0], port))]

    policy = AddressPolicy(resolver=rebinding)
    policy.check_url("http://rebind.example/video.mp4")  # first answer: public
    with pytest.raises(RefusedAddress):
        ConnectionGate(policy).connect(("rebind.example", 80), timeout=2)  # second: loopback


def test_only_the_public_addresses_of_a_mixed_answer_are_tried(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    gate = ConnectionGate(
        AddressPolicy(resolver=resolver_for({"mixed.example": ["10.0.0.7", "169.254.169.254"]}))
    )
    with pytest.raises(RefusedAddress):
        gate.connect(("mixed.example", port), timeout=2)
    assert gate.refusals == ["mixed.example (10.0.0.7)", "mixed.example (169.254.169.254)"]


class _PeerCheckOnly(AddressPolicy):
    """Lets the pre-connect check pass once, so that the check on the connected peer must catch it."""

    def allows(self, address: str) -> bool:
        seen = self.__dict__.setdefault("_seen", [])
        seen.append(address)
        return len(seen) == 1


def test_the_connected_peer_address_is_checked_too(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    gate = ConnectionGate(_PeerCheckOnly(resolver=resolver_for({"media.test": ["127.0.0.1"]})))
    with pytest.raises(RefusedAddress, match=r"127\.0\.0\.1"):
        gate.connect(("media.test", port), timeout=2)


def test_closing_the_gate_cuts_a_blocked_read_at_once_and_refuses_new_connections(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    gate = ConnectionGate(AddressPolicy(allow_private=True, resolver=resolver_for({})))
    sock = gate.connect(("127.0.0.1", port), timeout=30)
    result: list[bytes] = []
    reading = threading.Event()

    def read() -> None:
        reading.set()
        result.append(sock.recv(1024))  # blocks: the listener never sends anything

    reader = threading.Thread(target=read)
    reader.start()
    assert reading.wait(5)
    started = time.monotonic()
    gate.close()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert result == [b""]
    assert time.monotonic() - started < 2
    sock.close()
    with pytest.raises(GateClosed):
        gate.connect(("127.0.0.1", port), timeout=2)
