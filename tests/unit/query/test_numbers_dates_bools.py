"""Typed comparisons: numbers (negative ones too), dates (days and instants) and booleans."""

from __future__ import annotations

import pytest

from tests.unit.query.conftest import Dataset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("latitude:30.3", ["b09"]),
        ("latitude:30.2672", ["b01"]),
        ("longitude:-97.5", ["b09"]),
        ("longitude:-97.50", ["b09"]),
        ("longitude:\\-97.5", ["b09"]),
        ("longitude:[-98 TO -97]", ["b01", "b02", "b07", "b09"]),
        ("longitude:[ -98 TO -97 ]", ["b01", "b02", "b07", "b09"]),
        ("longitude:[-97.7431 TO -97.5}", ["b01", "b02"]),
        ("longitude:{-97.7494 TO -97.5]", ["b01", "b02", "b09"]),
        ("longitude:{-97.7494 TO -97.5}", ["b01", "b02"]),
        ("longitude:[* TO -90]", ["b01", "b02", "b07", "b08", "b09", "b10", "b12"]),
        ("longitude:[100 TO *]", ["b11"]),
        ("longitude:[* TO *]", ["b01", "b02", "b03", "b04", "b05", "b07", "b08", "b09", "b10", "b11", "b12"]),
        ("longitude:<-97.7", ["b01", "b07", "b12"]),
        ("longitude:<=-97.7494", ["b07", "b12"]),
        ("longitude:<-97.7494", ["b12"]),
        ("longitude:>-1", ["b04", "b05", "b11"]),
        ("longitude:>=-0.1278", ["b04", "b05", "b11"]),
        ("longitude:>-0.1278", ["b04", "b11"]),
        ("latitude:<0", ["b11"]),
        ("latitude:[-40 TO -30]", ["b11"]),
        ("NOT longitude:[-98 TO -97]", ["b03", "b04", "b05", "b06", "b08", "b10", "b11", "b12"]),
        # In a field group a leading '-' is Lucene's prohibit: (NOT 97.5) OR (NOT 98.4936).
        ("longitude:(-97.5 OR -98.4936)", [f"b{n:02}" for n in range(1, 13)]),
        ("longitude:(\\-97.5 OR \\-98.4936)", ["b09", "b12"]),
        ("longitude:([-98.5 TO -98] OR [-97.6 TO -97.4])", ["b09", "b12"]),
        ("longitude:(>-1 AND <0)", ["b05"]),
    ],
)
def test_numbers(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dateAdded:2017-01-01", ["b01", "b09"]),  # a day matches the whole day
        ("dateAdded:2017-01-01T08:00:00Z", ["b01"]),  # an instant matches the instant
        ("dateAdded:2017-01-01T08:00:00", ["b01"]),
        ("dateAdded:2017-01-01T10:00:00+02:00", ["b01"]),  # converted to UTC
        ("dateAdded:2017-01-01T03:00:00-05:00", ["b01"]),
        ("dateAdded:2017-01-01T08:00Z", ["b01"]),
        ("dateAdded:[2017-01-01 TO 2017-01-31]", ["b01", "b02", "b06", "b07", "b09"]),  # through Jan 31
        ("dateAdded:[2017-01-01 TO 2017-01-31}", ["b01", "b06", "b07", "b09"]),  # Jan 31 excluded
        ("dateAdded:{2017-01-01 TO 2017-02-01]", ["b02", "b06", "b07", "b10"]),  # Jan 1 excluded
        ("dateAdded:[2017-01-01T08:00:00Z TO 2017-01-02T00:00:00Z]", ["b01", "b06"]),
        ("dateAdded:{2017-01-01T08:00:00Z TO *]", ["b02", "b04", "b06", "b07", "b08", "b10", "b11"]),
        ("dateAdded:[2016-12-31T23:59:59 TO 2017-01-01T00:00:00]", ["b03", "b09"]),
        ("dateAdded:[2017-01-01T10:00:00+02:00 TO 2017-01-02T00:00:00Z}", ["b01"]),
        ("dateAdded:>2017-06-15", ["b08"]),  # after the whole day
        ("dateAdded:>=2017-06-15", ["b04", "b08"]),
        ("dateAdded:<2017-01-01", ["b03"]),
        ("dateAdded:<=2017-01-01", ["b01", "b03", "b09"]),
        ("dateAdded:>=2017-01-01T03:00:00-05:00", ["b01", "b02", "b04", "b06", "b07", "b08", "b10", "b11"]),
        ("dateAdded:[2018-01-01 TO *]", ["b08"]),
        ("dateUpdated:2017-02-01", ["b02"]),
        ("NOT dateAdded:[2017-01-01 TO *]", ["b03", "b05", "b12"]),  # b05, b12: no dateAdded
        ('dateAdded:"2017-01-01"', ["b01", "b09"]),
        ("reviews.date:[2017-05-01 TO 2017-06-01]", ["b01"]),
        ("reviews.date:2017-03-11", ["b11"]),
    ],
)
def test_dates(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dateAdded:[2019-12-31 TO 2020-01-01]", ["p01", "p03"]),
        ("dateAdded:2019-12-31T23:00:00.000Z", ["p03"]),
        ("prices.dateSeen:2020-02-01", ["p01"]),
        ("prices.isSale:true", ["p01", "p03"]),
        ("prices.isSale:TRUE", ["p01", "p03"]),
        ("prices.isSale:false", ["p01", "p02"]),
        ("NOT prices.isSale:true", ["p02", "p04", "p05", "p06", "p07"]),
        ("prices.currency:usd AND prices.isSale:true", ["p01"]),
    ],
)
def test_product_dates_and_bools(products: Dataset, query: str, expected: list[str]) -> None:
    assert products.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("city:[a TO c]", ["b01", "b06", "b07", "b09"]),  # 'chicago' sorts after 'c'
        ("city:[a TO chicago]", ["b01", "b03", "b06", "b07", "b09"]),
        ("city:[A TO CHICAGO]", ["b01", "b03", "b06", "b07", "b09"]),  # compared lower-cased
        ("city:{austin TO houston}", ["b03"]),
        ("city:>=s", ["b12"]),
        ("city:<b", ["b01", "b05", "b06", "b07", "b09"]),  # ...and so is it for a range ('' < 'b')
        ('city:["round rock" TO "san antonio"]', ["b02", "b12"]),
        ("websites:[http TO https]", ["b01"]),  # keyword list: any element
    ],
)
def test_keyword_ranges_compare_strings(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected
