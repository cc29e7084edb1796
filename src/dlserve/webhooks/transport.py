"""One POST to a receiver, through the media SSRF guard's :class:`ConnectionGate`.

The gate resolves the host itself, refuses non-public addresses (unless private ones are allowed)
and connects to the address it checked, so a DNS answer that changed since the URL was accepted
(rebinding) cannot reach an internal host. HTTPS still checks the certificate against the host name.
Redirects are not followed: a 3xx is a failed attempt, like any answer outside 2xx.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dlserve.media.guard import AddressPolicy, ConnectionGate

MAX_RESPONSE_BYTES = 64 * 1024  # read (and ignored): enough for the connection to be reused cleanly


@dataclass(frozen=True)
class PostOutcome:
    status_code: int | None  # None: no answer (timeout, refused, connection error)
    error: str | None  # why the attempt failed; None for a 2xx

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# (url, body, headers, timeout seconds) -> outcome; tests may inject their own.
Poster = Callable[[str, bytes, Mapping[str, str], float], PostOutcome]


def guarded_poster(policy: AddressPolicy, tls: ssl.SSLContext | None = None) -> Poster:
    def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> PostOutcome:
        return post_guarded(policy, url, body, headers, timeout, tls=tls)

    return post


def post_guarded(
    policy: AddressPolicy,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    *,
    tls: ssl.SSLContext | None = None,
) -> PostOutcome:
    """POST ``body``; ``tls`` verifies HTTPS receivers (default: the system's CAs)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        return PostOutcome(None, "the URL is not an http(s) URL with a host")
    gate = ConnectionGate(policy)
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=tls or ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    # http.client opens its socket through this attribute (TLS then wraps it with the host name).
    connection._create_connection = gate.connect  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except TimeoutError:
        return PostOutcome(None, f"timed out after {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        return PostOutcome(None, f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
        gate.close()
    if 200 <= status < 300:
        return PostOutcome(status, None)
    return PostOutcome(status, f"the receiver answered {status}")
