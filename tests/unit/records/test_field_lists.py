"""Field lists as views: how a ``view`` value is read, what is refused, and how JSON and CSV render."""

from __future__ import annotations

from typing import Any

import pytest

from dlserve.errors import Invalid
from dlserve.records.field_lists import (
    MAX_FIELDS,
    check_for_csv,
    field_list,
    resolve_view,
    stored_view,
    v3_view,
    v4_view,
    view_from_stored,
)
from dlserve.records.render import csv_columns, csv_rows, json_fields, project
from dlserve.records.schema import BUSINESSES, PRODUCTS
from dlserve.records.views import find_view

RECORD: dict[str, Any] = {
    "id": "b1",
    "name": "Hilton",
    "city": "Austin",
    "categories": ["Hotels", "Lodging"],
    "reviews": [{"rating": 5, "text": "Great", "username": "ann"}, {"rating": 2}, {"text": "no rating"}],
    "hours": [{"day": "Mon", "hour": "9-5"}],
    "extraField": "kept only by views of every field",
}


def test_a_name_of_a_view_is_that_view_in_either_spelling() -> None:
    assert resolve_view("businesses", "businesses_basic") == find_view("businesses", "business_basic")
    assert resolve_view("businesses", "business_flat_reviews").flatten == "reviews"
    assert resolve_view("businesses", None) == resolve_view("businesses", "") == find_view("businesses", None)


def test_any_other_string_is_a_comma_separated_field_list() -> None:
    view = resolve_view("businesses", " city, id ,reviews.rating")
    assert view.paths == ("city", "id", "reviews.rating")
    assert view.include == ("city", "id", "reviews")
    assert view.sub_fields_of("reviews") == ("rating",)
    assert resolve_view("businesses", "name").paths == ("name",)  # one field is a list of one
    assert resolve_view("businesses", ["id", "name"]) == resolve_view("businesses", "id,name")


def test_json_keeps_the_list_order_and_the_nesting_of_dotted_names() -> None:
    view = field_list("businesses", ["reviews.rating", "name", "id", "reviews.username"])
    projected = project(view, RECORD)
    assert list(projected) == ["reviews", "name", "id"]
    assert projected["reviews"] == [{"rating": 5, "username": "ann"}, {"rating": 2}, {}]
    # a listed field the record lacks is left out, as with named views
    assert project(field_list("businesses", ["id", "websites"]), RECORD) == {"id": "b1"}
    # a nested field listed whole stays whole
    assert project(field_list("businesses", ["hours"]), RECORD) == {"hours": RECORD["hours"]}


def test_csv_columns_follow_the_list_and_dotted_names_flatten_their_list() -> None:
    view = field_list("businesses", ["reviews.rating", "city", "id", "categories", "reviews.text", "hours"])
    columns = csv_columns(view, BUSINESSES)
    assert columns == ["reviews.rating", "city", "id", "categories", "reviews.text", "hours"]
    rows = [dict(zip(columns, row, strict=True)) for row in csv_rows(view, BUSINESSES, RECORD)]
    assert [(r["reviews.rating"], r["reviews.text"]) for r in rows] == [
        ("5", "Great"),
        ("2", ""),
        ("", "no rating"),
    ]
    assert {r["id"] for r in rows} == {"b1"}  # the parent's cells repeat on every row
    assert rows[0]["categories"] == "Hotels,Lodging"
    assert rows[0]["hours"] == '[{"day":"Mon","hour":"9-5"}]'
    # a record without elements keeps one row
    assert list(csv_rows(view, BUSINESSES, {"id": "b2"})) == [["", "", "b2", "", "", ""]]


def test_plain_field_lists_write_one_row_per_record() -> None:
    view = field_list("businesses", ["name", "id"])
    assert csv_columns(view, BUSINESSES) == ["name", "id"]
    assert list(csv_rows(view, BUSINESSES, RECORD)) == [["Hilton", "b1"]]


@pytest.mark.parametrize(
    ("requested", "message", "detail"),
    [
        (["id", "nope", "reviews.bogus"], "Unknown fields for businesses: nope, reviews.bogus", "'nope'"),
        ("id,name.first", "Unknown field for businesses: name.first", "name.first"),
        ("geoLocation", "Unknown field", "list latitude and longitude"),
        ("business_everything", "Unknown view 'business_everything'", "neither a view"),
        ("id,,name", "Invalid field list", "empty field name"),
        (["id", "id"], "Invalid field list", "listed twice"),
        (["reviews", "reviews.rating"], "both whole and by sub-field", "list one or the other"),
        ([], "at least one field", "no field"),
        (["x" * 65], "Invalid field list", "longer than 64"),
        ([f"f{i}" for i in range(MAX_FIELDS + 1)], f"at most {MAX_FIELDS} fields", "at most"),
        ("id," * 2000, "longer than 4096", "4096"),
    ],
)
def test_bad_field_lists_are_invalid_and_say_why(requested: Any, message: str, detail: str) -> None:
    with pytest.raises(Invalid) as raised:
        resolve_view("businesses", requested)
    assert message in raised.value.message
    assert all(d.field == "view" for d in raised.value.details)
    assert any(detail in d.message for d in raised.value.details), raised.value.details


def test_csv_flattens_one_nested_list_only() -> None:
    check_for_csv(field_list("businesses", ["id", "reviews.rating", "reviews.text", "hours"]))
    with pytest.raises(Invalid) as raised:
        check_for_csv(field_list("businesses", ["reviews.rating", "hours.day"]))
    assert "reviews, hours" in raised.value.message
    # JSON takes it
    projected = project(field_list("businesses", ["reviews.rating", "hours.day"]), RECORD)
    assert projected == {"reviews": [{"rating": 5}, {"rating": 2}, {}], "hours": [{"day": "Mon"}]}


def test_a_download_stores_a_field_list_so_it_round_trips() -> None:
    view = resolve_view("products", "id,prices.amountMin,name")
    stored = stored_view(view, "id,prices.amountMin,name")
    assert stored == '["id","prices.amountMin","name"]'
    assert view_from_stored("products", stored) == view
    assert v4_view(stored) == ["id", "prices.amountMin", "name"]
    assert v3_view(stored, "products") == "id,prices.amountMin,name"
    assert csv_columns(view_from_stored("products", stored), PRODUCTS) == ["id", "prices.amountMin", "name"]


def test_a_named_view_is_stored_and_shown_as_it_was_given() -> None:
    view = resolve_view("businesses", "businesses_basic")
    assert stored_view(view, "businesses_basic") == "businesses_basic"
    assert view_from_stored("businesses", "businesses_basic") == view
    assert v4_view("businesses_basic") == "businesses_basic"
    assert v3_view(None, "businesses") == "businesses_all_nested"
    assert stored_view(resolve_view("businesses", None), None) is None


def test_json_fields_describe_the_projection_for_column_builders() -> None:
    view = field_list("businesses", ["reviews.text", "name", "reviews.rating"])
    fields = json_fields(view, BUSINESSES)
    assert [f.name for f in fields] == ["reviews", "name"]
    assert [c.name for c in fields[0].children] == ["text", "rating"]
    named = json_fields(find_view("businesses", "business_basic"), BUSINESSES)
    assert [f.name for f in named] == [n for n in find_view("businesses", "business_basic").declared_fields()]
