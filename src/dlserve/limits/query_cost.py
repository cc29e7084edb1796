"""How big a query may be: its length in characters and its number of clauses.

The length is checked before anything parses the text (a 60 KB query once grew the process to
24 GB inside the parser and DuckDB's planner); the clause count after parsing, on the validated
tree, because only the parser knows what a clause is (``field:(a OR b)`` is two).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from dlserve.errors import ErrorDetail, Invalid, Unavailable
from dlserve.query import nodes


@dataclass(frozen=True)
class QueryCostLimits:
    max_length: int = 8192
    max_clauses: int = 256


def check_query_length(text: str, limits: QueryCostLimits) -> None:
    if len(text) > limits.max_length:
        raise Invalid(
            f"The query is too long: {len(text):,} characters, the limit is {limits.max_length:,}",
            [ErrorDetail("query", f"at most {limits.max_length} characters (query_max_length)")],
        )


def check_query_clauses(query: nodes.Query, limits: QueryCostLimits) -> None:
    clauses = count_clauses(query)
    if clauses > limits.max_clauses:
        raise Invalid(
            f"The query has too many clauses: {clauses:,}, the limit is {limits.max_clauses:,}",
            [ErrorDetail("query", f"at most {limits.max_clauses} clauses (query_max_clauses)")],
        )


def count_clauses(query: nodes.Query) -> int:
    """Leaves of the tree: each term, phrase, range, existence or geo test is one clause."""
    match query:
        case nodes.And(parts) | nodes.Or(parts):
            return sum(count_clauses(part) for part in parts)
        case nodes.Not(part):
            return count_clauses(part)
        case nodes.MatchAll() | nodes.MatchNothing():
            return 0
    return 1


class QueryTimedOut(Unavailable):
    """The query ran longer than ``query_timeout_seconds`` and was interrupted (503)."""


@contextmanager
def interrupt_after(cursor: duckdb.DuckDBPyConnection, seconds: float | None) -> Iterator[None]:
    """Interrupt ``cursor``'s query after ``seconds`` (None or 0: never), as :class:`QueryTimedOut`."""
    if not seconds:
        yield
        return
    timer = threading.Timer(seconds, cursor.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    except duckdb.InterruptException:
        raise QueryTimedOut(
            f"The query took longer than {seconds:g} s and was stopped (query_timeout_seconds); "
            "make it more selective or download the result"
        ) from None
    finally:
        timer.cancel()
