"""The ``dlserve`` command line: run the server, manage data and accounts.

Settings come from ``DLSERVE_*`` environment variables; flags given here override them.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dlserve.cli_client import commands as client_commands
from dlserve.cli_client.schedules import schedules_app
from dlserve.errors import DlserveError
from dlserve.logs import configure_logging, get_logger
from dlserve.records.schema import DATA_TYPES
from dlserve.settings import Settings, load_settings

if TYPE_CHECKING:
    from dlserve.accounts.services import TokenInfo
    from dlserve.container import Services

app = typer.Typer(help="dlserve: bulk data downloads with the Datafiniti API shape.", no_args_is_help=True)
accounts_app = typer.Typer(help="Create accounts and tokens.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
err = Console(stderr=True)

DEMO_EMAIL = "demo@dlserve.local"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the documented demo account
DEMO_CREDITS = 1_000_000


def _settings(**overrides: object) -> Settings:
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _services(settings: Settings) -> Services:
    # Imported here: the server side (SQLAlchemy, DuckDB, yt-dlp) takes seconds to import, and the
    # client commands of this same CLI need none of it.
    from dlserve.container import build_services
    from dlserve.db.migrate import upgrade
    from dlserve.private_files import make_private

    make_private(settings)
    upgrade(settings.resolved_database_url())
    return build_services(settings)


def _fail(exc: DlserveError) -> None:
    err.print(f"[red]error:[/red] {exc.message}")
    for detail in exc.details:
        err.print(f"  {detail.field}: {detail.message}")
    raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from dlserve.db.migrate import upgrade
    from dlserve.private_files import make_private

    settings = _settings()
    make_private(settings)
    upgrade(settings.resolved_database_url())
    err.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (DLSERVE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (DLSERVE_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Download worker threads in this process; 0 for none (DLSERVE_WORKERS)."),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            help="API processes serving the port (DLSERVE_PROCESSES); the download and media workers "
            "still run once, in this supervising process."
        ),
    ] = None,
) -> None:
    """Migrate the database and serve the HTTP API."""
    import os

    import uvicorn

    from dlserve.api.app import create_app

    settings = _settings(host=host, port=port, workers=workers, processes=processes)
    services = _services(settings)
    runtime = services.worker_runtime(settings.workers, settings.media_workers)
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        "ssl_certfile": str(settings.ssl_certfile) if settings.ssl_certfile else None,
        "ssl_keyfile": str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    }
    runtime.start()
    get_logger("dlserve.serve").info(
        "job workers started",
        pid=os.getpid(),
        export_threads=settings.workers,
        media_threads=settings.media_workers,
        api_processes=settings.processes,
    )
    try:
        # uvicorn turns SIGTERM/SIGINT into a graceful shutdown and then returns here.
        if settings.processes > 1:
            # uvicorn supervises N processes sharing the socket; each builds the app from the
            # environment, so the flags given here must reach them through it.
            os.environ.update(DLSERVE_HOST=settings.host, DLSERVE_PORT=str(settings.port))
            uvicorn.run(
                "dlserve.api.app:app_from_environment",
                factory=True,
                workers=settings.processes,
                **options,  # type: ignore[arg-type]
            )
        else:
            uvicorn.run(create_app(settings, services), **options)  # type: ignore[arg-type]
    finally:
        runtime.stop()
        services.close()


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Export jobs run at the same time by this process.")] = 1,
    media_threads: Annotated[
        int | None, typer.Option(help="Media downloads run at the same time (DLSERVE_MEDIA_WORKERS).")
    ] = None,
) -> None:
    """Run export, media and webhook jobs from the database queue, and start scheduled downloads
    when they are due, until SIGTERM (then give running jobs back)."""
    import signal

    settings = _settings()
    services = _services(settings)
    runtime = services.worker_runtime(
        threads, settings.media_workers if media_threads is None else media_threads
    )

    def shutdown(signum: int, _frame: object) -> None:
        err.print(f"signal {signum}: finishing up")
        runtime.stop_event.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    err.print(f"worker running with {threads} thread(s)")
    try:
        runtime.run_forever()
    finally:
        services.close()


@app.command()
def load(
    data_type: Annotated[str, typer.Argument(help=f"One of: {', '.join(DATA_TYPES)}.")],
    files: Annotated[list[Path], typer.Argument(help="JSON Lines, CSV or Parquet files (.gz allowed).")],
    append: Annotated[bool, typer.Option(help="Add to the current data instead of replacing it.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Refuse the load if records have fields outside the type's schema.")
    ] = False,
) -> None:
    """Load records into a new snapshot and switch to it atomically.

    Fields outside the type's schema are kept in the stored records but cannot be searched: they
    are listed (with how many records have them) on stderr and in the JSON summary.
    """
    from dlserve.records.loader import load_files

    settings = _settings()
    services = _services(settings)
    try:
        with _progress() as progress:
            task = progress.add_task(f"loading {data_type}", total=None)
            result = load_files(
                services.snapshots,
                data_type,
                files,
                append=append,
                on_progress=lambda message: progress.update(
                    task, description=f"loading {data_type}: {message}"
                ),
                strict=strict,
                index=settings.search_index,
                memory_limit=settings.load_memory_limit,
            )
    except DlserveError as exc:
        _fail(exc)
        return
    finally:
        services.close()
    _warn_undeclared(data_type, result.undeclared_fields)
    print(
        json.dumps(
            {
                "data_type": data_type,
                "records_loaded": result.records_loaded,
                "records_total": result.snapshot.record_count,
                "snapshot_id": result.snapshot.id,
                "seconds": round(result.seconds, 2),
                "undeclared_fields": [
                    {"field": name, "records": count} for name, count in result.undeclared_fields.items()
                ],
                "index_seconds": None if result.index_seconds is None else round(result.index_seconds, 2),
                "index_bytes": result.index_bytes,
            }
        )
    )


def _warn_undeclared(data_type: str, undeclared: dict[str, int]) -> None:
    if not undeclared:
        return
    err.print(
        f"[yellow]warning:[/yellow] {len(undeclared)} field(s) are not in the {data_type} schema: "
        "kept in the records, but queries cannot search them (--strict refuses such a load)"
    )
    for name, count in undeclared.items():
        err.print(f"  {name}: {count:,} records")


@app.command()
def demo(
    records: Annotated[int, typer.Option(help="Records per data type.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 0,
    if_empty: Annotated[bool, typer.Option(help="Skip types that already have data.")] = False,
    types: Annotated[list[str] | None, typer.Option("--type", help="Only these types (repeatable).")] = None,
) -> None:
    """Generate realistic, deterministic demo data with Faker and load it."""
    from dlserve.demo import write_jsonl
    from dlserve.records.loader import load_files

    settings = _settings()
    services = _services(settings)
    try:
        for data_type in types or list(DATA_TYPES):
            current = services.snapshots.current(data_type)
            if if_empty and current is not None:
                err.print(f"{data_type}: {current.record_count:,} records already loaded, skipped")
                continue
            started = time.monotonic()
            with tempfile.TemporaryDirectory(dir=settings.data_dir) as scratch, _progress() as progress:
                progress.add_task(f"generating {records:,} {data_type}", total=None)
                path = Path(scratch) / f"{data_type}.jsonl"
                write_jsonl(path, data_type, records, seed)
                result = load_files(
                    services.snapshots,
                    data_type,
                    [path],
                    index=settings.search_index,
                    memory_limit=settings.load_memory_limit,
                )
            err.print(f"{data_type}: {result.records_loaded:,} records in {time.monotonic() - started:.1f}s")
    except DlserveError as exc:
        _fail(exc)
    finally:
        services.close()


@accounts_app.command("create")
def accounts_create(
    email: str,
    password: Annotated[str | None, typer.Option(help="Lets the account sign in with POST /v4/auth.")] = None,
    credits: Annotated[
        int | None, typer.Option(help="Initial credits (default DLSERVE_DEFAULT_CREDITS).")
    ] = None,
) -> None:
    """Create an account; prints {"id", "email", "token"} as JSON."""
    settings = _settings()
    services = _services(settings)
    try:
        created = services.accounts.create_account(
            email, password=password, credits=settings.default_credits if credits is None else credits
        )
    except DlserveError as exc:
        _fail(exc)
        return
    finally:
        services.close()
    print(json.dumps({"id": str(created.id), "email": created.email, "token": created.token}))


@accounts_app.command("demo")
def accounts_demo() -> None:
    """Create the demo account (or give it a fresh token) and print a ready-to-paste curl line."""
    settings = _settings()
    services = _services(settings)
    try:
        existing = services.accounts.find_by_email(DEMO_EMAIL)
        if existing is None:
            token = services.accounts.create_account(DEMO_EMAIL, DEMO_PASSWORD, DEMO_CREDITS).token
        else:
            token = services.accounts.login(DEMO_EMAIL, DEMO_PASSWORD)
    finally:
        services.close()
    base = settings.resolved_public_url()
    print(f"\nDemo account: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    print(f"Token: {token}\n")
    print("Try it:")
    print(
        f"curl -s -X POST '{base}/v4/businesses/search' -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query": "categories:hotels AND province:TX", "num_records": 2}'\n"""
    )
    sys.stdout.flush()


