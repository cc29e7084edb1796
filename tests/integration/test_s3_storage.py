"""``S3Storage`` against a real S3 server (SeaweedFS ``weed mini`` on 127.0.0.1, signatures checked).

Every test works under a key prefix of its own in the session's one bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.container import Services, build_services
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.errors import Invalid
from dlserve.records.loader import load_files
from dlserve.settings import Settings
from dlserve.storage import LocalStorage, Storage, file_link_path, storage_from_url
from dlserve.storage.content import content_disposition, content_type_for
from dlserve.storage.s3 import (
    MAX_PRESIGN_SECONDS,
    MIB,
    S3Location,
    S3Options,
    S3Storage,
)
from tests.integration.conftest import make_settings
from tests.support.seaweed import S3Server, s3_server_fixture  # noqa: F401

pytestmark = pytest.mark.s3

BAD_KEYS = ["", "/abs", "a/../b", "a//b", ".hidden", "a/.tmp", "a\\b", "a\nb", "a/"]


@pytest.fixture
def storage(s3_server: S3Server) -> S3Storage:
    return make_storage(s3_server)


def make_storage(server: S3Server, prefix: str | None = None, **options: Any) -> S3Storage:
    location = S3Location(server.bucket, (prefix or server.fresh_prefix()) + "/")
    settings: dict[str, Any] = {
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "region": server.region,
        "multipart_threshold": 5 * MIB,
        "multipart_chunksize": 5 * MIB,
        **options,
    }
    return S3Storage(location, S3Options(**settings))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def count_calls(storage: S3Storage, operation: str | None = None) -> list[dict[str, Any]]:
    """Record the parameters of every ``operation`` request (default: any) the storage's client sends."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    event = "provide-client-params.s3" + (f".{operation}" if operation else "")
    storage.client.meta.events.register(event, record)
    return calls


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://my.bucket-1/dlserve", "my.bucket-1", "dlserve/"),
        ("S3://bucket/a/b/", "bucket", "a/b/"),
    ],
)
def test_s3_urls_name_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    assert S3Location.parse(url) == S3Location(bucket, prefix)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "bucket name"),
        ("s3:///prefix", "bucket name"),
        ("s3://Bucket", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://a..b", "bucket name"),
        ("s3://user@bucket", "bucket name"),
        ("s3://bucket:9000", "bucket name"),
        ("s3://bucket/a//b", "key prefix"),
        ("s3://bucket/../b", "key prefix"),
        ("s3://bucket/.x", "key prefix"),
        ("s3://bucket/p?versionId=1", "no query"),
    ],
)
def test_bad_s3_urls_are_refused_as_settings_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as raised:
        storage_from_url(url, tmp_path)
    assert raised.value.details[0].field == "storage_url"


def test_storage_from_url_builds_s3_storage_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        storage_url="s3://bucket/pre/fix",
        s3_endpoint_url="http://127.0.0.1:9",
        s3_public_endpoint_url="http://127.0.0.1:10",
        s3_access_key_id="AK",
        s3_secret_access_key="SK",  # type: ignore[arg-type]
        s3_region="eu-west-3",
        s3_multipart_threshold=8 * MIB,
        s3_multipart_chunksize=6 * MIB,
        s3_max_concurrency=2,
    )
    built = storage_from_url(settings.storage_url, settings.files_dir(), settings)
    assert isinstance(built, S3Storage)
    assert isinstance(built, Storage)
    assert built.location == S3Location("bucket", "pre/fix/")
    assert built.options == S3Options(
        endpoint_url="http://127.0.0.1:9",
        public_endpoint_url="http://127.0.0.1:10",
        access_key_id="AK",
        secret_access_key="SK",
        region="eu-west-3",
        multipart_threshold=8 * MIB,
        multipart_chunksize=6 * MIB,
        max_concurrency=2,
    )
    assert "SK" not in repr(settings)
    assert "SK" not in repr(built.options)
    assert repr(built) == "S3Storage('s3://bucket/pre/fix')"
    # Local storage stays the default.
    assert isinstance(storage_from_url(None, tmp_path, settings), LocalStorage)


def test_parts_smaller_than_s3_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        S3Options(multipart_chunksize=MIB)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("downloads/1/1_1.csv", "text/csv; charset=utf-8"),
        ("downloads/1/1_1.txt", "text/plain; charset=utf-8"),
        ("downloads/1/1_1.csv.gz", "application/gzip"),
        ("media/7/clip.mp4", "video/mp4"),
        ("downloads/1/1_1.parquet", "application/vnd.apache.parquet"),
        ("snapshots/x/part-000000.parquet", "application/vnd.apache.parquet"),
        ("snapshots/x/index/meta.json", "application/json"),
        ("snapshots/x/index/0a1b.idx", "application/octet-stream"),
    ],
)
def test_objects_are_stored_with_the_content_type_of_their_name(name: str, content_type: str) -> None:
    assert content_type_for(name) == content_type


