"""``dlserve media get|fetch``: follow a media download on the server, then save its file."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from dlserve.cli_client.follow import at_terminal
from dlserve.cli_client.output import EXIT_INTERRUPTED, Output
from dlserve.cli_client.progress import MediaBar
from dlserve.client import Client, DlserveError, MediaDownload

POLL_INTERVAL = 0.5


def follow_media(client: Client, media_id: str, out: Path, output: Output) -> None:
    """Progress until the server has the file, then the file into ``out`` (named as the server's
    Content-Disposition says). Ctrl-C asks, at a terminal, whether to cancel it on the server."""
    bar = MediaBar(output.err, enabled=not output.json_mode)
    try:
        with bar:
            final = client.media_wait(media_id, on_progress=bar.update, poll_interval=POLL_INTERVAL)
    except KeyboardInterrupt:
        raise typer.Exit(_interrupted(client, media_id, out, output)) from None
    if final.status != "completed":
        output.fail(f"media download {media_id} was {final.status}")
    path = client.media_fetch(media_id, out)
    if output.json_mode:
        output.emit_json(
            {"id": media_id, "path": str(path), "bytes": path.stat().st_size, "media": final.raw}
        )
    else:
        print(f"{path}  {_describe(final)}")


def _describe(media: MediaDownload) -> str:
    parts = [media.quality or "", media.title or ""]
    return "  ".join(p for p in parts if p)


def _interrupted(client: Client, media_id: str, out: Path, output: Output) -> int:
    resume = f"dlserve media fetch {media_id} --out {shlex.quote(str(out))}"
    outcome = f"media download {media_id} keeps running on the server; save it later with: {resume}"
    removed = False
    output.note("")
    if at_terminal():
        try:
            cancel = typer.confirm("Cancel the media download on the server?", default=False, err=True)
        except typer.Abort:
            cancel = False
        if cancel:
            try:
                client.media_remove(media_id)
            except DlserveError as exc:
                output.fail_with(exc)
            removed = True
            outcome = f"media download {media_id} was cancelled and removed"
    output.note(f"interrupted: {outcome}", always=True)
    if output.json_mode:
        output.emit_json({"id": media_id, "interrupted": True, "cancelled": removed, "resume": resume})
    return EXIT_INTERRUPTED
