"""Sloppy phrases on the index: Tantivy's phrase slop, then the exact check where it is needed.

Tantivy's sloppy phrase for two different words is Lucene's definition exactly (a test holds it
to :func:`dlserve.query.proximity.within_slop`), but it counts positions across the elements of a
multi-valued field (they are one position apart), and for three or more words it counts moves
differently. So only two different words on a single-valued text field go to Tantivy alone.
Every other sloppy phrase takes a superset from the index (the two-word phrase, or every word
present), reads the candidates' stored records, and keeps the ones whose words are near inside
one element; the leaf is then the set of their ``_seq``, like the checked ring of a geo circle.
Past :data:`MAX_CHECKED` candidates the index gives up and the query runs on DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import tantivy

from dlserve.query import nodes
from dlserve.query.proximity import within_slop
from dlserve.records.schema import LIST_KINDS, Kind, ResolvedField, tokenize
from dlserve.search.layout import SEQ, match_count, seq_set_query
from dlserve.search.translate import Untranslatable

# Reading and checking a stored record costs tens of microseconds: a few thousand stay interactive.
MAX_CHECKED = 5_000


def is_exact_in_index(query: nodes.Proximity) -> bool:
    field = query.field
    return (
        field is not None
        and field.sub is None
        and field.kind is Kind.TEXT
        and len(query.tokens) == 2
        and query.tokens[0] != query.tokens[1]
    )


def candidates(schema: tantivy.Schema, name: str, query: nodes.Proximity) -> tantivy.Query:
    """A superset of the matches: ``is_exact_in_index`` says when it is exactly them."""
    words = query.tokens
    if len(words) == 2 and words[0] != words[1]:
        return tantivy.Query.phrase_query(schema, name, list(words), query.slop)
    terms = [tantivy.Query.term_query(schema, name, word) for word in sorted(set(words))]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, term) for term in terms])


def checked_matches(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: nodes.Proximity,
    superset: tantivy.Query,
    stored_record: Callable[[tantivy.DocAddress], str],
) -> tantivy.Query:
    found = match_count(searcher.search(superset, limit=1, count=True))
    if found > MAX_CHECKED:
        raise Untranslatable(f"proximity query with {found} candidates (over {MAX_CHECKED} to check)")
    if not found:
        return tantivy.Query.empty_query()
    hits = searcher.search(superset, limit=found, order_by_field=SEQ, order=tantivy.Order.Asc).hits
    near = [int(seq) for seq, address in hits if record_near(orjson.loads(stored_record(address)), query)]
    return seq_set_query(schema, near)


def record_near(record: dict[str, Any], query: nodes.Proximity) -> bool:
    words = set(query.tokens)
    for field in query.sources:
        for text in _texts(record, field):
            lowered = text.lower()
            # (most elements of a candidate lack a word: a substring test skips their tokenising)
            if all(word in lowered for word in words) and within_slop(
                tokenize(lowered), query.tokens, query.slop
            ):
                return True
    return False


def _texts(record: dict[str, Any], field: ResolvedField) -> list[str]:
    """The strings of one text field in a stored record: each element is searched on its own."""
    if field.sub is None:
        value = record.get(field.top.name)
        values = (value or []) if field.kind in LIST_KINDS else [value]
    else:
        values = []
        for element in record.get(field.top.name) or []:
            value = element.get(field.sub.name) if isinstance(element, dict) else None
            values.extend((value or []) if field.sub.kind in LIST_KINDS else [value])
    return [value for value in values if isinstance(value, str)]
