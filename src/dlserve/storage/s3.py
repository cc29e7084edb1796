"""``S3Storage``: objects in an S3 bucket, under an optional key prefix (production storage).

Keys are the same relative keys :class:`~dlserve.storage.local.LocalStorage` takes; the object for
``downloads/12/12_1.csv`` in ``s3://bucket/dlserve`` is ``dlserve/downloads/12/12_1.csv``. Clients
fetch result files straight from S3 with presigned URLs, so the app never streams them itself.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from dlserve.storage.content import content_disposition, content_type_for
from dlserve.storage.interfaces import validate_key, validate_prefix

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
# S3's limits: a presigned SigV4 URL lives 7 days at most; every multipart part but the last is ≥ 5 MiB.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
MIN_PART_SIZE = 5 * MIB

# AWS's rule for bucket names that work with path-style and virtual-host addressing alike.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# The error codes S3 servers use for "no such object"; HEAD answers have no body, only the status.
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    """Where ``s3://bucket/prefix`` points: a bucket, and a key prefix ending in ``/`` (or ``""``)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Raise ``ValueError`` unless ``url`` is ``s3://bucket`` or ``s3://bucket/some/prefix``."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3":
            raise ValueError(f"not an s3:// URL: {url}")
        if parts.query or parts.fragment:
            raise ValueError(f"an s3:// URL takes no query or fragment: {url}")
        if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
            raise ValueError(
                f"not a valid S3 bucket name: {parts.netloc!r} (3-63 lower-case letters, digits, '.', '-')"
            )
        prefix = parts.path.strip("/")
        if prefix:
            try:
                validate_prefix(prefix)
            except ValueError as error:
                raise ValueError(f"not a valid key prefix in {url}: {error}") from None
            prefix += "/"
        return cls(parts.netloc, prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class S3Options:
    """How to reach S3. ``None`` credentials/endpoint mean boto3's defaults (environment variables,
    ``~/.aws``, instance roles; AWS's endpoint for ``region``)."""

    endpoint_url: str | None = None
    # Where clients reach S3, when that differs from where the servers reach it (a proxy, a
    # container network): presigned URLs name this host, and the host is part of their signature.
    public_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)  # kept out of logs
    region: str = "us-east-1"
    multipart_threshold: int = 64 * MIB
    multipart_chunksize: int = 16 * MIB
    max_concurrency: int = 4
    list_page_size: int = 1000

    def __post_init__(self) -> None:
        if self.multipart_chunksize < MIN_PART_SIZE:
            raise ValueError(f"S3 multipart parts must be at least {MIN_PART_SIZE} bytes")
        if self.multipart_threshold < 1 or self.max_concurrency < 1 or not 1 <= self.list_page_size <= 1000:
            raise ValueError("S3 threshold, concurrency and page size must be positive (page size ≤ 1000)")


