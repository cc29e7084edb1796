"""Generate ``_sync.py`` (``Client``) from ``_async.py`` (``AsyncClient``) with unasync.

    python -m dlserve.client._generate_sync          # rewrite _sync.py (what ``make sdk-sync`` runs)
    python -m dlserve.client._generate_sync --check  # exit 1 if _sync.py is not what it would write

unasync drops ``async``/``await`` and renames the names below token by token (never inside strings
or comments), then ruff sorts the imports and formats the result, so a line that fits once
``await`` is gone is joined as the formatter would. A development tool: unasync and ruff are dev dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE, TARGET = HERE / "_async.py", HERE / "_sync.py"
HEADER = "# Generated from _async.py by `make sdk-sync` (unasync): do not edit, edit _async.py instead.\n"
# Beyond unasync's own (__aenter__ → __enter__, AsyncIterator → Iterator, ...): token → token.
REPLACEMENTS = {
    "AsyncClient": "Client",  # ours, and httpx's
    "AsyncBaseTransport": "BaseTransport",
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "_io_async": "_io_sync",
}


def generated() -> str:
    """The text ``_sync.py`` must have."""
    import unasync

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / SOURCE.name
        source.write_bytes(SOURCE.read_bytes())
        rule = unasync.Rule(SOURCE.name, TARGET.name, additional_replacements=REPLACEMENTS)
        unasync.unasync_files([str(source)], rules=[rule])
        text = HEADER + (Path(scratch) / TARGET.name).read_text("utf-8")
    # Sorted imports (Iterator sorts elsewhere than AsyncIterator) and ``yield from`` where an async
    # generator had to loop; then the formatter.
    text = _ruff(["check", "--fix", "--unsafe-fixes", "--exit-zero", "--quiet", "--select", "I,UP028"], text)
    return _ruff(["format"], text)


def _ruff(command: list[str], text: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter running ruff on our own file
        [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main(argv: list[str]) -> int:
    text = generated()
    if "--check" in argv:
        if TARGET.read_text("utf-8") != text:
            print(f"{TARGET} is not generated from {SOURCE.name}: run `make sdk-sync`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
