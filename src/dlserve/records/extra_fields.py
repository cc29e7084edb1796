"""What a load does about fields the schema does not declare, and fields it can derive.

A field outside the schema is kept in the stored record (``_record``) but can never be searched,
so ``dlserve load`` names every such field with the number of records that have it, and
``--strict`` refuses the load instead.

A derived field is filled when a record lacks it: people's ``name`` (the full name the
datafiniti-sdk searches with ``name:"John Smith"``) from ``firstName`` and ``lastName``.

Both work on the loader's ``raw`` (record JSON) and ``typed`` (schema columns) tables, set-based.
"""

from __future__ import annotations

import duckdb

from dlserve.errors import ErrorDetail, Invalid
from dlserve.records.schema import DataTypeSchema

# data type → {derived field: the fields joined with spaces to make it}
DERIVED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {"people": {"name": ("firstName", "lastName")}}


def undeclared_fields(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema) -> dict[str, int]:
    """Every top-level field of the input outside the schema → how many records have it, by name.

    One pass of ``json_keys`` (a few percent of a load). Sub-fields of nested lists are not looked
    at: unpacking every element of every list cost a fifth of the load time.
    """
    rows = con.execute(
        "SELECT k, count(*) FROM (SELECT unnest(json_keys(_record)) AS k FROM raw) "
        "WHERE NOT list_contains(?, k) GROUP BY k ORDER BY k",
        [[f.name for f in schema.fields]],
    ).fetchall()
    return {str(name): int(count) for name, count in rows}


def refuse_undeclared(data_type: str, undeclared: dict[str, int]) -> None:
    """``--strict``: fields outside the schema are an error, and nothing is loaded."""
    if not undeclared:
        return
    listed = ", ".join(f"{name} ({count:,} records)" for name, count in undeclared.items())
    raise Invalid(
        f"{len(undeclared)} field(s) are not in the {data_type} schema and could never be searched: "
        f"{listed}; nothing was loaded (drop --strict to load them anyway, kept in the stored records)",
        [
            ErrorDetail(name, f"not in the {data_type} schema; {count:,} records have it")
            for name, count in undeclared.items()
        ],
    )


def fill_derived_fields(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema) -> int:
    """Fill each derived field where a record lacks it (in both tables); the number of records filled.

    Decided on ``typed``'s columns (no JSON parsing); only the records filled have their JSON
    rewritten. UPDATE keeps every row where it is, so ``raw`` and ``typed`` stay aligned by rowid.
    """
    filled = 0
    for target, sources in DERIVED_FIELDS.get(schema.name, {}).items():
        parts = ", ".join(f"nullif(trim({_ident(source)}), '')" for source in sources)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE derived AS SELECT rowid AS rid, concat_ws(' ', {parts}) AS v "
            f"FROM typed WHERE coalesce(trim({_ident(target)}), '') = '' AND coalesce({parts}) IS NOT NULL"
        )
        row = con.execute("SELECT count(*) FROM derived").fetchone()
        count = int(row[0]) if row else 0
        if count:
            con.execute(f"UPDATE typed SET {_ident(target)} = d.v FROM derived d WHERE typed.rowid = d.rid")
            con.execute(
                "UPDATE raw SET _record = json_merge_patch(_record, json_object(?, d.v)) "
                "FROM derived d WHERE raw.rowid = d.rid",
                [target],
            )
        con.execute("DROP TABLE derived")
        filled += count
    return filled


def _json_key(name: str) -> str:
    """A declared field name (letters only, never user text) as a JSON path step."""
    if not name.isidentifier():
        raise ValueError(f"not a plain field name: {name!r}")
    return name


def _ident(name: str) -> str:
    return '"' + _json_key(name) + '"'
