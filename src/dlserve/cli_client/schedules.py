"""``dlserve schedules create|list|show|delete``: scheduled downloads (``/v4/schedules``) from the
terminal, on the SDK like the other client commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.table import Table

from dlserve.cli_client.commands import Format, JsonOption, TokenOption, UrlOption, session
from dlserve.client import Schedule

schedules_app = typer.Typer(
    help="Scheduled downloads: a download of a query every period.", no_args_is_help=True
)
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="The schedule id.")]


@schedules_app.command("create")
def schedules_create(
    data_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="businesses, products, properties or people.")
    ],
    query: Annotated[str, typer.Argument(metavar="QUERY", help='The query, e.g. "province:TX".')],
    every: Annotated[
        str,
        typer.Option(
            help='How often, in UTC: an interval ("1d", "7d", "6h") or a cron expression ("0 3 * * 1").'
        ),
    ] = "1d",
    format: Annotated[Format, typer.Option(case_sensitive=False, help="File format.")] = Format.json,
    view: Annotated[str | None, typer.Option(help="A view of the type (see GET /v4/views).")] = None,
    delta: Annotated[
        bool, typer.Option("--delta", help="Each run delivers only what changed since the previous one.")
    ] = False,
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="Called when each run's download ends.")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a schedule: a download of QUERY at each time of --every (an interval runs now first).

    Each run is a normal download (same credits and limits); `dlserve schedules show ID` lists
    the runs, and GET /v4/schedules/ID/latest always redirects to the newest completed one.
    """
    with session(url, token, as_json) as (client, output):
        created = client.create_schedule(
            data_type,
            query,
            every=every,
            format=format.value.upper(),
            view=view,
            delta=delta,
            webhook_url=webhook_url,
        )
        if output.json_mode:
            output.emit_json(created.raw)
        else:
            next_run = _when(created.next_run_at)
            print(f"schedule {created.id}: {data_type} every {created.every}, next run {next_run}")


@schedules_app.command("list")
def schedules_list(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List the account's schedules, newest first."""
    with session(url, token, as_json) as (client, output):
        output.listing(client.list_schedules(), empty="no schedules yet", table=schedules_table)


@schedules_app.command("show")
def schedules_show(
    schedule_id: IdArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Show one schedule and its newest runs (each run's download and status, or why it failed)."""
    with session(url, token, as_json) as (client, output):
        found = client.get_schedule(schedule_id)
        output.details(found.raw, schedule_details(found))


@schedules_app.command("delete")
def schedules_delete(
    schedule_id: IdArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Delete a schedule: no more runs. The downloads it already made are kept."""
    with session(url, token, as_json) as (client, output):
        output.message(schedule_id, client.delete_schedule(schedule_id))


def schedules_table(schedules: Sequence[Schedule]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("ID", "TYPE", "EVERY", "DELTA", "FORMAT", "NEXT RUN", "QUERY"):
        table.add_column(name, justify="right" if name == "ID" else "left", no_wrap=name != "QUERY")
    for s in schedules:
        table.add_row(
            s.id,
            s.data_type,
            s.every,
            "yes" if s.delta else "no",
            s.format or "",
            _when(s.next_run_at),
            s.query,
        )
    return table


def schedule_details(s: Schedule) -> list[RenderableType]:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for name, value in (
        ("id", s.id),
        ("type", s.data_type),
        ("query", s.query),
        ("view", ", ".join(s.view) if isinstance(s.view, list) else s.view or "(default)"),
        ("format", s.format or ""),
        ("every", s.every + " (UTC)"),
        ("delta", "yes" if s.delta else "no"),
        ("webhook", s.webhook_url or "-"),
        ("next run", _when(s.next_run_at)),
        ("created", _when(s.created_at)),
        ("runs", str(s.num_runs if s.num_runs is not None else len(s.runs))),
    ):
        facts.add_row(name, value)
    if not s.runs:
        return [facts]
    runs = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("DUE", "STATUS", "DOWNLOAD", "DETAIL"):
        runs.add_column(name, no_wrap=name != "DETAIL", overflow="fold")
    for run in s.runs:
        runs.add_row(
            _when(run.due_at),
            run.status,
            run.download_id or "-",
            run.download_status or run.reason or "",
        )
    return [facts, "", runs]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "-"
