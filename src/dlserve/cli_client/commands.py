"""The client commands of the ``dlserve`` CLI, built on the SDK (``dlserve.client``):
``download``, ``count``, ``downloads list|show|cancel|fetch`` and ``media get|fetch``.

``dlserve.cli`` registers them beside the server commands. Every one takes ``--url``, ``--token``
(see ``config.py`` for where else they come from) and ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dlserve.cli_client.config import DEFAULT_URL, resolve
from dlserve.cli_client.follow import Follower, interrupted, resume_command
from dlserve.cli_client.media import follow_media
from dlserve.cli_client.output import Output, describe, error_body, reporting_errors
from dlserve.cli_client.progress import DownloadBar
from dlserve.cli_client.tables import download_details, downloads_table, fetched_summary, webhooks_table
from dlserve.client import ChecksumMismatch, Client, Download, TransportError

_CONNECTION = "Connection"
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="DLSERVE_URL",
        help=f"The server (else `url` in the config file, else {DEFAULT_URL}).",
        rich_help_panel=_CONNECTION,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="DLSERVE_TOKEN", help="API token (else `token` in the config file).",
        rich_help_panel=_CONNECTION,
    ),
]  # fmt: skip
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts instead of tables and progress bars.")
]
WebhookOption = Annotated[
    str | None,
    typer.Option(
        "--webhook-url",
        help="The server POSTs the download here (signed, Standard Webhooks) when it ends.",
    ),
]
OutOption = Annotated[
    Path,
    typer.Option("--out", "-o", help="Folder for the files (created if missing).", file_okay=False),
]


class Format(StrEnum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


class Compress(StrEnum):
    gzip = "gzip"


downloads_app = typer.Typer(
    help="Bulk downloads of this account: list, show, cancel, fetch.", no_args_is_help=True
)
media_app = typer.Typer(help="Video and audio downloads (the media API).", no_args_is_help=True)


def open_client(url: str, token: str | None) -> Client:
    """The SDK client the commands use (tests replace this to run them against MockTransport)."""
    return Client(url, token)


@contextmanager
def session(url: str | None, token: str | None, as_json: bool) -> Iterator[tuple[Client, Output]]:
    """A client for the configured server, and the output; SDK errors end the command with a
    one-line message and exit status 1."""
    output = Output(as_json)
    with reporting_errors(output):
        connection = resolve(url, token)
        output.url, output.has_token = connection.url, connection.token is not None
        try:
            client = open_client(connection.url, connection.token)
        except ValueError as exc:
            output.fail(f"bad server URL: {exc}")
        with client:
            yield client, output


def download(
    data_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="businesses, products, properties or people.")
    ],
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help='The query, e.g. "categories:hotels AND province:TX".')
    ],
    out: OutOption,
    format: Annotated[
        Format,
        typer.Option(
            case_sensitive=False,
            help="File format: JSON Lines, CSV, or Parquet (zstd inside: no --compress).",
        ),
    ] = Format.json,
    view: Annotated[str | None, typer.Option(help="A view of the type (see GET /v4/views).")] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            help="Only these fields, comma-separated (id,name,reviews.rating); CSV columns in this "
            "order. Instead of --view."
        ),
    ] = None,
    records: Annotated[
        int | None, typer.Option(min=1, help="At most this many records (default: every match).")
    ] = None,
    compress: Annotated[Compress | None, typer.Option(help="Compress each file.")] = None,
    webhook_url: WebhookOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Only what changed since this earlier completed download: records added or "
            "changed (charged), and ID_deleted.txt/.csv listing the ids deleted (free).",
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a bulk download and fetch its files as they are ready, with a progress bar.

    Each result file is fetched into --out as soon as the server lists it (while the export goes
    on) and checked against its sha256; a summary is printed at the end.

    Ctrl-C asks whether to cancel the download on the server (without a terminal it is left
    running; `dlserve downloads fetch ID` picks it up). Exit status: 0 done, 1 failed, 130
    interrupted.
    """
    with session(url, token, as_json) as (client, output):
        if view is not None and fields is not None:
            output.fail("give --view or --fields, not both")
        out.mkdir(parents=True, exist_ok=True)  # before the download exists: a bad folder costs nothing
        created = client.create_download(
            data_type,
            query,
            num_records=records,
            format=format.value.upper(),
            view=view,
            compress=compress.value if compress else None,
            fields=[name.strip() for name in fields.split(",")] if fields is not None else None,
            webhook_url=webhook_url,
            since=since,
        )
        output.note(f"download {created.id}: {created.num_records or 0:,} {data_type} into {out}")
        if created.since is not None:
            output.note(
                f"changes since download {created.since}: {created.num_added or 0:,} added, "
                f"{created.num_changed or 0:,} changed, {created.num_deleted or 0:,} deleted"
            )
        _follow(client, created, out, output)


def count(
    data_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="businesses, products, properties or people.")
    ],
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The query (the same language as search).")],
    since: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Count what a delta download since this earlier download would deliver (its cost).",
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print how many records match QUERY (free: no credits)."""
    with session(url, token, as_json) as (client, output):
        if since is not None:
            changes = client.count_changes(data_type, query, since)
            if output.json_mode:
                output.emit_json(
                    {
                        "type": data_type,
                        "query": query,
                        "since": since,
                        "count": changes.num_found,
                        "added": changes.num_added,
                        "changed": changes.num_changed,
                        "deleted": changes.num_deleted,
                    }
                )
            else:
                print(changes.num_found)
                output.note(
                    f"since download {since}: {changes.num_added:,} added, {changes.num_changed:,} changed "
                    f"(one credit each), {changes.num_deleted:,} deleted (free)"
                )
            return
        found = client.count(data_type, query)
        if output.json_mode:
            output.emit_json({"type": data_type, "query": query, "count": found})
        else:
            print(found)


@downloads_app.command("list")
def downloads_list(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the account's downloads, newest first."""
    with session(url, token, as_json) as (client, output):
        output.listing(client.list_downloads(limit=limit), empty="no downloads yet", table=downloads_table)


