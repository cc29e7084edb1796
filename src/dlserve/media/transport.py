"""yt-dlp wired to the SSRF guard: the only way a fetch touches the network.

yt-dlp has no SSRF protection of its own (it follows redirects to internal addresses and to
``ftp://``), so :class:`GuardedYoutubeDL` replaces its whole set of request handlers with one
:class:`DlserveGuardedRH`: urllib with http/https only (no ftp, file, data or proxy handlers), whose
connections are opened by the fetch's :class:`~dlserve.media.guard.ConnectionGate`. Everything
yt-dlp downloads goes through ``YoutubeDL.urlopen`` and so through the gate: pages, manifests,
redirects, media files, HLS/DASH segments and keys.

What would bypass it, and is shut here:

- ffmpeg fetching URLs by itself (live HLS, HLS the native downloader can't handle,
  ``download_ranges``, ``external_downloader``): only yt-dlp's native downloaders may run
  (``dl``), and every external downloader refuses to start for a guarded instance — including
  the one ``HlsFD`` falls back to internally.
- ffmpeg opening URLs *inside* a downloaded file (an HLS playlist served as "video.mp4" and handed to
  the merger): every ffmpeg postprocessor input gets :mod:`dlserve.media.ffmpeg_inputs`' options
  (no network protocol, no playlist demuxer), and the fetcher refuses downloaded files that are
  playlists or text (see :mod:`dlserve.media.sniff`).

yt-dlp's private modules are used here; ``pyproject.toml`` pins its version, and each bypass has a test.
"""

from __future__ import annotations

import functools
import http.client
import re
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urljoin, urlsplit

from yt_dlp import YoutubeDL
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.dash import DashSegmentsFD
from yt_dlp.downloader.external import ExternalFD
from yt_dlp.downloader.hls import HlsFD
from yt_dlp.downloader.http import HttpFD
from yt_dlp.networking._urllib import HTTPHandler, RedirectHandler, UrllibRH

from dlserve.media import ytdlp_probes  # noqa: F401 - guards yt-dlp's own ffprobe runs on import
from dlserve.media.ffmpeg_inputs import SAFE_INPUT_OPTIONS
from dlserve.media.guard import ALLOWED_SCHEMES, ConnectionGate

NATIVE_DOWNLOADERS = (HttpFD, HlsFD, DashSegmentsFD)
LOCAL_FILES_ONLY = SAFE_INPUT_OPTIONS


class TransportRefused(Exception):
    """yt-dlp wanted to fetch something in a way the guard does not allow."""


