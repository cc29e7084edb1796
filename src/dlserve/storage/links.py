"""HMAC-signed, expiring links to result files served by the app itself (local storage).

A link is ``<path>?expires=<unix seconds>&signature=<hex HMAC-SHA256 of "<path>\\n<expires>">``.
The signature is the credential: whoever holds the link may fetch the file until it expires, with
no ``Authorization`` header, exactly like an S3 presigned URL.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import datetime
from urllib.parse import quote

from dlserve.errors import Forbidden, Gone

INVALID_LINK_MESSAGE = "This link is not valid"
EXPIRED_LINK_MESSAGE = "This link has expired"

# Bounded so a hostile query string can't make us parse a gigantic integer.
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def file_link_path(download_id: str | int, name: str) -> str:
    """The URL path the files router serves ``name`` of download ``download_id`` at.

    Both the code that hands out links and the router that checks them build the path here, so the
    signed string can't drift apart between the two.
    """
    return f"/v4/files/{quote(str(download_id), safe='')}/{quote(name, safe='')}"


class LinkSigner:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("LinkSigner needs a non-empty secret")
        self._key = secret.encode("utf-8")

    def sign(self, path: str, expires_at: datetime) -> str:
        """The query string (without ``?``) that makes ``path`` fetchable until ``expires_at``."""
        expires = str(math.floor(_aware(expires_at).timestamp()))
        return f"expires={expires}&signature={self._signature(path, expires)}"

    def signed_url(self, base_url: str, path: str, expires_at: datetime) -> str:
        """``base_url`` (e.g. the public URL, no trailing path) + ``path`` + the signed query."""
        return f"{base_url.rstrip('/')}{path}?{self.sign(path, expires_at)}"

    def verify(self, path: str, expires: str | None, signature: str | None, now: datetime) -> None:
        """Raise ``Forbidden`` unless the link was signed by us for this path and expiry, then
        ``Gone`` if it has expired. The signature is checked first, so a tampered link never
        reveals whether it would have expired."""
        if expires is None or signature is None:
            raise Forbidden(INVALID_LINK_MESSAGE)
        if not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
            raise Forbidden(INVALID_LINK_MESSAGE)
        expected = self._signature(path, expires)
        # Constant-time: a byte-by-byte compare would let an attacker find the signature by timing.
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise Forbidden(INVALID_LINK_MESSAGE)
        if _aware(now).timestamp() > int(expires):
            raise Gone(EXPIRED_LINK_MESSAGE)

    def _signature(self, path: str, expires: str) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _aware(moment: datetime) -> datetime:
    # A naive datetime's timestamp() silently uses the machine's time zone: links would be off by hours.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return moment
