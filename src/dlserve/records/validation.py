"""Find the first line of a JSON Lines file that does not fit a schema, and say why.

The loader lets DuckDB read and convert records (fast) and only comes here when DuckDB refused
one, because DuckDB's line numbers are approximate. The rules mirror what DuckDB's JSON reader
accepts for each kind of field.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import IO, Any, cast

import orjson

from dlserve.records.schema import DataTypeSchema, FieldSpec, Kind

_DATE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)?$"
)


def find_bad_line(path: Path, schema: DataTypeSchema) -> tuple[int, str] | None:
    """(line number, problem) of the first record that is not valid JSON or does not fit."""
    with open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return line_no, f"invalid JSON: {exc}"
            problem = record_problem(record, schema)
            if problem:
                return line_no, problem
    return None


def record_problem(record: object, schema: DataTypeSchema) -> str | None:
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    for spec in schema.fields:
        value = record.get(spec.name)
        if value is not None:
            problem = _value_problem(spec, spec.name, value)
            if problem:
                return problem
    return None


def _value_problem(spec: FieldSpec, path: str, value: Any) -> str | None:
    kind = spec.kind
    if kind is Kind.NUMBER and not _is_number(value):
        return f"field '{path}': {_show(value)} is not a valid number"
    if kind is Kind.BOOL and not (isinstance(value, bool) or str(value).lower() in ("true", "false")):
        return f"field '{path}': {_show(value)} is not true or false"
    if kind is Kind.DATE and not (isinstance(value, str) and _DATE.match(value.strip())):
        return f"field '{path}': {_show(value)} is not a valid date (use YYYY-MM-DD or an ISO timestamp)"
    if kind in (Kind.KEYWORD, Kind.TEXT) and isinstance(value, (dict, list)):
        return f"field '{path}': expected a string, got {_show(value)}"
    if kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST) and (
        not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value)
    ):
        return f"field '{path}': expected a list of strings, got {_show(value)}"
    if kind is Kind.NESTED:
        if not isinstance(value, list) or not all(isinstance(v, dict) or v is None for v in value):
            return f"field '{path}': expected a list of objects, got {_show(value)}"
        for element in value:
            for child in spec.children:
                inner = (element or {}).get(child.name)
                if inner is not None:
                    problem = _value_problem(child, f"{path}.{child.name}", inner)
                    if problem:
                        return problem
    return None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def open_binary(path: Path) -> IO[bytes]:
    """A file's bytes, gunzipped when its name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")
