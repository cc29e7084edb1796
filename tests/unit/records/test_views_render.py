"""Views and rendering: which fields a view returns, and how CSV flattens nested lists."""

from __future__ import annotations

import pytest

from dlserve.errors import Invalid
from dlserve.records.render import csv_cell, csv_columns, csv_rows, project
from dlserve.records.schema import BUSINESSES, PRODUCTS
from dlserve.records.views import find_view

RECORD = {
    "id": "b1",
    "name": "Hilton Garden Inn",
    "city": "Austin",
    "categories": ["Hotels", "Lodging"],
    "latitude": 30.25,
    "reviews": [
        {"rating": 5, "text": 'Great, "quiet" stay', "username": "ann"},
        {"rating": 2.5, "text": "meh"},
    ],
    "customField": "kept",
}


def test_both_spellings_find_the_same_view() -> None:
    assert find_view("businesses", "businesses_all_nested") == find_view("businesses", "business_all_nested")
    assert find_view("products", "products_flat_prices").name == "product_flat_prices"


def test_no_view_means_every_field() -> None:
    assert find_view("businesses", None).name == "business_all_nested"


def test_unknown_view_is_invalid_naming_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        find_view("businesses", "business_everything")
    assert caught.value.details[0].field == "view"
    assert "business_all_nested" in caught.value.details[0].message


def test_all_nested_keeps_fields_beyond_the_schema() -> None:
    assert project(find_view("businesses", None), RECORD) == RECORD


def test_no_reviews_drops_reviews_only() -> None:
    projected = project(find_view("businesses", "business_no_reviews"), RECORD)
    assert "reviews" not in projected
    assert projected["customField"] == "kept"


def test_basic_view_keeps_its_fields_in_view_order() -> None:
    projected = project(find_view("businesses", "business_basic"), RECORD)
    assert list(projected) == ["id", "name", "city", "latitude", "categories"]


def test_all_nested_csv_keeps_nested_lists_as_json_and_joins_string_lists() -> None:
    view = find_view("businesses", "business_all_nested")
    columns = csv_columns(view, BUSINESSES)
    (row,) = list(csv_rows(view, BUSINESSES, RECORD))
    cells = dict(zip(columns, row, strict=True))
    assert cells["categories"] == "Hotels,Lodging"
    assert (
        cells["reviews"]
        == '[{"rating":5,"text":"Great, \\"quiet\\" stay","username":"ann"},{"rating":2.5,"text":"meh"}]'
    )
    assert cells["latitude"] == "30.25"
    assert cells["province"] == ""
    assert "customField" not in columns


def test_flat_reviews_writes_one_row_per_review_with_parent_fields_repeated() -> None:
    view = find_view("businesses", "business_flat_reviews")
    columns = csv_columns(view, BUSINESSES)
    assert "reviews" not in columns
    assert columns[columns.index("reviews.date") : columns.index("reviews.username") + 1] == [
        "reviews.date",
        "reviews.dateSeen",
        "reviews.rating",
        "reviews.text",
        "reviews.title",
        "reviews.username",
    ]
    rows = [dict(zip(columns, row, strict=True)) for row in csv_rows(view, BUSINESSES, RECORD)]
    assert [(r["id"], r["name"], r["reviews.rating"], r["reviews.text"]) for r in rows] == [
        ("b1", "Hilton Garden Inn", "5", 'Great, "quiet" stay'),
        ("b1", "Hilton Garden Inn", "2.5", "meh"),
    ]


def test_flat_view_still_writes_a_row_for_a_record_without_elements() -> None:
    view = find_view("products", "product_flat_prices")
    rows = list(csv_rows(view, PRODUCTS, {"id": "p1", "name": "Kettle"}))
    assert len(rows) == 1
    assert rows[0][0] == "p1"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3.0, "3.0"),
        (2.75, "2.75"),
        (7, "7"),
        (["a", "b"], "a,b"),
        ({"k": 1}, '{"k":1}'),
        ("plain", "plain"),
    ],
)
def test_cells(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
