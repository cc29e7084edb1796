"""`YtDlpFetcher`: the :class:`~dlserve.media.interfaces.Fetcher`, with yt-dlp embedded as a library.

Each fetch gets its own ``YoutubeDL``, its own :class:`~dlserve.media.guard.ConnectionGate`
and its own work folder (the caller's), so cancelling one never touches another, and whatever
yt-dlp leaves behind (``.part``, ``.ytdl``, fragments) is the caller's folder to delete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yt_dlp.utils import DownloadError, ExtractorError, PostProcessingError

from dlserve.logs import get_logger
from dlserve.media.direct import fetch_plain_file, only_generic_claims
from dlserve.media.errors import Cancelled, FetchError, Refused
from dlserve.media.ffmpeg import FfmpegTools, MediaInfo
from dlserve.media.formats import is_audio_only, selection_options
from dlserve.media.guard import AddressPolicy, ConnectionGate
from dlserve.media.interfaces import FetchedMedia, FetchRequest
from dlserve.media.progress import ProgressTracker, refuse_text_file
from dlserve.media.transport import GuardedYoutubeDL, TransportRefused

log = get_logger("dlserve.media.fetch")

# Messages of yt-dlp errors worth another attempt: the network or the server, not the URL.
_TRANSIENT_MARKERS = (
    "timed out",
    "connection reset",
    "connection refused",
    "temporary failure",
    "incompleteread",
    "incomplete read",
    "http error 5",
    "http error 429",
    "remote end closed",
    "unable to download",
    "transporterror",
)


class _YtDlpLogger:
    """yt-dlp's chatter goes to our debug log; nothing is printed."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp", message=message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp", message=message)

    def warning(self, message: str) -> None:
        log.info("yt-dlp warning", message=message)

    def error(self, message: str) -> None:
        log.info("yt-dlp error", message=message)


