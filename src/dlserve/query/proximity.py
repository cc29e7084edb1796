"""Sloppy phrases (``"a b"~N``): what "within N moves" means, decided for one element's tokens.

Lucene's definition: word ``i`` of the phrase found at position ``p_i`` is ``p_i - i`` away from
where an exact phrase starting at 0 would put it; the words match when those offsets differ by at
most N (``max(p_i - i) - min(p_i - i) <= N``), each word at its own position. So ``"a b"~0`` is
the exact phrase, ``"a b"~1`` allows one word between them, and the swapped ``b a`` needs 2.

This module is the reference the search index's exact check runs; the SQL compiler spells the same
test with DuckDB list functions (:mod:`.compile`).
"""

from __future__ import annotations

from collections.abc import Sequence

# Bounds that keep the check (and its SQL, one nested lambda per word) cheap.
MAX_WORDS = 6
MAX_SLOP = 100


def within_slop(tokens: Sequence[str], phrase: Sequence[str], slop: int) -> bool:
    """Whether the phrase's words occur in ``tokens`` (one element's) within ``slop`` moves."""
    positions = [[at for at, token in enumerate(tokens) if token == word] for word in phrase]
    if any(not found for found in positions):
        return False

    def place(word: int, used: frozenset[int], low: int, high: int) -> bool:
        if word == len(phrase):
            return True
        for at in positions[word]:
            offset = at - word
            new_low, new_high = min(low, offset), max(high, offset)
            if (
                at not in used
                and new_high - new_low <= slop
                and place(word + 1, used | {at}, new_low, new_high)
            ):
                return True
        return False

    first = positions[0]
    return any(place(1, frozenset({at}), at, at) for at in first)
