"""compile_query is called from many request threads at once; luqum's parser must not mix them up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dlserve.errors import Invalid
from dlserve.query import CompiledQuery, compile_query
from dlserve.records.schema import BUSINESSES

QUERIES = [
    "name:hilton AND city:austin",
    "longitude:[-98 TO -97] OR reviews.rating:>=4",
    "NOT (categories:hotels OR geoLocation:[-97.74,30.27,10,mi])",
    "name:(hilton",
    "dateAdded:>2017-01-01T10:00:00+02:00",
    "nmae:x",
    'reviews.text:"bad parking" -city:austin',
]


def compile_or_error(query: str) -> CompiledQuery | str:
    try:
        return compile_query(BUSINESSES, query)
    except Invalid as error:
        return error.message


def test_parallel_compiles_give_the_sequential_answers() -> None:
    expected = [compile_or_error(q) for q in QUERIES]
    work = QUERIES * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(compile_or_error, work))
    assert results == expected * 40