class YtDlpFetcher:
    def __init__(
        self, policy: AddressPolicy, tools: FfmpegTools | None, socket_timeout: float = 30.0
    ) -> None:
        self._policy = policy
        self._tools = tools
        self._socket_timeout = socket_timeout

    def fetch(self, request: FetchRequest, tracker: ProgressTracker) -> FetchedMedia:
        gate = ConnectionGate(self._policy)
        tracker.on_cancel(gate.close)
        if tracker.cancel_reason is not None:
            gate.close()
        try:
            plain = self._plain_file(request, tracker, gate)
            if plain is not None:
                return plain
            tracker.check()
            with GuardedYoutubeDL(self._params(request, tracker), gate) as ydl:
                return self._run(ydl, request, tracker)
        except FetchError:
            raise
        except TransportRefused as refused:
            raise Refused(str(refused)) from refused
        except Exception as error:
            raise self._explain(error, gate, tracker) from error

    def _params(self, request: FetchRequest, tracker: ProgressTracker) -> dict[str, Any]:
        work = str(request.workdir)
        params: dict[str, Any] = {
            **selection_options(request.quality),
            "outtmpl": {"default": "media.%(ext)s"},
            "paths": {"home": work, "temp": work},
            "logger": _YtDlpLogger(),
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "color": "no_color",
            "progress_hooks": [tracker.hook],
            "postprocessor_hooks": [tracker.postprocessor_hook],
            "playlist_items": "1",  # a playlist URL gives its first video
            "socket_timeout": self._socket_timeout,
            "retries": 3,
            "fragment_retries": 3,
            "extractor_retries": 1,
            "overwrites": True,
            "continuedl": False,
            "cachedir": False,
            "check_formats": False,
            "trim_file_name": 100,
        }
        if self._tools is not None:
            params["ffmpeg_location"] = self._tools.ffmpeg
        return params

    def _plain_file(
        self, request: FetchRequest, tracker: ProgressTracker, gate: ConnectionGate
    ) -> FetchedMedia | None:
        """A plain media file in one guarded request (:mod:`dlserve.media.direct`); None when the
        URL is anything else. Audio is extracted by ffmpeg: that stays yt-dlp's business."""
        if is_audio_only(request.quality) or not only_generic_claims(request.url):
            return None
        with GuardedYoutubeDL(self._params(request, tracker), gate, extractors=False) as light:
            return fetch_plain_file(light, request.url, request.workdir, tracker)

    def _run(self, ydl: GuardedYoutubeDL, request: FetchRequest, tracker: ProgressTracker) -> FetchedMedia:
        info = ydl.extract_info(request.url, download=False)
        if info is None:
            raise FetchError("no media was found at this URL", retryable=False)
        if info.get("_type") == "playlist":
            entries = [entry for entry in info.get("entries") or [] if entry]
            if not entries:
                raise FetchError("the playlist at this URL has no media", retryable=False)
            info = entries[0]
        if info.get("is_live"):
            raise FetchError("live streams cannot be downloaded", retryable=False)
        tracker.title = str(info.get("title") or info.get("id") or "download")
        formats = info.get("requested_formats") or [info]
        sizes = [f.get("filesize") for f in formats]
        tracker.check_expected_size(sum(sizes) if all(sizes) else None)
        tracker.check()

        result = ydl.process_ie_result(info, download=True)
        tracker.check()
        downloads = result.get("requested_downloads") or []
        path = Path(downloads[0]["filepath"]) if downloads and downloads[0].get("filepath") else None
        if path is None or not path.is_file():
            raise FetchError("the download produced no file", retryable=True)
        refuse_text_file(path)
        return FetchedMedia(
            path=path,
            title=tracker.title,
            ext=path.suffix.lstrip(".").lower() or "bin",
            known=known_media_info(result),
        )

    @staticmethod
    def _explain(error: Exception, gate: ConnectionGate, tracker: ProgressTracker) -> FetchError:
        """yt-dlp wraps whatever stopped it; find the real reason."""
        if tracker.cancel_reason is not None:
            return Cancelled(tracker.cancel_reason)
        for cause in _causes(error):
            if isinstance(cause, FetchError):
                return cause
            if isinstance(cause, TransportRefused):
                return Refused(str(cause))
        if gate.refusals:
            refused = gate.refusals[0]
            if refused.startswith("a redirect to"):
                return Refused(f"refused {refused} URL: only http and https can be followed")
            return Refused(
                f"refused: {refused} is not a public address; downloads from loopback, private, "
                "link-local and other internal networks are not allowed"
            )
        message = _clean(str(error))
        if isinstance(error, PostProcessingError):
            return FetchError(f"post-processing failed: {message}", retryable=False)
        transient = any(marker in message.lower() for marker in _TRANSIENT_MARKERS)
        if isinstance(error, DownloadError | ExtractorError):
            return FetchError(message, retryable=transient and "http error 4" not in message.lower())
        return FetchError(f"{type(error).__name__}: {message}", retryable=True)


def known_media_info(info: dict[str, Any]) -> MediaInfo | None:
    """What yt-dlp already knows of the downloaded format (dimensions and duration), so that no
    ffprobe has to measure it; None unless it knows all of it. Audio-only: no picture to measure."""
    duration = info.get("duration")
    if not isinstance(duration, int | float) or duration <= 0:
        return None
    vcodec, acodec = info.get("vcodec"), info.get("acodec")
    width, height = info.get("width"), info.get("height")
    if vcodec == "none":
        return MediaInfo(None, None, float(duration), has_video=False, has_audio=acodec not in (None, "none"))
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0 and vcodec:
        return MediaInfo(
            width, height, float(duration), has_video=True, has_audio=acodec not in (None, "none")
        )
    return None


def warm_up() -> None:
    """Compile yt-dlp's extractor URL patterns now (about a second of CPU) rather than during the
    first download of the process; they are cached on the classes afterwards."""
    from yt_dlp.extractor import gen_extractor_classes

    for extractor in gen_extractor_classes():
        extractor.suitable("https://warm-up.invalid/")


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        exc_info = getattr(current, "exc_info", None)  # yt-dlp's DownloadError keeps the original here
        nested = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        current = nested or current.__cause__ or current.__context__
    return seen


def _clean(message: str) -> str:
    return message.removeprefix("ERROR: ").strip() or "the download failed"
