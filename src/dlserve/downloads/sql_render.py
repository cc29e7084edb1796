"""Render export output lines inside DuckDB, so a bulk export runs at the speed of DuckDB itself.

The cells are read from the stored JSON text of each record (``_record``), not from the typed
columns, so a CSV cell is spelled exactly as the loaded value was — the same rule as
:func:`dlserve.records.render.csv_cell`, which renders previews in Python; a test holds the two
renderers to the same output.
"""

from __future__ import annotations

import json

from dlserve.records.layout import quote_ident
from dlserve.records.render import csv_columns
from dlserve.records.schema import LIST_KINDS, DataTypeSchema, FieldSpec, Kind
from dlserve.records.views import View


def json_path(name: str) -> str:
    """A JSON path literal for one key of our schema (names are ours, never user text)."""
    return "'$." + json.dumps(name).replace("'", "''") + "'"


def csv_quote(expr: str) -> str:
    """RFC 4180 minimal quoting of a VARCHAR expression; NULL is an empty cell."""
    return (
        f"CASE WHEN {expr} IS NULL THEN '' "
        f"WHEN regexp_matches({expr}, '[\",\\r\\n]') THEN '\"' || replace({expr}, '\"', '\"\"') || '\"' "
        f"ELSE {expr} END"
    )


def _cell(source: str, spec: FieldSpec) -> str:
    """VARCHAR expression of one field read from the JSON value ``source``."""
    path = json_path(spec.name)
    if spec.kind in LIST_KINDS:
        value = f"{source}->{path}"
        return (
            f"CASE WHEN json_type({value}) = 'ARRAY' "
            f"THEN array_to_string(from_json({value}, '[\"VARCHAR\"]'), ',') ELSE {source}->>{path} END"
        )
    if spec.kind is Kind.NESTED:
        return f"CAST({source}->{path} AS VARCHAR)"
    return f"{source}->>{path}"


def csv_header(view: View, schema: DataTypeSchema) -> str:
    from dlserve.catalog.formats import csv_line

    return csv_line(csv_columns(view, schema))


def csv_line_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """SELECT ``_seq, line`` over ``records`` (columns ``_seq``, ``j`` JSON): one CSV line per row,
    or per element of the view's flattened list (a record without elements keeps one row)."""
    selected = [f for f in schema.fields if f.kind is not Kind.GEO and view.selects(f.name)]
    flattened = next((f for f in selected if f.name == view.flatten), None)
    cells: list[str] = []
    for spec in selected:
        if spec is flattened:
            cells.extend(csv_quote(_cell("e", child)) for child in spec.children)
        else:
            cells.append(csv_quote(_cell("j", spec)))
    line = " || ',' || ".join(f"({cell})" for cell in cells)
    if flattened is None:
        return f"SELECT _seq, {line} AS line FROM {records}"
    elements = f"from_json(j->{json_path(flattened.name)}, '[\"JSON\"]')"
    exploded = (
        f"SELECT _seq, j, unnest(CASE WHEN len({elements}) > 0 THEN {elements} ELSE [NULL::JSON] END) AS e "
        f"FROM {records}"
    )
    return f"SELECT _seq, {line} AS line FROM ({exploded})"


def json_line_select(view: View, records: str) -> str | None:
    """SELECT ``_seq, line`` for JSON Lines, or None when the view needs Python (a field list)."""
    if view.include is not None:
        return None
    if not view.exclude:
        return f"SELECT _seq, CAST(j AS VARCHAR) AS line FROM {records}"
    removed = json.dumps({name: None for name in view.exclude}).replace("'", "''")
    return f"SELECT _seq, CAST(json_merge_patch(j, '{removed}') AS VARCHAR) AS line FROM {records}"


def matching_records(where_sql: str, limit: bool) -> str:
    """The records of one part: the query's matches after a checkpoint, in load order.

    No ORDER BY: the snapshot file is written sorted by ``_seq`` and DuckDB preserves insertion
    order, so rows stream in ``_seq`` order without a sort; ``_seq > ?`` prunes whole row groups.
    Parameters: snapshot location, the query's own parameters, the checkpoint, then the limit.
    """
    limit_sql = " LIMIT ?" if limit else ""
    return (
        f"(SELECT _seq, _record::JSON AS j FROM read_parquet(?) WHERE ({where_sql}) AND _seq > ?{limit_sql})"
    )


__all__ = ["csv_header", "csv_line_select", "json_line_select", "matching_records", "quote_ident"]
