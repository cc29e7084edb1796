"""Sloppy phrases ``"a b"~N`` (issue 17): Lucene's "within N moves", inside one element.

The hand-computed cases run through the SQL compiler, the Tantivy index (see conftest) and the
Python evaluator. The properties hold the three implementations of "within N moves" to each other:
the reference function, its SQL spelling, and Tantivy's own sloppy phrase where the index trusts it.
"""

from __future__ import annotations

import itertools
import random

import duckdb
import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from dlserve.query import nodes
from dlserve.query.compile import to_sql
from dlserve.query.parse import parse_query
from dlserve.query.proximity import within_slop
from dlserve.records.schema import ELEMENT_SEPARATOR, FieldSpec, Kind, ResolvedField
from tests.support.query_eval import matching_ids
from tests.unit.query.conftest import Dataset

EXACT_PHRASE = ["b01", "b09", "b12"]  # Hilton Garden Inn…, Hilton Garden, Hilton-Garden Express
EITHER_ORDER = ["b01", "b09", "b10", "b12"]  # … and Garden Hilton


def check(dataset: Dataset, query: str, expected: list[str]) -> None:
    assert dataset.ids(query) == expected
    assert matching_ids(dataset.schema, query, dataset.records) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name:"hilton garden"~0', EXACT_PHRASE),
        ('name:"hilton garden"~', EXACT_PHRASE),  # a bare ~ is 0, as in Lucene
        ('name:"hilton garden"~1', EXACT_PHRASE),  # nothing has a word between them
        ('name:"hilton garden"~2', EITHER_ORDER),  # swapped words cost 2
        ('name:"garden hilton"~1', ["b10"]),
        ('name:"garden hilton"~2', EITHER_ORDER),
        ('name:"hilton inn"~0', []),
        ('name:"hilton inn"~1', ["b01"]),  # one word (garden) between
        ('name:"inn hilton"~2', []),  # hilton garden inn: offsets 2 and -1
        ('name:"inn hilton"~3', ["b01"]),
        ('name:"HILTON Garden"~2', EITHER_ORDER),
        ('name:"hilton austin downtown"~1', []),  # three words: offsets 0, 2, 2
        ('name:"hilton austin downtown"~2', ["b01"]),
        ('name:"downtown hilton austin"~4', []),  # offsets 4, -1, 1: a spread of 5
        ('name:"downtown hilton austin"~5', ["b01"]),
        ('name:"hilton"~3', ["b01", "b03", "b09", "b10", "b12"]),  # one word: a plain term
        ('reviews.text:"great staff"~1', []),
        ('reviews.text:"great staff"~2', ["b01"]),  # Great location, friendly staff
        ('reviews.text:"staff noisy"~1', []),  # the words end one review and start the next
        ('reviews.text:"staff noisy"~50', []),
        ('reviews.text:"great great"~0', ["b09"]),  # a repeated word needs two positions
        ('reviews.text:"great great"~3', ["b09"]),
        ('"garden hilton"~2', EITHER_ORDER),  # bare: every top-level text field
        ('NOT name:"hilton garden"~2', ["b02", "b03", "b04", "b05", "b06", "b07", "b08", "b11"]),
        ('name:"hilton garden"~2 AND city:austin', ["b01", "b09"]),
    ],
)
def test_sloppy_phrases(businesses: Dataset, query: str, expected: list[str]) -> None:
    check(businesses, query, expected)


def test_a_one_word_or_exact_phrase_is_a_plain_token_match(businesses: Dataset) -> None:
    assert isinstance(parse_query(businesses.schema, 'name:"hilton garden"~0'), nodes.TokenMatch)
    assert isinstance(parse_query(businesses.schema, 'name:"hilton"~4'), nodes.TokenMatch)
    near = parse_query(businesses.schema, 'name:"hilton garden"~4')
    assert isinstance(near, nodes.Proximity)
    assert (near.tokens, near.slop) == (("hilton", "garden"), 4)


def _brute_force(tokens: list[str], phrase: tuple[str, ...], slop: int) -> bool:
    choices = [[at for at, token in enumerate(tokens) if token == word] for word in phrase]
    return any(
        len(set(picked)) == len(picked)
        and max(at - i for i, at in enumerate(picked)) - min(at - i for i, at in enumerate(picked)) <= slop
        for picked in itertools.product(*choices)
    )


tokens_of = st.lists(st.sampled_from("abcd"), max_size=9)
phrases = st.lists(st.sampled_from("abcd"), min_size=2, max_size=4).map(tuple)


@given(tokens=tokens_of, phrase=phrases, slop=st.integers(0, 6))
@settings(max_examples=400, deadline=None)
def test_reference_is_lucenes_definition(tokens: list[str], phrase: tuple[str, ...], slop: int) -> None:
    assert within_slop(tokens, phrase, slop) == _brute_force(tokens, phrase, slop)


def test_sql_spelling_agrees_with_the_reference() -> None:
    rng = random.Random(17)
    rows = [
        [" ".join(rng.choice("abcd") for _ in range(rng.randint(0, 7))) for _ in range(rng.randint(1, 3))]
        for _ in range(300)
    ]
    connection = duckdb.connect()
    connection.execute('CREATE TABLE t (i INTEGER, "_tok_t" VARCHAR)')
    columns = [ELEMENT_SEPARATOR.join(f" {e} " for e in elements if e) or None for elements in rows]
    connection.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(columns)))
    field = ResolvedField("t", FieldSpec("t", Kind.TEXT_LIST))
    for phrase in [("a", "b"), ("a", "a"), ("a", "b", "c"), ("a", "b", "a"), ("d", "a", "c", "b")]:
        for slop in range(1, 6):
            compiled = to_sql(nodes.Proximity(field, phrase, slop, (field,)))
            got = {
                row[0]
                for row in connection.execute(
                    f"SELECT i FROM t WHERE {compiled.sql}", compiled.params
                ).fetchall()
            }
            expected = {
                i
                for i, elements in enumerate(rows)
                if any(within_slop(e.split(), phrase, slop) for e in elements)
            }
            assert got == expected, (phrase, slop)


def test_tantivy_two_word_slop_is_the_reference() -> None:
    """The index answers two different words on a single-valued field with Tantivy's phrase slop
    alone (search/proximity.py): this holds Tantivy to that claim, in both word orders."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("t", stored=True, tokenizer_name="whitespace", index_option="position")
    builder.add_integer_field("n", stored=True, indexed=True, fast=True)
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    rng = random.Random(11)
    docs = [[rng.choice("abcde") for _ in range(rng.randint(1, 12))] for _ in range(1500)]
    for n, tokens in enumerate(docs):
        writer.add_document(tantivy.Document(t=" ".join(tokens), n=n))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    for phrase in [("a", "b"), ("b", "a"), ("c", "e")]:
        for slop in range(0, 9):
            hits = searcher.search(
                tantivy.Query.phrase_query(schema, "t", list(phrase), slop), limit=len(docs)
            ).hits
            got = {searcher.doc(address)["n"][0] for _, address in hits}
            expected = {n for n, tokens in enumerate(docs) if within_slop(tokens, phrase, slop)}
            assert got == expected, (phrase, slop)