# -- objects -------------------------------------------------------------------------------------


def test_objects_live_under_the_prefix_with_their_content_type(storage: S3Storage, tmp_path: Path) -> None:
    """The rest of put/read/size/exists/delete is the storage contract (test_storage_contract.py)."""
    key = "downloads/12/12_1.csv"
    storage.put_file(key, write(tmp_path / "part.csv", b"id,name\r\n1,a\r\n"))
    assert storage.local_path(key) is None
    head = storage.client.head_object(Bucket=storage.location.bucket, Key=storage.object_key(key))
    assert head["ContentType"] == "text/csv; charset=utf-8"
    assert storage.object_key(key) == storage.location.prefix + key


def test_open_read_streams_and_seeks_with_ranged_requests(storage: S3Storage, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    storage.put_file("big.bin", write(tmp_path / "big", data))
    gets = count_calls(storage, "GetObject")
    with storage.open_read("big.bin") as handle:
        assert handle.seekable()
        assert handle.read(10) == data[:10]
        handle.seek(2 * MIB)
        assert handle.read(100) == data[2 * MIB : 2 * MIB + 100]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == data[-5:]
        assert handle.read() == b""
        handle.seek(0)
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest()
    ranges = [call.get("Range") for call in gets]
    assert ranges[0] is None  # the first read streams the GET open_read made
    assert f"bytes={2 * MIB}-" in ranges
    assert f"bytes={len(data) - 5}-" in ranges


def test_a_file_above_the_threshold_is_uploaded_in_parts_and_appears_only_when_complete(
    storage: S3Storage, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB)
    key = "downloads/9/9_1.csv"
    visible_during_upload: list[bool] = []
    storage.client.meta.events.register(
        "after-call.s3.UploadPart", lambda **_: visible_during_upload.append(storage.exists(key))
    )
    parts = count_calls(storage, "UploadPart")
    single = count_calls(storage, "PutObject")
    storage.put_file(key, write(tmp_path / "big.csv", data))

    assert len(parts) == 3  # 5 + 5 + 2 MiB
    assert single == []
    assert visible_during_upload == [False, False, False]
    assert storage.size(key) == len(data)
    with storage.open_read(key) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert not storage.client.list_multipart_uploads(Bucket=storage.location.bucket).get("Uploads")


def test_a_failed_multipart_upload_leaves_no_object_and_keeps_the_source(
    s3_server: S3Server, tmp_path: Path
) -> None:
    # One thread, so the failure lands while the upload is under way.
    storage = make_storage(s3_server, max_concurrency=1)
    source = write(tmp_path / "big.csv", os.urandom(11 * MIB))
    failures = iter([True])

    def fail_once(**_: Any) -> None:
        if next(failures, False):
            raise ConnectionError("network down")

    storage.client.meta.events.register("before-send.s3.UploadPart", fail_once)
    with pytest.raises(Exception, match="network down"):
        storage.put_file("x.csv", source)
    assert source.exists()
    assert not storage.exists("x.csv")
    uploads = storage.client.list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads if u["Key"].startswith(storage.location.prefix)] == []


# -- listing -------------------------------------------------------------------------------------


