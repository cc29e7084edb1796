"""Following a bulk download to its end, fetching each result file as soon as it is listed, and
what Ctrl-C does meanwhile.

The server lists a result file once it is finished (with its size and sha256), while the export
goes on with the next ones; so the files arrive while the download runs, and at the end only the
last one is left to fetch. ``fetch_file`` resumes a partial file and verifies every file.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from dlserve.cli_client.output import EXIT_INTERRUPTED, Output
from dlserve.cli_client.progress import DownloadBar
from dlserve.client import Client, Conflict, DlserveError, Download, ResultFile

POLL_INTERVAL = 0.5


@dataclass(frozen=True)
class Fetched:
    result: ResultFile
    path: Path


class Follower:
    """Polls one download and fetches its files into ``out`` as they appear (the bar shows both)."""

    def __init__(self, client: Client, out: Path, bar: DownloadBar) -> None:
        self._client = client
        self._out = out
        self._bar = bar
        self.fetched: dict[str, Fetched] = {}

    def fetch_listed(self, download: Download) -> None:
        """Every file ``download`` lists that is not here yet (resumed if partial, verified)."""
        self._bar.update(download, len(self.fetched))
        for result in download.results:
            if result.name in self.fetched:
                continue
            path = self._client.fetch_file(result, self._out)
            self.fetched[result.name] = Fetched(result, path)
            self._bar.fetched(result, path)
            self._bar.update(download, len(self.fetched))

    def follow(self, download: Download) -> Download:
        """Until the download is completed or cancelled; raises ``DownloadFailed`` if it fails."""
        final = self._client.wait(download, on_progress=self.fetch_listed, poll_interval=POLL_INTERVAL)
        self.fetch_listed(final)  # a no-op unless the last poll listed files the callback missed
        return final


def at_terminal() -> bool:
    """Whether someone can answer a question: stdin is a terminal (not a pipe, a file, cron)."""
    return sys.stdin.isatty()


def resume_command(download_id: str, out: Path) -> str:
    return f"dlserve downloads fetch {download_id} --out {shlex.quote(str(out))}"


def interrupted(client: Client, download_id: str, out: Path, output: Output) -> int:
    """After Ctrl-C: at a terminal, ask whether to cancel the download on the server; elsewhere
    (a script, a pipe) leave it running. Says what happened and how to pick it up again, and
    returns the exit status."""
    resume = resume_command(download_id, out)
    cancelled = False
    outcome = f"download {download_id} keeps running on the server; fetch its files with: {resume}"
    output.note("")
    if at_terminal():
        try:
            cancel = typer.confirm("Cancel the download on the server?", default=False, err=True)
        except typer.Abort:  # Ctrl-C or end of input at the question: the safe answer
            cancel = False
        if cancel:
            try:
                message = client.cancel_download(download_id)
            except Conflict as exc:  # it ended meanwhile
                outcome = f"not cancelled: {exc.message}; fetch its files with: {resume}"
            except DlserveError as exc:
                output.fail_with(exc)
            else:
                cancelled = True
                outcome = f"{message} (what it finished can still be fetched with: {resume})"
    output.note(f"interrupted: {outcome}", always=True)
    if output.json_mode:
        output.emit_json({"id": download_id, "interrupted": True, "cancelled": cancelled, "resume": resume})
    return EXIT_INTERRUPTED
