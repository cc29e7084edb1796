"""What the client commands print: rich text for people, JSON for scripts, one line for errors.

Results go to stdout; progress, notes and errors to stderr, so ``dlserve ... --json | jq`` sees only
the JSON. A failure is one line on stderr (``error: ...``) and exit status 1; with ``--json`` the
same error is also printed to stdout as ``{"error": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import typer
from rich.console import Console, RenderableType

from dlserve.cli_client.config import ConfigError
from dlserve.client import AuthenticationError, DlserveError, TransportError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by SIGINT


@dataclass
class Output:
    json_mode: bool
    url: str = ""
    has_token: bool = True
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))

    def emit_json(self, value: Any) -> None:
        print(json.dumps(value, ensure_ascii=False, default=str, indent=2), flush=True)

    def listing(
        self, found: Sequence[Any], *, empty: str, table: Callable[[Sequence[Any]], RenderableType]
    ) -> None:
        """A list of SDK objects: their wire bodies as JSON, else a table (a note when empty)."""
        if self.json_mode:
            self.emit_json([item.raw for item in found])
        elif not found:
            self.note(empty)
        else:
            self.out.print(table(found))

    def details(self, raw: Any, renderables: Iterable[RenderableType]) -> None:
        """One SDK object: its wire body as JSON, else its rendered details."""
        if self.json_mode:
            self.emit_json(raw)
        else:
            for renderable in renderables:
                self.out.print(renderable)

    def message(self, subject_id: str, text: str) -> None:
        """The server's message about one object (a cancel, a delete)."""
        if self.json_mode:
            self.emit_json({"id": subject_id, "message": text})
        else:
            print(text)

    def note(self, text: str, *, always: bool = False) -> None:
        """A line for the person at the terminal, on stderr; with ``--json`` only if ``always``
        (what an interrupted command did), so a script's stderr holds only what matters."""
        if always or not self.json_mode:
            self.err.print(text)

    def fail(self, message: str, body: dict[str, Any] | None = None) -> NoReturn:
        line = " ".join(message.split())  # one line, whatever the server sent
        if self.json_mode:
            self.emit_json({"error": body or {"message": line}})
        self.err.print(f"[bold red]error:[/] {line}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR)

    def fail_with(self, exc: DlserveError | ConfigError | OSError) -> NoReturn:
        if isinstance(exc, DlserveError):
            self.fail(describe(exc, self.url, has_token=self.has_token), error_body(exc))
        if isinstance(exc, OSError) and exc.filename is not None:
            self.fail(f"{exc.filename}: {exc.strerror or exc}")
        self.fail(str(exc))


def describe(exc: DlserveError, url: str, *, has_token: bool) -> str:
    """The one line that says what went wrong: the server's status, error and message with each
    detail (a query error names the field and the position), or what failed locally."""
    if isinstance(exc, TransportError):
        return f"cannot reach {url}: {exc.message}"
    text = exc.message
    if exc.status_code is not None:
        text = f"{exc.status_code} {exc.error or ''}: {text}".replace(" :", ":")
    # A detail usually repeats the message (a query error names the field and the position in both).
    extra = [
        f"{d.field}: {d.message}" if d.field else d.message for d in exc.details if d.message not in text
    ]
    if extra:
        text += " (" + "; ".join(extra) + ")"
    if isinstance(exc, AuthenticationError) and not has_token:
        text += " (no token given: use --token, DLSERVE_TOKEN or the config file)"
    return text


def error_body(exc: DlserveError) -> dict[str, Any]:
    return {
        "message": exc.message,
        "status_code": exc.status_code,
        "error": exc.error,
        "details": [{"field": d.field, "message": d.message} for d in exc.details],
        "request_id": exc.request_id,
        "type": type(exc).__name__,
    }


@contextmanager
def reporting_errors(output: Output) -> Iterator[None]:
    """Turns the SDK's errors, a bad config file and a file that cannot be written into the one-line
    message and exit status 1."""
    try:
        yield
    except (DlserveError, ConfigError, OSError) as exc:
        output.fail_with(exc)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:,.1f} {unit}"


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
