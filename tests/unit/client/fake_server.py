"""An in-memory dlserve for ``httpx.MockTransport``: enough of the v4 and media APIs for the SDK.

API calls answer on ``API``; result files live on another origin (``FILES``), as S3 presigned links
would, so the tests can check the token never goes there. Scripted answers (``queue``) come first,
for retry tests; ``cut_next`` makes the next transfer of a file stop half-way with a reset.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

API = "http://dl.test"
FILES = "http://files.test"
TOKEN = "dls_test_token"


def envelope(status: int, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    from http import HTTPStatus

    return {"error": HTTPStatus(status).phrase, "message": message, "code": status, "details": details or []}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-Id": "req_1", **(headers or {})})


class CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that stops after ``cut_at`` bytes with a connection reset."""

    def __init__(self, data: bytes, cut_at: int) -> None:
        self._data, self._cut_at = data, cut_at

    def __iter__(self) -> Iterator[bytes]:
        yield self._data[: self._cut_at]
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data[: self._cut_at]
        raise httpx.ReadError("connection reset by peer")


class ShortStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that just ends early, with no error (its Content-Length says more)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data


def jsonl(n: int, part: int = 1) -> bytes:
    """``n`` JSON Lines records, as a result file holds them."""
    return b"".join(json.dumps({"id": f"r{i}", "part": part}).encode() + b"\n" for i in range(n))


def result_json(download_id: str, n: int, content: bytes, sha256: str | None = None) -> dict[str, Any]:
    name = f"{download_id}_{n}.txt"
    return {
        "url": f"{FILES}/v4/files/{download_id}/{name}?expires=1&signature=abc",
        "name": name,
        "records": content.count(b"\n"),
        "bytes": len(content),
        "sha256": sha256 or hashlib.sha256(content).hexdigest(),
        "expires_at": "2030-01-01T00:00:00Z",
    }


def download_json(download_id: str, status: str, done: int, total: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": download_id,
        "status": status,
        "num_records": total,
        "results": [],
        "created_at": "2024-05-01T12:00:00Z",
        "updated_at": "2024-05-01T12:00:05Z",
        "num_downloaded": done,
        "num_found": total,
        "data_type": "businesses",
        "query": "*",
        "view": None,
        "format": "JSON",
        "compress": None,
        "error": None,
        "progress": {"done": done, "total": total, "rate_per_s": 10.0 if done else None, "eta_s": None},
        **extra,
    }


