"""v3 against real processes: `dlserve serve` over HTTPS with worker threads, driven by the seed
documents' own code for `/v3/requests` (seed 002) and `/v3/results/{id}` (seed 001), by curl with
`--user TOKEN:` and `https://TOKEN:@host`, and by `requests` following the 303 of `download=true`."""

from __future__ import annotations

import ast
import base64
import csv
import io
import json
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import requests

from dlserve.demo import generate_records
from dlserve.records.schema import SCHEMAS
from tests.acceptance.conftest import cli, start_server, stop
from tests.acceptance.seed_clients import (
    DATAFINITI,
    LANGUAGES,
    make_certificate,
    run_snippet,
    seed_path,
    snippets,
)
from tests.support.query_eval import matching_ids

RECORDS = 2000
SEED = 11
PER_FILE = 100
REQUEST_FIELDS = [
    "id",
    "records",
    "query",
    "dataType",
    "dataFormat",
    "accountId",
    "planId",
    "view",
    "async",
    "status",
    "error",
    "numDownloaded",
    "numFound",
    "numRequested",
    "date_started",
    "date_completed",
]
RESULT_FIELDS = ["id", "url", "request_id", "downloaded", "imported", "date_created"]
UNAUTHORIZED = {
    "error": "Unauthorized",
    "message": "Authentication required. Please provide a valid API token",
    "code": 401,
}
V3_DATE = re.compile(r"^\d{4}-[1-9]\d?-[1-9]\d? \d{2}:\d{2}:\d{2}$")
# Seed 001's Go example imports "bytes" and never uses it; Go refuses to compile that (Go 1.19 says
# `imported and not used: "bytes"`, Go 1.20 and later `"bytes" imported and not used`).
GO_UNUSED_IMPORT = re.compile(
    r'main\.go:5:\d+: (imported and not used: "bytes"|"bytes" imported and not used)'
)


@dataclass(frozen=True)
class Server:
    base_url: str
    cert: Path
    data_dir: Path
    env: dict[str, str]

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def new_token(self, email: str) -> str:
        created = json.loads(cli(self.env, "accounts", "create", email, "--credits", "1000000"))
        return str(created["token"])

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            verify=ssl.create_default_context(cafile=str(self.cert)),
            timeout=60,
            auth=(token, ""),
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """HTTPS, 2,000 demo businesses, one worker thread in the server, 100 records per result file."""
    data_dir = tmp_path_factory.mktemp("v3")
    env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir), "DLSERVE_RECORDS_PER_FILE": str(PER_FILE)}
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", str(RECORDS), "--seed", str(SEED), "--type", "businesses")
    cert, _key = make_certificate(data_dir)
    base_url, process = start_server(env, data_dir, "--workers", "1", cert=cert)
    try:
        yield Server(base_url, cert, data_dir, env)
    finally:
        stop(process)


def expected_ids(query: str) -> list[str]:
    """The query's matches, decided in plain Python from the generated records (not by the server)."""
    records = list(generate_records("businesses", RECORDS, seed=SEED))
    return matching_ids(SCHEMAS["businesses"], query, records)


