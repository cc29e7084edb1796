"""What ffmpeg and ffprobe may open when their input came from a remote server.

Every input that was downloaded (merging, audio extraction, fixups, probing) gets
:data:`SAFE_INPUT_OPTIONS`:

- ``-protocol_whitelist file,pipe``: the file itself is the only thing opened; no network protocol.
- ``-format_whitelist`` of plain media containers: playlist and reference demuxers (``hls``,
  ``dash``, ``concat``, ``lavfi``, ``imf``, ``sdp``…) cannot be chosen at all, whatever the bytes
  say. Those demuxers are the only ones that open further URIs named *inside* a file, so with them
  shut, ``file`` in the protocol list can only ever open the input path we give.

Together with :mod:`dlserve.media.sniff` (which refuses playlists and text before ffmpeg runs),
a downloaded file can never make ffmpeg read another local file.
"""

from __future__ import annotations

# Demuxer names (``ffmpeg -demuxers``) of the containers yt-dlp hands over. The mov demuxer does not
# follow external data references unless ``-enable_drefs 1`` is given, which we never do.
MEDIA_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "mpegts",
    "mp3",
    "aac",
    "ogg",
    "flac",
    "wav",
    "flv",
    "avi",
    "asf",
    "mpeg",
    "h264",
    "hevc",
    "ac3",
    "eac3",
    "m4v",
    "aiff",
)

SAFE_INPUT_OPTIONS = [
    "-protocol_whitelist",
    "file,pipe",
    "-format_whitelist",
    ",".join(MEDIA_DEMUXERS),
]
