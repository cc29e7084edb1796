"""Turning stored records into what a view returns: JSON objects, or CSV rows with dotted columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from dlserve.records.field_lists import check_for_csv
from dlserve.records.schema import DataTypeSchema, FieldSpec, Kind
from dlserve.records.views import View

Record = dict[str, Any]


def project(view: View, record: Mapping[str, Any]) -> Record:
    """The record as the view returns it in JSON (flattening only changes CSV).

    A field list keeps its order, and a nested field listed by sub-fields keeps only those in each
    element (``reviews.rating`` → ``{"reviews": [{"rating": 5}, ...]}``).
    """
    if view.include is None:
        return {k: v for k, v in record.items() if k not in view.exclude}
    projected: Record = {}
    for name in view.include:
        if name not in record or name in view.exclude:
            continue
        value = record[name]
        subs = view.sub_fields_of(name)
        if subs is not None and isinstance(value, list):
            value = [_keep(element, subs) for element in value]
        projected[name] = value
    return projected


def _keep(element: Any, names: tuple[str, ...]) -> Any:
    if not isinstance(element, Mapping):
        return element
    return {name: element[name] for name in names if name in element}


def json_fields(view: View, schema: DataTypeSchema) -> list[FieldSpec]:
    """The top-level fields a JSON-shaped output (JSON, Parquet) of the view holds, in its order:
    schema order for named views, the list's order for field lists, where a nested field listed by
    sub-fields is narrowed to them (a spec whose ``children`` are the listed ones, in list order).
    What :func:`project` does to a record, described for a renderer that builds columns."""
    if view.paths is None:
        return _selected_fields(view, schema)
    fields: list[FieldSpec] = []
    for name in view.include or ():
        spec = schema.field(name)
        assert spec is not None, f"{name} was validated against the schema"
        subs = view.sub_fields_of(name)
        if subs is not None:
            spec = replace(spec, children=tuple(c for s in subs for c in spec.children if c.name == s))
        fields.append(spec)
    return fields


@dataclass(frozen=True)
class CsvColumn:
    """One CSV column: a top-level field of the record, or a sub-field of the flattened list's
    element (``element``), headed ``name``."""

    name: str
    spec: FieldSpec
    element: bool = False


@dataclass(frozen=True)
class CsvLayout:
    fields: list[FieldSpec]  # the top-level fields read (the flattened list's spec among them)
    flattened: FieldSpec | None  # the nested field a row is made per element of
    columns: list[CsvColumn]


def csv_layout(view: View, schema: DataTypeSchema) -> CsvLayout:
    """The columns of the view's CSV, the one description every CSV renderer (Python, DuckDB SQL,
    DuckDB's writer) follows: schema order for named views, the list's order for field lists."""
    if view.paths is None:
        fields = _selected_fields(view, schema)
        flattened = next((f for f in fields if f.name == view.flatten), None)
        columns: list[CsvColumn] = []
        for spec in fields:
            if spec is flattened:
                columns.extend(CsvColumn(f"{spec.name}.{c.name}", c, element=True) for c in spec.children)
            else:
                columns.append(CsvColumn(spec.name, spec))
        return CsvLayout(fields, flattened, columns)
    check_for_csv(view)  # one flattened list per table (prepare refuses it with a 400 first)
    fields = []
    columns = []
    for path in view.paths:
        head, _, child = path.partition(".")
        top = schema.field(head)
        assert top is not None, f"{path} was validated against the schema"
        if top not in fields:
            fields.append(top)
        if not child:
            columns.append(CsvColumn(path, top))
        else:
            sub = top.child(child)
            assert sub is not None, f"{path} was validated against the schema"
            columns.append(CsvColumn(path, sub, element=True))
    flattened = next((f for f in fields if f.name == view.flatten), None)
    return CsvLayout(fields, flattened, columns)


def csv_columns(view: View, schema: DataTypeSchema) -> list[str]:
    """Header of a CSV file: the view's fields, the flattened list's as ``parent.child`` columns."""
    return [column.name for column in csv_layout(view, schema).columns]


def csv_rows(view: View, schema: DataTypeSchema, record: Mapping[str, Any]) -> Iterator[list[str]]:
    """One row, or one row per element of the flattened list (the parent's cells repeated)."""
    layout = csv_layout(view, schema)
    if layout.flattened is None:
        yield [_field_cell(c.spec, record.get(c.spec.name)) for c in layout.columns]
        return
    elements = record.get(layout.flattened.name)
    if not isinstance(elements, list) or not elements:
        elements = [{}]  # a record without elements still gets its row
    for element in elements:
        item = element if isinstance(element, Mapping) else {}
        yield [_field_cell(c.spec, (item if c.element else record).get(c.spec.name)) for c in layout.columns]


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
