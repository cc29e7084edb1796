"""GET/HEAD /v4/files/{download_id}/{name}: signed links, headers, byte ranges and error envelopes,
over HTTP on a bare app with only the files router (the downloads code plugs in a resolver)."""

from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dlserve.api import file_response, files
from dlserve.api.errors import install_error_handlers
from dlserve.api.files import FileSource
from dlserve.clock import FrozenClock
from dlserve.storage import LinkSigner, LocalStorage, ResolvedFile, file_link_path
from dlserve.storage.content import content_type_for
from dlserve.storage.interfaces import FileResolver

CSV = b"id,name,city\n" + b"".join(b"%d,Business %d,Austin\n" % (n, n) for n in range(200))
JSONL = b'{"id": 1, "name": "A"}\n{"id": 2, "name": "B"}\n'
BIG = hashlib.sha256(b"seed").digest() * (3 * file_response.CHUNK_SIZE // 32 + 7)  # several chunks, odd tail


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FrozenClock()
        self.signer = LinkSigner("integration-secret")
        self.storage = LocalStorage(tmp_path / "files")
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        self.files: dict[tuple[str, str], ResolvedFile] = {}
        app = FastAPI()
        install_error_handlers(app)
        app.include_router(files.router)
        self.resolver: FileResolver = lambda download_id, name: self.files.get((download_id, name))
        app.dependency_overrides[files.file_source] = lambda: FileSource(
            self.signer, self.clock, self.storage, self.resolver
        )
        self.app = app
        self.client = TestClient(app)

    def add(self, download_id: str, name: str, content: bytes) -> str:
        key = f"downloads/{download_id}/{name}"
        source = self.scratch / name
        source.write_bytes(content)
        self.storage.put_file(key, source)
        self.files[(download_id, name)] = ResolvedFile(storage_key=key, filename=name, size=len(content))
        return key

    def link(self, download_id: str, name: str, ttl: timedelta = timedelta(days=7)) -> str:
        path = file_link_path(download_id, name)
        return f"{path}?{self.signer.sign(path, self.clock.now() + ttl)}"


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    h = Harness(tmp_path)
    h.add("12", "12_1.csv", CSV)
    h.add("12", "12_2.txt", JSONL)
    h.add("12", "12_3.csv.gz", gzip.compress(CSV, mtime=0))
    h.add("12", "12_4.csv", BIG)
    h.add("12", "12_5.csv", b"")
    return h


def assert_envelope(response: Any, status: int, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "code", "details"}, body
    assert body["code"] == status
    if message is not None:
        assert body["message"] == message
    return body


def test_a_signed_link_serves_the_exact_bytes_with_download_headers(harness: Harness) -> None:
    response = harness.client.get(harness.link("12", "12_1.csv"))
    assert response.status_code == 200
    assert response.content == CSV
    headers = response.headers
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-length"] == str(len(CSV))
    assert headers["content-disposition"] == 'attachment; filename="12_1.csv"'
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"')
    assert headers["last-modified"].endswith("GMT")
    assert headers["x-content-type-options"] == "nosniff"
    assert "content-range" not in headers
    assert "content-encoding" not in headers


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("12_2.txt", "text/plain; charset=utf-8"),
        # The .gz file itself, not Content-Encoding: clients must save it compressed.
        ("12_3.csv.gz", "application/gzip"),
    ],
)
def test_content_types(harness: Harness, name: str, content_type: str) -> None:
    response = harness.client.get(harness.link("12", name))
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert "content-encoding" not in response.headers
    if name.endswith(".gz"):
        assert gzip.decompress(response.content) == CSV
    else:
        assert response.content == JSONL


def test_a_large_file_streams_completely(harness: Harness) -> None:
    response = harness.client.get(harness.link("12", "12_4.csv"))
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(BIG))
    assert response.content == BIG


