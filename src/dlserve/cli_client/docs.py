"""docs/cli.md holds every command's ``--help``, generated from the app and checked by
tests/unit/test_cli_docs.py, so the doc cannot drift from the CLI.

    .venv/bin/python -m dlserve.cli_client.docs           # rewrite the generated part of docs/cli.md
    .venv/bin/python -m dlserve.cli_client.docs --check   # exit 1 if it is out of date

The help is rendered as a terminal ``COLUMNS`` wide would show it, without colours. Only the part
between the two markers is generated; the prose around it is written by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

WIDTH = 100
DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
BEGIN = "<!-- BEGIN GENERATED HELP (python -m dlserve.cli_client.docs) -->"
END = "<!-- END GENERATED HELP -->"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def command_paths(app: typer.Typer) -> list[tuple[str, ...]]:
    """``()`` for the app itself, then every command and sub-command in the order help lists them."""
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, TyperGroup):
            context = typer.Context(command, info_name=" ".join(("dlserve", *path)))
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None and not sub.hidden:
                    walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths


def help_text(app: typer.Typer, path: tuple[str, ...]) -> str:
    """``dlserve <path> --help`` as plain text: no colours, no trailing blanks."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="dlserve", env={"COLUMNS": str(WIDTH)})
    if result.exit_code != 0:
        raise RuntimeError(f"dlserve {' '.join(path)} --help exited {result.exit_code}: {result.output}")
    lines = [line.rstrip() for line in _ANSI.sub("", result.output).splitlines()]
    return "\n".join(lines).strip("\n")


def help_block(app: typer.Typer, path: tuple[str, ...]) -> str:
    """One command's section of the doc: a heading and its help in a fenced block."""
    return f"### `{' '.join(('dlserve', *path))}`\n\n```text\n{help_text(app, path)}\n```\n"


def generated(app: typer.Typer) -> str:
    return "\n".join(help_block(app, path) for path in command_paths(app))


def updated_doc(doc: str, app: typer.Typer) -> str:
    """``doc`` with the part between the markers replaced by the current help."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/cli.md must contain {BEGIN!r} and then {END!r}")
    return f"{doc[: start + len(BEGIN)]}\n\n{generated(app)}\n{doc[end:]}"


def main(argv: list[str]) -> int:
    from dlserve.cli import app

    current = DOC.read_text("utf-8")
    fresh = updated_doc(current, app)
    if "--check" in argv:
        if fresh != current:
            print(f"{DOC} is out of date: run python -m dlserve.cli_client.docs", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        DOC.write_text(fresh, "utf-8")
        print(f"updated {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
