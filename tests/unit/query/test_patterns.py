"""Wildcards anywhere in a term, regular expressions and escaped characters (issue 17).

Every case runs through the SQL compiler and the Tantivy index (see conftest) and, here, through
the Python evaluator as well; the expected ids are computed by hand from the fixture records.
"""

from __future__ import annotations

import pytest

from dlserve.errors import Invalid
from dlserve.query.parse import parse_query
from dlserve.search.tantivy_index import TantivySearchIndex
from tests.support.query_eval import matching_ids
from tests.unit.query.conftest import Dataset

HILTONS = ["b01", "b03", "b09", "b10", "b12"]
HILTON_OR_HAMPTON = ["b01", "b02", "b03", "b09", "b10", "b12"]
AUSTIN = ["b01", "b06", "b07", "b09"]  # city Austin, austin


def check(dataset: Dataset, query: str, expected: list[str]) -> None:
    assert dataset.ids(query) == expected
    assert matching_ids(dataset.schema, query, dataset.records) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:hil?on", HILTONS),
        ("name:HIL?ON", HILTONS),
        ("name:*ton", HILTON_OR_HAMPTON),  # leading wildcard
        ("name:h*n", HILTON_OR_HAMPTON),
        ("name:*arde?", ["b01", "b09", "b10", "b12"]),
        ("name:?nn", ["b01", "b02"]),
        ("name:caf?", ["b04"]),  # ? is one character, é included
        ("name:m?ller", ["b04"]),
        ("name:d*r", ["b06"]),
        ("name:?", ["b06", "b08"]),  # one-letter tokens: "s" of Joe's, "t" of b08
        ("name:h?lton*", HILTONS),
        ("hil?on", HILTONS),  # bare term: every text field
        ("categories:*tels", ["b01", "b02", "b07", "b09", "b12"]),
        ("city:au?tin", AUSTIN),
        ("city:*tin", AUSTIN),
        ("city:*USTI*", AUSTIN),
        (r"city:san\ a*o", ["b12"]),  # an escaped space is part of the keyword
        ("websites:*hilton.com*", ["b01"]),
        ("name:hilton AND city:*tin", ["b01", "b09"]),
        ("NOT name:h*n", ["b04", "b05", "b06", "b07", "b08", "b11"]),
    ],
)
def test_wildcards_anywhere(businesses: Dataset, query: str, expected: list[str]) -> None:
    check(businesses, query, expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:/hil.*/", HILTONS),
        ("name:/HIL[a-z]ON/", HILTONS),  # letters are lower-cased, as the values are
        ("name:/h(i|a)(l|m).*/", HILTON_OR_HAMPTON),
        ("name:/.{3}/", ["b01", "b02", "b06", "b07"]),  # inn, joe, the
        ("name:/m.ller/", ["b04"]),
        ('name:/"caf"./', ["b04"]),  # a quoted string is literal
        ("name:/hil/", []),  # a regex matches a whole token
        ("/hil.*/", HILTONS),
        ("city:/aus.*/", AUSTIN),
        ("city:/san .*/", ["b12"]),
        ("city:/[^ ]+/", ["b01", "b03", "b04", "b06", "b07", "b08", "b09", "b10"]),
        (r"websites:/.*\/austin/", ["b01"]),  # \/ is a slash inside the regex
        ("websites:/https?:.*/", ["b01"]),
        (r"name:/a!b/ OR name:/\(/ OR city:/a\&b/", []),  # escaped operators are literal
    ],
)
def test_regular_expressions(businesses: Dataset, query: str, expected: list[str]) -> None:
    check(businesses, query, expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r"websites:http\://hilton.com", ["b01"]),
        (r"name:\(hilton\)", HILTONS),
        (r"name:hilton\*", HILTONS),  # a literal star: not a prefix (and no token)
        (r"city:austin\*", []),  # the keyword "austin*"
        (r"city:austin\?", []),
        (r"websites:*\/austin", ["b01"]),
        (r"name:joe\!s", ["b06"]),
        (r"name:hilton\&\&garden", ["b01", "b09", "b12"]),
        (r'name:"garden \"inn\""', ["b01"]),
    ],
)
def test_escaped_characters_are_literal(businesses: Dataset, query: str, expected: list[str]) -> None:
    check(businesses, query, expected)


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("name:h*", "h*"),  # hilton, hampton, harbour, hotel: 4 words
        ("name:*o*", "*o*"),
        ("name:/.*o.*/", "/.*o.*/"),
        ("city:*", None),  # field:* is a presence test, not an expansion
        ("city:*n", "*n"),  # austin, houston, san antonio
        ("name:hilton-h*", "h*"),
    ],
)
def test_expansions_are_bounded_on_the_index(businesses: Dataset, query: str, term: str | None) -> None:
    index = TantivySearchIndex(businesses.index.path, max_expansions=2)
    tree = parse_query(businesses.schema, query)
    if term is None:
        assert index.count(tree) == len(businesses.ids(query))
        return
    with pytest.raises(Invalid) as caught:
        index.count(tree)
    assert caught.value.status_code == 400
    assert caught.value.message == (
        f"the term {term!r} matches more than 2 distinct words of the index "
        "(DLSERVE_QUERY_MAX_EXPANSIONS): make it more specific"
    )
    # within the bound, the same query is answered
    assert TantivySearchIndex(businesses.index.path, max_expansions=10).count(tree) == len(
        businesses.ids(query)
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:hilton~", HILTONS),  # default: 2 edits
        ("name:hilotn~1", HILTONS),  # a swap of adjacent letters is one edit
        ("name:hlton~1", HILTONS),  # a deletion
        ("name:hiltonn~1", HILTONS),  # an insertion
        ("name:hiltom~1", HILTONS),  # a substitution
        ("name:hlotn~1", []),  # two edits
        ("name:hlotn~2", HILTONS),
        ("name:hilton~0", HILTONS),
        ("name:hampten~1", ["b02"]),
        ("name:muller~1", ["b04"]),  # ü for u: one edit (characters, not bytes)
        ("name:HILTOM~1", HILTONS),
        ("hampten~1", ["b02"]),  # bare term
        ("name:inn~1", ["b01", "b02"]),  # not "s" of Joe's: two edits
        ("city:austn~1", AUSTIN),
        ("city:austim~", AUSTIN),
        (r"city:san\ antoni~1", ["b12"]),
        ("city:austin~1 AND name:hilton~1", ["b01", "b09"]),
        ("NOT name:hilton~1", ["b02", "b04", "b05", "b06", "b07", "b08", "b11"]),
    ],
)
def test_fuzzy_terms(businesses: Dataset, query: str, expected: list[str]) -> None:
    check(businesses, query, expected)
