"""The client commands against the SDK's in-memory server (``httpx.MockTransport``): what they print,
which files they fetch and when, their exit status, and Ctrl-C."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from dlserve.cli import app
from dlserve.cli_client import commands, follow
from dlserve.client import Client
from tests.unit.client.conftest import FakeClock
from tests.unit.client.fake_server import API, TOKEN, FakeServer, download_json, json_response, jsonl


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def run(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``dlserve ARGS`` with the server and token in the environment and the fake behind the SDK."""
    clock = FakeClock()

    def open_client(url: str, token: str | None) -> Client:
        assert url == API
        return Client(url, token, transport=server.transport(), sleep=clock.sleep, clock=clock.monotonic)

    monkeypatch.setattr(commands, "open_client", open_client)

    def invoke(*args: str, token: str | None = TOKEN, input: str | None = None) -> Result:
        env = {
            "DLSERVE_URL": API,
            "DLSERVE_TOKEN": token,
            "DLSERVE_CONFIG": None,
            "XDG_CONFIG_HOME": str(tmp_path / "no-config"),
            "COLUMNS": "120",
        }
        return CliRunner().invoke(app, list(args), env=env, input=input, prog_name="dlserve")

    return invoke


def running_download(server: FakeServer, download_id: str = "7", parts: int = 3) -> list[bytes]:
    """A download whose files appear one poll after another: queued, then 1, 2, 3 files, completed."""
    contents = [jsonl(10, part=n) for n in range(1, parts + 1)]
    results = [server.add_file(download_id, n, c) for n, c in enumerate(contents, start=1)]
    total = 10 * parts
    states = [download_json(download_id, "queued", 0, total)]
    for listed in range(1, parts + 1):
        status = "completed" if listed == parts else "in_progress"
        states.append(download_json(download_id, status, 10 * listed, total, results=results[:listed]))
    server.add_download(download_id, states)
    return contents


def created(server: FakeServer, download_id: str = "7", total: int = 30) -> None:
    """The next POST (the download's creation) answers with ``download_id``."""
    server.queue.append(lambda request: json_response(202, download_json(download_id, "queued", 0, total)))


def paths_of(server: FakeServer) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in server.requests]


def test_count(run: Callable[..., Result]) -> None:
    result = run("count", "businesses", "name:hotel")
    assert result.exit_code == 0
    assert result.stdout == "25\n"
    result = run("count", "businesses", "name:hotel", "--json")
    assert json.loads(result.stdout) == {"type": "businesses", "query": "name:hotel", "count": 25}