class S3Storage:
    def __init__(self, location: S3Location, options: S3Options | None = None) -> None:
        self.location = location
        self.options = options or S3Options()
        self._client = _client(self.options, self.options.endpoint_url)
        self._presigner = (
            _client(self.options, self.options.public_endpoint_url)
            if self.options.public_endpoint_url
            else self._client
        )
        self._transfer = TransferConfig(
            multipart_threshold=self.options.multipart_threshold,
            multipart_chunksize=self.options.multipart_chunksize,
            max_concurrency=self.options.max_concurrency,
        )

    def __repr__(self) -> str:
        return f"S3Storage({str(self.location)!r})"

    @property
    def client(self) -> S3Client:
        """The boto3 client (tests and tools; the rest of the code goes through the methods)."""
        return self._client

    def object_key(self, key: str) -> str:
        """The bucket key a storage key maps to (validated)."""
        return self.location.prefix + validate_key(key)

    def put_file(self, key: str, source: Path) -> None:
        # Above the threshold boto3 uploads parts in parallel; S3 shows the object only once the
        # upload completes, and boto3 aborts the multipart upload if a part fails. (Uploads
        # orphaned by a killed process need the bucket's AbortIncompleteMultipartUpload rule.)
        name = self.object_key(key)
        source = Path(source)
        self._client.upload_file(
            str(source),
            self.location.bucket,
            name,
            ExtraArgs={"ContentType": content_type_for(name)},
            Config=self._transfer,
        )
        source.unlink()

    def open_read(self, key: str) -> BinaryIO:
        name = self.object_key(key)
        try:
            response = self._client.get_object(Bucket=self.location.bucket, Key=name)
        except ClientError as error:
            raise _not_found_or(error, key) from None
        reader = S3ObjectReader(self._client, self.location.bucket, name, response["ContentLength"])
        reader.attach(response["Body"])
        return io.BufferedReader(reader, buffer_size=MIB)

    def size(self, key: str) -> int:
        return self._head(key)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        # S3's DELETE succeeds for a missing key too, which is the idempotence the interface wants.
        self._client.delete_object(Bucket=self.location.bucket, Key=self.object_key(key))

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def presigned_url(self, key: str, expires_at: datetime, filename: str) -> str | None:
        """A GET URL valid for the file's remaining lifetime (at most S3's 7 days) that names the
        download ``filename``. An already expired file gets ``None``: the app's own link then
        answers with its "link has expired" error instead of S3's XML."""
        name = self.object_key(key)
        if expires_at.tzinfo is None or expires_at.utcoffset() is None:
            raise ValueError("expected a timezone-aware datetime")
        # botocore signs with the wall clock, so the lifetime is measured against the same clock;
        # rounded down, a link never outlives its file.
        remaining = math.floor(expires_at.timestamp() - time.time())
        if remaining < 1:
            return None
        return self._presigner.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.location.bucket,
                "Key": name,
                "ResponseContentDisposition": content_disposition(filename),
            },
            ExpiresIn=min(remaining, MAX_PRESIGN_SECONDS),
        )

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket,
            Prefix=self.location.prefix + prefix,
            PaginationConfig={"PageSize": self.options.list_page_size},
        )
        start = len(self.location.prefix)
        # S3 lists in UTF-8 byte order, which is code point order: the order LocalStorage sorts by.
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][start:]
                # Objects other tools put under the prefix may not be valid keys; they aren't ours.
                if _is_valid_key(key):
                    yield key

    def _head(self, key: str) -> int:
        """The object's size, from a HEAD request."""
        try:
            response = self._client.head_object(Bucket=self.location.bucket, Key=self.object_key(key))
        except ClientError as error:
            raise _not_found_or(error, key) from None
        return response["ContentLength"]


class S3ObjectReader(io.RawIOBase):
    """A seekable read-only view of one object: reads stream one GET; after a seek the next read
    starts a ranged GET there, so byte-range requests work without downloading the whole object."""

    def __init__(self, client: S3Client, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self.size = size
        self._position = 0
        self._body: StreamingBody | None = None

    def attach(self, body: StreamingBody) -> None:
        """Use an already open GET response body (positioned at the current offset)."""
        self._drop_body()
        self._body = body

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence: {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._position:
            self._drop_body()
            self._position = target
        return self._position

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        target = memoryview(buffer).cast("B")
        wanted = min(len(target), self.size - self._position)
        if wanted <= 0:
            return 0
        if self._body is None:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-"
            )
            self._body = response["Body"]
        data = self._body.read(wanted)
        if not data:
            raise OSError(f"s3://{self._bucket}/{self._key} ended {self.size - self._position} bytes early")
        target[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


def _client(options: S3Options, endpoint_url: str | None) -> S3Client:
    # A session per client: boto3's default session is shared global state and not thread-safe.
    session = boto3.session.Session(
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        region_name=options.region,
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(
            signature_version="s3v4",
            # Path-style (endpoint/bucket/key) works with any endpoint and bucket name, with no DNS
            # per bucket; S3-compatible servers (SeaweedFS, MinIO) expect it.
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            # Worker threads and multipart transfers share the client's connection pool.
            max_pool_connections=max(10, 2 * options.max_concurrency + 8),
        ),
    )


def _not_found_or(error: ClientError, key: str) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _MISSING or (status == 404 and code != "NoSuchBucket"):
        return FileNotFoundError(f"no such object: {key}")
    return error


def _is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except ValueError:
        return False
    return True
