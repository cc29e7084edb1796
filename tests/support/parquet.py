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
from dlserve.records.schema import SCHEMAS, FieldSpec, Kind
from dlserve.records.views import View


def without_nulls(value: Any) -> Any:
    """Objects lose their null members, at any depth; lists keep their null elements."""
    if isinstance(value, Mapping):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _element(spec: FieldSpec, element: Any) -> Any:
    if not isinstance(element, Mapping):
        return element
    return {child.name: element.get(child.name) for child in spec.children}


def as_parquet_row(view: View, record: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON record as its Parquet row must read back, nulls left out."""
    row: dict[str, Any] = {}
    for spec in parquet_fields(view, SCHEMAS[view.data_type]):
        value = record.get(spec.name)
        if spec.kind is Kind.NESTED and isinstance(value, list):
            value = [_element(spec, element) for element in value]
        row[spec.name] = value
    return without_nulls(row)


def parquet_rows(path: Path, batch_rows: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every row of a Parquet file read with ``pyarrow.parquet.read_table``, nulls left out,
    converted a batch at a time (a whole big file as Python objects would take gigabytes)."""
    table = pq.read_table(path)
    for batch in table.to_batches(max_chunksize=batch_rows):
        for row in batch.to_pylist():
            yield without_nulls(row)


def json_lines(lines: Sequence[bytes] | Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield orjson.loads(line)
