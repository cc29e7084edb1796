"""Long polling: wait, without holding a thread, until a download's state differs from a known one.

The state is a download's ETag (:func:`download_etag`): it changes with the status, the records
delivered (committed or still being written), the result files and the error, and not with the
clock (a rate or an ETA is recomputed on every answer), so an unchanged ETag means nothing a
poller acts on has changed.

A wait ends at the first of: a change reported to this process (:class:`DownloadChanges`: by its
own worker, or on PostgreSQL by another process's NOTIFY, see :mod:`dlserve.downloads.change_feed`),
a re-read of the database finding one (every ``recheck_seconds``: how changes made by other
processes arrive on SQLite), or the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable

import anyio.to_thread

from dlserve.downloads.changes import DownloadChanges
from dlserve.downloads.models import Download


def download_etag(download: Download) -> str:
    """A weak ETag of the download's state (weak: rate and ETA in the body move with the clock)."""
    files = ",".join(f"{f.id}{'' if f.deleted_at is None else 'x'}" for f in download.files)
    state = (
        f"{download.id}|{download.status.value}|{download.num_downloaded}|{download.num_found}|"
        f"{download.num_records}|{download.updated_at.isoformat()}|{download.error or ''}|{files}"
    )
    return f'W/"{hashlib.blake2b(state.encode(), digest_size=12).hexdigest()}"'


def page_etag(total: int, limit: int, offset: int, page: list[Download]) -> str:
    """A weak ETag of a page of downloads: the account's total, the page's bounds and each
    download's state (:func:`download_etag`), so a new, changed or removed download changes it."""
    state = f"{total}|{limit}|{offset}|" + ",".join(download_etag(d) for d in page)
    return f'W/"{hashlib.blake2b(state.encode(), digest_size=12).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` (a list, or ``*``) with ``etag``."""
    if not if_none_match:
        return False
    wanted = _opaque(etag)
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or _opaque(candidate) == wanted:
            return True
    return False


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


async def wait_for_change(
    read: Callable[[], Download],
    known_etag: str,
    changes: DownloadChanges,
    download_id: int,
    *,
    timeout: float,
    recheck_seconds: float,
) -> Download:
    """The download once its ETag differs from ``known_etag``, or as it is at the deadline.

    ``read`` runs in a worker thread for a moment at each check; between checks nothing but an
    event on the loop is held.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with changes.subscribe(download_id) as changed:
        while True:
            changed.clear()  # before reading: a change committed after the read still wakes us
            current = await anyio.to_thread.run_sync(read)
            remaining = deadline - loop.time()
            if download_etag(current) != known_etag or remaining <= 0:
                return current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(recheck_seconds, remaining))
