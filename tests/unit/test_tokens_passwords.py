"""API tokens and password hashing: pure functions, no database."""

from __future__ import annotations

import hashlib
import re

from dlserve.accounts.passwords import hash_password, needs_rehash, verify_password
from dlserve.accounts.tokens import display_prefix, hash_token, new_token


def test_new_tokens_are_prefixed_url_safe_and_carry_256_bits() -> None:
    token = new_token()
    assert token.startswith("dls_")
    body = token.removeprefix("dls_")
    # token_urlsafe(32): 32 random bytes in unpadded base64url is 43 characters.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body)


def test_new_tokens_do_not_repeat() -> None:
    assert len({new_token() for _ in range(1000)}) == 1000


def test_token_hash_is_sha256_hex() -> None:
    token = "dls_example"
    assert hash_token(token) == hashlib.sha256(b"dls_example").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(new_token()))
    assert hash_token("dls_a") != hash_token("dls_b")


def test_display_prefix_fits_the_column_and_keeps_the_marker() -> None:
    token = new_token()
    prefix = display_prefix(token)
    assert len(prefix) == 12
    assert token.startswith(prefix)
    assert prefix.startswith("dls_")


def test_password_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "Correct horse")
    assert not verify_password(stored, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("pw") != hash_password("pw")


def test_unreadable_hashes_never_verify() -> None:
    assert not verify_password("not-a-hash", "anything")
    assert not verify_password("", "")
    assert needs_rehash("not-a-hash")


def test_fresh_hashes_need_no_rehash() -> None:
    assert not needs_rehash(hash_password("pw"))
