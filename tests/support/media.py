"""Test media made offline with ffmpeg, and a loopback HTTP server that serves it.

``make_media(directory)`` writes a few seconds of test pattern + tone as:

- ``v360.mp4``, ``v720.mp4``, ``v1080.mp4`` — direct files (video + audio);
- ``master.m3u8`` — an HLS master playlist with 360p/720p/1080p variants (muxed audio);
- ``encrypted.m3u8`` — 720p HLS encrypted with AES-128;
- ``dash.mpd`` — video-only 360p/720p/1080p and one audio-only stream, which must be merged;
- ``page-<slug>.html`` pages whose ``og:title`` is the title and ``og:video`` the HLS master.

``MediaServer`` serves that folder on 127.0.0.1 (or another loopback address) and adds a few
routes for the unhappy paths: redirects, slow and stalling transfers, large bodies, and arbitrary
bodies. It records every request path, so a test can assert that a refused address got none.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HEIGHTS = (360, 720, 1080)
SECONDS = 2


def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", *args], check=True, timeout=120)


def make_media(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    variants = []
    for height in HEIGHTS:
        width = height * 16 // 9
        muxed = directory / f"v{height}.mp4"
        _ffmpeg(
            "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=10:duration={SECONDS}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-shortest", str(muxed),
        )  # fmt: skip
        segments = str(directory / f"hls{height}_%03d.ts")
        _ffmpeg(
            "-i", str(muxed), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            "-hls_segment_filename", segments, str(directory / f"hls{height}.m3u8"),
        )  # fmt: skip
        _ffmpeg("-i", str(muxed), "-an", "-c", "copy", str(directory / f"video{height}.mp4"))
        variants.append((height, width))
    _ffmpeg("-i", str(directory / "v720.mp4"), "-vn", "-c", "copy", str(directory / "audio.m4a"))
    # AES-128 encrypted HLS (the key is served beside it): yt-dlp decrypts it natively with
    # pycryptodomex instead of handing it to ffmpeg.
    (directory / "enc.key").write_bytes(bytes(range(16)))
    (directory / "enc.keyinfo").write_text(f"enc.key\n{directory / 'enc.key'}\n")
    _ffmpeg(
        "-i", str(directory / "v720.mp4"), "-c", "copy",
        "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
        "-hls_key_info_file", str(directory / "enc.keyinfo"),
        "-hls_segment_filename", str(directory / "enc_%03d.ts"), str(directory / "encrypted.m3u8"),
    )  # fmt: skip

    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for height, width in variants:
        codecs = 'CODECS="avc1.64001f,mp4a.40.2"'
        master.append(f"#EXT-X-STREAM-INF:BANDWIDTH={height * 1000},RESOLUTION={width}x{height},{codecs}")
        master.append(f"hls{height}.m3u8")
    (directory / "master.m3u8").write_text("\n".join(master) + "\n")

    representations = "\n".join(
        f'<Representation id="v{h}" codecs="avc1.64001f" width="{w}" height="{h}" bandwidth="{h * 500}">'
        f"<BaseURL>video{h}.mp4</BaseURL></Representation>"
        for h, w in variants
    )
    (directory / "dash.mpd").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S" '
        'minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period>'
        f'<AdaptationSet mimeType="video/mp4" contentType="video">{representations}</AdaptationSet>'
        '<AdaptationSet mimeType="audio/mp4" contentType="audio" lang="en">'
        '<Representation id="a" codecs="mp4a.40.2" bandwidth="64000" audioSamplingRate="44100">'
        "<BaseURL>audio.m4a</BaseURL></Representation></AdaptationSet></Period></MPD>\n"
    )
    return directory


def write_page(directory: Path, slug: str, title: str, video_url: str) -> str:
    """An HTML page with ``og:title``/``og:video``; returns its path on the server."""
    (directory / f"page-{slug}.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:video" content="{video_url}">'
        "</head><body><p>test page</p></body></html>\n",
        encoding="utf-8",
    )
    return f"/page-{slug}.html"


_TYPES = {
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".ts": "video/mp2t",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".html": "text/html; charset=utf-8",
    ".key": "application/octet-stream",
}


class MediaServer:
    """A threaded loopback HTTP server; see the module docstring for its routes."""

    def __init__(self, root: Path, host: str = "127.0.0.1") -> None:
        self.root = root
        self.requests: list[str] = []
        self.bodies: dict[str, tuple[str, bytes]] = {}  # path -> (content type, body)
        self.open_transfers = 0
        self._lock = threading.Lock()
        handler = _handler_for(self)
        self._httpd = ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> MediaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def hits(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [path for path in self.requests if path.startswith(prefix)]

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)


def _handler_for(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._respond(head=True)

        def do_GET(self) -> None:
            self._respond(head=False)

        def _respond(self, *, head: bool) -> None:
            server._record(self.path)
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            path = parts.path
            if path == "/redirect":
                self.send_response(int(query.get("code", "302")))
                self.send_header("Location", query["to"])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path in server.bodies:
                content_type, body = server.bodies[path]
                self._send(body, content_type, head)
            elif path.startswith("/big/"):
                self._big(int(query.get("bytes", "0")), query.get("length", "yes") == "yes", head)
            elif path.startswith("/slow/"):
                self._slow(server.root / path.removeprefix("/slow/"), float(query.get("rate", "20000")), head)
            elif path.startswith("/stall/"):
                self._stall(head)
            else:
                file = (server.root / path.lstrip("/")).resolve()
                if server.root.resolve() not in file.parents or not file.is_file():
                    self.send_error(404)
                    return
                self._send_file(file, head)

        def _send(self, body: bytes, content_type: str, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _send_file(self, file: Path, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(file.stat().st_size))
            self.end_headers()
            if head:
                return
            self.wfile.flush()
            # OSError: the client went away (yt-dlp's first look at a page reads only its start).
            with file.open("rb") as handle, contextlib.suppress(OSError):
                self.connection.sendfile(handle)

        def _big(self, size: int, with_length: bool, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            if with_length:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            if head:
                return
            chunk = bytes(range(256)) * 256  # binary, 64 KiB
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: min(len(chunk), size - sent)]
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:
                pass

        def _slow(self, file: Path, rate: float, head: bool) -> None:
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            with _transfer(server):
                step = max(1, int(rate / 10))
                try:
                    for start in range(0, len(body), step):
                        self.wfile.write(body[start : start + step])
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass

        def _stall(self, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            if head:
                return
            with _transfer(server):
                try:
                    self.wfile.write(bytes(range(256)) * 64)
                    self.wfile.flush()
                    # Hold the connection open without sending; ends when the client hangs up.
                    self.connection.settimeout(60)
                    while self.connection.recv(1024):
                        pass
                except OSError:
                    pass

    return Handler


@contextmanager
def _transfer(server: MediaServer) -> Iterator[None]:
    with server._lock:
        server.open_transfers += 1
    try:
        yield
    finally:
        with server._lock:
            server.open_transfers -= 1


_MEDIA_LOCK = threading.Lock()


def shared_media(base: Path) -> Path:
    """``make_media`` once per test session (``base`` is the session's base temp dir)."""
    directory = base / "media-files"
    with _MEDIA_LOCK:
        if not (directory / ".done").exists():
            shutil.rmtree(directory, ignore_errors=True)
            make_media(directory)
            (directory / ".done").write_text("ok")
    return directory


def probe_streams(path: Path) -> dict[str, object]:
    """ffprobe's view of a file: its video height (or None) and whether it has audio and video."""
    import json

    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe (Debian's ffmpeg package) is needed to check media files"
    done = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    streams = json.loads(done.stdout)["streams"]
    video = [s for s in streams if s["codec_type"] == "video"]
    return {
        "height": video[0]["height"] if video else None,
        "video": bool(video),
        "audio": any(s["codec_type"] == "audio" for s in streams),
        "codecs": sorted(s["codec_name"] for s in streams),
    }
