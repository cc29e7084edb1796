"""Password hashing with argon2id.

Parameters: OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's
default (64 MiB): a login costs its memory for the length of the hash, and with
``password_hash_concurrency`` hashes at once the peak stays small (4 × 19 MiB). Old hashes keep
verifying — argon2 writes its parameters into each hash — and are rehashed at the next login.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MEMORY_COST_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1
_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)


@cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown, so that "no such account" takes as long as
    # "wrong password" and response times do not reveal which emails have accounts. Made on first
    # use: hashing is deliberately slow and importing this module should not be.
    return _hasher.hash("dlserve: not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on a mismatch or an unreadable hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification without a real hash (see ``_dummy_hash``)."""
    verify_password(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
