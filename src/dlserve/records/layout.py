"""SQL that turns loaded JSON records into the snapshot layout described in :mod:`schema`.

Everything runs inside DuckDB: parsing, typing and tokenising a million records in Python would
be the slow part of a load.
"""

from __future__ import annotations

from dlserve.records.schema import (
    ALL_TEXT_COLUMN,
    DUCKDB_TOKEN_PATTERN,
    ELEMENT_SEPARATOR,
    DataTypeSchema,
    FieldSpec,
    Kind,
)

# RE2 classes: anything that is not part of a token (letters and digits of any script).
_NON_TOKEN = "[^" + DUCKDB_TOKEN_PATTERN[1:-2] + "]+"
_NON_TOKEN_OR_SEPARATOR = "[^" + DUCKDB_TOKEN_PATTERN[1:-2] + "\\x1f]+"

_SCALAR_TYPES = {
    Kind.KEYWORD: "VARCHAR",
    Kind.TEXT: "VARCHAR",
    Kind.NUMBER: "DOUBLE",
    Kind.DATE: "TIMESTAMP",
    Kind.BOOL: "BOOLEAN",
}


def column_type(spec: FieldSpec, *, zoned_dates: bool = False) -> str:
    """The DuckDB type of a field's snapshot column (``zoned_dates``: as the loader reads it)."""
    if spec.kind is Kind.DATE and zoned_dates:
        return "TIMESTAMPTZ"
    if spec.kind in _SCALAR_TYPES:
        return _SCALAR_TYPES[spec.kind]
    if spec.kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST):
        return "VARCHAR[]"
    if spec.kind is Kind.NESTED:
        members = ", ".join(
            f"{quote_ident(child.name)} {column_type(child, zoned_dates=zoned_dates)}"
            for child in spec.children
        )
        return f"STRUCT({members})[]"
    raise ValueError(f"field {spec.name} of kind {spec.kind} has no column")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tokens_of(expr: str) -> str:
    """SQL: `` tok tok `` for one string expression (NULL/empty → NULL), as schema.token_text.

    One ``regexp_replace`` over the whole string: splitting into a list and joining it back costs
    several times more when a million records are loaded.
    """
    return (
        f"CASE WHEN {expr} IS NULL OR {expr} = '' THEN NULL ELSE "
        f"' ' || trim(regexp_replace(lower({expr}), '{_NON_TOKEN}', ' ', 'g')) || ' ' END"
    )


def _tokens_of_list(list_expr: str) -> str:
    """SQL: the elements' tokens, `` tok tok `` per element, elements separated by US (0x1f)."""
    joined = f"array_to_string({list_expr}, chr({ord(ELEMENT_SEPARATOR)}))"
    spaced = f"regexp_replace(lower({joined}), '{_NON_TOKEN_OR_SEPARATOR}', ' ', 'g')"
    tight = f"regexp_replace({spaced}, ' ?\\x1f ?', chr(31), 'g')"
    return (
        f"CASE WHEN {joined} IS NULL OR {joined} = '' THEN NULL ELSE "
        f"' ' || replace(trim({tight}), chr(31), ' ' || chr(31) || ' ') || ' ' END"
    )


def token_expressions(schema: DataTypeSchema) -> list[tuple[str, str]]:
    """(column name, SQL expression over the typed columns) for every token column."""
    out: list[tuple[str, str]] = []
    top_level: list[str] = []
    for column, top, sub in schema.token_columns():
        source = quote_ident(top.name)
        if sub is None:
            expr = _tokens_of(source) if top.kind is Kind.TEXT else _tokens_of_list(source)
            top_level.append(quote_ident(column))
        elif sub.kind is Kind.TEXT:
            expr = _tokens_of_list(f"list_transform({source}, lambda e: e.{quote_ident(sub.name)})")
        else:
            expr = _tokens_of_list(f"flatten(list_transform({source}, lambda e: e.{quote_ident(sub.name)}))")
        out.append((column, expr))
    all_expr = (
        f"NULLIF(concat_ws(chr({ord(ELEMENT_SEPARATOR)}), {', '.join(top_level)}), '')"
        if top_level
        else "NULL"
    )
    out.append((ALL_TEXT_COLUMN, all_expr))
    return out


def snapshot_select_sql(
    schema: DataTypeSchema, typed_source: str, *, exact: bool = False, fingerprint: bool = False
) -> str:
    """SELECT over typed rows adding the token columns (and, with ``exact``, whether the typed
    columns spell the record exactly, see :mod:`dlserve.records.typed_cells`; with ``fingerprint``,
    the hash of the stored JSON, see :mod:`dlserve.records.fingerprints`): the full layout.

    No ORDER BY: the loader feeds rows in ``_seq`` order and DuckDB keeps insertion order, while a
    sort would hold a whole part of large strings in memory.
    """
    tokens = ", ".join(f"{expr} AS {quote_ident(col)}" for col, expr in token_expressions(schema))
    if exact:
        from dlserve.records import typed_cells  # it builds on this module's helpers

        tokens += f", {typed_cells.exact_select(schema)} AS {quote_ident(typed_cells.EXACT_COLUMN)}"
    if fingerprint:
        from dlserve.records.fingerprints import fingerprint_select

        tokens += f", {fingerprint_select()}"
    return f"SELECT *, {tokens} FROM {typed_source}"