@accounts_app.command("tokens")
def accounts_tokens(
    email: str,
    revoke: Annotated[
        list[int] | None, typer.Option("--revoke", metavar="ID", help="Revoke the token with this id.")
    ] = None,
    revoke_all: Annotated[
        bool, typer.Option("--revoke-all", help="Revoke every token of the account.")
    ] = False,
) -> None:
    """List an account's API tokens (id, first characters, dates, state), or revoke some."""
    settings = _settings()
    services = _services(settings)
    try:
        account = services.accounts.find_by_email(email)
        if account is None:
            err.print(f"[red]error:[/red] no account has the email {email}")
            raise typer.Exit(code=1)
        if revoke_all or revoke:
            revoked = services.accounts.revoke_tokens(account.id, None if revoke_all else list(revoke or []))
            print(f"revoked {revoked} token{'s' if revoked != 1 else ''}")
            return
        now = services.clock.now()
        print(f"{'ID':>6}  {'PREFIX':<12}  {'CREATED':<20}  {'LAST USED':<20}  {'EXPIRES':<20}  STATE")
        for token in services.accounts.list_tokens(account.id):
            print(
                f"{token.id:>6}  {token.prefix:<12}  {_when(token.created_at):<20}  "
                f"{_when(token.last_used_at):<20}  {_when(token.expires_at):<20}  {_token_state(token, now)}"
            )
    finally:
        services.close()


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_state(token: TokenInfo, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    )


# The client commands (docs/cli.md): they talk to a server through dlserve.client.
_CLIENT = "Client commands (talk to a server: --url, --token)"
app.command(rich_help_panel=_CLIENT)(client_commands.download)
app.command(rich_help_panel=_CLIENT)(client_commands.count)
app.add_typer(client_commands.downloads_app, name="downloads", rich_help_panel=_CLIENT)
app.add_typer(client_commands.media_app, name="media", rich_help_panel=_CLIENT)
app.add_typer(schedules_app, name="schedules", rich_help_panel=_CLIENT)


def main() -> None:
    app()
