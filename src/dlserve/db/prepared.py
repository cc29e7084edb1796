"""`PreparedSelect`: one hot SELECT compiled once and run straight on a pooled DBAPI connection.

A status poll's one statement takes SQLite about 50 µs; running it through SQLAlchemy Core's
execution (cache lookup, execution context, events, result metadata, row objects) cost ten times
that. For the few statements on the hottest paths the SQL text is compiled once per dialect, the
parameters are laid out as the driver wants them, and rows come back as plain dicts with the
columns' own result processors applied (``UtcDateTime`` still returns aware UTC datetimes), so the
callers see the same values as through Core.

The statement runs as its own transaction: SQLite's connections are in autocommit mode (see
:mod:`dlserve.db.engine`); on PostgreSQL the connection is switched to autocommit for the one
statement, so a read is one round trip (no ``BEGIN``/``COMMIT``). Listeners of the engine's
``before_cursor_execute`` event are called as for any statement (with no ``Connection``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from dlserve.db.engine import Database


class PreparedSelect:
    def __init__(self, db: Database, query: sa.Select[Any], dynamic: tuple[str, ...]) -> None:
        """``dynamic``: the names of the bind parameters given at each run (plain ints or
        strings, which need no bind processing); every other parameter's value is fixed now."""
        self._db = db
        dialect = db.engine.dialect
        compiled = query.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement cannot have parameters expanded at execution")
        self._sql = str(compiled)
        fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if name in dynamic:
                continue
            value = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            fixed[name] = processor(value) if processor else value
        missing = set(dynamic) - set(compiled.binds)
        if missing:
            raise ValueError(f"no such bind parameters: {sorted(missing)}")
        self._fixed = fixed
        self._positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.positional else None
        )
        self._columns = [str(column.key) for column in query.selected_columns]
        processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in query.selected_columns
        ]
        self._processors = [(index, p) for index, p in enumerate(processors) if p is not None]
        self._postgres = db.is_postgres

    def all(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row, as ``{column key: value}``."""
        values = {**self._fixed, **params}
        bound: Any = values if self._positions is None else tuple(values[n] for n in self._positions)
        raw = self._db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            if self._postgres:
                driver.rollback()  # type: ignore[union-attr]  # idle already: no round trip
                driver.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = raw.cursor()
                try:
                    dispatch = self._db.engine.dispatch.before_cursor_execute
                    if dispatch:  # statement listeners (tests counting round trips) see it too
                        dispatch(None, cursor, self._sql, bound, None, False)
                    cursor.execute(self._sql, bound)
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
            finally:
                if self._postgres:
                    driver.autocommit = False  # type: ignore[union-attr]
        except BaseException:
            raw.invalidate()  # a connection left in an unknown state is not handed out again
            raise
        finally:
            raw.close()  # back to the pool
        columns = self._columns
        processors = self._processors
        result = []
        for row in rows:
            record = list(row)
            for index, processor in processors:
                record[index] = processor(record[index])
            result.append(dict(zip(columns, record, strict=True)))
        return result