@dataclass
class FakeServer:
    records: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": f"r{i}", "name": f"Hotel {i}"} for i in range(25)]
    )
    requests: list[httpx.Request] = field(default_factory=list)
    queue: deque[Callable[[httpx.Request], httpx.Response]] = field(default_factory=deque)
    # Successive states GET /v4/downloads/{id} returns (the last one repeats).
    download_states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # path → content
    cut_next: dict[str, int] = field(default_factory=dict)  # path → cut the next transfer at byte N
    ignore_range: bool = False
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    media_states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    media_files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # id → content, disposition
    # Like dlserve: an ETag on each download state, 304 for an If-None-Match that still holds.
    conditional: bool = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.popleft()(request)
        if request.url.host == "files.test":
            return self._file(request)
        if request.url.path.startswith("/api/"):
            return self._media(request)
        if request.url.path == "/v4/auth":
            body = json.loads(request.content)
            if body == {"email": "a@example.com", "password": "pw"}:
                return json_response(200, {"token": TOKEN})
            return json_response(401, envelope(401, "Wrong email or password"))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_response(
                401,
                envelope(401, "Authentication required. Please provide a valid API token"),
                {"WWW-Authenticate": "Bearer"},
            )
        return self._v4(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    # -- v4 -----------------------------------------------------------------------------------------

    def _v4(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        raw_path = request.url.raw_path.decode().split("?")[0]
        parts = [unquote(part) for part in raw_path.strip("/").split("/")]
        if path == "/v4/account" and method == "GET":
            return json_response(
                200,
                {
                    "id": "1",
                    "email": "a@example.com",
                    "plan_id": "self-hosted",
                    "available_credits": 990,
                    "held_credits": 0,
                    "num_credits_used": 10,
                    "business_credits_used": 7,
                    "product_credits_used": 3,
                    "property_credits_used": 0,
                    "people_credits_used": 0,
                    "active_downloads": 0,
                    "limits": {
                        "max_active_downloads": 5,
                        "query_rate_per_minute": 120.0,
                        "query_concurrency": 4,
                    },
                    "created_at": "2024-05-01T12:00:00Z",
                },
            )
        if path == "/v4/downloads" and method == "GET":
            states = [s[-1] for s in self.download_states.values()]
            return json_response(200, {"num_found": len(states), "records": states})
        if len(parts) == 3 and parts[1] == "downloads":
            return self._download(request, parts[2])
        if len(parts) == 3 and parts[2] == "search" and method == "POST":
            return self._search(parts[1], json.loads(request.content))
        if len(parts) == 3 and parts[2] == "paginate" and method == "POST":
            return self._paginate(request, json.loads(request.content))
        if len(parts) == 3 and method == "GET":
            found = [r for r in self.records if r["id"] == parts[2]]
            if not found:
                return json_response(404, envelope(404, f"Record {parts[2]} was not found"))
            return json_response(200, found[0])
        return json_response(404, envelope(404, "The requested resource was not found"))

    def _search(self, data_type: str, body: dict[str, Any]) -> httpx.Response:
        if data_type not in ("businesses", "products"):
            return json_response(404, envelope(404, f"Unknown data type '{data_type}'"))
        if "nosuchfield" in body["query"]:
            return json_response(
                400,
                envelope(
                    400, "Unknown field 'nosuchfield'", [{"field": "query", "message": "at position 0"}]
                ),
            )
        if body.get("download"):
            download_id = str(100 + len(self.download_states))
            total = body.get("num_records") or len(self.records)
            state = download_json(download_id, "queued", 0, total)
            self.download_states[download_id] = [state]
            return json_response(202, state)
        wanted = body.get("num_records", 10)
        records = self.records[:wanted]
        return json_response(
            200, {"num_found": len(self.records), "total_cost": len(records), "records": records}
        )

    def _paginate(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        chunk = self.records[(page - 1) * limit : page * limit]
        records: list[Any] = chunk
        if str(body.get("format", "JSON")).upper() == "CSV":
            records = ["id,name"] + [f'{r["id"]},"{r["name"]}, Inc."' for r in chunk]
        return json_response(200, {"num_found": len(self.records), "records": records})

    def _download(self, request: httpx.Request, download_id: str) -> httpx.Response:
        states = self.download_states.get(download_id)
        if states is None:
            return json_response(404, envelope(404, f"Download {download_id} was not found"))
        if request.method == "DELETE":
            if states[-1]["status"] in ("completed", "cancelled", "failed"):
                return json_response(409, envelope(409, f"Download {download_id} is already cancelled"))
            states[:] = [{**states[-1], "status": "cancelled"}]
            return json_response(200, {"message": f"Download {download_id} was cancelled"})
        state = states.pop(0) if len(states) > 1 else states[0]
        if not self.conditional:
            return json_response(200, state)
        etag = 'W/"' + hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return json_response(200, state, {"ETag": etag})

    def add_download(self, download_id: str, states: list[dict[str, Any]]) -> None:
        self.download_states[download_id] = states

    def add_file(self, download_id: str, n: int, content: bytes) -> dict[str, Any]:
        result = result_json(download_id, n, content)
        self.files[httpx.URL(result["url"]).path] = content
        return result

    # -- files --------------------------------------------------------------------------------------

    def _file(self, request: httpx.Request) -> httpx.Response:
        content = self.files.get(request.url.path)
        if content is None:
            return json_response(404, envelope(404, "This file does not exist"))
        start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
        range_header = request.headers.get("range")
        if range_header and not self.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(content):
                headers["Content-Range"] = f"bytes */{len(content)}"
                return json_response(416, envelope(416, "The requested range is not satisfiable"), headers)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        body = content[start:]
        headers["Content-Length"] = str(len(body))
        cut = self.cut_next.pop(request.url.path, None)
        if cut is not None:
            return httpx.Response(status, headers=headers, stream=CutStream(body, cut))
        return httpx.Response(status, headers=headers, content=body)

    def file_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "files.test"]

    # -- media --------------------------------------------------------------------------------------

    def _media(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        parts = path.strip("/").split("/")
        if path == "/api/download" and method == "POST":
            body = json.loads(request.content)
            if body.get("quality") not in ("best", "720p", "audio"):
                return json_response(
                    422,
                    {
                        "detail": [
                            {"loc": ["body", "quality"], "msg": "Input should be 'best'", "type": "enum"}
                        ]
                    },
                )
            media_id = f"m-{len(self.media) + 1}"
            self.media[media_id] = {
                "id": media_id,
                "url": body["url"],
                "quality": body["quality"],
                "status": "pending",
            }
            return json_response(200, {"download_id": media_id})
        if path == "/api/downloads" and method == "GET":
            return json_response(200, list(self.media.values()))
        if len(parts) == 3 and parts[1] == "downloads" and method == "GET":
            states = self.media_states.get(parts[2])
            if states:
                self.media[parts[2]] = states.pop(0) if len(states) > 1 else states[0]
            if parts[2] not in self.media:
                return json_response(404, {"detail": "Descarga no encontrada"})
            return json_response(200, self.media[parts[2]])
        if len(parts) == 4 and parts[3] == "remove" and method == "DELETE":
            if self.media.pop(parts[2], None) is None:
                return json_response(404, {"detail": "Descarga no encontrada"})
            return json_response(200, {"message": "removed"})
        if len(parts) == 4 and parts[3] == "file" and method == "GET":
            found = self.media_files.get(parts[2])
            if found is None:
                return json_response(404, {"detail": "Descarga no disponible o no completada"})
            content, disposition = found
            headers = {"Content-Disposition": disposition, "Content-Type": "video/mp4"}
            cut = self.cut_next.pop(path, None)
            range_header = request.headers.get("range")
            if range_header:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
                headers["Content-Length"] = str(len(content) - start)
                return httpx.Response(206, headers=headers, content=content[start:])
            headers["Content-Length"] = str(len(content))
            if cut is not None:
                return httpx.Response(200, headers=headers, stream=CutStream(content, cut))
            return httpx.Response(200, headers=headers, content=content)
        return json_response(404, {"detail": "Not Found"})
