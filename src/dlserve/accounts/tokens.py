"""API tokens: 256 random bits, stored only as a SHA-256 digest.

A token has the entropy of a key, so a fast unsalted hash is enough to make the stored digest
useless to a thief, and unlike a password hash it can be looked up directly.
"""

from __future__ import annotations

import hashlib
import secrets

# Marks a string as a dlserve token (secret scanners and humans recognise it); not a secret itself.
TOKEN_PREFIX = "dls_"  # noqa: S105
# How much of a token is kept in clear, to show the owner which token is which.
DISPLAY_PREFIX_LENGTH = 12


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]
