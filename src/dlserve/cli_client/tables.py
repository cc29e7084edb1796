"""How downloads look in a terminal: the list, one download in detail, and a finished fetch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import RenderableType
from rich.table import Table

from dlserve.cli_client.follow import Fetched
from dlserve.cli_client.output import human_bytes, human_seconds
from dlserve.client import Download, WebhookDelivery


def downloads_table(downloads: Sequence[Download]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("ID", "STATUS", "TYPE", "FORMAT", "RECORDS", "FILES", "CREATED", "QUERY"):
        table.add_column(
            name,
            justify="right" if name in ("ID", "RECORDS", "FILES") else "left",
            no_wrap=name != "QUERY",
            overflow="fold",
        )
    for d in downloads:
        table.add_row(
            d.id,
            d.status,
            d.data_type or "",
            (d.format or "") + (f" {d.compress}" if d.compress else ""),
            _records(d),
            str(len(d.results)),
            _when(d.created_at, seconds=False),
            d.query or "",
        )
    return table


def download_details(d: Download) -> list[RenderableType]:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rate = d.progress.rate_per_s
    for name, value in (
        ("id", d.id),
        ("status", d.status + (f": {d.error}" if d.error else "")),
        ("type", d.data_type or ""),
        ("query", d.query or ""),
        ("view", (",".join(d.view) if isinstance(d.view, list) else d.view) or "(default)"),
        ("format", (d.format or "") + (f", {d.compress}" if d.compress else "")),
        ("records", _records(d) + (f" of {d.num_found:,} found" if d.num_found is not None else "")),
        ("rate", f"{rate:,.0f} records/s" if rate is not None else "-"),
        ("eta", human_seconds(d.progress.eta_s) if not d.ended else "-"),
        ("created", _when(d.created_at)),
        ("updated", _when(d.updated_at)),
        *(
            [
                (
                    "since",
                    f"download {d.since}: {d.num_added or 0:,} added, {d.num_changed or 0:,} changed, "
                    f"{d.num_deleted or 0:,} deleted",
                )
            ]
            if d.since is not None
            else []
        ),
    ):
        facts.add_row(name, value)
    if not d.results:
        return [facts]
    files = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("FILE", "RECORDS", "SIZE", "SHA256", "EXPIRES"):
        files.add_column(name, justify="right" if name in ("RECORDS", "SIZE") else "left")
    for r in d.results:
        files.add_row(
            r.name,
            f"{r.records:,}" if r.records is not None else "",
            human_bytes(r.bytes),
            (r.sha256 or "")[:16],
            _when(r.expires_at),
        )
    return [facts, "", files]


def webhooks_table(deliveries: Sequence[WebhookDelivery]) -> Table:
    """One row per attempt, under its delivery's event, status and next attempt."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("EVENT", "STATUS", "ATTEMPT", "AT", "ANSWER", "MS", "NEXT"):
        table.add_column(name, justify="right" if name in ("ATTEMPT", "MS") else "left", overflow="fold")
    for delivery in deliveries:
        for index, attempt in enumerate(delivery.attempts or [None]):
            first = index == 0
            table.add_row(
                delivery.event if first else "",
                delivery.status if first else "",
                str(attempt.attempt) if attempt else "-",
                _when(attempt.attempted_at) if attempt else "",
                (str(attempt.status_code) if attempt.status_code else attempt.error or "") if attempt else "",
                f"{attempt.duration_ms:,.0f}" if attempt else "",
                _when(delivery.next_attempt_at) if first else "",
            )
    return table


def fetched_summary(d: Download, files: Sequence[Fetched], out: Path) -> str:
    records = sum(f.result.records or 0 for f in files if f.result.kind != "deleted")
    size = sum(f.result.bytes or 0 for f in files)
    checked = "sha256 verified" if all(f.result.sha256 for f in files) else "sizes checked"
    what = f"{len(files)} file{'' if len(files) == 1 else 's'}, {records:,} records, {human_bytes(size)}"
    if d.ended and not files:
        return f"download {d.id} {d.status}: no records, no files"
    if d.ended:
        return f"download {d.id} {d.status}: {what}, {checked}, in {out}"
    return f"download {d.id} is still {d.status}: fetched {what} so far, {checked}, in {out}"


def _records(d: Download) -> str:
    total = d.progress.total or d.num_records or 0
    return f"{d.progress.done:,}/{total:,}"


def _when(moment: datetime | None, *, seconds: bool = True) -> str:
    """Local time, as the person at the terminal reads it."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) if moment else ""
