"""Render export output lines inside DuckDB, so a bulk export runs at the speed of DuckDB itself.

The cells are read from the stored JSON text of each record (``_record``), not from the typed
columns, so a CSV cell is spelled exactly as the loaded value was — the same rule as
:func:`dlserve.records.render.csv_cell`, which renders previews in Python; a test holds the two
renderers to the same output.
"""

from __future__ import annotations

import json

from dlserve.catalog.formats import csv_line
from dlserve.records import typed_cells
from dlserve.records.layout import quote_ident
from dlserve.records.render import csv_columns, csv_layout
from dlserve.records.schema import LIST_KINDS, DataTypeSchema, FieldSpec, Kind
from dlserve.records.views import View


def csv_quote(expr: str) -> str:
    """RFC 4180 minimal quoting of a VARCHAR expression; NULL is an empty cell."""
    return (
        f"CASE WHEN {expr} IS NULL THEN '' "
        f"WHEN regexp_matches({expr}, '[\",\\r\\n]') THEN '\"' || replace({expr}, '\"', '\"\"') || '\"' "
        f"ELSE {expr} END"
    )


def _cell_type(spec: FieldSpec, *, flattened: bool = False) -> object:
    """How ``json_transform`` should read a field for CSV: scalars as their JSON text, string lists
    as lists (joined later), nested lists as JSON text, or element by element when flattened."""
    if spec.kind in LIST_KINDS:
        return ["VARCHAR"]
    if spec.kind is Kind.NESTED:
        if flattened:
            return [{child.name: _cell_type(child) for child in spec.children}]
        return "JSON"
    return "VARCHAR"


def _cell(source: str, spec: FieldSpec) -> str:
    """VARCHAR expression of one field of the transformed struct ``source``."""
    value = f"{source}.{quote_ident(spec.name)}"
    if spec.kind in LIST_KINDS:
        return f"array_to_string({value}, ',')"
    if spec.kind is Kind.NESTED:
        return f"CAST({value} AS VARCHAR)"
    return value


def csv_header(view: View, schema: DataTypeSchema) -> str:
    """The header row of every CSV file, quoted like the rows."""
    return csv_line(csv_columns(view, schema))


def csv_line_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """SELECT ``_seq, line`` over ``records`` (columns ``_seq``, ``_record``): one CSV line per row,
    or per element of the view's flattened list (a record without elements keeps one row).

    Each record's JSON is parsed once, by one ``json_transform`` that keeps scalars as their JSON
    text: reading thirty fields with thirty ``->>`` would parse the record thirty times.
    """
    layout = csv_layout(view, schema)
    flattened = layout.flattened
    structure = {f.name: _cell_type(f, flattened=f is flattened) for f in layout.fields}
    cells = [csv_quote(_cell("e" if c.element else "r", c.spec)) for c in layout.columns]
    line = " || ',' || ".join(f"({cell})" for cell in cells)
    parsed = f"SELECT _seq, json_transform(_record, '{_sql_json(structure)}') AS r FROM {records}"
    if flattened is None:
        return f"SELECT _seq, {line} AS line FROM ({parsed})"
    elements = f"r.{quote_ident(flattened.name)}"
    exploded = (
        f"SELECT _seq, r, unnest(CASE WHEN len({elements}) > 0 THEN {elements} ELSE [NULL] END) AS e "
        f"FROM ({parsed})"
    )
    return f"SELECT _seq, {line} AS line FROM ({exploded})"


def _sql_json(value: object) -> str:
    """A JSON document built from our schema's names, as the body of a SQL string literal."""
    return json.dumps(value).replace("'", "''")


def json_line_select(view: View, records: str) -> str | None:
    """SELECT ``_seq, line`` for JSON Lines: the record as :func:`~dlserve.records.render.project`
    returns it (the same JSON values; numbers may be spelled as DuckDB writes them, as with the
    ``*_no_*`` views), or None when the exporter projects in Python: a field list naming sub-fields
    (narrowing each element with DuckDB's list lambdas measured no faster than Python's orjson)."""
    if view.sub_fields:
        return None
    if view.include is not None:
        return _listed_fields_select(view, records)
    if not view.exclude:
        return f"SELECT _seq, _record AS line FROM {records}"  # stored compact already: no parsing
    removed = _sql_json({name: None for name in view.exclude})
    return f"SELECT _seq, CAST(json_merge_patch(_record, '{removed}') AS VARCHAR) AS line FROM {records}"