def test_list_keys_pages_through_everything_under_the_prefix_in_order(
    s3_server: S3Server, tmp_path: Path
) -> None:
    storage = make_storage(s3_server, list_page_size=2)
    neighbour = make_storage(s3_server, prefix=storage.location.prefix.rstrip("/") + "-other")
    keys = ["downloads/2/2_1.csv", "downloads/1/1_2.csv", "downloads/1/1_1.csv", "media/a.mp4", "z", "é.txt"]
    for n, key in enumerate(keys):
        storage.put_file(key, write(tmp_path / f"f{n}", key.encode()))
    neighbour.put_file("downloads/1/1_1.csv", write(tmp_path / "n", b"not ours"))
    # Objects another tool put under our prefix that are no valid keys are not listed. (SeaweedFS
    # turns "//" and "\\" in keys into "/", so dot segments stand for all of them here.)
    for odd in ("downloads/.partial", ".hidden/x"):
        storage.client.put_object(Bucket=s3_server.bucket, Key=storage.location.prefix + odd, Body=b"?")

    lists = count_calls(storage, "ListObjectsV2")
    assert list(storage.list_keys()) == sorted(keys)
    assert len(lists) >= 4  # 8 objects, 2 per page
    assert all(call["MaxKeys"] == 2 for call in lists)
    assert list(storage.list_keys("downloads/1/")) == ["downloads/1/1_1.csv", "downloads/1/1_2.csv"]
    assert list(storage.list_keys("downloads/1")) == ["downloads/1/1_1.csv", "downloads/1/1_2.csv"]
    assert list(storage.list_keys("downloads/")) == sorted(keys)[:3]
    assert list(storage.list_keys("nothing/")) == []
    # The same order local storage lists the same keys in.
    local = LocalStorage(tmp_path / "local")
    for n, key in enumerate(keys):
        local.put_file(key, write(tmp_path / f"l{n}", b"x"))
    assert list(local.list_keys()) == list(storage.list_keys())


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_method_refuses_invalid_keys_before_sending_anything(
    storage: S3Storage, tmp_path: Path, key: str
) -> None:
    sent = count_calls(storage)
    source = write(tmp_path / "f", b"x")
    expires = datetime.now(UTC) + timedelta(hours=1)
    calls: list[Callable[[], object]] = [
        lambda: storage.put_file(key, source),
        lambda: storage.open_read(key),
        lambda: storage.size(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.local_path(key),
        lambda: storage.presigned_url(key, expires, "f.csv"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="storage key"):
            call()
    assert sent == []
    assert source.exists()


# -- presigned URLs ------------------------------------------------------------------------------


def test_a_presigned_url_serves_the_file_to_a_plain_http_client(storage: S3Storage, tmp_path: Path) -> None:
    data = b"id,name\r\n1,Hotel\r\n"
    storage.put_file("downloads/5/5_1.csv", write(tmp_path / "p", data))
    expires_at = datetime.now(UTC) + timedelta(days=2)
    url = storage.presigned_url("downloads/5/5_1.csv", expires_at, "5_1.csv")
    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == storage.options.endpoint_url
    assert parts.path == f"/{storage.location.bucket}/{storage.location.prefix}downloads/5/5_1.csv"
    query = parse_qs(parts.query)
    lifetime = int(query["X-Amz-Expires"][0])
    assert 2 * 86400 - 5 <= lifetime <= 2 * 86400
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]

    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-disposition"] == 'attachment; filename="5_1.csv"'
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    # No credentials, no signature: refused.
    assert httpx.get(f"{parts.scheme}://{parts.netloc}{parts.path}").status_code == 403


def test_a_presigned_url_names_non_ascii_filenames_as_rfc_6266_says(
    storage: S3Storage, tmp_path: Path
) -> None:
    storage.put_file("f.txt", write(tmp_path / "p", b"{}\n"))
    name = 'données "2024".txt'
    url = storage.presigned_url("f.txt", datetime.now(UTC) + timedelta(hours=1), name)
    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition == content_disposition(name)  # the app's own file responses send the same
    assert disposition == (
        "attachment; filename*=UTF-8''" + quote(name, safe="") + '; filename="donnees _2024_.txt"'
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: url.replace("downloads/5/5_1.csv", "downloads/5/5_2.csv"), id="other-key"),
        pytest.param(lambda url: url.replace("X-Amz-Expires=", "X-Amz-Expires=9"), id="longer-life"),
        pytest.param(lambda url: url.replace("5_1.csv%22", "evil.html%22"), id="other-filename"),
        pytest.param(
            lambda url: url[:-6] + ("000000" if not url.endswith("000000") else "111111"), id="signature"
        ),
    ],
)
def test_a_tampered_presigned_url_is_refused(storage: S3Storage, tmp_path: Path, tamper: Any) -> None:
    storage.put_file("downloads/5/5_1.csv", write(tmp_path / "1", b"one"))
    storage.put_file("downloads/5/5_2.csv", write(tmp_path / "2", b"two"))
    url = storage.presigned_url("downloads/5/5_1.csv", datetime.now(UTC) + timedelta(hours=1), "5_1.csv")
    assert url is not None
    assert httpx.get(url).status_code == 200
    tampered = tamper(url)
    assert tampered != url
    response = httpx.get(tampered)
    assert response.status_code == 403
    assert b"two" not in response.content


@pytest.mark.slow
def test_a_presigned_url_stops_working_when_the_file_expires(storage: S3Storage, tmp_path: Path) -> None:
    storage.put_file("soon.csv", write(tmp_path / "p", b"a,b\r\n"))
    url = storage.presigned_url("soon.csv", datetime.now(UTC) + timedelta(seconds=3), "soon.csv")
    assert url is not None
    assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) in (2, 3)
    assert httpx.get(url).status_code == 200
    time.sleep(4.5)
    response = httpx.get(url)
    assert response.status_code == 403
    assert b"expired" in response.content.lower()


