"""Dotted fields over nested lists: a clause matches when any element matches it."""

from __future__ import annotations

import pytest

from tests.unit.query.conftest import Dataset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reviews.rating:5", ["b01", "b03", "b09"]),
        ("reviews.rating:>=4", ["b01", "b02", "b03", "b07", "b09"]),
        ("reviews.rating:[4 TO 5}", ["b02", "b07"]),
        ("reviews.rating:4.5", ["b07"]),
        ("reviews.rating:*", ["b01", "b02", "b03", "b07", "b09", "b11"]),
        ("NOT reviews.rating:5", ["b02", "b04", "b05", "b06", "b07", "b08", "b10", "b11", "b12"]),
        ("reviews.text:great", ["b01", "b03", "b09"]),
        ('reviews.text:"bad parking"', ["b01"]),
        ('reviews.text:"friendly noisy"', []),  # a phrase stays inside one element
        ("reviews.text:grea*", ["b01", "b03", "b09"]),
        ("reviews.title:great", ["b01"]),
        ("reviews.username:alice", ["b01", "b07"]),
        ("reviews.username:carol", ["b02"]),
        ("reviews.username:ali*", ["b01", "b07"]),
        # Each clause independently: b01 has a 5 ("great") and a "bad" (rated 2).
        ("reviews.rating:5 AND reviews.text:bad", ["b01", "b03"]),
        ("reviews.rating:(2 OR 3)", ["b01", "b03"]),
    ],
)
def test_business_reviews(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("prices.amountMin:>10", ["p01", "p02", "p07"]),
        ("prices.amountMin:>=10", ["p01", "p02", "p03", "p07"]),
        ("prices.amountMin:<0", ["p05"]),
        ("prices.amountMin:-5", ["p05"]),
        ("prices.amountMin:[-10 TO -1]", ["p05"]),
        ("prices.amountMax:[0 TO 10]", ["p01", "p03", "p05"]),
        ("prices.amountMin:5.5 AND prices.isSale:true", ["p01"]),  # two different elements
        ("reviews.rating:>4", ["p01"]),
        ("categories:headphones AND NOT brand:sony", ["p03"]),
    ],
)
def test_product_prices(products: Dataset, query: str, expected: list[str]) -> None:
    assert products.ids(query) == expected