def test_download_fetches_each_file_while_the_download_runs(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    contents = running_download(server)
    created(server)
    out = tmp_path / "out"
    result = run("download", "businesses", "*", "--format", "CSV", "--records", "30", "--out", str(out))
    assert result.exit_code == 0, result.output
    posted = json.loads(server.requests[0].content)
    assert posted == {"query": "*", "download": True, "format": "CSV", "num_records": 30}
    assert [(out / f"7_{n}.txt").read_bytes() for n in (1, 2, 3)] == contents
    # each file is fetched right after the poll that listed it, before the download completed
    order = paths_of(server)
    assert order.index("GET /v4/files/7/7_1.txt") < order.index("GET /v4/files/7/7_2.txt")
    polls_before_first_file = order[: order.index("GET /v4/files/7/7_1.txt")].count("GET /v4/downloads/7")
    assert polls_before_first_file == 2  # queued, then the state listing the first file
    assert "download 7 completed: 3 files, 30 records, " in result.stdout
    assert "sha256 verified" in result.stdout
    assert "download 7: 30 businesses into" in result.stderr


def test_download_json(run: Callable[..., Result], server: FakeServer, tmp_path: Path) -> None:
    running_download(server, parts=2)
    created(server, total=20)
    result = run("download", "businesses", "*", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["download"]["status"] == "completed"
    assert [f["path"] for f in body["files"]] == [str(tmp_path / "7_1.txt"), str(tmp_path / "7_2.txt")]
    assert body["files"][0]["sha256"] == hashlib.sha256((tmp_path / "7_1.txt").read_bytes()).hexdigest()
    assert result.stderr == ""  # no progress, no notes


def test_download_fields_sends_a_field_list(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    running_download(server, parts=1)
    created(server, total=10)
    result = run("download", "businesses", "*", "--fields", "id, name,reviews.rating", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    posted = json.loads(server.requests[0].content)
    assert posted["view"] == ["id", "name", "reviews.rating"]
    both = run(
        "download", "businesses", "*", "--fields", "id", "--view", "business_basic", "--out", str(tmp_path)
    )
    assert both.exit_code == 1
    assert "--view or --fields" in both.stderr


def test_a_checksum_mismatch_fails_in_one_line_and_removes_the_file(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    running_download(server, parts=1)
    server.files["/v4/files/7/7_1.txt"] = jsonl(10, part=99)  # same size, other bytes
    created(server, total=10)
    result = run("download", "businesses", "*", "--out", str(tmp_path))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: 7_1.txt: sha256 is ")
    assert "the file was removed" in line
    assert line.endswith(f"; to go on: dlserve downloads fetch 7 --out {tmp_path}")
    assert not (tmp_path / "7_1.txt").exists()


def test_a_failed_download_exits_1_with_its_reason(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    server.add_download(
        "7",
        [download_json("7", "queued", 0, 10), download_json("7", "failed", 0, 10, error="the disk is full")],
    )
    created(server, total=10)
    result = run("download", "businesses", "*", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("error: download 7 failed: the disk is full")


def test_a_download_cancelled_elsewhere_fails_but_fetching_it_later_does_not(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    running_download(server, parts=2)
    cancelled = {**server.download_states["7"][1], "status": "cancelled"}  # one file finished
    server.download_states["7"][1:] = [cancelled]
    created(server, total=20)
    result = run("download", "businesses", "*", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"error: download 7 was cancelled on the server; its 1 finished file(s) are in {tmp_path}\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["7_1.txt"]

    result = run("downloads", "fetch", "7", "--out", str(tmp_path / "later"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("download 7 cancelled: 1 file, 10 records")


def test_a_folder_that_cannot_be_made_fails_before_the_download_is_created(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a folder")
    result = run("download", "businesses", "*", "--out", str(tmp_path / "file" / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'file' / 'out'}: ")
    assert server.requests == []


def test_server_errors_are_one_line_with_the_details(run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("download", "businesses", "nosuchfield:x", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == "error: 400 Bad Request: Unknown field 'nosuchfield' (query: at position 0)\n"

    result = run("count", "businesses", "nosuchfield:x", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert (error["status_code"], error["details"]) == (400, [{"field": "query", "message": "at position 0"}])

    result = run("count", "nothings", "*")
    assert result.stderr == "error: 404 Not Found: Unknown data type 'nothings'\n"


def test_without_a_token_the_401_says_where_a_token_comes_from(run: Callable[..., Result]) -> None:
    result = run("count", "businesses", "*", token=None)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 401 Unauthorized: Authentication required.")
    assert "(no token given: use --token, DLSERVE_TOKEN or the config file)" in result.stderr
    assert "no token given" not in run("count", "businesses", "*", token="dls_wrong").stderr


def test_an_unreachable_server(
    run: Callable[..., Result], server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    server.queue.extend([refuse] * 4)  # the first try and three retries
    result = run("count", "businesses", "*")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot reach {API}: POST /v4/businesses/search: "
        "ConnectError: [Errno 111] Connection refused\n"
    )


def test_fetch_resumes_a_partial_file_and_skips_complete_ones(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    contents = running_download(server, parts=2)
    server.download_states["7"] = server.download_states["7"][-1:]  # completed already
    (tmp_path / "7_1.txt").write_bytes(contents[0])
    (tmp_path / "7_2.txt").write_bytes(contents[1][:25])
    result = run("downloads", "fetch", "7", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert [(r.url.path, r.headers.get("range")) for r in server.file_requests()] == [
        ("/v4/files/7/7_2.txt", "bytes=25-")
    ]
    assert (tmp_path / "7_2.txt").read_bytes() == contents[1]
    assert "download 7 completed: 2 files, 20 records" in result.stdout


def test_fetch_follows_a_running_download_unless_told_not_to(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    running_download(server)
    server.download_states["7"] = server.download_states["7"][1:]  # running, one file listed
    result = run("downloads", "fetch", "7", "--out", str(tmp_path / "now"), "--no-wait")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "now").iterdir()) == ["7_1.txt"]
    assert "download 7 is still in_progress: fetched 1 file, 10 records" in result.stdout

    result = run("downloads", "fetch", "7", "--out", str(tmp_path / "all"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["7_1.txt", "7_2.txt", "7_3.txt"]


def test_list_show_cancel(run: Callable[..., Result], server: FakeServer) -> None:
    server.add_download("7", [download_json("7", "in_progress", 5, 10)])
    server.add_download("8", [download_json("8", "completed", 10, 10)])
    listed = run("downloads", "list")
    assert listed.exit_code == 0
    assert "ID" in listed.stdout
    assert "STATUS" in listed.stdout
    assert "in_progress" in listed.stdout
    assert "5/10" in listed.stdout
    assert [d["id"] for d in json.loads(run("downloads", "list", "--json").stdout)] == ["7", "8"]

    shown = run("downloads", "show", "7")
    assert "in_progress" in shown.stdout
    assert "10 records/s" in shown.stdout
    assert json.loads(run("downloads", "show", "7", "--json").stdout)["num_records"] == 10
    assert run("downloads", "show", "99").stderr == "error: 404 Not Found: Download 99 was not found\n"

    cancelled = run("downloads", "cancel", "7")
    assert (cancelled.exit_code, cancelled.stdout) == (0, "Download 7 was cancelled\n")
    again = run("downloads", "cancel", "7", "--json")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"]["status_code"] == 409


def interrupt_on_second_poll(server: FakeServer) -> None:
    polls = 0
    original = server._download

    def poll(request: httpx.Request, download_id: str) -> httpx.Response:
        nonlocal polls
        if request.method == "GET":
            polls += 1
            if polls == 2:
                raise KeyboardInterrupt
        return original(request, download_id)

    server._download = poll  # type: ignore[method-assign]


def test_ctrl_c_without_a_terminal_leaves_the_download_running(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    server.add_download("7", [download_json("7", "queued", 0, 10)])
    created(server, total=10)
    interrupt_on_second_poll(server)
    result = run("download", "businesses", "*", "--out", str(tmp_path))
    assert result.exit_code == 130
    assert "interrupted: download 7 keeps running on the server; fetch its files with: " in result.stderr
    assert f"dlserve downloads fetch 7 --out {tmp_path}" in result.stderr
    assert "Cancel the download" not in result.output
    assert "DELETE /v4/downloads/7" not in paths_of(server)


@pytest.mark.parametrize(("answer", "cancelled"), [("y\n", True), ("\n", False)])
def test_ctrl_c_at_a_terminal_asks_whether_to_cancel(
    run: Callable[..., Result],
    server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    cancelled: bool,
) -> None:
    monkeypatch.setattr(follow, "at_terminal", lambda: True)
    server.add_download("7", [download_json("7", "queued", 0, 10)])
    created(server, total=10)
    interrupt_on_second_poll(server)
    result = run("download", "businesses", "*", "--out", str(tmp_path), "--json", input=answer)
    assert result.exit_code == 130
    assert "Cancel the download on the server? [y/N]:" in result.stderr
    assert ("DELETE /v4/downloads/7" in paths_of(server)) is cancelled
    echoed, _, printed = result.stdout.partition("{")  # CliRunner echoes the answer to stdout
    assert echoed.strip() == answer.strip()
    assert json.loads("{" + printed)["cancelled"] is cancelled
    if cancelled:
        assert "interrupted: Download 7 was cancelled (what it finished can still be fetched" in result.stderr
    else:
        assert "interrupted: download 7 keeps running on the server" in result.stderr


def test_media_get_saves_the_file_under_its_title(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    content = b"\x00\x00\x00\x18ftypmp42" * 100
    server.media_states["m-1"] = [
        {"id": "m-1", "status": "downloading", "progress": 40.0, "title": "Big Buck Bunny"},
        {"id": "m-1", "status": "completed", "progress": 100.0, "title": "Big Buck Bunny", "quality": "720p"},
    ]
    server.media_files["m-1"] = (content, "attachment; filename*=UTF-8''Big%20Buck%20Bunny%20%E2%9C%93.mp4")
    result = run("media", "get", "https://video.test/watch?v=1", "--quality", "720p", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    saved = tmp_path / "Big Buck Bunny ✓.mp4"
    assert saved.read_bytes() == content
    assert result.stdout.startswith(f"{saved}  720p  Big Buck Bunny")
    posted = json.loads(next(r.content for r in server.requests if r.url.path == "/api/download"))
    assert posted == {"url": "https://video.test/watch?v=1", "quality": "720p"}


def test_media_errors(run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("media", "get", "https://video.test/x", "--quality", "4k", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 422 Unprocessable ")
    assert result.stderr.endswith(": quality: Input should be 'best'\n")


def test_download_asks_for_a_webhook_and_downloads_webhooks_lists_its_attempts(
    run: Callable[..., Result], server: FakeServer, tmp_path: Path
) -> None:
    running_download(server, parts=1)
    created(server, total=10)
    result = run(
        "download", "businesses", "*", "--out", str(tmp_path), "--webhook-url", "https://hooks.test/in"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(server.requests[0].content)["webhook_url"] == "https://hooks.test/in"

    delivery = {
        "webhook_id": "msg_1",
        "event": "download.completed",
        "url": "https://hooks.test/in",
        "status": "pending",
        "num_attempts": 1,
        "next_attempt_at": "2026-01-01T10:00:10Z",
        "created_at": "2026-01-01T10:00:00Z",
        "finished_at": None,
        "attempts": [
            {
                "attempt": 1,
                "attempted_at": "2026-01-01T10:00:00Z",
                "status_code": 503,
                "error": "the receiver answered 503",
                "duration_ms": 12.5,
            }
        ],
    }
    body = {"webhook_url": "https://hooks.test/in", "num_found": 1, "deliveries": [delivery]}
    server.queue.append(lambda request: json_response(200, body))
    server.queue.append(lambda request: json_response(200, body))
    table = run("downloads", "webhooks", "7")
    assert table.exit_code == 0, table.output
    assert "download.completed" in table.stdout
    assert "503" in table.stdout
    as_json = run("downloads", "webhooks", "7", "--json")
    assert json.loads(as_json.stdout) == [delivery]
    assert paths_of(server)[-1] == "GET /v4/downloads/7/webhooks"
