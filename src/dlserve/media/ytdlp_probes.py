"""yt-dlp's own ffprobe runs, given :data:`~dlserve.media.ffmpeg_inputs.SAFE_INPUT_OPTIONS` too.

Besides its ffmpeg postprocessor runs (which get the options through ``postprocessor_args``, see
:mod:`dlserve.media.transport`), yt-dlp runs ffprobe on downloaded files itself: which audio codec
to extract, stream numbers. Those two methods build their command lines without any options, so
they are replaced here, when :mod:`dlserve.media.transport` is imported.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import Popen

from dlserve.media.ffmpeg_inputs import SAFE_INPUT_OPTIONS

_AUDIO_STREAM = re.compile(r"Stream\s*#\d+:\d+(?:\[0x[0-9a-f]+\])?(?:\([a-z]{3}\))?:\s*Audio:\s*([0-9a-z]+)")


def _guarded_get_audio_codec(self: Any, path: str) -> str | None:
    """yt-dlp's ``get_audio_codec`` (audio extraction asks it), with :data:`SAFE_INPUT_OPTIONS`."""
    if self.probe_available:
        cmd = [self.probe_executable, *SAFE_INPUT_OPTIONS, "-show_streams"]
    elif self.available:
        cmd = [self.executable, *SAFE_INPUT_OPTIONS, "-i"]
    else:
        original: str | None = _original_get_audio_codec(self, path)  # raises yt-dlp's "not found"
        return original
    cmd.append(self._ffmpeg_filename_argument(path))
    try:
        stdout, stderr, returncode = Popen.run(
            cmd, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError:
        return None
    if self.probe_available:
        if returncode != 0:
            return None
        codec: str | None = None
        for line in str(stdout).split("\n"):
            if line.startswith("codec_name="):
                codec = line.split("=", 1)[1].strip()
            elif line.strip() == "codec_type=audio" and codec is not None:
                return codec
        return None
    found = _AUDIO_STREAM.search(str(stderr))
    return found.group(1) if found else None


def _guarded_get_metadata_object(self: Any, path: str, opts: list[str] | None = None) -> Any:
    return _original_get_metadata_object(self, path, [*SAFE_INPUT_OPTIONS, *(opts or [])])


# yt-dlp's postprocessors also run ffprobe on the downloaded files themselves (which codec to
# extract, stream numbers); those runs get the same input options as the ffmpeg runs.
_original_get_audio_codec = FFmpegPostProcessor.get_audio_codec
_original_get_metadata_object = FFmpegPostProcessor.get_metadata_object
FFmpegPostProcessor.get_audio_codec = _guarded_get_audio_codec
FFmpegPostProcessor.get_metadata_object = _guarded_get_metadata_object
