"""The delivery POST through the SSRF guard, against real loopback sockets. Names are resolved by
injected resolvers only: no DNS query, and no address outside 127.0.0.0/8 is ever contacted."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dlserve.media.guard import AddressPolicy
from dlserve.webhooks.transport import post_guarded
from tests.support.webhook_receiver import Receiver, webhook_receiver

HEADERS = {"content-type": "application/json", "webhook-id": "msg_1"}


def resolver_to(address: str) -> Any:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        asked.append(host)
        return [(socket.AF_INET, (address, port))]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def test_a_name_is_connected_to_at_the_address_the_guard_checked(receiver: Receiver) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    resolve = resolver_to("127.0.0.1")
    policy = AddressPolicy(allow_private=True, resolver=resolve)

    outcome = post_guarded(policy, f"http://hooks.example:{port}/in?x=1", b"{}", HEADERS, 5.0)

    assert outcome.delivered
    assert outcome.status_code == 200
    assert outcome.error is None
    [got] = receiver.received
    assert got.path == "/in?x=1"
    assert got.body == b"{}"
    assert got.headers["host"] == f"hooks.example:{port}"
    assert resolve.asked == ["hooks.example"]


def test_a_name_that_now_resolves_to_loopback_is_refused_at_delivery(receiver: Receiver) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    policy = AddressPolicy(allow_private=False, resolver=resolver_to("127.0.0.1"))  # DNS rebinding

    outcome = post_guarded(policy, f"http://hooks.example:{port}/in", b"{}", HEADERS, 5.0)

    assert not outcome.delivered
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "non-public address 127.0.0.1" in outcome.error
    assert receiver.received == []


def test_non_2xx_answers_are_failures_and_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.answers = [500, 302]
    policy = AddressPolicy(allow_private=True)
    first = post_guarded(policy, receiver.url, b"{}", HEADERS, 5.0)
    second = post_guarded(policy, receiver.url, b"{}", HEADERS, 5.0)
    assert (first.status_code, first.error) == (500, "the receiver answered 500")
    assert (second.status_code, second.error) == (302, "the receiver answered 302")
    assert len(receiver.received) == 2


def test_a_receiver_that_does_not_answer_times_out() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        outcome = post_guarded(
            AddressPolicy(allow_private=True), f"http://127.0.0.1:{port}/", b"{}", HEADERS, 0.3
        )
        assert outcome.status_code is None
        assert outcome.error == "timed out after 0.3 s"
    finally:
        thread.join(5)
        for sock in accepted:
            sock.close()
        listener.close()


def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    outcome = post_guarded(
        AddressPolicy(allow_private=True), f"http://127.0.0.1:{port}/", b"{}", HEADERS, 2.0
    )
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "Connection" in outcome.error


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
    """An HTTPS server on 127.0.0.1 whose certificate names hooks.example (and nothing else)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.example", "-addext", "subjectAltName=DNS:hooks.example",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], ssl.create_default_context(cafile=str(cert))
    finally:
        server.shutdown()
        server.server_close()


def test_https_goes_to_the_checked_address_and_still_verifies_the_name(
    tls_receiver: tuple[int, ssl.SSLContext],
) -> None:
    port, trust = tls_receiver
    policy = AddressPolicy(allow_private=True, resolver=resolver_to("127.0.0.1"))

    good = post_guarded(policy, f"https://hooks.example:{port}/in", b"{}", HEADERS, 5.0, tls=trust)
    wrong_name = post_guarded(policy, f"https://other.example:{port}/in", b"{}", HEADERS, 5.0, tls=trust)

    assert good.status_code == 204
    assert good.delivered
    assert wrong_name.status_code is None
    assert wrong_name.error is not None
    assert "certificate" in wrong_name.error.lower()
