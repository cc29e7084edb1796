"""The declared schema of each data type, and the column layout of its Parquet snapshots.

Every field has a *kind* that decides how a query matches it:

- ``keyword``: the whole value, case-insensitively (``country:us``);
- ``text``: lower-cased word tokens (``name:hilton`` matches "Hilton Garden Inn");
- ``number``, ``date``, ``bool``: typed comparisons and ranges;
- ``keyword_list`` / ``text_list``: a list of strings, matched per element;
- ``nested``: a list of objects whose sub-fields are queried with dotted names
  (``reviews.rating:5``), matching when any element matches;
- ``geo``: the virtual ``geoLocation`` field built from latitude/longitude.

Snapshot layout (the contract between the loader, the query compiler and the exporter):

- ``_seq`` BIGINT: load order, the one deterministic order of the dataset;
- ``_record`` VARCHAR: the record exactly as loaded, as JSON (fields beyond the schema included);
- one typed column per declared field, named like the field;
- ``_typed_exact`` BOOLEAN (not in snapshots loaded by earlier versions): whether the typed columns spell the
  record exactly as ``_record`` (see :mod:`dlserve.records.typed_cells`), so the exporter may
  render CSV from them;
- ``_tok_<path>`` VARCHAR for every text field, text list and nested text sub-field: its
  normalised tokens, see :func:`token_text`; ``_tok__all`` joins the top-level text fields and is
  what a bare term searches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    KEYWORD = "keyword"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    GEO = "geo"
    NESTED = "nested"
    KEYWORD_LIST = "keyword_list"
    TEXT_LIST = "text_list"


TEXTUAL_KINDS = frozenset({Kind.TEXT, Kind.TEXT_LIST})
LIST_KINDS = frozenset({Kind.KEYWORD_LIST, Kind.TEXT_LIST})

# Separates list elements inside a token column, so a phrase never matches across two elements.
ELEMENT_SEPARATOR = "\x1f"
ALL_TEXT_COLUMN = "_tok__all"
# DuckDB (RE2) and Python spell "a run of letters and digits" differently; both mean the same.
DUCKDB_TOKEN_PATTERN = r"[\pL\pN]+"  # noqa: S105
_PYTHON_TOKEN_PATTERN = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``: the unit a text field is matched by."""
    return _PYTHON_TOKEN_PATTERN.findall(text.lower())


def token_text(values: Iterable[str | None]) -> str | None:
    """The token-column value for one or more strings: `` tok tok `` per element, joined by US.

    Searching it with ``contains(col, ' hilton garden ')`` is a phrase match inside one element,
    ``contains(col, ' hilt')`` a prefix match of a token.
    """
    parts = [" " + " ".join(tokenize(value)) + " " for value in values if value]
    return ELEMENT_SEPARATOR.join(parts) if parts else None


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    children: tuple[FieldSpec, ...] = ()

    def child(self, name: str) -> FieldSpec | None:
        return next((c for c in self.children if c.name == name), None)


@dataclass(frozen=True)
class ResolvedField:
    """A query field name resolved against the schema: a top-level field, or a nested sub-field."""

    path: str
    top: FieldSpec
    sub: FieldSpec | None = None

    @property
    def kind(self) -> Kind:
        return self.sub.kind if self.sub else self.top.kind

    @property
    def is_nested(self) -> bool:
        return self.sub is not None


@dataclass(frozen=True)
class DataTypeSchema:
    name: str  # plural, as in the URL: businesses
    singular: str  # as in v4 view names: business
    fields: tuple[FieldSpec, ...]
    _by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    @property
    def has_geo(self) -> bool:
        return "latitude" in self._by_name and "longitude" in self._by_name

    def resolve(self, path: str) -> ResolvedField | None:
        """``name`` → top-level field; ``reviews.rating`` → nested sub-field; else None."""
        if path == "geoLocation" and self.has_geo:
            return ResolvedField(path, FieldSpec("geoLocation", Kind.GEO))
        head, _, rest = path.partition(".")
        top = self.field(head)
        if top is None:
            return None
        if not rest:
            return ResolvedField(path, top)
        if top.kind is not Kind.NESTED:
            return None
        sub = top.child(rest)
        return ResolvedField(path, top, sub) if sub else None

    def text_fields(self) -> list[FieldSpec]:
        """Top-level text fields: what a bare term (no ``field:``) searches."""
        return [f for f in self.fields if f.kind in TEXTUAL_KINDS]

    def token_columns(self) -> list[tuple[str, FieldSpec, FieldSpec | None]]:
        """(column, top field, sub-field) for every token column of the snapshot layout."""
        columns: list[tuple[str, FieldSpec, FieldSpec | None]] = []
        for top in self.fields:
            if top.kind in TEXTUAL_KINDS:
                columns.append((token_column(top.name), top, None))
            for sub in top.children:
                if sub.kind in TEXTUAL_KINDS:
                    columns.append((token_column(f"{top.name}.{sub.name}"), top, sub))
        return columns


