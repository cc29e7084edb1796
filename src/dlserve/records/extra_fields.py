"""What a load does about fields the schema does not declare, and fields it can derive.

A field outside the schema is kept in the stored record (``_record``) but can never be searched,
so ``dlserve load`` names every such field with the number of records that have it, and
``--strict`` refuses the load instead. Sub-fields of nested lists count too (``reviews.userCity``).

A derived field is filled when a record lacks it: people's ``name`` (the full name the
datafiniti-sdk searches with ``name:"John Smith"``) from ``firstName`` and ``lastName``.

Both work on the loader's ``raw`` (record JSON) and ``typed`` (schema columns) tables, set-based.
"""

from __future__ import annotations

import duckdb

from dlserve.errors import ErrorDetail, Invalid
from dlserve.records.schema import DataTypeSchema, Kind

# data type → {derived field: the fields joined with spaces to make it}
DERIVED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {"people": {"name": ("firstName", "lastName")}}


def undeclared_fields(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema) -> dict[str, int]:
    """Every field of the input outside the schema → how many records have it, by name."""
    found: dict[str, int] = {}
    rows = con.execute(
        "SELECT k, count(*) FROM (SELECT unnest(json_keys(_record)) AS k FROM raw) "
        "WHERE NOT list_contains(?, k) GROUP BY k",
        [[f.name for f in schema.fields]],
    ).fetchall()
    found.update({str(name): int(count) for name, count in rows})
    for nested in (f for f in schema.fields if f.kind is Kind.NESTED):
        # ``$.name[*]`` of a value that is not a list is NULL; the typed reader refuses those anyway.
        rows = con.execute(
            "SELECT k, count(DISTINCT rid) FROM (SELECT rid, unnest(json_keys(element)) AS k FROM "
            "(SELECT rowid AS rid, unnest(json_extract(_record, ?)) AS element FROM raw "
            "WHERE json_type(_record, ?) = 'ARRAY')) "
            "WHERE NOT list_contains(?, k) GROUP BY k",
            [
                f"$.{_json_key(nested.name)}[*]",
                f"$.{_json_key(nested.name)}",
                [c.name for c in nested.children],
            ],
        ).fetchall()
        found.update({f"{nested.name}.{name}": int(count) for name, count in rows})
    return dict(sorted(found.items()))


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
    """Fill each derived field where a record lacks it (in both tables); the number of records filled."""
    filled = 0
    for target, sources in DERIVED_FIELDS.get(schema.name, {}).items():
        parts = ", ".join(
            f"nullif(trim(json_extract_string(_record, '$.{_json_key(s)}')), '')" for s in sources
        )
        value = f"nullif(concat_ws(' ', {parts}), '')"
        missing = f"coalesce(trim(json_extract_string(_record, '$.{_json_key(target)}')), '') = ''"
        # UPDATE keeps every row where it is, so ``raw`` and ``typed`` stay aligned by rowid.
        con.execute(
            f"UPDATE typed SET {_ident(target)} = r.v FROM "
            f"(SELECT rowid AS rid, {value} AS v FROM raw WHERE {missing}) r "
            "WHERE typed.rowid = r.rid AND r.v IS NOT NULL"
        )
        row = con.execute(
            f"UPDATE raw SET _record = json_merge_patch(_record, json_object(?, {value})) "
            f"WHERE {missing} AND {value} IS NOT NULL",
            [target],
        ).fetchone()
        filled += int(row[0]) if row else 0
    return filled


def _json_key(name: str) -> str:
    """A declared field name (letters only, never user text) as a JSON path step."""
    if not name.isidentifier():
        raise ValueError(f"not a plain field name: {name!r}")
    return name


def _ident(name: str) -> str:
    return '"' + _json_key(name) + '"'
