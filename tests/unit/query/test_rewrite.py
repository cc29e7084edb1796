"""The pre-luqum pass: placeholders for negative numbers, timestamps and geo circles, and the position map."""

from __future__ import annotations

import pytest

from dlserve.query.rewrite import PLACEHOLDER_MARK, LiteralKind, rewrite


def literal_texts(query: str) -> list[tuple[str, int, LiteralKind]]:
    return [(lit.text, lit.position, lit.kind) for lit in rewrite(query).literals.values()]


V, G = LiteralKind.VALUE, LiteralKind.GEO


@pytest.mark.parametrize(
    ("query", "literals"),
    [
        ("longitude:-97.5", [("-97.5", 10, V)]),
        ("longitude:[-98 TO -97]", [("-98", 11, V), ("-97", 18, V)]),
        ("longitude:{ -98 TO  -97 ]", [("-98", 12, V), ("-97", 20, V)]),
        ("longitude:<-97.7", [("-97.7", 11, V)]),
        ("longitude:>=-1e3", [("-1e3", 12, V)]),
        ("longitude:(>-1 AND <=-0.5)", [("-1", 12, V), ("-0.5", 21, V)]),
        ("dateAdded:>2017-01-01T10:00:00+02:00", [("2017-01-01T10:00:00+02:00", 11, V)]),
        ("d:(2017-01-01T10:00:00-05:00 OR x)", [("2017-01-01T10:00:00-05:00", 3, V)]),
        ("geoLocation:[-97.74,30.27,10,mi]", [("[-97.74,30.27,10,mi]", 12, G)]),
        ("geoLocation: [-97.74, 30.27, 10, mi] AND x", [("[-97.74, 30.27, 10, mi]", 13, G)]),
    ],
)
def test_placeholders(query: str, literals: list[tuple[str, int, LiteralKind]]) -> None:
    assert literal_texts(query) == literals


@pytest.mark.parametrize(
    "query",
    [
        "-name:hilton",  # prohibit, not a number
        "name:hilton -97",  # not a value position
        "rating:(-5 OR 4)",  # inside a group '-' is prohibit
        'name:"-5 and 2017-01-01T10:00:00Z"',  # phrases are left alone
        "dateAdded:2017-01-01",  # luqum reads plain dates fine
        "name:a\\-5",
        "geoLocation:[1,2,3,mi]x",  # not a whole term
    ],
)
def test_left_alone(query: str) -> None:
    rewritten = rewrite(query)
    assert rewritten.text == query
    assert rewritten.literals == {}


def test_position_map_points_into_the_original() -> None:
    query = "longitude:[-98 TO -97] AND )"
    rewritten = rewrite(query)
    assert PLACEHOLDER_MARK not in query
    assert rewritten.text.startswith("longitude:[" + PLACEHOLDER_MARK)
    paren = rewritten.text.index(")")
    assert rewritten.original_position(paren) == query.index(")")
    assert rewritten.original_position(rewritten.text.index(PLACEHOLDER_MARK)) == 11
    assert rewritten.original_position(len(rewritten.text)) == len(query)
