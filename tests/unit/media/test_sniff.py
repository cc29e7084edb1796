"""The media sniffer: playlists and text in any encoding are refused, binary containers are not."""

from __future__ import annotations

import pytest

from dlserve.media.sniff import non_media_reason

PLAYLIST = "#EXTM3U\n#EXTINF:2.0,caf\u00e9\nfile:///srv/secret.ts\n#EXT-X-ENDLIST\n"


@pytest.mark.parametrize(
    "encoding", ["ascii", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]
)
def test_a_playlist_is_refused_in_every_encoding(encoding: str) -> None:
    text = PLAYLIST if encoding != "ascii" else PLAYLIST.replace("\u00e9", "e")
    assert non_media_reason(text.encode(encoding)) is not None


@pytest.mark.parametrize(
    "head",
    [
        b"  \n#extm3u\nhttp://x/a.ts\n",  # leading blank lines, lower case
        b'<?xml version="1.0"?><MPD></MPD>',  # DASH
        b"ffconcat version 1.0\nfile /etc/passwd\n",
        b"\xef\xbb\xbfhello",  # UTF-8 BOM
        b"\xff\xfe\x00\x00",  # UTF-16/32 BOM
        "d\u00e9j\u00e0 vu, plain text\n".encode("cp1252") * 50,  # 8-bit text
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8".encode() * 100,  # UTF-8, cut mid-character
    ],
)
def test_markup_boms_and_text_are_refused(head: bytes) -> None:
    assert non_media_reason(head[:-1] if head.startswith(b"\xe6") else head) is not None


@pytest.mark.parametrize(
    "head",
    [
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8,  # MP4
        b"\x1aE\xdf\xa3\x9fB\x86\x81\x01" + bytes(range(255, -1, -1)) * 8,  # Matroska / WebM
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4,  # MP3 with a tag
        b"",
    ],
)
def test_binary_containers_pass(head: bytes) -> None:
    assert non_media_reason(head) is None
