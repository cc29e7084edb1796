"""The SSRF guard: which URLs a media download may fetch, checked again at every socket connect.

Two checks, both by :class:`AddressPolicy`:

- ``check_url`` when a download is requested: http/https only, a host, and (unless private
  addresses are allowed) a host that resolves to public addresses only. This gives the user a clear
  400 at once; it is not what makes the guard safe, because DNS may answer differently later.
- :class:`ConnectionGate` is what every HTTP connection of a fetch goes through (yt-dlp is wired to
  it in :mod:`dlserve.media.transport`). It resolves the host itself, drops non-public addresses,
  connects to the remaining *IP address* (never to the name again, so a second DNS answer cannot
  slip in: no rebinding) and checks the connected socket's peer address once more. Redirects,
  playlists, segments and keys are all new connections, so each one is checked.

The gate also remembers its sockets so that cancelling a download can shut them down: a read that
is blocked on a stalled server returns at once instead of after the socket timeout.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dlserve.media.addresses import is_public_address, parse_ip_literal

# (family, sockaddr) pairs, as ``getaddrinfo`` gives them; tests inject their own resolver.
Resolver = Callable[[str, int], Sequence[tuple[int, tuple[Any, ...]]]]

ALLOWED_SCHEMES = ("http", "https")


def system_resolver(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in infos]


class RefusedURL(ValueError):
    """The URL may not be fetched (scheme, malformed, or a non-public address)."""


class RefusedAddress(ConnectionRefusedError):
    """A connection to a non-public address was refused (an ``OSError``, so HTTP stacks pass it on)."""


class GateClosed(ConnectionAbortedError):
    """The download was cancelled; no new connections."""


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    resolver: Resolver = system_resolver

    def allows(self, address: str) -> bool:
        return self.allow_private or is_public_address(address)

    def resolve(self, host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        """Addresses for ``host``: a literal in any spelling is used as is, a name is resolved."""
        literal = parse_ip_literal(host)
        if literal is None:
            return list(self.resolver(host, port))
        if isinstance(literal, ipaddress.IPv6Address):
            return [(socket.AF_INET6, (str(literal), port, 0, 0))]
        return [(socket.AF_INET, (str(literal), port))]

    def check_url(self, url: str) -> None:
        """Refuse, with a message for the user, a URL that cannot or may not be downloaded."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            raise RefusedURL(f"The URL is malformed: {error}") from None
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise RefusedURL("Only http:// and https:// URLs can be downloaded")
        host = parts.hostname
        if not host:
            raise RefusedURL("The URL has no host")
        if self.allow_private:
            return
        try:
            addresses = self.resolve(host, port or (443 if parts.scheme.lower() == "https" else 80))
        except (OSError, UnicodeError):
            raise RefusedURL(f"The host {host} could not be resolved") from None
        refused = sorted({sockaddr[0] for _family, sockaddr in addresses if not self.allows(sockaddr[0])})
        if not addresses or len(refused) == len({sockaddr[0] for _f, sockaddr in addresses}):
            raise RefusedURL(
                f"The host {host} resolves to a non-public address ({', '.join(refused) or 'none'}); "
                "downloads from loopback, private, link-local and other internal networks are not allowed"
            )


@dataclass
class ConnectionGate:
    """Opens every connection of one fetch; see the module docstring."""

    policy: AddressPolicy
    refusals: list[str] = field(default_factory=list)
    _sockets: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def connect(
        self,
        address: tuple[str, int],
        timeout: float | object | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """Drop-in for ``socket.create_connection`` (``http.client`` calls it as ``_create_connection``)."""
        host, port = address
        self._check_open()
        candidates = self.policy.resolve(host, port)
        error: OSError | None = None
        for family, sockaddr in candidates:
            if not self.policy.allows(sockaddr[0]):
                self._refuse(f"{host} ({sockaddr[0]})")
                error = error or RefusedAddress(f"refused to connect to non-public address {sockaddr[0]}")
                continue
            try:
                return self._connect_to(family, sockaddr, timeout, source_address)
            except RefusedAddress as refused:
                error = refused
            except OSError as failure:
                if isinstance(failure, GateClosed):
                    raise
                error = failure
        raise error or OSError(f"no addresses for {host}")

    def _connect_to(
        self,
        family: int,
        sockaddr: tuple[Any, ...],
        timeout: float | object | None,
        source_address: tuple[str, int] | None,
    ) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        with self._lock:
            self._sockets.add(sock)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)  # type: ignore[arg-type]
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            self._check_open()
            peer = sock.getpeername()[0]
            if not self.policy.allows(peer):  # what the kernel actually connected to
                self._refuse(str(peer))
                raise RefusedAddress(f"refused connection to non-public address {peer}")
            return sock
        except BaseException:
            self.forget(sock)
            sock.close()
            raise

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def close(self) -> None:
        """Refuse new connections and cut the open ones (their blocked reads return at once)."""
        with self._lock:
            self._closed = True
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by its user
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise GateClosed("the download was cancelled")

    def _refuse(self, what: str) -> None:
        with self._lock:
            self.refusals.append(what)
