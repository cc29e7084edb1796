"""Views: named field selections per data type, and how CSV flattens nested lists.

Names follow Datafiniti: v4 spells them with the singular type (``business_all_nested``), v3 with
the plural (``businesses_all_nested``); both spellings find the same view.

- ``*_all_nested``: every field; in CSV, nested lists are JSON in one cell;
- ``*_flat_<nested>``: every field; in CSV one row per element of ``<nested>``, parent fields repeated;
- ``*_no_<nested>``: every field but that one;
- ``*_basic``: a short list of identifying fields.

A *field list* (``["id", "name", "reviews.rating"]``, see :mod:`dlserve.records.field_lists`) is a
view too, built per request: every renderer consumes it exactly as it consumes a named view.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlserve.errors import ErrorDetail, Invalid
from dlserve.records.schema import SCHEMAS, DataTypeSchema, Kind


@dataclass(frozen=True)
class View:
    name: str  # canonical v4 spelling
    data_type: str
    include: tuple[str, ...] | None = None  # None: every field, extras included
    exclude: tuple[str, ...] = ()
    flatten: str | None = None  # the nested field a CSV row is made per element of
    # A field list only: its names as listed (the CSV column order), and for each nested field
    # listed by dotted names, the sub-fields kept in each element.
    paths: tuple[str, ...] | None = None
    sub_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_field_list(self) -> bool:
        return self.paths is not None

    def sub_fields_of(self, field_name: str) -> tuple[str, ...] | None:
        """The sub-fields a nested field keeps, or None when it is returned whole."""
        return next((subs for name, subs in self.sub_fields if name == field_name), None)

    def selects(self, field_name: str) -> bool:
        if field_name in self.exclude:
            return False
        return self.include is None or field_name in self.include

    def declared_fields(self) -> list[str]:
        """The schema's fields this view returns, in schema order (a view of every field also
        returns the fields a record has beyond the schema)."""
        return [f.name for f in SCHEMAS[self.data_type].fields if self.selects(f.name)]

    def declared_sub_fields(self) -> dict[str, list[str]]:
        """Nested field → the sub-fields it returns (what a field list may name with a dot)."""
        fields = (f for f in SCHEMAS[self.data_type].fields if f.kind is Kind.NESTED and self.selects(f.name))
        return {f.name: [c.name for c in f.children] for f in fields}


_BASIC_FIELDS = {
    "businesses": (
        "id",
        "name",
        "address",
        "city",
        "province",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "categories",
        "primaryCategories",
        "websites",
        "phones",
        "dateAdded",
        "dateUpdated",
    ),
    "products": (
        "id",
        "name",
        "brand",
        "manufacturer",
        "categories",
        "primaryCategories",
        "upc",
        "ean",
        "dateAdded",
        "dateUpdated",
    ),
    "properties": (
        "id",
        "address",
        "city",
        "province",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "propertyType",
        "mostRecentStatus",
        "mostRecentStatusDate",
        "mostRecentPriceAmount",
        "mostRecentRentalStatus",
        "mostRecentRentalPriceAmount",
        "numBedroom",
        "numBathroom",
        "floorSizeValue",
        "yearBuilt",
        "dateAdded",
        "dateUpdated",
    ),
    "people": (
        "id",
        "name",
        "firstName",
        "lastName",
        "emails",
        "phones",
        "city",
        "province",
        "country",
        "jobTitle",
        "businessName",
    ),
}


def _views_for(schema: DataTypeSchema) -> list[View]:
    prefix = schema.singular
    views = [
        View(f"{prefix}_all_nested", schema.name),
        View(f"{prefix}_basic", schema.name, include=_BASIC_FIELDS[schema.name]),
    ]
    for nested in (f for f in schema.fields if f.kind is Kind.NESTED):
        views.append(View(f"{prefix}_flat_{nested.name}", schema.name, flatten=nested.name))
        views.append(View(f"{prefix}_no_{nested.name}", schema.name, exclude=(nested.name,)))
    return views


VIEWS: dict[str, dict[str, View]] = {
    name: {view.name: view for view in _views_for(schema)} for name, schema in SCHEMAS.items()
}


def default_view(data_type: str) -> View:
    return VIEWS[data_type][f"{SCHEMAS[data_type].singular}_all_nested"]


def named_view(data_type: str, name: str) -> View | None:
    """The view called ``name`` (v4 or v3 spelling) for ``data_type``, if there is one."""
    schema = SCHEMAS[data_type]
    canonical = name
    if name.startswith(schema.name + "_") and schema.name != schema.singular:
        canonical = schema.singular + name[len(schema.name) :]
    return VIEWS[data_type].get(canonical)


def find_view(data_type: str, name: str | None) -> View:
    """The view called ``name`` (v4 or v3 spelling) for ``data_type``; None → all fields."""
    if not name:
        return default_view(data_type)
    view = named_view(data_type, name)
    if view is None:
        known = ", ".join(sorted(VIEWS[data_type]))
        raise Invalid(
            f"Unknown view '{name}' for {data_type}",
            [ErrorDetail("view", f"unknown view '{name}'; views for {data_type}: {known}")],
        )
    return view


def list_views() -> list[View]:
    return [view for views in VIEWS.values() for view in views.values()]
