"""Parquet parts written by DuckDB's own Parquet writer (``COPY ... TO ... (FORMAT parquet)``).

A Parquet file holds the records a JSON Lines download of the same query holds, as typed columns:
one column per field the view selects (schema order; a field list's own order), with the value
types of the record's JSON — strings (keyword, text and date fields: dates keep the spelling they
were loaded with), DOUBLE numbers, BOOLEANs, lists of strings, and nested lists as lists of
structs (never JSON text).
A JSON ``null`` and a missing key are both a NULL cell; fields outside the schema are left out,
as in CSV. Views choose the columns; a flat view (``*_flat_reviews``) flattens only CSV, so in
Parquet, as in JSON, the nested list stays nested.

Two SELECTs give the same rows (a test holds them to it):

- :func:`typed_select` reads the snapshot's typed columns, spelling dates as the exact records
  spell them: no JSON is parsed, as fast as DuckDB copying the columns. Used when every record of
  the part is *exact* (:mod:`dlserve.records.typed_cells`);
- :func:`json_select` parses each record's stored JSON with one ``json_transform``: any record,
  about half the speed.

Row groups: DuckDB closes a row group once it holds at least ``ROW_GROUP_SIZE`` rows, adding whole
vectors of up to 2,048 rows, so the target is set one vector below the cap.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from dlserve.records import typed_cells
from dlserve.records.layout import quote_ident
from dlserve.records.render import json_fields
from dlserve.records.schema import LIST_KINDS, DataTypeSchema, FieldSpec, Kind
from dlserve.records.views import View

MAX_ROW_GROUP_ROWS = 100_000
_DUCKDB_VECTOR_ROWS = 2_048
ROW_GROUP_SIZE = MAX_ROW_GROUP_ROWS - _DUCKDB_VECTOR_ROWS + 1
COMPRESSION = "zstd"
COPY_OPTIONS = f"FORMAT parquet, COMPRESSION {COMPRESSION}, ROW_GROUP_SIZE {ROW_GROUP_SIZE}"
_IN_PLACE = "USE_TMP_FILE false"  # the part writer's temp file is already a private scratch file


def parquet_fields(view: View, schema: DataTypeSchema) -> list[FieldSpec]:
    """The columns of a Parquet file: the fields a JSON download of the view holds — a named view's
    schema fields in schema order, a field list's in its order, a nested field listed by sub-fields
    narrowed to them (:func:`dlserve.records.render.json_fields`). Nothing is flattened."""
    return json_fields(view, schema)


def _json_type(spec: FieldSpec) -> object:
    """How ``json_transform`` reads a field: the column type of its JSON value."""
    if spec.kind in LIST_KINDS:
        return ["VARCHAR"]
    if spec.kind is Kind.NESTED:
        return [{child.name: _json_type(child) for child in spec.children}]
    if spec.kind is Kind.NUMBER:
        return "DOUBLE"
    if spec.kind is Kind.BOOL:
        return "BOOLEAN"
    return "VARCHAR"  # keyword, text and date: the JSON string as it is


def json_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """SELECT of the Parquet columns over ``records`` (columns ``_seq, _record``), from the JSON."""
    structure = {f.name: _json_type(f) for f in parquet_fields(view, schema)}
    body = json.dumps(structure).replace("'", "''")
    # unnest of a struct: one column per member, named and ordered as the structure
    return f"SELECT unnest(json_transform(_record, '{body}')) FROM {records}"


def _typed_value(spec: FieldSpec, expr: str, stored: FieldSpec | None = None) -> str:
    """A typed column (or struct member) as the Parquet column holds it: dates as their JSON text;
    a nested list rebuilt when it holds dates or keeps fewer sub-fields than ``stored`` has."""
    if spec.kind is Kind.DATE:
        return typed_cells.date_text(expr)
    narrowed = stored is not None and stored.children != spec.children
    if spec.kind is Kind.NESTED and (narrowed or any(c.kind is Kind.DATE for c in spec.children)):
        members = ", ".join(
            f"{quote_ident(child.name)} := {_typed_value(child, '_el.' + quote_ident(child.name))}"
            for child in spec.children
        )
        return f"list_transform({expr}, lambda _el: struct_pack({members}))"
    return expr


def typed_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """:func:`json_select` from the typed columns over ``records`` (every column): the same rows
    for exact records, without parsing any JSON."""
    columns = ", ".join(
        f"{_typed_value(f, quote_ident(f.name), schema.field(f.name))} AS {quote_ident(f.name)}"
        for f in parquet_fields(view, schema)
    )
    return f"SELECT {columns} FROM {records}"


def copy_parquet(cursor: duckdb.DuckDBPyConnection, select: str, params: list[object], target: Path) -> int:
    """Write ``select`` as one Parquet file at ``target``; the number of rows written."""
    path = str(target).replace("'", "''")
    row = cursor.execute(f"COPY ({select}) TO '{path}' ({COPY_OPTIONS}, {_IN_PLACE})", params).fetchone()
    return int(row[0]) if row else 0


__all__ = [
    "COPY_OPTIONS",
    "MAX_ROW_GROUP_ROWS",
    "copy_parquet",
    "json_select",
    "parquet_fields",
    "typed_select",
]
