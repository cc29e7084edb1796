"""The data directory is private to the service: files 0600, folders 0700.

Result files, snapshots, media files, the SQLite database and the signing key are customers' data
or secrets; nobody else on the machine needs to read them. The server commands set the process
umask to 077, so everything they create is private from the start, and tighten the data directory
itself (and the SQLite file) in case an earlier version created them readable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dlserve.settings import Settings

PRIVATE_UMASK = 0o077


def make_private(settings: Settings) -> None:
    """Set the process umask and restrict the data dir and the SQLite file (server commands only)."""
    os.umask(PRIVATE_UMASK)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _chmod(settings.data_dir, 0o700)
    url = settings.resolved_database_url()
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        for path in (
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            if path.exists():
                _chmod(path, 0o600)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # not ours to change (a mounted volume): leave it
        path.chmod(mode)