def wait_completed(client: httpx.Client, request_id: int, seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v3/requests/{request_id}").json()
        if body["status"] == "COMPLETED":
            return body
        assert body["status"] == "STARTED", body
        time.sleep(0.1)
    raise AssertionError(f"request {request_id} did not complete: {body}")


def fetch(server: Server, url: str) -> str:
    assert url.startswith(server.base_url + "/v4/files/"), url
    response = httpx.get(url, verify=ssl.create_default_context(cafile=str(server.cert)), timeout=60)
    assert response.status_code == 200, response.text
    return response.text


def curl(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--cacert", str(server.cert), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


# -- a download started with download=true, followed through its 303 ----------------------------


def test_curl_download_follows_the_303_and_the_csv_files_hold_the_matches(server: Server) -> None:
    token = server.new_token("curl@example.com")
    query = "province:(TX OR CA) AND reviews.rating:5"
    params = urlencode({"q": query, "format": "csv", "view": "businesses_all_nested", "download": "true"})
    # Without -L: the 303 itself.
    headers = curl(
        server,
        "--user",
        f"{token}:",
        "-o",
        "/dev/null",
        "-D",
        "-",
        f"{server.base_url}/v3/data/businesses?{params}",
    )
    status_line, *header_lines = headers.stdout.strip().splitlines()
    assert " 303" in status_line, headers.stdout
    location = next(
        line.split(":", 1)[1].strip() for line in header_lines if line.lower().startswith("location:")
    )
    assert re.fullmatch(r"/v3/requests/\d+", location)
    # With -L: curl lands on the request object.
    landed = json.loads(
        curl(server, "-L", "--user", f"{token}:", f"{server.base_url}/v3/data/businesses?{params}").stdout
    )
    assert list(landed) == REQUEST_FIELDS
    assert landed["view"] == "businesses_all_nested"
    assert landed["dataFormat"] == "csv"

    with server.client(token) as client:
        done = wait_completed(client, landed["id"])
        results = client.get(f"/v3/results/{landed['id']}").json()
    wanted = expected_ids(query)
    assert done["numFound"] == done["numRequested"] == done["numDownloaded"] == len(wanted)
    assert done["error"] == ""
    assert [r["downloaded"] for r in results] == [PER_FILE] * (len(wanted) // PER_FILE) + [
        len(wanted) % PER_FILE
    ]
    ids = [row["id"] for r in results for row in csv.DictReader(io.StringIO(fetch(server, r["url"])))]
    assert ids == wanted


def test_requests_download_with_url_credentials_follows_the_303_and_json_files_hold_the_matches(
    server: Server,
) -> None:
    token = server.new_token("requests@example.com")
    query = "categories:hotels"
    v3 = f"https://{token}:@{server.host}/v3"  # the v3 URL form: https://TOKEN:@host/v3/...

    def get(url: str, **kwargs: Any) -> requests.Response:
        # verify= on each call: a Session's own verify loses to REQUESTS_CA_BUNDLE from the environment.
        return requests.get(url, verify=str(server.cert), timeout=60, **kwargs)

    response = get(
        f"{v3}/data/businesses", params={"q": query, "download": "true", "format": "json", "records": "250"}
    )
    assert [r.status_code for r in response.history] == [303]
    assert response.history[0].headers["Location"] == f"/v3/requests/{response.json()['id']}"
    assert response.status_code == 200
    request_id = response.json()["id"]
    assert response.json()["records"] == "250"

    deadline = time.monotonic() + 180
    while (body := get(f"{v3}/requests/{request_id}").json())["status"] != "COMPLETED":
        assert body["status"] == "STARTED", body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    assert (body["numRequested"], body["numDownloaded"], body["numFound"]) == (
        250,
        250,
        len(expected_ids(query)),
    )
    results = get(f"{v3}/results/{request_id}").json()
    assert [r["downloaded"] for r in results] == [100, 100, 50]
    lines = [line for r in results for line in get(r["url"]).text.splitlines()]
    assert [json.loads(line)["id"] for line in lines] == expected_ids(query)[:250]
    # The same download through v4.
    v4 = get(
        f"{server.base_url}/v4/downloads/{request_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert (v4["id"], v4["status"], v4["num_downloaded"]) == (str(request_id), "completed", 250)
    assert [r["url"] for r in v4["results"]] == [r["url"] for r in results]


# -- the seed documents' own examples -----------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(server: Server) -> tuple[str, int]:
    """An account of its own with exactly one v3 download, completed."""
    token = server.new_token("seed@example.com")
    with server.client(token) as client:
        started = client.get(
            "/v3/data/businesses", params={"q": "province:TX", "download": "true", "format": "csv"}
        )
        assert started.status_code == 303, started.text
        request_id = int(started.json()["id"])
        wait_completed(client, request_id)
    return token, request_id


def seed_program(prefix: str, language: str, server: Server, token: str, request_id: int) -> str:
    code = snippets(seed_path(prefix))[language]
    credentials = base64.b64encode(f"{token}:".encode()).decode()
    return (
        code.replace(DATAFINITI, server.base_url)
        .replace("/v3/results/123", f"/v3/results/{request_id}")
        .replace("YOUR_CREDENTIALS", credentials)
    )


def printed(language: str, stdout: str) -> Any:
    text = stdout.strip()
    if language in ("curl", "ruby"):
        return json.loads(text)
    if language == "python":
        return ast.literal_eval(text)
    return text  # node: util.inspect's rendering; go: the status line only


def node_rendering(data: Any) -> str:
    """How the Node example's ``console.log(data)`` prints ``data`` (util.inspect, not JSON)."""
    done = subprocess.run(
        ["node", "-e", "console.log(JSON.parse(process.argv[1]))", json.dumps(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_002_requests_examples(
    server: Server, seeded: tuple[str, int], language: str, tmp_path: Path
) -> None:
    token, request_id = seeded
    with server.client(token) as client:
        expected = client.get("/v3/requests").json()
    assert [r["id"] for r in expected] == [request_id]
    assert list(expected[0]) == REQUEST_FIELDS
    assert expected[0]["status"] == "COMPLETED"
    assert V3_DATE.match(expected[0]["date_started"])
    assert V3_DATE.match(expected[0]["date_completed"])

    run = run_snippet(
        language, seed_program("002", language, server, token, request_id), server.cert, tmp_path
    )
    assert run.returncode == 0, (language, run.stdout, run.stderr)
    shown = printed(language, run.stdout)
    if language == "go":
        assert shown == "Response Status: 200 OK"
    elif language == "node":
        assert shown == node_rendering(expected)
    else:
        assert shown == expected
        assert [list(item) for item in shown] == [REQUEST_FIELDS]


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_001_results_examples(
    server: Server, seeded: tuple[str, int], language: str, tmp_path: Path
) -> None:
    token, request_id = seeded
    with server.client(token) as client:
        expected = client.get(f"/v3/results/{request_id}").json()
    texans = len(expected_ids("province:TX"))
    assert texans > 2 * PER_FILE  # several files, the last one partial
    full, rest = divmod(texans, PER_FILE)
    assert [r["downloaded"] for r in expected] == [PER_FILE] * full + ([rest] if rest else [])
    assert len({r["id"] for r in expected}) == len(expected)
    for item in expected:
        assert list(item) == RESULT_FIELDS
        assert item["request_id"] == request_id
        assert V3_DATE.match(item["date_created"])

    code = seed_program("001", language, server, token, request_id)
    run = run_snippet(language, code, server.cert, tmp_path)
    if language == "go":
        # Run exactly as the seed gives it: Go rejects the unused import ...
        assert run.returncode != 0
        assert GO_UNUSED_IMPORT.search(run.stderr), run.stderr
        # ... so run it again with only that import line removed (the one edit a user has to make).
        assert code.count('"bytes"\n') == 1
        run = run_snippet(language, code.replace('"bytes"\n', ""), server.cert, tmp_path)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "Response Status: 200 OK"
        return
    assert run.returncode == 0, (language, run.stdout, run.stderr)
    shown = printed(language, run.stdout)
    if language == "node":
        assert shown == node_rendering(expected)
    else:
        assert shown == expected
    # The URLs the examples print fetch the files.
    assert sum(len(list(csv.DictReader(io.StringIO(fetch(server, r["url"]))))) for r in expected) == sum(
        r["downloaded"] for r in expected
    )


# -- the two credential forms, and their refusal ------------------------------------------------


def test_curl_user_token_colon_and_url_credentials(server: Server, seeded: tuple[str, int]) -> None:
    token, request_id = seeded
    host = urlsplit(server.base_url).netloc
    with_user = json.loads(curl(server, "--user", f"{token}:", f"{server.base_url}/v3/requests").stdout)
    in_url = json.loads(curl(server, f"https://{token}:@{host}/v3/requests").stdout)
    assert with_user == in_url
    assert [r["id"] for r in in_url] == [request_id]
    one = json.loads(curl(server, f"https://{token}:@{host}/v3/requests/{request_id}").stdout)
    assert one == in_url[0]

    refused = curl(server, "-i", "--user", "dls_not_a_token:", f"{server.base_url}/v3/requests")
    head, _, body = refused.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.splitlines()[0].split()[1] == "401"
    assert 'www-authenticate: basic realm="dlserve"' in head.lower()
    assert json.loads(body) == UNAUTHORIZED
    missing = curl(server, f"{server.base_url}/v3/results/{request_id}")
    assert json.loads(missing.stdout) == UNAUTHORIZED
