"""Delta downloads: what changed between the snapshot a download was made from and the current one.

A delta download ``since`` download S, with query Q, compares two match sets:

- *then*: the records matching Q in S's snapshot (the snapshot S was made from);
- *now*: the records matching Q in the current snapshot.

It delivers the records of *now* whose ``(id, fingerprint)`` is not in *then* (an anti-join): new
ids (``added``) and ids whose stored JSON changed (``changed``). The ids of *then* that are not in
*now* (removed from the dataset, or changed so that they no longer match) are ``deleted``. Q is the
new request's query, applied to both snapshots; with S's own query (the normal refresh) this is
exactly "what changed in my copy". Fingerprints: :mod:`dlserve.records.fingerprints`.

Everything here is SQL text for DuckDB over the two snapshots' Parquet parts; parameters are
positional (``?``), the query's own parameters repeated for each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from dlserve.query import CompiledQuery
from dlserve.records.fingerprints import fingerprint_expression, has_fingerprints
from dlserve.records.snapshots import PART_GLOB

MAX_SEQ = 2**62  # "no upper bound" for a range of ``_seq``


@dataclass(frozen=True)
class DeltaCounts:
    added: int
    changed: int
    deleted: int
    unchanged: int

    @property
    def delivered(self) -> int:
        """Records a delta download delivers (and charges): the added and the changed ones."""
        return self.added + self.changed


@dataclass(frozen=True)
class DeltaSides:
    """The two snapshots as DuckDB reads them: part globs and fingerprint expressions."""

    new_scan: str
    new_fingerprint: str
    old_scan: str
    old_fingerprint: str

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, new_dir: Path, old_dir: Path) -> DeltaSides:
        return cls(
            str(new_dir / PART_GLOB),
            fingerprint_expression(has_fingerprints(con, str(new_dir))),
            str(old_dir / PART_GLOB),
            fingerprint_expression(has_fingerprints(con, str(old_dir))),
        )


def _matches(fingerprint: str, where: str, *, bounded: bool = False) -> str:
    """``(_seq, id, _fp)`` of one snapshot's matches. Parameters: the glob, the query's own
    (and ``after, through`` when ``bounded``)."""
    bounds = " AND _seq > ? AND _seq <= ?" if bounded else ""
    return f"(SELECT _seq, id, {fingerprint} AS _fp FROM read_parquet(?) WHERE ({where}){bounds})"


def counts(con: duckdb.DuckDBPyConnection, sides: DeltaSides, query: CompiledQuery) -> DeltaCounts:
    """Added, changed, deleted and unchanged matches, in one full outer join on ``id``."""
    now = _matches(sides.new_fingerprint, query.sql)
    then = _matches(sides.old_fingerprint, query.sql)
    row = con.execute(
        "SELECT count(*) FILTER (WHERE t.id IS NULL), "
        "count(*) FILTER (WHERE n.id IS NOT NULL AND t.id IS NOT NULL AND n._fp <> t._fp), "
        "count(*) FILTER (WHERE n.id IS NULL), "
        "count(*) FILTER (WHERE n._fp = t._fp) "
        f"FROM {now} n FULL OUTER JOIN {then} t ON n.id = t.id",
        [sides.new_scan, *query.params, sides.old_scan, *query.params],
    ).fetchone()
    assert row is not None
    return DeltaCounts(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def delivered_filter(sides: DeltaSides, query: CompiledQuery, after: int, through: int) -> CompiledQuery:
    """The query narrowed to the records a delta delivers with ``after < _seq <= through``: a
    condition on the current snapshot's rows, used wherever the query's own condition is (plan,
    parts, typed CSV), so exports keep their streaming, order and resumability."""
    now = _matches(sides.new_fingerprint, query.sql, bounded=True)
    then = _matches(sides.old_fingerprint, query.sql)
    seqs = f"SELECT n._seq FROM {now} n ANTI JOIN {then} t ON n.id = t.id AND n._fp = t._fp"
    return CompiledQuery(
        sql=f"({query.sql}) AND _seq IN ({seqs})",
        params=[
            *query.params,
            sides.new_scan,
            *query.params,
            after,
            through,
            sides.old_scan,
            *query.params,
        ],
    )


def deleted_ids(sides: DeltaSides, query: CompiledQuery) -> CompiledQuery:
    """SELECT of the ids that matched then and do not now, in the old snapshot's load order."""
    then = _matches(sides.old_fingerprint, query.sql)
    now = _matches(sides.new_fingerprint, query.sql)
    return CompiledQuery(
        sql=f"SELECT t.id FROM {then} t ANTI JOIN {now} n ON t.id = n.id ORDER BY t._seq",
        params=[sides.old_scan, *query.params, sides.new_scan, *query.params],
    )
