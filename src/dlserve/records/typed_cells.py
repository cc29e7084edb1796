"""CSV cells and JSON text rendered from a snapshot's typed columns, inside DuckDB.

The exporter's reference spelling of a cell is the one read from the record's stored JSON
(:mod:`dlserve.downloads.sql_render`); parsing that JSON is most of an export's cost. The typed
columns hold the same values, but not always their spelling (``3.10`` was loaded as the DOUBLE
3.1, an offset date as a UTC timestamp, a missing key and a ``null`` are both NULL). So the loader
renders every record *back to JSON* from its typed columns with :func:`record_json` and stores
whether that text equals the stored record, byte for byte (:data:`EXACT_COLUMN`). For such a
record, every cell rendered here is the very cell the JSON renderer writes; other records keep the
JSON renderer.

The spellings below are the JSON renderer's (DuckDB's JSON writer): strings escaped by
``to_json``, integral numbers without a fraction, other numbers as DuckDB prints a DOUBLE, dates
as ``YYYY-MM-DDTHH:MM:SSZ``. A value they cannot spell the same way (an exponent, a fraction of a
second) renders as a NUL character, which never occurs in stored JSON text, so such a record
simply is not exact.
"""

from __future__ import annotations

from dlserve.records.layout import quote_ident
from dlserve.records.schema import LIST_KINDS, DataTypeSchema, FieldSpec, Kind

EXACT_COLUMN = "_typed_exact"
# Never in stored JSON text (control characters are escaped there): "cannot spell this value".
_UNSPELLABLE = "chr(0)"
# Integral doubles below this print as integers in JSON; above, spellings start to diverge.
_INTEGRAL_LIMIT = "1e15"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def number_text(expr: str) -> str:
    """A DOUBLE as JSON spells it: ``3`` for 3.0, ``29.386763``; exponents are unspellable."""
    text = f"CAST({expr} AS VARCHAR)"
    return (
        f"CASE WHEN {expr} = trunc({expr}) AND abs({expr}) < {_INTEGRAL_LIMIT} "
        f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) "
        f"WHEN contains({text}, 'e') OR contains({text}, 'n') THEN {_UNSPELLABLE} "
        f"ELSE {text} END"
    )


def date_text(expr: str) -> str:
    """A TIMESTAMP as ``2019-03-13T02:32:52Z``."""
    return f"strftime({expr}, '{_DATE_FORMAT}')"


def cell(spec: FieldSpec, expr: str) -> str:
    """VARCHAR SQL of one CSV cell (unquoted; NULL for an empty cell) of a typed value."""
    kind = spec.kind
    if kind is Kind.NUMBER:
        return number_text(expr)
    if kind is Kind.DATE:
        return date_text(expr)
    if kind is Kind.BOOL:
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
    if kind in LIST_KINDS:
        return f"array_to_string({expr}, ',')"
    if kind is Kind.NESTED:
        return nested_json(spec, expr)
    return expr


def value_json(spec: FieldSpec, expr: str) -> str:
    """JSON text of a typed value, spelled as DuckDB's JSON writer spells it; NULL stays NULL."""
    if spec.kind in (Kind.NUMBER, Kind.BOOL, Kind.NESTED):
        return cell(spec, expr)  # the cell is the JSON text
    return f"CAST(to_json({_json_member(spec, expr)}) AS VARCHAR)"


def nested_json(spec: FieldSpec, expr: str) -> str:
    """``[{"child":value,...},...]`` with every child key present (``null`` when NULL)."""
    members = ", ".join(
        f"{quote_ident(child.name)} := {_json_member(child, _member('_el', child))}"
        for child in spec.children
    )
    return f"CAST(to_json(list_transform({expr}, lambda _el: struct_pack({members}))) AS VARCHAR)"


def _json_member(spec: FieldSpec, expr: str) -> str:
    """A value ``to_json`` writes as the JSON writer spells it: strings and string lists as they
    are, dates as their string, numbers and booleans as JSON text."""
    if spec.kind is Kind.DATE:
        return date_text(expr)
    if spec.kind in (Kind.NUMBER, Kind.BOOL):
        return f"CAST({cell(spec, expr)} AS JSON)"
    return expr


def record_json(schema: DataTypeSchema) -> str:
    """The record as compact JSON from its typed columns: schema fields in schema order, NULL
    fields left out. Equal to the stored ``_record`` exactly when every cell renders the same."""
    members = ", ".join(
        f"'{_json_key(spec.name)}:' || {value_json(spec, quote_ident(spec.name))}" for spec in schema.fields
    )
    return f"'{{' || concat_ws(',', {members}) || '}}'"


def exact_select(schema: DataTypeSchema) -> str:
    """SQL of the :data:`EXACT_COLUMN` value over a row holding ``_record`` and the typed columns."""
    return f"coalesce(CAST(_record AS VARCHAR) = {record_json(schema)}, false)"


def _member(source: str, spec: FieldSpec) -> str:
    return f"{source}.{quote_ident(spec.name)}"


def _json_key(name: str) -> str:
    """``"name"`` as a SQL string literal body (schema names need no JSON escaping)."""
    return '"' + name.replace("'", "''") + '"'


__all__ = ["EXACT_COLUMN", "cell", "exact_select", "nested_json", "record_json", "value_json"]
