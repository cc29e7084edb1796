"""How a data type's schema maps onto the fields of its Tantivy index, kind by kind.

The index answers exactly what the DuckDB path answers because every indexed value is computed by
DuckDB from the snapshot's own columns (see :mod:`build`), never re-derived in Python:

- text (text, text lists, nested text): the snapshot's token column (``_tok_*``), one value per
  element, split on spaces by Tantivy's ``whitespace`` tokenizer. Elements are separate values
  of a multi-valued field, so Tantivy leaves a position gap between them and a phrase never
  spans two elements, as ``contains(' a b ')`` on the token column never does;
- keyword: ``lower(value)`` of every element, one raw term each (the empty string included);
- number: every element as f64, with ``-0.0`` stored as ``0.0`` (SQL's ``=`` equates them);
- date: every element as microseconds since the epoch (i64): exact to the snapshot's precision;
- bool: every element;
- ``field:*``: the list of paths for which the compiler's own ``Exists`` SQL is true;
- geo: the grid cells of the coordinates, a tenth and a hundredth of a degree (``GEOCELL``,
  ``FINE_GEOCELL``), for the circles' candidates (see :mod:`geo`);
- ``_seq`` (fast, the one order), ``_id`` (the exact id for lookups) and ``_record`` (stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tantivy

from dlserve.records.schema import (
    ALL_TEXT_COLUMN,
    TEXTUAL_KINDS,
    DataTypeSchema,
    Kind,
    ResolvedField,
    token_column,
)

SEQ = "_seq"
ID = "_id"
RECORD = "_record"
PRESENT = "_present"
GEOCELL = "_geocell"  # "floor(latitude * 10):floor(longitude * 10)", or ODD_CELL
CELLS_PER_DEGREE = 10
# The same grid a hundred times finer (a hundredth of a degree), for the edges of circles; indexes
# built before it have no such field (see :mod:`geo`).
# "floor(latitude * 100):floor(longitude * 100)", kept inside the coarse cell, or ODD_CELL
FINE_GEOCELL = "_geocell_fine"
FINE_CELLS_PER_DEGREE = 100
# The grids a new index holds: (field, cells per degree), coarse to fine, each nested in the last.
GEO_GRIDS = ((GEOCELL, CELLS_PER_DEGREE), (FINE_GEOCELL, FINE_CELLS_PER_DEGREE))
ODD_CELL = "odd"  # coordinates outside -90..90 / -180..180, NaN, or one of the two missing
WHITESPACE = "whitespace"  # built into Tantivy: splits on ASCII whitespace only
STORED_ONLY = "dlserve_stored_only"  # registered here: a stored text field that indexes nothing


@dataclass(frozen=True)
class IndexedField:
    """One Tantivy field holding the values of one query path."""

    name: str  # the Tantivy field name
    path: str  # the query path (``reviews.rating``), or ``_all`` for the bare-term field
    kind: Kind


def value_field_name(path: str, kind: Kind) -> str:
    """The Tantivy field of a query path; text kinds reuse the snapshot's token column names."""
    if kind in TEXTUAL_KINDS:
        return token_column(path)
    prefix = {
        Kind.KEYWORD: "kw",
        Kind.KEYWORD_LIST: "kw",
        Kind.NUMBER: "num",
        Kind.DATE: "dt",
        Kind.BOOL: "b",
    }
    return f"{prefix[kind]}_{path.replace('.', '__')}"


def field_for(resolved: ResolvedField) -> str:
    return value_field_name(resolved.path, resolved.kind)


def indexed_fields(schema: DataTypeSchema) -> list[IndexedField]:
    """Every value field of the index: top-level fields, nested sub-fields, and the bare-term field."""
    fields: list[IndexedField] = []
    for top in schema.fields:
        if top.kind is Kind.NESTED:
            for sub in top.children:
                path = f"{top.name}.{sub.name}"
                fields.append(IndexedField(value_field_name(path, sub.kind), path, sub.kind))
        else:
            fields.append(IndexedField(value_field_name(top.name, top.kind), top.name, top.kind))
    fields.append(IndexedField(ALL_TEXT_COLUMN, "_all", Kind.TEXT))
    return fields


def exists_paths(schema: DataTypeSchema) -> list[ResolvedField]:
    """Every path ``field:*`` accepts: fields, nested lists, their sub-fields, and geoLocation."""
    paths = []
    for top in schema.fields:
        paths.append(top.name)
        paths.extend(f"{top.name}.{sub.name}" for sub in top.children)
    if schema.has_geo:
        paths.append("geoLocation")
    resolved = [schema.resolve(path) for path in paths]
    return [field for field in resolved if field is not None]


def tantivy_schema(schema: DataTypeSchema) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field(SEQ, indexed=True, fast=True)
    builder.add_text_field(ID, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(RECORD, stored=True, tokenizer_name=STORED_ONLY, index_option="basic")
    builder.add_text_field(PRESENT, tokenizer_name="raw", index_option="basic")
    if schema.has_geo:
        for grid, _ in GEO_GRIDS:
            builder.add_text_field(grid, tokenizer_name="raw", index_option="basic")
    for field in indexed_fields(schema):
        if field.kind in TEXTUAL_KINDS:
            builder.add_text_field(field.name, tokenizer_name=WHITESPACE, index_option="position")
        elif field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
            builder.add_text_field(field.name, tokenizer_name="raw", index_option="basic")
        elif field.kind is Kind.NUMBER:
            builder.add_float_field(field.name, indexed=True, fast=True)
        elif field.kind is Kind.DATE:
            builder.add_integer_field(field.name, indexed=True, fast=True)
        elif field.kind is Kind.BOOL:
            builder.add_boolean_field(field.name, indexed=True)
    return builder.build()


def register_tokenizers(index: tantivy.Index) -> None:
    """Tokenizers of ours must be registered on every opened index, before writing or searching."""
    nothing = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.remove_long(1))
    index.register_tokenizer(STORED_ONLY, nothing.build())


def open_index(path: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(path))
    register_tokenizers(index)
    return index


def match_count(result: tantivy.SearchResult) -> int:
    """The number of matches of a search run with ``count=True`` (missing from the type stubs)."""
    return int(result.count)  # type: ignore[attr-defined]


# Past this many records, one term set beats a union of term queries on ``_seq``.
_MAX_TERM_CLAUSES = 1024


def seq_set_query(schema: tantivy.Schema, seqs: list[int]) -> tantivy.Query:
    """The records with these ``_seq`` (the result of an exact check done outside Tantivy)."""
    if not seqs:
        return tantivy.Query.empty_query()
    if len(seqs) <= _MAX_TERM_CLAUSES:
        # Measured, _seq values spread over the whole range: 370 of 100k records, a union of term
        # queries 0.8 ms, a term set 4.7 ms; 731 of 200k, the whole circle 8.9 ms against 12.1 ms;
        # 3,000 of 100k, 13 ms against 6 ms: past a thousand or so the term set is the faster.
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, SEQ, seq)) for seq in seqs]
        )
    return tantivy.Query.term_set_query(schema, SEQ, seqs)