def token_column(path: str) -> str:
    return "_tok_" + path.replace(".", "__")


def _f(name: str, kind: Kind, *children: FieldSpec) -> FieldSpec:
    return FieldSpec(name, kind, tuple(children))


K, T, N, D, B = Kind.KEYWORD, Kind.TEXT, Kind.NUMBER, Kind.DATE, Kind.BOOL
KL, TL, NEST = Kind.KEYWORD_LIST, Kind.TEXT_LIST, Kind.NESTED


def _common_head() -> tuple[FieldSpec, ...]:
    return (_f("id", K),)


def _common_dates() -> tuple[FieldSpec, ...]:
    return (_f("dateAdded", D), _f("dateUpdated", D))


def _address() -> tuple[FieldSpec, ...]:
    return (
        _f("address", T),
        _f("city", K),
        _f("province", K),
        _f("postalCode", K),
        _f("country", K),
    )


BUSINESSES = DataTypeSchema(
    "businesses",
    "business",
    (
        *_common_head(),
        _f("name", T),
        *_address(),
        _f("latitude", N),
        _f("longitude", N),
        _f("categories", TL),
        _f("primaryCategories", TL),
        _f("websites", KL),
        _f("phones", KL),
        _f("emails", KL),
        _f("neighborhoods", TL),
        _f("paymentTypes", KL),
        _f("imageURLs", KL),
        *_common_dates(),
        _f("sourceURLs", KL),
        _f("descriptions", NEST, _f("dateSeen", D), _f("value", T)),
        _f(
            "reviews",
            NEST,
            _f("date", D),
            _f("dateSeen", D),
            _f("rating", N),
            _f("text", T),
            _f("title", T),
            _f("username", K),
        ),
        _f("hours", NEST, _f("day", K), _f("hour", K)),
        _f("features", NEST, _f("key", K), _f("value", TL)),
    ),
)

PRODUCTS = DataTypeSchema(
    "products",
    "product",
    (
        *_common_head(),
        _f("name", T),
        _f("brand", K),
        _f("manufacturer", K),
        _f("manufacturerNumber", K),
        _f("categories", TL),
        _f("primaryCategories", TL),
        _f("upc", KL),
        _f("ean", KL),
        _f("asins", KL),
        _f("imageURLs", KL),
        *_common_dates(),
        _f("sourceURLs", KL),
        _f(
            "prices",
            NEST,
            _f("amountMin", N),
            _f("amountMax", N),
            _f("currency", K),
            _f("isSale", B),
            _f("merchant", K),
            _f("condition", K),
            _f("dateSeen", D),
        ),
        _f("reviews", NEST, _f("date", D), _f("rating", N), _f("text", T), _f("title", T), _f("username", K)),
    ),
)

PROPERTIES = DataTypeSchema(
    "properties",
    "property",
    (
        *_common_head(),
        *_address(),
        _f("latitude", N),
        _f("longitude", N),
        _f("propertyType", K),
        _f("buildingName", T),
        _f("mostRecentStatus", K),
        _f("mostRecentStatusDate", D),
        _f("mostRecentPriceAmount", N),
        _f("mostRecentRentalStatus", K),
        _f("mostRecentRentalStatusDate", D),
        _f("mostRecentRentalPriceAmount", N),
        _f("numBedroom", N),
        _f("numBathroom", N),
        _f("floorSizeValue", N),
        _f("lotSizeValue", N),
        _f("lotSizeUnit", K),
        _f("yearBuilt", N),
        *_common_dates(),
        _f("sourceURLs", KL),
        _f(
            "prices",
            NEST,
            _f("amountMin", N),
            _f("amountMax", N),
            _f("currency", K),
            _f("isSale", B),
            _f("dateSeen", D),
        ),
        _f("statuses", NEST, _f("type", K), _f("date", D)),
        _f("features", NEST, _f("key", K), _f("value", TL)),
    ),
)

PEOPLE = DataTypeSchema(
    "people",
    "people",
    (
        *_common_head(),
        _f("name", T),  # the full name; the loader fills it from firstName/lastName when missing
        _f("firstName", K),
        _f("lastName", K),
        _f("emails", KL),
        _f("phones", KL),
        *_address(),
        _f("jobTitle", T),
        _f("jobFunction", K),
        _f("jobLevel", K),
        _f("businessName", T),
        *_common_dates(),
        _f("sourceURLs", KL),
    ),
)

SCHEMAS: dict[str, DataTypeSchema] = {s.name: s for s in (BUSINESSES, PRODUCTS, PROPERTIES, PEOPLE)}
DATA_TYPES: tuple[str, ...] = tuple(SCHEMAS)


def schema_for(data_type: str) -> DataTypeSchema | None:
    return SCHEMAS.get(data_type)