def test_an_empty_file(harness: Harness) -> None:
    response = harness.client.get(harness.link("12", "12_5.csv"))
    assert (response.status_code, response.content, response.headers["content-length"]) == (200, b"", "0")
    assert (
        harness.client.get(harness.link("12", "12_5.csv"), headers={"Range": "bytes=-5"}).status_code == 200
    )
    unsatisfiable = harness.client.get(harness.link("12", "12_5.csv"), headers={"Range": "bytes=0-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == "bytes */0"


def test_head_sends_the_headers_without_a_body(harness: Harness) -> None:
    response = harness.client.head(harness.link("12", "12_1.csv"))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(CSV))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="12_1.csv"'
    assert response.headers["accept-ranges"] == "bytes"

    ranged = harness.client.head(harness.link("12", "12_1.csv"), headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(CSV)}"
    assert ranged.headers["content-length"] == "10"
    assert ranged.content == b""


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),  # first bytes
        ("bytes=0-0", 0, 1),
        ("bytes=-7", len(CSV) - 7, len(CSV)),  # suffix
        ("bytes=100-", 100, len(CSV)),  # open-ended
        ("bytes=100-99999999", 100, len(CSV)),  # last-pos past the end is clamped
        ("bytes=-99999999", 0, len(CSV)),  # suffix longer than the file = whole file
        (f"bytes={len(CSV) - 1}-", len(CSV) - 1, len(CSV)),  # the very last byte
        ("BYTES = 5-6", 5, 7),  # unit is case-insensitive, whitespace allowed
        ("bytes=5-6,", 5, 7),  # an empty list element is not a second range
    ],
)
def test_single_ranges_are_206_with_content_range(
    harness: Harness, range_header: str, start: int, end: int
) -> None:
    response = harness.client.get(harness.link("12", "12_1.csv"), headers={"Range": range_header})
    assert response.status_code == 206, response.text
    assert response.content == CSV[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(CSV)}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="12_1.csv"'


def test_a_range_across_chunk_boundaries(harness: Harness) -> None:
    start, end = file_response.CHUNK_SIZE - 3, 2 * file_response.CHUNK_SIZE + 5
    response = harness.client.get(
        harness.link("12", "12_4.csv"), headers={"Range": f"bytes={start}-{end - 1}"}
    )
    assert response.status_code == 206
    assert response.content == BIG[start:end]


