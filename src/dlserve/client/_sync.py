# Generated from _async.py by `make sdk-sync` (unasync): do not edit, edit _async.py instead.
"""The SDK client: ``AsyncClient`` (``_async.py``, for asyncio/trio code) and ``Client`` (``_sync.py``,
blocking). ``_sync.py`` is generated from ``_async.py`` by ``make sdk-sync`` (unasync): edit
``_async.py`` only. What the two do differently (sleeping, disk work, progress callbacks) is in
``_io_async``/``_io_sync``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from dlserve.client import _calls as calls
from dlserve.client._config import DEFAULT_TIMEOUT, as_policy, http_options
from dlserve.client._io_sync import Sleep, default_sleep, report, to_thread
from dlserve.client._polling import (
    Watch,
    delay_after_poll,
    download_state,
    ended_or_raise,
    long_poll_wait,
    media_state,
)
from dlserve.client._retry import RetryPolicy, parse_retry_after, utc_now
from dlserve.client.errors import DlserveError, TransportError, error_from_response
from dlserve.client.files import (
    PartialFile,
    begin_body,
    check_fetched,
    end_body,
    filename_from_content_disposition,
    plan_fetch,
    result_path,
    safe_filename,
    unsatisfied_range_size,
)
from dlserve.client.models import (
    Account,
    Changes,
    Download,
    MediaDownload,
    ResultFile,
    Schedule,
    SearchResult,
    WebhookDelivery,
)

T = TypeVar("T")


class Client:
    """The dlserve API (v4 bulk data and the media API) from Python: ``Client`` blocks, ``AsyncClient``
    is the same to ``await``.

    ``token`` is an API token (``dlserve accounts create``, or ``Client.login``); it is sent only to
    ``base_url``'s origin. ``retries`` is a count or a ``RetryPolicy`` (see docs/sdk.md for which
    requests are sent again). ``transport`` is any httpx transport, e.g. ``httpx.MockTransport`` in
    tests; ``sleep`` and ``clock`` are what waiting uses (tests pass fakes).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int | RetryPolicy = 3,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        verify: ssl.SSLContext | str | bool = True,
        sleep: Sleep = default_sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._auth, options = http_options(base_url, token, timeout, headers, verify)
        self._http = httpx.Client(**options, transport=transport)
        self._policy = as_policy(retries)
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def login(cls, base_url: str, email: str, password: str, **options: Any) -> Client:
        """A client holding the token ``POST /v4/auth`` gives for ``email``/``password``."""
        client = cls(base_url, None, **options)
        try:
            client._auth.token = client._call(calls.login(email, password))
        except BaseException:
            client.close()
            raise
        return client

    @property
    def token(self) -> str | None:
        return self._auth.token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- records ------------------------------------------------------------------------------------

    def search(
        self,
        type: str,
        query: str,
        num_records: int = 10,
        view: str | None = None,
        format: str = "JSON",
        fields: Sequence[str] | None = None,
    ) -> SearchResult:
        """A preview: ``num_found`` and up to ``num_records`` (≤ 50) records, one credit each.
        ``fields`` (``["id", "name", "reviews.rating"]``) returns only those fields, instead of a
        ``view``."""
        return self._call(calls.search(type, query, num_records, calls.view_of(view, fields), format))

    def count(self, type: str, query: str) -> int:
        """How many records match (free)."""
        return self._call(calls.count(type, query))

    def count_changes(self, type: str, query: str, since: str | Download) -> Changes:
        """What a delta download ``since`` an earlier download would deliver (free): its cost
        (``num_found``) and the counts of added, changed and deleted records."""
        return self._call(calls.count_changes(type, query, _id_of(since)))

    def paginate(
        self,
        type: str,
        query: str,
        page_size: int = 100,
        view: str | None = None,
        format: str = "JSON",
        fields: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every match, one page (≤ 1,000) at a time, in load order; CSV rows come as dicts keyed
        by column. One credit per record. ``fields``: only those fields, instead of a ``view``."""
        page = 1
        chosen = calls.view_of(view, fields)
        while records := self._call(calls.paginate_page(type, query, page, page_size, chosen, format)):
            yield from records
            page += 1

    def get_record(
        self, type: str, id: str, view: str | None = None, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        return self._call(calls.get_record(type, id, calls.view_of(view, fields)))

    def account(self) -> Account:
        """The account; ``webhook_secret`` verifies its webhook deliveries."""
        return self._call(calls.account())

    def rotate_webhook_secret(self) -> str:
        """Replace the account's webhook secret; returns the new ``whsec_...`` (attempts made from
        now on, retries included, are signed with it)."""
        return self._call(calls.rotate_webhook_secret())

    # -- bulk downloads -----------------------------------------------------------------------------

    def create_download(
        self,
        type: str,
        query: str,
        num_records: int | None = None,
        format: str = "JSON",
        view: str | None = None,
        compress: str | None = None,
        *,
        fields: Sequence[str] | None = None,
        webhook_url: str | None = None,
        since: str | Download | None = None,
    ) -> Download:
        """Start a bulk download of the matches (all of them unless ``num_records``). ``fields``
        writes only those fields (CSV columns in that order), instead of a ``view``. With
        ``webhook_url``, the server POSTs the download there (signed) when it ends. With ``since``
        (an earlier completed download, or its id): a delta download of only the records added or
        changed since, plus the ids deleted since in a ``kind == "deleted"`` result file."""
        chosen = calls.view_of(view, fields)
        since_id = None if since is None else _id_of(since)
        return self._call(
            calls.create_download(type, query, num_records, format, chosen, compress, webhook_url, since_id)
        )

    def list_webhooks(self, id: str | Download) -> list[WebhookDelivery]:
        """The download's webhook deliveries, each with every attempt (status code, error, time)."""
        return self._call(calls.download_webhooks(_id_of(id)))

    def get_download(self, id: str | Download) -> Download:
        return self._call(calls.get_download(_id_of(id)))

    def poll_download(
        self, id: str | Download, etag: str | None = None, wait: float | None = None
    ) -> calls.Polled:
        """``GET /v4/downloads/{id}`` conditionally: with the ``etag`` of the state you have, an
        unchanged download answers ``304`` (``Polled.download`` is None) and costs the server
        almost nothing; with ``wait`` too, the server holds the answer until the state changes
        or ``wait`` seconds pass (long polling, docs/api.md)."""
        call = calls.poll_download(_id_of(id), etag, wait)
        response = self._send(call.build(self._http))
        if response.status_code == 304:
            response.close()
            return calls.Polled(None, response.headers.get("etag") or etag)
        self._raise_for_status(response)
        return calls.Polled(call.read(response), response.headers.get("etag"))

    def list_downloads(self, *, limit: int = 100, offset: int = 0) -> list[Download]:
        """The account's downloads, newest first."""
        return self._call(calls.list_downloads(limit, offset))

    def cancel_download(self, id: str | Download) -> str:
        """Cancel; finished files are kept (and billed). Returns the server's message."""
        return self._call(calls.cancel_download(_id_of(id)))

    def wait(
        self,
        download: str | Download,
        on_progress: Callable[[Download], object] | None = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        long_poll: float = 30.0,
    ) -> Download:
        """Follow the download until it is completed or cancelled and return it; ``on_progress`` gets
        every state that differs from the last one. Raises ``DownloadFailed`` or ``WaitTimeout``.

        Against dlserve each poll is a conditional long poll (``If-None-Match`` and ``?wait=``,
        at most ``long_poll`` seconds): the server answers when something changed, so progress
        arrives as it happens with no polling loop here. A server without ETags is polled every
        ``poll_interval`` seconds instead."""
        watch = Watch(download_state, timeout, self._clock)
        etag: str | None = None
        current: Download | None = None
        while True:
            started = self._clock()
            polled = self.poll_download(download, etag, long_poll_wait(watch, etag, long_poll))
            etag = polled.etag
            current = polled.download or current
            assert current is not None  # the first poll carries no ETag, so it is never a 304
            if watch.changed(current) and on_progress is not None:
                report(on_progress, current)
            if ended_or_raise(current):
                return current
            delay = watch.next_delay(current, poll_interval)
            changed = polled.download is not None
            self._sleep(delay_after_poll(changed, etag, self._clock() - started, delay))

    def fetch_files(
        self, download: str | Download, dest: str | Path, resume: bool = True, verify: bool = True
    ) -> list[Path]:
        """Every result file listed in ``download`` into the folder ``dest``; see ``fetch_file``."""
        if isinstance(download, str):
            download = self.get_download(download)
        return [self.fetch_file(result, dest, resume=resume, verify=verify) for result in download.results]

    def fetch_file(
        self, result: ResultFile, dest: str | Path, *, resume: bool = True, verify: bool = True
    ) -> Path:
        """One result file into ``dest`` under its name. A file already complete (and matching its
        sha256) is skipped; a partial one is resumed with ``Range``; a transfer cut on the way is
        resumed too, within the retry budget. With ``verify``, a sha256 mismatch removes the file and
        raises ``ChecksumMismatch``."""
        path = result_path(Path(dest), result)
        plan = to_thread(lambda: plan_fetch(result, path, resume=resume, verify=verify))
        if plan.skip:
            return plan.path
        part = to_thread(PartialFile, plan.path, plan.offset)
        with part:
            self._transfer(result.url, part, expected=result.bytes)
        check_fetched(result, plan.path, part.size, part.hexdigest(), verify=verify)
        return plan.path

    # -- scheduled downloads ------------------------------------------------------------------------

    def create_schedule(
        self,
        type: str,
        query: str,
        every: str = "1d",
        format: str = "JSON",
        view: str | None = None,
        delta: bool = False,
        webhook_url: str | None = None,
        *,
        fields: Sequence[str] | None = None,
    ) -> Schedule:
        """A download of the matches at each time of ``every``: an interval (``"1d"``, ``"7d"``,
        ``"6h"``) or a five-field cron expression, in UTC. An interval's first run is now.
        ``fields`` writes only those fields, instead of a ``view``."""
        chosen = calls.view_of(view, fields)
        return self._call(calls.create_schedule(type, query, every, format, chosen, delta, webhook_url))

    def list_schedules(self) -> list[Schedule]:
        """The account's schedules, newest first (without their runs)."""
        return self._call(calls.list_schedules())

    def get_schedule(self, id: str | Schedule) -> Schedule:
        """One schedule with its newest runs."""
        return self._call(calls.get_schedule(_schedule_id(id)))

    def delete_schedule(self, id: str | Schedule) -> str:
        """No more runs; downloads already made are kept. Returns the server's message."""
        return self._call(calls.delete_schedule(_schedule_id(id)))

    def latest_scheduled_download(self, id: str | Schedule) -> Download:
        """The schedule's newest completed download (``GET /v4/schedules/{id}/latest`` answers
        ``303`` to it); ``NotFound`` while none has completed."""
        response = self._send(calls.schedule_latest(_schedule_id(id)).build(self._http))
        location = response.headers.get("location")
        if response.status_code == 303 and location:
            response.close()
            return self._call(calls.download_at(location))
        self._raise_for_status(response)
        response.close()
        raise DlserveError(
            f"expected a redirect to the latest download, got HTTP {response.status_code}",
            status_code=response.status_code,
            response=response,
        )

    # -- media API ----------------------------------------------------------------------------------

    def media_download(self, url: str, quality: str = "best", *, webhook_url: str | None = None) -> str:
        """Start downloading a video/audio URL; returns the media download id. ``webhook_url``
        (with a token): POSTed the media download when it ends."""
        return self._call(calls.media_download(url, quality, webhook_url))

    def media_webhooks(self, id: str) -> list[WebhookDelivery]:
        """A media download's webhook deliveries and their attempts."""
        return self._call(calls.media_webhooks(id))

    def media_list(self) -> list[MediaDownload]:
        return self._call(calls.media_list())

    def media_get(self, id: str) -> MediaDownload:
        return self._call(calls.media_get(id))

    def media_wait(
        self,
        id: str,
        on_progress: Callable[[MediaDownload], object] | None = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
    ) -> MediaDownload:
        """Poll until the media download ends; like ``wait``."""
        watch = Watch(media_state, timeout, self._clock)
        while True:
            current = self.media_get(id)
            if watch.changed(current) and on_progress is not None:
                report(on_progress, current)
            if ended_or_raise(current):
                return current
            self._sleep(watch.next_delay(current, poll_interval))

    def media_fetch(self, id: str, dest: str | Path) -> Path:
        """The finished media file into the folder ``dest``, named as the server's
        Content-Disposition says (``filename*`` first). Written as ``<name>.part``, then renamed."""
        url = calls.media_file_path(id)
        response = self._open_file(url, 0)
        name = safe_filename(
            filename_from_content_disposition(response.headers.get("content-disposition")), id
        )
        path = Path(dest) / name
        partial = path.with_name(f"{name}.part")
        try:
            with PartialFile(partial) as part:
                self._transfer(url, part, expected=None, first=response)
        except BaseException:
            response.close()
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        return path

    def media_remove(self, id: str) -> None:
        """Cancel if running, and delete the file and the entry."""
        self._call(calls.media_remove(id))

    # -- sending ------------------------------------------------------------------------------------

    def _call(self, call: calls.Call[T]) -> T:
        response = self._send(call.build(self._http))
        self._raise_for_status(response)
        return call.read(response)

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send, and send again as ``RetryPolicy`` allows. Returns the answer whatever its status."""
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._policy.delay_after_error(exc, request.method, attempt)
                if delay is None:
                    raise TransportError(
                        f"{request.method} {request.url.path}: {type(exc).__name__}: {exc}"
                    ) from exc
            else:
                delay = self._policy.delay_after_response(response, attempt, utc_now())
                if delay is None:
                    return response
                response.close()
            self._sleep(delay)
            attempt += 1

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            response.read()
        except httpx.TransportError:
            pass  # the status line is enough to say what went wrong
        finally:
            response.close()
        retry_after = parse_retry_after(response.headers.get("retry-after"), utc_now())
        raise error_from_response(response, retry_after=retry_after)

    def _open_file(self, url: str, offset: int) -> httpx.Response:
        """A streamed GET of ``url`` from byte ``offset`` on; a 416 to a Range request is returned."""
        headers = {"Accept-Encoding": "identity"}  # the bytes as stored: the sha256 is over them
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = self._send(self._http.build_request("GET", url, headers=headers), stream=True)
        if not (offset and response.status_code == 416):
            self._raise_for_status(response)
        return response

    def _transfer(
        self, url: str, part: PartialFile, expected: int | None, first: httpx.Response | None = None
    ) -> None:
        """Fill ``part`` from ``url``; a transfer cut on the way is resumed from where it stopped.
        Retries count from the last byte received, so a long file on a flaky line gets there."""
        attempt = 0
        pending = first
        progress_mark = part.size
        while True:
            try:
                response = pending if pending is not None else self._open_file(url, part.size)
                pending = None
                try:
                    if self._receive(response, part, expected):
                        return
                finally:
                    response.close()
            except httpx.TransportError as exc:
                if part.size > progress_mark:
                    attempt, progress_mark = 0, part.size
                delay = self._policy.delay_after_error(exc, "GET", attempt)
                if delay is None:
                    raise TransportError(f"GET {httpx.URL(url).path}: {type(exc).__name__}: {exc}") from exc
                self._sleep(delay)
                attempt += 1

    def _receive(self, response: httpx.Response, part: PartialFile, expected: int | None) -> bool:
        """Write the body into ``part``; ``False`` when the file must be asked for again from 0."""
        if response.status_code == 416:  # the bytes we have are all there is, or too many
            if unsatisfied_range_size(response.headers.get("content-range")) == part.size:
                return True
            part.restart()
            return False
        begin_body(response, part)
        received = 0
        for chunk in response.iter_bytes():
            to_thread(part.write, chunk)
            received += len(chunk)
        end_body(response, received, part, expected)
        return True


def _id_of(download: str | Download) -> str:
    return download if isinstance(download, str) else download.id


def _schedule_id(schedule: str | Schedule) -> str:
    return schedule if isinstance(schedule, str) else schedule.id