def test_presigned_lifetimes_are_capped_and_expired_files_get_no_url(storage: S3Storage) -> None:
    far = storage.presigned_url("k.csv", datetime.now(UTC) + timedelta(days=30), "k.csv")
    assert far is not None
    assert int(parse_qs(urlsplit(far).query)["X-Amz-Expires"][0]) == MAX_PRESIGN_SECONDS
    # Expired: no URL, so the app hands out its own link, which answers "link has expired".
    assert storage.presigned_url("k.csv", datetime.now(UTC) - timedelta(seconds=1), "k.csv") is None
    assert storage.presigned_url("k.csv", datetime.now(UTC), "k.csv") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        storage.presigned_url("k.csv", datetime.now() + timedelta(hours=1), "k.csv")


def test_presigned_urls_name_the_public_endpoint_when_one_is_set(s3_server: S3Server) -> None:
    # Only the URL is checked: signing is local, and nothing listens on the public address.
    storage = make_storage(s3_server, public_endpoint_url="http://127.0.0.1:9/s3")
    url = storage.presigned_url("a.csv", datetime.now(UTC) + timedelta(hours=1), "a.csv")
    assert url is not None
    assert url.startswith(f"http://127.0.0.1:9/s3/{s3_server.bucket}/{storage.location.prefix}a.csv?")


# -- end to end ----------------------------------------------------------------------------------

RECORDS = [
    {"id": f"b{i:02d}", "name": f"Hotel {i}", "city": "Austin", "categories": ["Hotels"]} for i in range(12)
]


@pytest.fixture
def s3_services(s3_server: S3Server, database_url: str, tmp_path: Path) -> Iterator[Services]:
    prefix = s3_server.fresh_prefix("e2e")
    settings = make_settings(
        tmp_path,
        database_url,
        storage_url=s3_server.url(prefix),
        records_per_file=5,
        **s3_server.settings(),
    )
    built = build_services(settings)  # the real clock: presigned URLs are signed with it
    source = tmp_path / "b.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    load_files(built.snapshots, "businesses", [source])
    yield built
    built.close()


def run_jobs(services: Services) -> int:
    ran = 0
    while (job := services.queue.claim("s3-test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "s3-test-worker", threading.Event())
        ran += 1
    return ran


def test_bulk_download_results_are_presigned_s3_urls_with_the_exact_bytes(
    s3_services: Services, s3_server: S3Server
) -> None:
    storage = s3_services.storage
    assert isinstance(storage, S3Storage)
    with TestClient(create_app(s3_services.settings, s3_services), raise_server_exceptions=False) as client:
        token = s3_services.accounts.create_account("s3@example.com", credits=100).token
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/v4/businesses/search",
            json={"query": "categories:hotels", "format": "CSV", "download": True},
            headers=headers,
        )
        assert created.status_code == 202, created.text
        assert run_jobs(s3_services) >= 1
        download_id = created.json()["id"]
        body = client.get(f"/v4/downloads/{download_id}", headers=headers).json()
        # The app can still serve an S3 file itself (its own signed link), ranges included.
        first = body["results"][0]
        path = file_link_path(download_id, first["name"])
        query = s3_services.link_signer.sign(path, datetime.now(UTC) + timedelta(minutes=5))
        whole = client.get(f"{path}?{query}")
        assert whole.status_code == 200
        assert hashlib.sha256(whole.content).hexdigest() == first["sha256"]
        ranged = client.get(f"{path}?{query}", headers={"Range": "bytes=3-12"})
        assert ranged.status_code == 206
        assert ranged.content == whole.content[3:13]
        assert ranged.headers["content-range"] == f"bytes 3-12/{first['bytes']}"

    assert body["status"] == "completed"
    assert body["num_downloaded"] == 12
    assert [r["records"] for r in body["results"]] == [5, 5, 2]
    rows: list[str] = []
    for result in body["results"]:
        url = urlsplit(result["url"])
        assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint_url
        assert url.path.startswith(f"/{s3_server.bucket}/{storage.location.prefix}downloads/")
        assert "X-Amz-Signature=" in url.query
        response = httpx.get(result["url"])  # straight from S3, no app in between
        assert response.status_code == 200
        assert len(response.content) == result["bytes"]
        assert hashlib.sha256(response.content).hexdigest() == result["sha256"]
        assert response.headers["content-disposition"] == f'attachment; filename="{result["name"]}"'
        rows.extend(response.content.decode().splitlines()[1:])
    assert sorted(row.split(",")[0] for row in rows) == [r["id"] for r in RECORDS]
    # Nothing went to the local files directory.
    files_dir = s3_services.settings.files_dir()
    assert not files_dir.exists() or not any(files_dir.rglob("*.csv"))
