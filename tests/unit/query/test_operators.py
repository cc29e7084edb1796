"""Boolean structure: AND/OR/NOT/-/+, implicit AND, parentheses, field groups, match-all."""

from __future__ import annotations

import pytest

from tests.unit.query.conftest import Dataset

HILTONS = ["b01", "b03", "b09", "b10", "b12"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:hilton AND city:austin", ["b01", "b09"]),
        ("name:hilton city:austin", ["b01", "b09"]),  # implicit operator: AND
        ("name:hilton OR city:houston", HILTONS),
        ("name:hilton OR name:hampton", ["b01", "b02", "b03", "b09", "b10", "b12"]),
        ("name:hilton NOT city:austin", ["b03", "b10", "b12"]),
        ("name:hilton -city:austin", ["b03", "b10", "b12"]),
        ("name:hilton AND -city:austin", ["b03", "b10", "b12"]),
        ("name:hilton AND NOT city:austin", ["b03", "b10", "b12"]),
        ("+name:hilton +country:us", ["b01", "b03"]),
        # NOT also matches records where the field is missing (b07, b08, b09, ... have no country).
        ("NOT country:us", ["b04", "b05", "b07", "b08", "b09", "b10", "b11", "b12"]),
        ("-country:us", ["b04", "b05", "b07", "b08", "b09", "b10", "b11", "b12"]),
        ("(name:hilton OR name:hampton) AND province:tx", ["b01", "b02"]),
        # AND binds tighter than OR...
        ("name:hilton OR name:hampton AND province:tx", ["b01", "b02", "b03", "b09", "b10", "b12"]),
        # ...and the implicit AND loosest: hilton AND (austin OR houston).
        ("name:hilton city:austin OR city:houston", ["b01", "b09", "b10"]),
        ("name:(hilton OR motel)", ["b01", "b03", "b07", "b09", "b10", "b12"]),
        ("name:(hilton AND garden)", ["b01", "b09", "b10", "b12"]),
        ("name:(hilton garden)", ["b01", "b09", "b10", "b12"]),
        ("name:(hilton -garden)", ["b03"]),
        ("name:(garden NOT inn)", ["b09", "b10", "b12"]),
        ('name:("hilton garden" OR chicago)', ["b01", "b03", "b09", "b12"]),
        ("NOT (name:hilton OR name:garden)", ["b02", "b04", "b05", "b06", "b07", "b08", "b11"]),
        ("NOT NOT name:hilton", HILTONS),
        ("((name:hilton))", HILTONS),
        ("name:hilton^2", HILTONS),  # boosts are ignored
        ("(name:hilton OR city:austin)^3 AND country:us", ["b01", "b03", "b06"]),
        # Lower-case and/or are words (searched in the text fields), as in Lucene.
        ("name:hilton and city:austin", []),
        ('name:"hilton" AND "garden"', ["b01", "b09", "b10", "b12"]),
    ],
)
def test_boolean_structure(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize("query", ["", "   ", "*", "*:*", " *:* ", "* OR name:hilton"])
def test_match_everything(businesses: Dataset, query: str) -> None:
    assert businesses.ids(query) == businesses.all_ids()


def test_match_all_inside_a_query(businesses: Dataset) -> None:
    assert businesses.ids("*:* AND name:hilton") == HILTONS
    assert businesses.ids("* AND name:hilton") == HILTONS
    assert businesses.ids("NOT *") == []


def test_not_of_an_impossible_term_matches_everything(businesses: Dataset) -> None:
    assert businesses.ids('NOT name:"!!!"') == businesses.all_ids()


# Elasticsearch's query_string spellings: && || ! and _exists_, each with its worded twin.
@pytest.mark.parametrize(
    ("spelled", "worded", "expected"),
    [
        ("city:austin && province:TX", "city:austin AND province:TX", ["b01", "b07"]),
        ("city:austin || city:houston", "city:austin OR city:houston", ["b01", "b06", "b07", "b09", "b10"]),
        ("!city:austin", "NOT city:austin", ["b02", "b03", "b04", "b05", "b08", "b10", "b11", "b12"]),
        ("name:hilton && !city:austin", "name:hilton AND NOT city:austin", ["b03", "b10", "b12"]),
        (
            "!(name:hilton || name:garden)",
            "NOT (name:hilton OR name:garden)",
            ["b02", "b04", "b05", "b06", "b07", "b08", "b11"],
        ),
        ("!!name:hilton", "NOT NOT name:hilton", HILTONS),
        # same precedence as the words: && binds tighter than ||
        (
            "name:hilton || name:hampton && province:tx",
            "name:hilton OR name:hampton AND province:tx",
            ["b01", "b02", "b03", "b09", "b10", "b12"],
        ),
        (
            "(name:hilton || name:hampton)&&(province:tx)",
            "(name:hilton OR name:hampton) AND province:tx",
            ["b01", "b02"],
        ),
        ("name:(hilton && !garden)", "name:(hilton AND NOT garden)", ["b03"]),
        ("city:(austin || houston)", "city:(austin OR houston)", ["b01", "b06", "b07", "b09", "b10"]),
        ("_exists_:websites", "websites:*", ["b01", "b08"]),
        ("!_exists_:country", "NOT country:*", ["b07", "b08", "b09", "b10", "b12"]),
        ("_exists_:reviews.rating", "reviews.rating:*", None),
    ],
)
def test_operator_symbols_are_their_words(
    businesses: Dataset, spelled: str, worded: str, expected: list[str] | None
) -> None:
    found = businesses.ids(spelled)
    assert found == businesses.ids(worded)
    if expected is not None:
        assert found == expected


def test_symbols_inside_terms_are_not_operators(businesses: Dataset) -> None:
    # As in Lucene, a && or || touching a word belongs to the word (here: tokens "hilton", "garden").
    assert businesses.ids("name:hilton&&garden") == businesses.ids('name:"hilton garden"')
    assert businesses.ids(r"name:joe\!s") == ["b06"]
