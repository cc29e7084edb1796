"""docs/cli.md shows exactly what ``--help`` prints, for every command of ``dlserve``.

When this fails, regenerate the doc: ``.venv/bin/python -m dlserve.cli_client.docs``.
"""

from __future__ import annotations

import pytest

from dlserve.cli import app
from dlserve.cli_client.docs import DOC, command_paths, help_block, help_text, updated_doc

REGENERATE = "docs/cli.md is out of date: run .venv/bin/python -m dlserve.cli_client.docs"
PATHS = command_paths(app)


def test_every_command_is_found() -> None:
    names = {" ".join(path) for path in PATHS}
    server = {"serve", "worker", "migrate", "load", "demo", "accounts", "accounts create"}
    client = {"download", "count", "downloads", "downloads list", "downloads show", "downloads cancel"}
    client |= {"downloads fetch", "media", "media get", "media fetch"}
    assert {"", *server, *client} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(("dlserve", *path)))
def test_the_doc_has_the_current_help_of(path: tuple[str, ...]) -> None:
    help = help_text(app, path)
    assert help.lstrip().startswith(f"Usage: {' '.join(('dlserve', *path))} ")
    assert "\x1b[" not in help
    assert help_block(app, path) in DOC.read_text("utf-8"), REGENERATE


def test_the_generated_part_is_exactly_what_the_generator_writes() -> None:
    """Also catches a command that was removed or renamed but is still in the doc."""
    doc = DOC.read_text("utf-8")
    assert updated_doc(doc, app) == doc, REGENERATE


def test_the_help_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = help_text(app, ("download",))
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("DLSERVE_URL", "http://elsewhere.test")
    assert help_text(app, ("download",)) == expected