@downloads_app.command("show")
def downloads_show(
    download_id: Annotated[str, typer.Argument(metavar="ID", help="The download id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one download: status, progress and its result files."""
    with session(url, token, as_json) as (client, output):
        found = client.get_download(download_id)
        output.details(found.raw, download_details(found))


@downloads_app.command("cancel")
def downloads_cancel(
    download_id: Annotated[str, typer.Argument(metavar="ID", help="The download id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a queued or running download; the files it finished are kept (and billed)."""
    with session(url, token, as_json) as (client, output):
        output.message(download_id, client.cancel_download(download_id))


@downloads_app.command("webhooks")
def downloads_webhooks(
    download_id: Annotated[str, typer.Argument(metavar="ID", help="The download id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a download's webhook deliveries: every attempt, its answer and when the next one is due."""
    with session(url, token, as_json) as (client, output):
        output.listing(
            client.list_webhooks(download_id),
            empty="no webhook deliveries (none asked for, or the download has not ended)",
            table=webhooks_table,
        )


@downloads_app.command("fetch")
def downloads_fetch(
    download_id: Annotated[str, typer.Argument(metavar="ID", help="The download id.")],
    out: OutOption,
    wait: Annotated[bool, typer.Option(help="Follow a download that is still running until it ends.")] = True,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch a download's result files into --out, resuming partial ones and verifying all.

    Files already there are checked and skipped, partial ones resumed, every one verified against
    its sha256. A download still running is followed with a progress bar until it ends (unless
    --no-wait), like `dlserve download`; so this picks up an interrupted `dlserve download`.
    """
    with session(url, token, as_json) as (client, output):
        current = client.get_download(download_id)
        if wait and not current.ended:
            _follow(client, current, out, output)
            return
        bar = DownloadBar(output.err, enabled=not output.json_mode)
        follower = Follower(client, out, bar)
        with bar:
            follower.fetch_listed(current)
        _report(current, follower, out, output, cancelled_is_failure=False)


@media_app.command("get")
def media_get(
    media_url: Annotated[str, typer.Argument(metavar="URL", help="A video or audio page or file URL.")],
    quality: Annotated[
        str, typer.Option(help="best, 2160p, 1440p, 1080p, 720p, 480p, 360p, 240p or audio.")
    ] = "best",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the file.", file_okay=False)] = Path(),
    webhook_url: WebhookOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Download a video or audio URL at a quality and save the file into --out.

    The server fetches it (a progress bar follows it), then the file is saved under the name the
    server gives it (its title, from Content-Disposition). Ctrl-C asks whether to cancel it.
    """
    with session(url, token, as_json) as (client, output):
        media_id = client.media_download(media_url, quality, webhook_url=webhook_url)
        output.note(f"media download {media_id}: {media_url} at {quality}")
        follow_media(client, media_id, out, output)


@media_app.command("fetch")
def media_fetch(
    media_id: Annotated[str, typer.Argument(metavar="ID", help="The media download id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the file.", file_okay=False)] = Path(),
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Wait for a media download (started with `media get` or the API) and save its file into --out."""
    with session(url, token, as_json) as (client, output):
        follow_media(client, media_id, out, output)


def _follow(client: Client, download: Download, out: Path, output: Output) -> None:
    """Follow ``download`` to its end with the bar, fetching its files; then the summary."""
    out.mkdir(parents=True, exist_ok=True)
    bar = DownloadBar(output.err, enabled=not output.json_mode)
    follower = Follower(client, out, bar)
    try:
        with bar:
            final = follower.follow(download)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(client, download.id, out, output)) from None
    except (TransportError, ChecksumMismatch) as exc:  # the download itself is fine: say how to go on
        line = describe(exc, output.url, has_token=output.has_token)
        output.fail(f"{line}; to go on: {resume_command(download.id, out)}", error_body(exc))
    _report(final, follower, out, output)


def _report(
    final: Download, follower: Follower, out: Path, output: Output, *, cancelled_is_failure: bool = True
) -> None:
    """The summary (stdout), or the one-line failure for a download that did not complete. A
    download found already cancelled (``downloads fetch``) is not a failure: its files are what is left."""
    files = list(follower.fetched.values())
    if final.status == "cancelled" and cancelled_is_failure:
        output.fail(
            f"download {final.id} was cancelled on the server; its {len(files)} finished file(s) are in {out}"
        )
    if final.status == "failed":
        output.fail(f"download {final.id} failed: {final.error or 'no reason given'}")
    if output.json_mode:
        body: dict[str, Any] = {
            "download": final.raw,
            "files": [
                {
                    "name": f.result.name,
                    "path": str(f.path),
                    "records": f.result.records,
                    "bytes": f.result.bytes,
                    "sha256": f.result.sha256,
                }
                for f in files
            ],
        }
        output.emit_json(body)
    else:
        output.out.print(fetched_summary(final, files, out))
