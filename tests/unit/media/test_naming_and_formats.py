"""Quality names, format selectors, file names and the download headers."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from dlserve.media.filenames import filename_for
from dlserve.media.formats import QUALITIES, normalise_quality, selection_options
from dlserve.storage.content import ascii_fallback, content_disposition, content_type_for


@pytest.mark.parametrize(
    ("given", "quality"),
    [(None, "best"), ("", "best"), ("720P", "720p"), (" audio ", "audio"), ("1080", "1080p")],
)
def test_quality_names_are_normalised(given: str | None, quality: str) -> None:
    assert normalise_quality(given) == quality


@pytest.mark.parametrize("bad", ["4k", "721p", "hd", "video"])
def test_unknown_qualities_name_the_accepted_ones(bad: str) -> None:
    with pytest.raises(ValueError, match="best, 2160p, 1440p, 1080p, 720p, 480p, 360p, 240p, audio"):
        normalise_quality(bad)


def test_every_quality_has_a_selector() -> None:
    for quality in QUALITIES:
        assert selection_options(quality)["format"]
    assert selection_options("720p")["format_sort"] == ["res:720"]
    assert "format_sort" not in selection_options("best")
    audio = selection_options("audio")
    assert audio["format"].startswith("ba[ext=m4a]")
    assert audio["postprocessors"][0]["key"] == "FFmpegExtractAudio"


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Canción de prueba – ñ", "Canción de prueba – ñ.mp4"),
        ("a/b\\c: d?*", "a b c d.mp4"),
        ("  ..hidden. ", "hidden.mp4"),
        ("line\nbreak\ttab", "line break tab.mp4"),
        ("", "download.mp4"),
        (None, "download.mp4"),
        ('say "hi" <now>|', "say hi now.mp4"),
    ],
)
def test_file_names_come_from_the_title_and_are_safe(title: str | None, name: str) -> None:
    assert filename_for(title, "mp4") == name


def test_long_titles_are_cut_on_a_character_boundary() -> None:
    name = filename_for("ñ" * 300, "m4a")
    assert name.endswith(".m4a")
    assert len(name.encode()) <= 205
    assert name.removesuffix(".m4a") == "ñ" * 100


def test_plain_titles_get_a_plain_header() -> None:
    assert content_disposition("Test Pattern.mp4") == 'attachment; filename="Test Pattern.mp4"'


def test_non_ascii_titles_round_trip_through_filename_star_with_an_ascii_fallback() -> None:
    header = content_disposition("Canción de prueba – ñ.mp4")
    assert header == (
        "attachment; filename*=UTF-8''Canci%C3%B3n%20de%20prueba%20%E2%80%93%20%C3%B1.mp4; "
        'filename="Cancion de prueba - n.mp4"'
    )
    encoded = header.split("filename*=UTF-8''")[1].split(";")[0]
    assert unquote(encoded) == "Canción de prueba – ñ.mp4"
    # The seed's JavaScript example:
    #   response.headers.get('content-disposition').split('filename=')[1].replace(/"/g, '')
    assert header.split("filename=")[1].replace('"', "") == "Cancion de prueba - n.mp4"


def test_ascii_fallback_keeps_letters_and_replaces_what_it_cannot_spell() -> None:
    assert ascii_fallback("Ça va? «oui» — 東京.mp3") == "Ca va? 'oui' - __.mp3"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("a.mp4", "video/mp4"), ("a.webm", "video/webm"), ("a.m4a", "audio/mp4"), ("a.mp3", "audio/mpeg"),
     ("a.opus", "audio/ogg"), ("a.ogg", "audio/ogg"), ("a.mkv", "video/x-matroska"), ("A.MP4", "video/mp4"),
     ("noext", "application/octet-stream"), ("a.xyz", "application/octet-stream")],
)  # fmt: skip
def test_content_type_follows_the_extension(name: str, content_type: str) -> None:
    assert content_type_for(name) == content_type
