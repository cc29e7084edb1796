"""What a Parquet result file must hold, said in terms of the JSON download's records.

A Parquet row is the JSON record restricted to the columns (the view's schema fields), with a
JSON ``null`` and a missing key alike: columns cannot tell them apart. Nested elements keep their
declared sub-fields. Both sides are brought to that shape, then compared as Python values
(``3 == 3.0``: JSON numbers are DOUBLE columns).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from dlserve.downloads.parquet import parquet_fields
from dlserve.records.schema import SCHEMAS, Kind
from dlserve.records.views import View


def without_nulls(value: Any) -> Any:
    """Objects lose their null members, at any depth; lists keep their null elements."""
    if isinstance(value, Mapping):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _columns(view: View) -> list[tuple[str, tuple[str, ...] | None]]:
    """(column, the sub-fields of a nested column or None) for a view's Parquet columns."""
    return [
        (spec.name, tuple(c.name for c in spec.children) if spec.kind is Kind.NESTED else None)
        for spec in parquet_fields(view, SCHEMAS[view.data_type])
    ]


def _kept(element: Any, children: tuple[str, ...]) -> Any:
    if not isinstance(element, Mapping):
        return element
    return {name: element[name] for name in children if element.get(name) is not None}


def as_parquet_row(view: View, record: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON record as its Parquet row must read back, nulls left out."""
    return next(rows_as_parquet_rows(view, iter([record])))


def rows_as_parquet_rows(view: View, records: Iterator[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """:func:`as_parquet_row` for many records of one view, its columns worked out once (written
    for speed: the big test brings 250,000 records through it)."""
    columns = _columns(view)
    for record in records:
        row: dict[str, Any] = {}
        for name, children in columns:
            value = record.get(name)
            if value is None:
                continue
            if children is not None and isinstance(value, list):
                value = [_kept(element, children) for element in value]
            row[name] = value
        yield row


def _parquet_row_without_nulls(row: dict[str, Any]) -> dict[str, Any]:
    """:func:`without_nulls` for a row read back, where only lists of structs nest objects."""
    out = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, list) and any(isinstance(element, dict) for element in value):
            value = [
                {k: v for k, v in element.items() if v is not None} if element is not None else None
                for element in value
            ]
        out[name] = value
    return out


def parquet_rows(path: Path, batch_rows: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every row of a Parquet file read with ``pyarrow.parquet.read_table``, nulls left out,
    converted a batch at a time (a whole big file as Python objects would take gigabytes)."""
    table = pq.read_table(path)
    for batch in table.to_batches(max_chunksize=batch_rows):
        for row in batch.to_pylist():
            yield _parquet_row_without_nulls(row)


def json_lines(lines: Sequence[bytes] | Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield orjson.loads(line)
