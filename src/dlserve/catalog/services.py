"""The synchronous half of the search API: preview, count, paginate, get one record.

Reads go through :class:`~dlserve.search.service.RecordSearch`: the snapshot's index when it has
one, DuckDB otherwise; both give the same records in the same order.

Every record delivered costs one credit; a count (``num_records: 0``) is free. Records are
charged only after the query succeeded, in the same call, so a failed query costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dlserve.accounts.services import Account, AccountService
from dlserve.catalog.formats import OutputFormat, csv_line, parse_format
from dlserve.errors import ErrorDetail, Invalid, NotFound
from dlserve.limits.query_cost import QueryCostLimits, check_query_clauses, check_query_length
from dlserve.query import CompiledQuery, nodes
from dlserve.query.compile import to_sql
from dlserve.query.parse import parse_query
from dlserve.records.field_lists import RequestedView, check_for_csv, resolve_view, stored_view
from dlserve.records.render import csv_columns, csv_rows, project
from dlserve.records.schema import SCHEMAS, DataTypeSchema
from dlserve.records.store import RecordStore
from dlserve.records.views import View
from dlserve.search.service import RecordSearch

DEFAULT_PREVIEW_RECORDS = 10


@dataclass(frozen=True)
class Preview:
    num_found: int
    total_cost: int
    records: list[Any]


@dataclass(frozen=True)
class Page:
    num_found: int
    records: list[Any]


@dataclass(frozen=True)
class PreparedQuery:
    """A validated request: the schema, compiled query, view and format, ready to run."""

    schema: DataTypeSchema
    query_text: str
    compiled: CompiledQuery
    view: View
    format: OutputFormat
    tree: nodes.Query  # what ``compiled`` was compiled from: the index path reads it
    requested_view: RequestedView = None  # as the client sent it (a download stores it)

    @property
    def stored_view(self) -> str | None:
        """What a download of this query keeps in ``downloads.view``."""
        return stored_view(self.view, self.requested_view)


def schema_or_404(data_type: str) -> DataTypeSchema:
    schema = SCHEMAS.get(data_type)
    if schema is None:
        raise NotFound(f"Unknown data type '{data_type}'; use one of {', '.join(SCHEMAS)}")
    return schema


def prepare(
    data_type: str,
    query: str | None,
    view: RequestedView,
    output_format: str | None,
    limits: QueryCostLimits | None = None,
) -> PreparedQuery:
    """``view`` is a view's name, a field list (array, or comma-separated string) or None."""
    schema = schema_or_404(data_type)
    if query is None:
        raise Invalid(
            "A query is required", [ErrorDetail("query", "query is required (use * for everything)")]
        )
    limits = limits or QueryCostLimits()
    check_query_length(query, limits)  # before the parser sees it
    tree = parse_query(schema, query)
    check_query_clauses(tree, limits)
    chosen = resolve_view(data_type, view)
    output = parse_format(output_format)
    if output is OutputFormat.CSV:
        check_for_csv(chosen)
    return PreparedQuery(
        schema=schema,
        query_text=query,
        compiled=to_sql(tree),
        view=chosen,
        format=output,
        tree=tree,
        requested_view=view,
    )


class CatalogService:
    def __init__(
        self,
        store: RecordStore,
        accounts: AccountService,
        *,
        preview_max: int = 50,
        page_max: int = 1000,
        search: RecordSearch | None = None,
    ) -> None:
        self._store = search or RecordSearch(store, store.catalog, use_index=False)
        self._accounts = accounts
        self._preview_max = preview_max
        self._page_max = page_max

    def preview(self, account: Account, prepared: PreparedQuery, num_records: int | None) -> Preview:
        wanted = DEFAULT_PREVIEW_RECORDS if num_records is None else num_records
        if wanted < 0 or wanted > self._preview_max:
            raise Invalid(
                f"num_records must be between 0 and {self._preview_max} for a preview",
                [ErrorDetail("num_records", f"at most {self._preview_max} without download: true")],
            )
        snapshot = self._store.snapshot(prepared.schema.name)
        num_found, raw = self._store.page(snapshot, prepared.tree, prepared.compiled, limit=wanted)
        self._accounts.charge(account.id, len(raw), "preview")
        return Preview(num_found, len(raw), render(prepared, raw))

    def count(self, prepared: PreparedQuery) -> int:
        return self._store.count(self._store.snapshot(prepared.schema.name), prepared.tree, prepared.compiled)

    def paginate(self, account: Account, prepared: PreparedQuery, page: int, limit: int) -> Page:
        if page < 1:
            raise Invalid("page starts at 1", [ErrorDetail("page", "page must be 1 or more")])
        if limit < 1 or limit > self._page_max:
            raise Invalid(
                f"limit must be between 1 and {self._page_max}",
                [ErrorDetail("limit", f"limit must be between 1 and {self._page_max}")],
            )
        snapshot = self._store.snapshot(prepared.schema.name)
        num_found, raw = self._store.page(
            snapshot, prepared.tree, prepared.compiled, limit=limit, offset=(page - 1) * limit
        )
        self._accounts.charge(account.id, len(raw), "paginate")
        return Page(num_found, render(prepared, raw))

    def get_record(
        self, account: Account, data_type: str, record_id: str, view: RequestedView
    ) -> dict[str, Any]:
        schema_or_404(data_type)
        chosen = resolve_view(data_type, view)
        raw = self._store.get(self._store.snapshot(data_type), record_id)
        self._accounts.charge(account.id, 1, "record")
        return project(chosen, orjson.loads(raw))


def render(prepared: PreparedQuery, raw_records: list[str]) -> list[Any]:
    """JSON: the view's objects. CSV: RFC 4180 lines, the header first (Datafiniti's CSV preview)."""
    records = [orjson.loads(raw) for raw in raw_records]
    if prepared.format is OutputFormat.JSON:
        return [project(prepared.view, record) for record in records]
    lines = [csv_line(csv_columns(prepared.view, prepared.schema))]
    for record in records:
        lines.extend(csv_line(row) for row in csv_rows(prepared.view, prepared.schema, record))
    return lines
