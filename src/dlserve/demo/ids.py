"""Datafiniti-looking record ids that never collide within a dataset."""

from __future__ import annotations

M64 = (1 << 64) - 1
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mix64(x: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers that scatters consecutive inputs."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _triples() -> tuple[str, ...]:
    """65536 distinct three-character strings, so 16 bits become three characters with one look-up.
    Stepping through all 62**3 triples by a stride coprime to their number keeps neighbours unalike."""
    out = []
    for k in range(1 << 16):
        n = k * 100_003 % 62**3
        out.append(_ALPHANUMERIC[n // 3844] + _ALPHANUMERIC[n // 62 % 62] + _ALPHANUMERIC[n % 62])
    return tuple(out)


_TRIPLES = _triples()


def record_id(index: int, salt: int) -> str:
    """A 20-character Datafiniti-looking id. Its last 12 characters encode ``mix64(index + salt)``,
    a bijection, so ids within a dataset never collide."""
    z = mix64((index + salt) & M64)
    w = (z * 0x9E3779B97F4A7C15) & M64
    t = _TRIPLES
    return (
        ("AV", "AW", "AX", "AV")[w >> 62]
        + t[w & 0xFFFF]
        + t[(w >> 16) & 0xFFFF]
        + t[z & 0xFFFF]
        + t[(z >> 16) & 0xFFFF]
        + t[(z >> 32) & 0xFFFF]
        + t[z >> 48]
    )
