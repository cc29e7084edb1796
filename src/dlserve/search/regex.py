"""Keyword prefixes and ranges as regular expressions over an index's terms.

Tantivy's Python API has no range query on text terms, but a range of strings is a regular
language: ``x >= "abc"`` is ``abc.*`` or ``ab`` then a character above ``c`` or ``a`` then one
above ``b``... Built here as one expression, so that on a list field the *same element* has to
satisfy both bounds (two separate queries could be met by two different elements).
Strings compare by code point, which is also DuckDB's (UTF-8 byte) order and Python's.

Every character that is not an ASCII letter or digit is written as ``\\x{HEX}``: nothing the user
typed can be read as regex syntax.
"""

from __future__ import annotations

_MAX = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)
ANY = r"[\x{0}-\x{10FFFF}]"


def literal(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):X}}}" for c in text)


def prefix(text: str) -> str:
    return literal(text) + ANY + "*"


def between(low: str | None, low_inclusive: bool, high: str | None, high_inclusive: bool) -> str | None:
    """A regex for the strings in the range (an open side is None); None if the range is empty."""
    if low is None and high is None:
        return ANY + "*"
    if high is None:
        assert low is not None
        return _at_least(low, low_inclusive)
    if low is None:
        return _at_most(high, high_inclusive, allow_empty=True)
    if low > high or (low == high and not (low_inclusive and high_inclusive)):
        return None
    common = 0
    while common < min(len(low), len(high)) and low[common] == high[common]:
        common += 1
    head = literal(low[:common])
    if common == len(low):  # low is a prefix of high: every string in range starts with low
        rest = _at_most(high[common:], high_inclusive, allow_empty=low_inclusive)
        return None if rest is None else head + rest
    a, b = low[common], high[common]  # a < b
    options = []
    above = _at_least(low[common + 1 :], low_inclusive)
    if above is not None:
        options.append(literal(a) + above)
    middle = _class(ord(a) + 1, ord(b) - 1)
    if middle is not None:
        options.append(middle + ANY + "*")
    below = _at_most(high[common + 1 :], high_inclusive, allow_empty=True)
    if below is not None:
        options.append(literal(b) + below)
    return head + _alternatives(options) if options else None


def _at_least(text: str, inclusive: bool) -> str | None:
    if not text:
        return ANY + ("*" if inclusive else "+")
    options = []
    rest = _at_least(text[1:], inclusive)
    if rest is not None:
        options.append(literal(text[0]) + rest)
    above = _class(ord(text[0]) + 1, _MAX)
    if above is not None:
        options.append(above + ANY + "*")
    return _alternatives(options) if options else None


def _at_most(text: str, inclusive: bool, allow_empty: bool) -> str | None:
    """Strings <= (or <) ``text``; the empty string only when ``allow_empty``."""
    if not text:
        return "" if inclusive and allow_empty else None
    options = []
    rest = _at_most(text[1:], inclusive, allow_empty=True)
    if rest is not None:
        options.append(literal(text[0]) + rest)
    below = _class(0, ord(text[0]) - 1)
    if below is not None:
        options.append(below + ANY + "*")
    if not options:
        return "" if allow_empty else None
    return _alternatives(options) + ("?" if allow_empty else "")


def _class(first: int, last: int) -> str | None:
    if first in _SURROGATES:
        first = _SURROGATES.stop
    if last in _SURROGATES:
        last = _SURROGATES.start - 1
    if first > last:
        return None
    return f"[\\x{{{first:X}}}-\\x{{{last:X}}}]"


def _alternatives(options: list[str]) -> str:
    return "(?:" + "|".join(options) + ")"