class _GuardedHTTPHandler(HTTPHandler):  # type: ignore[misc]
    def __init__(self, gate: ConnectionGate, context: Any) -> None:
        super().__init__(context=context)
        self._gate = gate

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._connection_class(http.client.HTTPConnection, req), req)

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            self._connection_class(http.client.HTTPSConnection, req), req, context=self._context
        )

    def _connection_class(self, base: type[http.client.HTTPConnection], req: urllib.request.Request) -> Any:
        if req.headers.pop("Ytdl-socks-proxy", None) is not None:
            raise urllib.error.URLError("proxies are not allowed for media downloads")
        gate = self._gate

        def build(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            connection = base(*args, **kwargs)
            # http.client connects through this attribute; HTTPS wraps the socket afterwards with the
            # host *name* for SNI and certificate checks, while TCP went to the address the gate checked.
            connection._create_connection = gate.connect  # type: ignore[attr-defined]
            return connection

        return build


class _GuardedRedirectHandler(RedirectHandler):  # type: ignore[misc]
    """Redirects to http/https only; the new connection then goes through the gate like any other."""

    def __init__(self, gate: ConnectionGate) -> None:
        super().__init__()
        self._gate = gate

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            scheme = urlsplit(urljoin(req.full_url, location)).scheme.lower()
            if scheme not in ALLOWED_SCHEMES:
                self._gate.refusals.append(f"a redirect to {scheme}:")
                raise urllib.error.HTTPError(
                    req.full_url, code, f"redirect to a {scheme}: URL refused", headers, fp
                )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class DlserveGuardedRH(UrllibRH):  # type: ignore[misc]
    """yt-dlp's urllib handler, reduced to http/https through the gate. (yt-dlp wants the RH suffix.)"""

    _SUPPORTED_URL_SCHEMES = ALLOWED_SCHEMES
    _SUPPORTED_PROXY_SCHEMES = ()
    _SUPPORTED_FEATURES = ()

    def __init__(self, *, gate: ConnectionGate, **kwargs: Any) -> None:
        kwargs.pop("enable_file_urls", None)
        super().__init__(**kwargs)
        self._gate = gate

    def _make_sslcontext(self, legacy_ssl_support: bool | None = None) -> Any:
        # Loading the CA bundle takes ~0.1-0.3 s; a context is immutable once made and thread-safe,
        # so one per set of options serves every fetch of the process.
        legacy = legacy_ssl_support if legacy_ssl_support is not None else self.legacy_ssl_support
        options = (
            self.verify,
            bool(legacy),
            not self.prefer_system_certs,
            *sorted(self._client_cert.items()),
        )
        return _ssl_context(
            options, lambda: super(DlserveGuardedRH, self)._make_sslcontext(legacy_ssl_support)
        )

    def _create_instance(
        self, proxies: Any, cookiejar: Any, legacy_ssl_support: bool | None = None
    ) -> urllib.request.OpenerDirector:
        opener = urllib.request.OpenerDirector()
        for handler in (
            _GuardedHTTPHandler(self._gate, self._make_sslcontext(legacy_ssl_support=legacy_ssl_support)),
            urllib.request.HTTPCookieProcessor(cookiejar),
            urllib.request.UnknownHandler(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            _GuardedRedirectHandler(self._gate),
        ):
            opener.add_handler(handler)
        opener.addheaders = []
        return opener


_SSL_CONTEXTS: dict[tuple[Any, ...], Any] = {}
_SSL_LOCK = threading.Lock()


def _ssl_context(options: tuple[Any, ...], make: Any) -> Any:
    with _SSL_LOCK:
        if options not in _SSL_CONTEXTS:
            _SSL_CONTEXTS[options] = make()
        return _SSL_CONTEXTS[options]


class _FfmpegInputOptions(dict[str, list[str]]):
    """``postprocessor_args`` that give every ffmpeg postprocessor input ``LOCAL_FILES_ONLY``.

    yt-dlp looks input options up as ``<postprocessor>+ffmpeg_i1`` then ``..._i``; answering the
    first lookup of each input (and nothing else) adds the options exactly once per input.
    """

    _INPUT_KEY = re.compile(r".+\+ffmpeg_i\d+")

    def get(self, key: str, default: Any = None) -> Any:
        if self._INPUT_KEY.fullmatch(key):
            return list(LOCAL_FILES_ONLY)
        return super().get(key, default)


class GuardedYoutubeDL(YoutubeDL):  # type: ignore[misc]
    """A ``YoutubeDL`` whose every request goes through ``gate``."""

    def __init__(self, params: dict[str, Any], gate: ConnectionGate, *, extractors: bool = True) -> None:
        """``extractors=False``: no info extractors loaded (~0.5 s), for plain requests only."""
        self.dlserve_gate = gate
        guarded = {
            **params,
            "proxy": "",  # no proxy from the environment either
            "enable_file_urls": False,
            "external_downloader": {"default": "native"},
            "hls_prefer_native": True,
            "postprocessor_args": _FfmpegInputOptions(),
        }
        super().__init__(guarded, auto_init=extractors)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        # Whatever handlers yt-dlp has registered (urllib, requests, curl_cffi, websockets), only ours.
        return super().build_request_director([functools.partial(DlserveGuardedRH, gate=self.dlserve_gate)])

    def dl(self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False) -> Any:
        downloader = get_suitable_downloader(info, self.params, to_stdout=(name == "-"))
        if downloader not in NATIVE_DOWNLOADERS:
            protocol = info.get("protocol") or "unknown"
            raise TransportRefused(
                f"this media needs a downloader that is not allowed here (protocol {protocol}; "
                "live streams and ffmpeg/rtmp/external downloads are refused)"
            )
        return super().dl(name, info, subtitle=subtitle, test=test)


_external_real_download = ExternalFD.real_download


def _refuse_for_guarded(self: Any, filename: str, info_dict: dict[str, Any]) -> Any:
    if isinstance(self.ydl, GuardedYoutubeDL):
        raise TransportRefused(
            f"{self.get_basename()} would fetch the media itself, outside the address guard; refused"
        )
    return _external_real_download(self, filename, info_dict)


# External downloaders (ffmpeg among them) open URLs themselves. HlsFD falls back to FFmpegFD
# internally for streams it can't handle, so refusing in ``dl`` alone is not enough.
ExternalFD.real_download = _refuse_for_guarded
