"""The fast path for a plain media file (a URL that answers with ``video/*`` or ``audio/*`` bytes).

yt-dlp handles such a URL with its generic extractor: one request to look at the answer, closed,
then a second request for the download, read by ``HttpFD`` in small, adaptive blocks with a
progress hook per block. Here the *same* answer is kept and streamed to the file in large blocks:
one request, and the transfer loop runs near the speed of ``curl``.

Nothing of the guard is bypassed: the request goes through ``YoutubeDL.urlopen`` of the fetch's
:class:`~dlserve.media.transport.GuardedYoutubeDL`, i.e. the guarded request handler, whose every
connection (redirects included) is opened by the fetch's ``ConnectionGate`` (one resolution per
connection, connect to the checked IP). The progress hook still runs for every block (cancel, size
limit) and the finished file is still sniffed for text (:func:`refuse_text_file`).

Anything else — a page, a manifest, a redirect, a URL a site-specific extractor claims, an error
status — closes the answer and returns None: yt-dlp then handles the URL as before.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.networking import Request
from yt_dlp.networking.exceptions import RequestError
from yt_dlp.utils import determine_ext, url_basename, urlhandle_detect_ext

from dlserve.media.interfaces import FetchedMedia
from dlserve.media.progress import ProgressTracker, refuse_text_file
from dlserve.media.transport import GuardedYoutubeDL

BLOCK = 1 << 20  # curl reads in blocks of this order; yt-dlp's HttpFD starts at 1 KiB
# What yt-dlp's generic extractor calls a direct link, minus the manifests it would parse.
_MEDIA_TYPE = re.compile(r"(?P<type>audio|video)/(?P<subtype>[^;\s]+)")
_MANIFESTS = ("m3u8", "mpegurl", "f4m", "mpd", "dash+xml")


def only_generic_claims(url: str) -> bool:
    """True when no site-specific extractor wants the URL (yt-dlp would use the generic one)."""
    return not any(
        extractor.ie_key() != "Generic" and extractor.suitable(url) for extractor in gen_extractor_classes()
    )


def fetch_plain_file(
    ydl: GuardedYoutubeDL, url: str, workdir: Path, tracker: ProgressTracker
) -> FetchedMedia | None:
    """Download ``url`` in one guarded request when it answers with media bytes; else None.
    ``ydl`` needs no extractors: only its guarded ``urlopen`` is used."""
    try:
        response = ydl.urlopen(Request(url, headers={"Accept-Encoding": "identity"}))
    except RequestError:
        return None  # yt-dlp asks again and explains the failure in its own words
    with response:
        ext = _plain_media_ext(url, response)
        if ext is None:
            return None
        title = urllib.parse.unquote(Path(url_basename(url)).stem) or "download"
        tracker.title = title
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        path = workdir / f"media.{ext}"
        _stream(response, path, total, tracker)
    refuse_text_file(path)
    return FetchedMedia(path=path, title=title, ext=ext)


def _plain_media_ext(url: str, response: Any) -> str | None:
    """The file's extension when the answer is the media itself (not a redirect or a manifest)."""
    if response.status != 200 or response.url != url:
        return None
    if (response.headers.get("Content-Encoding") or "identity").lower() != "identity":
        return None
    match = _MEDIA_TYPE.match((response.headers.get("Content-Type") or "").lower())
    if match is None or any(marker in match.group("subtype") for marker in _MANIFESTS):
        return None
    ext = determine_ext(url, default_ext=None) or urlhandle_detect_ext(response)
    if not ext or not re.fullmatch(r"[a-z0-9]{1,10}", str(ext)) or str(ext) in _MANIFESTS:
        return None
    return str(ext)


def _stream(response: Any, path: Path, total: int | None, tracker: ProgressTracker) -> None:
    """Copy the body to ``path`` as it arrives (up to a block per read, never waiting for a full
    block), reporting every read as yt-dlp's hook would: a slow source shows progress and can be
    cancelled at once, a fast one moves in large reads."""
    status: dict[str, Any] = {"status": "downloading", "filename": str(path), "total_bytes": total}
    read = getattr(response.fp, "read1", None) or response.read  # what is there, up to BLOCK
    downloaded = 0
    tracker.hook({**status, "downloaded_bytes": 0})  # an announced size over the limit stops here
    with path.open("wb", buffering=0) as out:
        while chunk := read(BLOCK):
            out.write(chunk)
            downloaded += len(chunk)
            status["downloaded_bytes"] = downloaded
            tracker.hook(status)
    if total is not None and downloaded != total:
        raise ConnectionError(f"the server sent {downloaded:,} of {total:,} bytes")
    tracker.hook({**status, "status": "finished", "total_bytes": downloaded})