def _listed_fields_select(view: View, records: str) -> str:
    """A view of listed fields (``*_basic``, field lists without sub-fields): one JSON object of
    those fields in the view's order, built from one parse of each record (``json_extract`` with a
    list of paths), a field the record lacks left out — 3-4x Python's speed."""
    names = [name for name in view.include or () if name not in view.exclude]
    paths = "[" + ", ".join(sql_literal(_json_path(name)) for name in names) + "]"
    members = []
    for i, name in enumerate(names, start=1):
        key = sql_literal(json.dumps(name) + ":")
        members.append(f"CASE WHEN v[{i}] IS NOT NULL THEN {key} || CAST(v[{i}] AS VARCHAR) END")
    line = "'{' || concat_ws(',', " + ", ".join(members) + ") || '}'"
    return (
        f"SELECT _seq, {line} AS line FROM (SELECT _seq, json_extract(_record, {paths}) AS v FROM {records})"
    )


def _json_path(name: str) -> str:
    return "$." + json.dumps(name)  # a quoted key: schema names, never a path of their own


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def records_between(where_sql: str, *, ordered: bool = False) -> str:
    """The records of one part: the query's matches with ``after < _seq <= through``, in load order.

    No ORDER BY: parts of a snapshot are written sorted by ``_seq`` and DuckDB preserves insertion
    order, so rows stream in ``_seq`` order without a sort, and row-group statistics on ``_seq``
    skip everything outside the part. Parameters: snapshot location, the query's own parameters,
    ``after``, ``through``.

    ``ordered``: sorted by ``_seq`` explicitly, for conditions with a join (a delta download's),
    whose output order DuckDB does not keep. The sort holds one part's records (spilling to disk
    past the memory limit); the streaming operators above it keep its order.
    """
    order = " ORDER BY _seq" if ordered else ""
    return (
        f"(SELECT _seq, _record FROM read_parquet(?) WHERE ({where_sql}) AND _seq > ? AND _seq <= ?{order})"
    )


def _quick_quote(expr: str) -> str:
    """:func:`csv_quote`, the same output, with plain substring tests instead of a regex."""
    special = " OR ".join(f"contains({expr}, {char})" for char in ("'\"'", "','", "chr(13)", "chr(10)"))
    return (
        f"CASE WHEN {expr} IS NULL THEN '' "
        f"WHEN {special} THEN '\"' || replace({expr}, '\"', '\"\"') || '\"' "
        f"ELSE {expr} END"
    )


def typed_records_between(where_sql: str, *, ordered: bool = False) -> str:
    """:func:`records_between` with every column, for rendering from the typed columns (DuckDB
    reads only the columns the rendering uses). Same parameters."""
    order = " ORDER BY _seq" if ordered else ""
    return f"(SELECT * FROM read_parquet(?) WHERE ({where_sql}) AND _seq > ? AND _seq <= ?{order})"


def _typed_source(name: str, element: bool) -> str:
    return f"e.{quote_ident(name)}" if element else quote_ident(name)


def typed_csv_line_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """:func:`csv_line_select` rendered from the typed columns, each line ending in CRLF: the same
    bytes for records whose typed columns are exact (:mod:`dlserve.records.typed_cells`), without
    parsing any JSON. ``records`` must hold only such records."""
    layout = csv_layout(view, schema)
    flattened = layout.flattened
    cells = [
        _quick_quote(typed_cells.cell(c.spec, _typed_source(c.spec.name, c.element))) for c in layout.columns
    ]
    line = " || ',' || ".join(f"({cell})" for cell in cells) + " || '\r\n'"
    if flattened is None:
        return f"SELECT _seq, {line} AS line FROM {records}"
    elements = quote_ident(flattened.name)
    exploded = (
        f"SELECT *, unnest(CASE WHEN len({elements}) > 0 THEN {elements} ELSE [NULL] END) AS e FROM {records}"
    )
    return f"SELECT _seq, {line} AS line FROM ({exploded})"


__all__ = [
    "csv_header",
    "csv_line_select",
    "json_line_select",
    "records_between",
    "sql_literal",
    "typed_csv_line_select",
    "typed_records_between",
]