@pytest.mark.parametrize("range_header", [f"bytes={len(CSV)}-", "bytes=99999-100000", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(harness: Harness, range_header: str) -> None:
    response = harness.client.get(harness.link("12", "12_1.csv"), headers={"Range": range_header})
    assert_envelope(response, 416, "The requested range is not satisfiable")
    assert response.headers["content-range"] == f"bytes */{len(CSV)}"


@pytest.mark.parametrize(
    "range_header",
    [
        "items=0-9",  # unknown unit: RFC 9110 says it MUST be ignored
        "bytes=9-0",  # inverted
        "bytes=abc",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=--3",
        "bytes=",
        "bytes=0-1,5-6",  # several ranges: we don't do multipart/byteranges
    ],
)
def test_ranges_we_do_not_honour_get_the_whole_file(harness: Harness, range_header: str) -> None:
    response = harness.client.get(harness.link("12", "12_1.csv"), headers={"Range": range_header})
    assert response.status_code == 200
    assert response.content == CSV
    assert "content-range" not in response.headers


def test_if_range_resumes_only_an_unchanged_file(harness: Harness) -> None:
    first = harness.client.get(harness.link("12", "12_1.csv"))
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    for validator in (etag, last_modified):
        resumed = harness.client.get(
            harness.link("12", "12_1.csv"), headers={"Range": "bytes=10-", "If-Range": validator}
        )
        assert resumed.status_code == 206
        assert resumed.content == CSV[10:]

    harness.add("12", "12_1.csv", CSV.replace(b"Austin", b"Dallas"))  # the file was rewritten
    stale = harness.client.get(
        harness.link("12", "12_1.csv"), headers={"Range": "bytes=10-", "If-Range": etag}
    )
    assert stale.status_code == 200
    assert stale.content == CSV.replace(b"Austin", b"Dallas")
    assert stale.headers["etag"] != etag
    weak = harness.client.get(
        harness.link("12", "12_1.csv"), headers={"Range": "bytes=10-", "If-Range": "W/" + etag}
    )
    assert weak.status_code == 200


def test_no_authorization_header_is_needed_and_none_is_checked(harness: Harness) -> None:
    response = harness.client.get(
        harness.link("12", "12_1.csv"), headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 200


def test_tampered_links_are_403(harness: Harness) -> None:
    link = harness.link("12", "12_1.csv")
    path, query = link.split("?")
    params = dict(pair.split("=") for pair in query.split("&"))
    expires, signature = params["expires"], params["signature"]
    tampered = [
        f"/v4/files/12/12_2.txt?{query}",  # another file of the same download
        f"/v4/files/13/12_1.csv?{query}",  # another download
        f"{path}?expires={int(expires) + 3600}&signature={signature}",  # stretched expiry
        f"{path}?expires={expires}&signature={signature[::-1]}",
        f"{path}?expires={expires}",
        f"{path}?signature={signature}",
        path,
    ]
    for url in tampered:
        assert_envelope(harness.client.get(url), 403, "This link is not valid")
    assert harness.client.head(tampered[0]).status_code == 403


def test_a_link_signed_with_another_secret_is_403(harness: Harness) -> None:
    path = file_link_path("12", "12_1.csv")
    forged = LinkSigner("guessed-secret").sign(path, harness.clock.now() + timedelta(days=1))
    assert_envelope(harness.client.get(f"{path}?{forged}"), 403)


def test_an_expired_link_is_410(harness: Harness) -> None:
    link = harness.link("12", "12_1.csv", ttl=timedelta(days=7))
    harness.clock.advance(days=7)
    assert harness.client.get(link).status_code == 200
    harness.clock.advance(seconds=1)
    assert_envelope(harness.client.get(link), 410, "This link has expired")


def test_a_tampered_expired_link_is_403_not_410(harness: Harness) -> None:
    link = harness.link("12", "12_1.csv", ttl=timedelta(hours=1))
    harness.clock.advance(days=30)
    assert_envelope(harness.client.get(link.replace("12_1.csv", "12_2.txt", 1)), 403)


def test_an_unknown_file_with_a_valid_signature_is_404(harness: Harness) -> None:
    assert_envelope(harness.client.get(harness.link("12", "12_9.csv")), 404, "This file does not exist")
    assert_envelope(harness.client.get(harness.link("99", "99_1.csv")), 404)


def test_a_file_removed_from_storage_is_410(harness: Harness) -> None:
    harness.storage.delete("downloads/12/12_1.csv")
    link = harness.link("12", "12_1.csv")
    assert_envelope(harness.client.get(link), 410, "This file has expired and was removed")
    assert harness.client.head(link).status_code == 410


def test_a_file_deleted_while_being_served_is_still_sent_whole(harness: Harness) -> None:
    """Expiry cleanup may unlink a file while a client downloads it; the open handle keeps it."""

    class DeletingStorage(LocalStorage):
        def open_read(self, key: str) -> BinaryIO:
            handle = super().open_read(key)
            self.delete(key)
            return handle

    harness.storage = DeletingStorage(harness.storage.root)
    response = harness.client.get(harness.link("12", "12_4.csv"), headers={"Range": "bytes=1-"})
    assert response.status_code == 206
    assert response.content == BIG[1:]
    assert not harness.storage.exists("downloads/12/12_4.csv")


def test_handles_are_closed_after_every_kind_of_response(harness: Harness) -> None:
    opened: list[BinaryIO] = []

    class TrackingStorage(LocalStorage):
        def open_read(self, key: str) -> BinaryIO:
            opened.append(super().open_read(key))
            return opened[-1]

    harness.storage = TrackingStorage(harness.storage.root)
    link = harness.link("12", "12_1.csv")
    harness.client.get(link)
    harness.client.head(link)
    harness.client.get(link, headers={"Range": "bytes=0-3"})
    harness.client.get(link, headers={"Range": "bytes=999999-"})
    assert len(opened) == 4
    assert all(handle.closed for handle in opened)


def test_non_ascii_names_are_signed_and_disposed_safely(harness: Harness) -> None:
    harness.add("12", "données 1.csv", CSV)
    response = harness.client.get(harness.link("12", "données 1.csv"))
    assert response.status_code == 200
    assert response.content == CSV
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''donn%C3%A9es%201.csv; filename=\"donnees 1.csv\""
    )


def test_the_resolver_is_consulted_only_for_valid_links(harness: Harness) -> None:
    calls: list[tuple[str, str]] = []

    def resolver(download_id: str, name: str) -> ResolvedFile | None:
        calls.append((download_id, name))
        return harness.files.get((download_id, name))

    harness.resolver = resolver
    harness.client.get("/v4/files/12/12_1.csv?expires=1&signature=" + "0" * 64)
    assert calls == []
    harness.client.get(harness.link("12", "12_1.csv"))
    assert calls == [("12", "12_1.csv")]


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, (0, 5)),
        ("bytes=4-", 10, (4, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-30", 10, (0, 10)),
        ("bytes=2-100", 10, (2, 10)),
        ("bytes=-3", 0, None),
        ("bytes=" + "9" * 31 + "-", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert file_response.parse_range(header, size) == expected


def test_content_type_fallbacks() -> None:
    assert content_type_for("12_1.CSV") == "text/csv; charset=utf-8"
    assert content_type_for("x.csv.bz2") == "application/octet-stream"
    assert content_type_for("noextension") == "application/octet-stream"
    assert content_type_for("12_3.CSV.GZ") == "application/gzip"
