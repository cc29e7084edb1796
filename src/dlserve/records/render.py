"""Turning stored records into what a view returns: JSON objects, or CSV rows with dotted columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from dlserve.records.schema import DataTypeSchema, FieldSpec, Kind
from dlserve.records.views import View

Record = dict[str, Any]


def project(view: View, record: Mapping[str, Any]) -> Record:
    """The record as the view returns it in JSON (flattening only changes CSV)."""
    if view.include is None:
        return {k: v for k, v in record.items() if k not in view.exclude}
    return {k: record[k] for k in view.include if k in record and k not in view.exclude}


def csv_columns(view: View, schema: DataTypeSchema) -> list[str]:
    """Header of a CSV file: the view's schema fields, the flattened list as ``parent.child`` columns."""
    columns: list[str] = []
    for spec in _selected_fields(view, schema):
        if spec.name == view.flatten:
            columns.extend(f"{spec.name}.{child.name}" for child in spec.children)
        else:
            columns.append(spec.name)
    return columns


def csv_rows(view: View, schema: DataTypeSchema, record: Mapping[str, Any]) -> Iterator[list[str]]:
    """One row, or one row per element of the flattened list (the parent's cells repeated)."""
    fields = _selected_fields(view, schema)
    if view.flatten is None or not any(f.name == view.flatten for f in fields):
        yield [_field_cell(f, record.get(f.name)) for f in fields]
        return
    elements = record.get(view.flatten)
    if not isinstance(elements, list) or not elements:
        elements = [{}]  # a record without elements still gets its row
    for element in elements:
        row: list[str] = []
        for spec in fields:
            if spec.name == view.flatten:
                item = element if isinstance(element, Mapping) else {}
                row.extend(_field_cell(child, item.get(child.name)) for child in spec.children)
            else:
                row.append(_field_cell(spec, record.get(spec.name)))
        yield row


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: strings as they are, string lists comma-joined, anything else as its JSON.

    Numbers keep their JSON spelling (``3.0`` stays ``3.0``) so that the SQL renderer of the bulk
    exporter, which reads the stored JSON text, writes the very same cells.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return orjson.dumps(value).decode()


def _field_cell(spec: FieldSpec, value: Any) -> str:
    """A nested list stays JSON even when empty (``[]``); other fields follow :func:`csv_cell`."""
    if spec.kind is Kind.NESTED and value is not None:
        return orjson.dumps(value).decode()
    return csv_cell(value)


def _selected_fields(view: View, schema: DataTypeSchema) -> list[FieldSpec]:
    return [f for f in schema.fields if f.kind is not Kind.GEO and view.selects(f.name)]
