"""Text fields match word tokens, keyword fields the whole value; both case-insensitively."""

from __future__ import annotations

import pytest

from tests.unit.query.conftest import Dataset

HILTONS = ["b01", "b03", "b09", "b10", "b12"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:hilton", HILTONS),
        ("name:HILTON", HILTONS),
        ("name:inn", ["b01", "b02"]),
        ("name:in", []),  # a token, not a substring
        ('name:"hilton garden"', ["b01", "b09", "b12"]),  # b12 is "Hilton-Garden Express"
        ('name:"Garden Hilton"', ["b10"]),
        ('name:"garden inn"', ["b01"]),
        ("name:hilton-garden", ["b01", "b09", "b12"]),  # several tokens in one term: a phrase
        ("name:café", ["b04"]),
        ("name:CAFÉ", ["b04"]),
        ("name:müller", ["b04"]),
        ("name:joe", ["b06"]),
        ('name:"joe\'s"', ["b06"]),
        ('name:"!!!"', []),  # no tokens: matches nothing
    ],
)
def test_text_field_matches_tokens(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:hilt*", HILTONS),
        ("name:HILT*", HILTONS),
        ("name:gard*", ["b01", "b09", "b10", "b12"]),
        ("name:in*", ["b01", "b02"]),
        ("name:hilton-gar*", ["b01", "b09", "b12"]),  # phrase whose last token is a prefix
        ("name:ilton*", []),  # a prefix of a token, not a substring
        ("name:hilton**", HILTONS),
    ],
)
def test_text_field_trailing_wildcard_is_a_token_prefix(
    businesses: Dataset, query: str, expected: list[str]
) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hilton", HILTONS),
        ("interstate", ["b01"]),  # address
        ("food", ["b01"]),  # primaryCategories
        ("hotels", ["b01", "b02", "b09", "b12"]),  # categories
        ("hotel*", ["b01", "b02", "b09", "b11", "b12"]),
        ("motels", ["b01", "b07", "b12"]),
        ("austin", ["b01", "b07"]),  # city is a keyword, not searched by bare terms
        ('"hotels motels"', ["b01", "b12"]),
        ('"hotels hotels"', []),  # a phrase never spans two list elements
        ('"downtown 500"', []),  # ... nor two fields (name, address)
        ("HILTON", HILTONS),
    ],
)
def test_bare_term_searches_the_text_fields(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


def test_bare_term_on_products(products: Dataset) -> None:
    assert products.ids("headphones") == ["p01", "p03"]
    assert products.ids("ünïcödé") == ["p05"]
    assert products.ids("name:wh-1000xm4") == ["p01"]
    assert products.ids("name:1000XM4") == ["p01"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("city:austin", ["b01", "b06", "b07", "b09"]),
        ("city:AUSTIN", ["b01", "b06", "b07", "b09"]),
        ('city:"round rock"', ["b02"]),
        ('city:"Round Rock"', ["b02"]),
        ("city:round", []),  # the whole value, not a word of it
        ("city:aus*", ["b01", "b06", "b07", "b09"]),
        ("city:a*", ["b01", "b06", "b07", "b09"]),
        ("city:austi", []),
        ("city:O'Fallon", ["b08"]),
        ("city:münchen", ["b04"]),
        ("city:MÜNCHEN", ["b04"]),
        ('city:""', ["b05"]),  # the empty string is a value for a term...
        ("country:us", ["b01", "b02", "b03", "b06"]),
        ("city:(austin OR houston)", ["b01", "b06", "b07", "b09", "b10"]),
        ('features.key:"wi-fi"', ["b01"]),
        ("features.key:Wi-Fi", ["b01"]),
        ("hours.day:monday", ["b01"]),
    ],
)
def test_keyword_field_matches_the_whole_value(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("brand:sony", ["p01", "p02"]),
        ("brand:son*", ["p01", "p02"]),
        ("brand:ünïcödé", ["p05"]),
        ("brand:ÜNÏCÖDÉ", ["p05"]),
        ('brand:""', ["p04"]),
        ('prices.merchant:"best buy"', ["p01"]),
        ("prices.merchant:amazon.com", ["p02"]),
        ("upc:190199246851", ["p07"]),
        ("upc:1901*", ["p07"]),
    ],
)
def test_keyword_fields_of_products(products: Dataset, query: str, expected: list[str]) -> None:
    assert products.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('websites:"http://hilton.com"', ["b01"]),
        ('websites:"HTTP://HILTON.COM"', ["b01"]),
        ("websites:http*", ["b01"]),
        ("websites:hilton", []),
        ("phones:512*", ["b01", "b06"]),
        ("phones:512-555-0100", ["b06"]),
        ("categories:hotels", ["b01", "b02", "b09", "b12"]),
        ('categories:"hotels motels"', ["b01", "b12"]),
        ('categories:"hotels hotels"', []),  # tokens of one element, never across two
        ("categories:caf*", ["b04"]),
        ("categories:bäckerei", ["b04"]),
        ("features.value:wifi", ["b01"]),  # a text list inside a nested list
        ('features.value:"paid wifi"', ["b01"]),
        ("features.value:free", ["b01", "b07"]),
        ('features.value:"wifi paid"', []),
    ],
)
def test_lists_match_any_element(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:*", ["b01", "b02", "b03", "b04", "b06", "b07", "b08", "b09", "b10", "b11", "b12"]),
        ("NOT name:*", ["b05"]),  # empty string = absent
        ("city:*", ["b01", "b02", "b03", "b04", "b06", "b07", "b08", "b09", "b10", "b12"]),
        ("NOT city:*", ["b05", "b11"]),
        ("websites:*", ["b01", "b08"]),  # b02 has [], b05 has [""]
        ("categories:*", ["b01", "b02", "b04", "b07", "b09", "b12"]),
        ("longitude:*", ["b01", "b02", "b03", "b04", "b05", "b07", "b08", "b09", "b10", "b11", "b12"]),
        ("dateAdded:*", ["b01", "b02", "b03", "b04", "b06", "b07", "b08", "b09", "b10", "b11"]),
        ("reviews:*", ["b01", "b02", "b03", "b07", "b09", "b11"]),  # b05 has []
        ("NOT reviews:*", ["b04", "b05", "b06", "b08", "b10", "b12"]),
        ("reviews.username:*", ["b01", "b02", "b07"]),
        ("reviews.text:*", ["b01", "b02", "b03", "b07", "b09", "b11"]),
        ("features.value:*", ["b01", "b07"]),
        ("geoLocation:*", ["b01", "b02", "b03", "b04", "b05", "b07", "b08", "b09", "b10", "b11", "b12"]),
    ],
)
def test_star_means_present_and_not_empty(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


def test_star_on_products(products: Dataset) -> None:
    assert products.ids("brand:*") == ["p01", "p02", "p03", "p05", "p07"]
    assert products.ids("prices:*") == ["p01", "p02", "p03", "p05", "p07"]
    assert products.ids("prices.isSale:*") == ["p01", "p02", "p03"]
    assert products.ids("ean:*") == []
