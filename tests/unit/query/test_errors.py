"""Every bad query is a 400 (Invalid) naming the field (or "query") and a position in the original text."""

from __future__ import annotations

import pytest

from dlserve.errors import Invalid
from dlserve.query import compile_query
from dlserve.records.schema import BUSINESSES, PRODUCTS, DataTypeSchema


def error_of(query: str, schema: DataTypeSchema = BUSINESSES) -> tuple[str, str]:
    with pytest.raises(Invalid) as caught:
        compile_query(schema, query)
    error = caught.value
    assert error.status_code == 400
    assert len(error.details) == 1
    assert error.details[0].message == error.message
    return error.details[0].field, error.message


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("nmae:hilton", "nmae", "unknown field 'nmae' at position 0"),
        ("name:hilton AND nmae:x", "nmae", "unknown field 'nmae' at position 16"),
        ("reviews.stars:5", "reviews.stars", "unknown field 'reviews.stars' at position 0"),
        ("name.first:x", "name.first", "unknown field 'name.first' at position 0"),
        ("*:hilton", "*", "unknown field '*' at position 0"),
        ("longitude:[-98 TO -97] AND nmae:x", "nmae", "unknown field 'nmae' at position 27"),
    ],
)
def test_unknown_field(query: str, field: str, message: str) -> None:
    assert error_of(query) == (field, message)


def test_geo_location_on_a_type_without_coordinates() -> None:
    field, message = error_of("geoLocation:[-97.74,30.27,10,mi]", PRODUCTS)
    assert field == "geoLocation"
    assert message.startswith("unknown field 'geoLocation' at position 0")


@pytest.mark.parametrize(
    ("query", "field", "start"),
    [
        ("dateAdded:2017-13-45", "dateAdded", "invalid date '2017-13-45' for dateAdded at position 10"),
        ("dateAdded:yesterday", "dateAdded", "invalid date 'yesterday' for dateAdded at position 10"),
        ("dateAdded:2017-02-30", "dateAdded", "invalid date '2017-02-30' for dateAdded at position 10"),
        ("dateAdded:2017-01", "dateAdded", "invalid date '2017-01' for dateAdded at position 10"),
        (
            "dateAdded:[2017-01-01 TO 2017-13-45]",
            "dateAdded",
            "invalid date '2017-13-45' for dateAdded at position 25",
        ),
        (
            "dateAdded:>2017-01-01T25:00:00Z",
            "dateAdded",
            "invalid date '2017-01-01T25:00:00Z' for dateAdded at position 11",
        ),
        ("latitude:abc", "latitude", "invalid number 'abc' for latitude at position 9"),
        ("latitude:nan", "latitude", "invalid number 'nan' for latitude at position 9"),
        ("latitude:1e999", "latitude", "invalid number '1e999' for latitude at position 9"),
        ("latitude:[abc TO 5]", "latitude", "invalid number 'abc' for latitude at position 10"),
        ("  latitude:<x", "latitude", "invalid number 'x' for latitude at position 12"),
        (
            "reviews.rating:great",
            "reviews.rating",
            "invalid number 'great' for reviews.rating at position 15",
        ),
        ("longitude:-97.5.1", "longitude", "invalid number '-97.5.1' for longitude at position 10"),
    ],
)
def test_bad_values(query: str, field: str, start: str) -> None:
    got_field, message = error_of(query)
    assert got_field == field
    assert message.startswith(start), message


