"""The live progress bars: a bulk download (records, rate, ETA, files) and a media download.

Drawn on stderr by rich while the terminal can show them; ``--json`` turns them off. The rate and
the ETA are the server's (``progress.rate_per_s``/``eta_s``), which know when the export started.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from dlserve.cli_client.output import human_bytes, human_seconds
from dlserve.client import Download, MediaDownload, ResultFile

_STATUS_LABEL = {"queued": "queued", "in_progress": "running", "pending": "queued", "downloading": "running"}


class _Bar:
    def __init__(self, console: Console, enabled: bool, *fields: TextColumn) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            *fields,
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            refresh_per_second=8,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._progress.stop()

    def print(self, text: str) -> None:
        """A line above the bar (kept when the bar moves on); nothing when the bar is off."""
        if not self._progress.disable:
            self._progress.console.print(text, highlight=False)

    def _show(self, description: str, completed: float, total: float | None, **fields: Any) -> None:
        """Draw the one task; ``fields`` fill the ``{task.fields[...]}`` columns (text)."""
        if self._task is None:
            self._task = self._progress.add_task(description, total=total, **fields)
        self._progress.update(self._task, description=description, completed=completed, total=total, **fields)


class DownloadBar(_Bar):
    """``running ━━━━━━━━━╸─── 1,500/2,655 records 812 records/s ETA 0:00:02 3 files 0:00:04``"""

    def __init__(self, console: Console, enabled: bool) -> None:
        super().__init__(
            console,
            enabled,
            TextColumn("{task.fields[records]} records"),
            TextColumn("{task.fields[rate]} records/s"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[files]}"),
        )

    def update(self, download: Download, files_fetched: int) -> None:
        progress = download.progress
        total = progress.total or download.num_records
        rate = progress.rate_per_s
        self._show(
            f"download {download.id} {_STATUS_LABEL.get(download.status, download.status)}",
            completed=progress.done,
            total=total if total else None,
            records=f"{progress.done:,}/{total:,}" if total is not None else f"{progress.done:,}",
            rate=f"{rate:,.0f}" if rate is not None else "-",
            eta=human_seconds(progress.eta_s),
            files=f"{files_fetched} file{'' if files_fetched == 1 else 's'}",
        )

    def fetched(self, result: ResultFile, path: Path) -> None:
        records = f"{result.records:,} records" if result.records is not None else ""
        check = "sha256 ok" if result.sha256 else "size ok"
        self.print(f"  [green]✓[/] {path.name}  {records}  {human_bytes(result.bytes)}  {check}")


class MediaBar(_Bar):
    """``running ━━━━━━━━━━━━━ 64% 12.3 MB of 19.0 MB 2.1 MB/s ETA 0:00:03 0:00:06``"""

    def __init__(self, console: Console, enabled: bool) -> None:
        super().__init__(
            console,
            enabled,
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[size]}"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("ETA {task.fields[eta]}"),
        )

    def update(self, media: MediaDownload) -> None:
        size = human_bytes(media.downloaded_bytes) if media.downloaded_bytes is not None else "-"
        if media.total_bytes:
            size += f" of {human_bytes(media.total_bytes)}"
        self._show(
            f"{media.title or media.id} {_STATUS_LABEL.get(media.status, media.status)}",
            completed=media.progress,
            total=100,
            size=size,
            speed=f"{human_bytes(int(media.speed))}/s" if media.speed else "-",
            eta=human_seconds(media.eta),
        )