def test_bad_boolean() -> None:
    field, message = error_of("prices.isSale:yes", PRODUCTS)
    assert field == "prices.isSale"
    assert message.startswith("invalid boolean 'yes' for prices.isSale at position 14")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("name:(hilton", "syntax error at position 12: unexpected end of query"),
        ("name:hilton AND", "syntax error at position 15: unexpected end of query"),
        ("name:", "syntax error at position 5: unexpected end of query"),
        ("name:hilton)", "syntax error at position 11: unexpected ')'"),
        ("AND name:x", "syntax error at position 0: unexpected 'AND'"),
        # positions after a rewritten negative number still point into the original text
        ("longitude:[-98 TO ]", "syntax error at position 18: unexpected ']'"),
        ("longitude:[-98 TO -97] )", "syntax error at position 23: unexpected ')'"),
        ("longitude:[-98.25 -97]", "syntax error at position 18: unexpected '-'"),
        ('name:"unterminated', "syntax error at position 5: unexpected character '\"'"),
        ("name:\ue000", "syntax error at position 5: illegal character"),
    ],
)
def test_syntax_errors(query: str, message: str) -> None:
    assert error_of(query) == ("query", message)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("name:[a TO b]", "name", "range on text field name at position 5 is not supported"),
        (
            "categories:{a TO b}",
            "categories",
            "range on text_list field categories at position 11 is not supported",
        ),
        (
            "reviews.text:>a",
            "reviews.text",
            "range on text field reviews.text at position 13 is not supported",
        ),
        ("[1 TO 5]", "query", "a range needs a field"),
        (">5", "query", "a range needs a field"),
        (
            "name:hilton-g*n",
            "name",
            "wildcard term 'hilton-g*n' at position 5 spans several words",
        ),
        ("name:/a&b/", "name", "invalid regular expression at position 7: the regex operator intersection"),
        ("name:/a~b/", "name", "invalid regular expression at position 7: the regex operator complement"),
        ("name:/<1-5>/", "name", "invalid regular expression at position 6: the regex operator numeric"),
        ("city:/a@/", "city", "invalid regular expression at position 7: the regex operator any-string"),
        ("city:/#/", "city", "invalid regular expression at position 6: the regex operator empty-language"),
        ("city:/(a/", "city", "invalid regular expression at position 6: unclosed group"),
        ("city:/[a/", "city", "invalid regular expression at position 6: unclosed character class"),
        ("city:/*a/", "city", "invalid regular expression at position 6: nothing to repeat"),
        ("city:/a{200}/", "city", "invalid regular expression at position 7: repetition bounds"),
        (
            "city:/[z-a]/",
            "city",
            "invalid regular expression at position 6: a character range runs backwards",
        ),
        ("latitude:/1/", "latitude", "regular expression at position 9 on number field latitude"),
        ("latitude:3*", "latitude", "wildcard '*' at position 10 is not supported on number field latitude"),
        (
            "dateAdded:2017*",
            "dateAdded",
            "wildcard '*' at position 14 is not supported on date field dateAdded",
        ),
        ("city:[a* TO b]", "city", "wildcard '*' at position 7 is not supported in a range"),
        ("name:hilton~3", "name", "fuzzy search at position 11: the edit distance must be 0, 1 or 2"),
        ("hilton~0.5", "query", "fuzzy search at position 6: the edit distance must be 0, 1 or 2"),
        ("latitude:1~", "latitude", "fuzzy search at position 10 on number field latitude"),
        ("name:hil*~1", "name", "fuzzy search at position 9 needs a plain word, without wildcards"),
        ("name:hilton-garden~1", "name", "fuzzy term 'hilton-garden' at position 5 must be one word"),
        ("name:" + "a" * 21 + "~1", "name", "fuzzy term at position 5 is longer than 20 characters"),
        ('city:"san antonio"~2', "city", "proximity search at position 18 on keyword field city"),
        ('name:"a b c d e f g"~2', "name", "proximity phrase at position 5 has 7 words; at most 6"),
        ('name:"a b"~101', "name", "proximity ~101 at position 10 is more than 100"),
        ("reviews:great", "reviews", "'reviews' at position 8 is a list of objects"),
        (
            "name:(hilton OR city:austin)",
            "city",
            "field 'city' at position 16 is inside the group of field 'name'",
        ),
        ("geoLocation:austin", "geoLocation", "invalid geoLocation 'austin' at position 12"),
    ],
)
def test_unsupported_constructs(query: str, field: str, message: str) -> None:
    got_field, got_message = error_of(query)
    assert got_field == field
    assert got_message.startswith(message), got_message


def test_bool_range() -> None:
    field, message = error_of("prices.isSale:[false TO true]", PRODUCTS)
    assert field == "prices.isSale"
    assert message.startswith("range on bool field prices.isSale at position 14 is not supported")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("geoLocation:[-97.74,30.27,10,yd]", "unit 'yd' is not mi or km"),
        ("geoLocation:[-97.74,95,10,mi]", "latitude 95 is outside -90..90"),
        ("geoLocation:[-197.74,30.27,10,mi]", "longitude -197.74 is outside -180..180"),
        ("geoLocation:[-97.74,30.27,-1,mi]", "distance -1 is negative"),
        ("geoLocation:[a,30.27,10,mi]", "longitude 'a' is not a number"),
        ("geoLocation:[-97.74,30.27,10]", "expected 4 values"),
        ("geoLocation:[-97.74,30.27,10,mi,x]", "expected 4 values"),
        ("geoLocation:[-97.74,30.27,ten,mi]", "distance 'ten' is not a number"),
    ],
)
def test_bad_geo_location(query: str, reason: str) -> None:
    field, message = error_of(query)
    assert field == "geoLocation"
    assert message.startswith(f"invalid geoLocation {query[12:]!r} at position 12: {reason}"), message


def test_geo_circle_on_another_field() -> None:
    field, message = error_of("[-97.74,30.27,10,mi]")
    assert field == "query"
    assert "syntax error" in message


def test_too_deeply_nested() -> None:
    field, message = error_of("(" * 150 + "name:hilton" + ")" * 150)
    assert field == "query"
    assert "nested too deeply" in message


def test_long_flat_queries_are_fine() -> None:
    query = " OR ".join(f"name:w{i}" for i in range(2000))
    compiled = compile_query(BUSINESSES, query)
    assert len(compiled.params) == 2000


def test_a_lone_quote_is_a_syntax_error() -> None:
    assert error_of("city:'") == ("query", 'syntax error at position 5: unexpected character "\'"')


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("name:joe!s", "query", "syntax error at position 8: '!' (NOT) must start a clause"),
        ('"a"!b', "query", "syntax error at position 3: '!' (NOT) must start a clause"),
        ("_exists_:nmae", "nmae", "unknown field 'nmae' at position 9"),
        ("_exists_:name*", "name*", "unknown field 'name*' at position 9"),
        ("_exists_:(name OR city)", "query", "_exists_ at position 0 takes one field name"),
        ("a && && b", "query", "syntax error at position 5"),
        ("|| a", "query", "syntax error at position 0"),
        ("name:hilton !", "query", "syntax error at position 13: unexpected end of query"),
    ],
)
def test_operator_symbols_and_exists_errors(query: str, field: str, message: str) -> None:
    found_field, found_message = error_of(query)
    assert (found_field, found_message[: len(message)]) == (field, message)
