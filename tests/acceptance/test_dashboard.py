"""The web dashboard in a real browser (Debian's Chromium, driven by Playwright) against real
processes: sign in, type a query and see the count, start a download and watch it complete,
cancel another, fetch a file. Any console error fails the test. Screenshots: tests/artifacts/."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from playwright import sync_api

from tests.acceptance.conftest import cli, start_server, start_worker, stop
from tests.support.media import MediaServer, shared_media

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    data_dir = tmp_path_factory.mktemp("web")
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_RECORDS_PER_FILE": "400",
        "DLSERVE_MEDIA_ALLOW_PRIVATE": "true",  # the media comes from a loopback test server
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", "2000", "--seed", "9", "--type", "businesses")
    cli(env, "accounts", "create", "web@example.com", "--password", "web-password", "--credits", "50000")
    base_url, process = start_server(env, data_dir, "--workers", "0")  # downloads wait for a worker
    try:
        yield base_url, env, data_dir
    finally:
        stop(process)


@pytest.fixture
def page(dashboard_server: tuple[str, dict[str, str], Path]) -> Iterator[object]:
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    failed: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on(
            "response",
            lambda response: failed.append(_unexpected(response)) if response.status >= 400 else None,
        )
        yield tab
        browser.close()
    # Chromium logs every 4xx as a console error; the one the test provokes on purpose (the
    # misspelled field, answered 400 with its position) is the only one allowed.
    unexpected = [url for url in failed if url]
    expected_network_errors = len(failed) - len(unexpected)
    network_lines = [e for e in errors if e.startswith("Failed to load resource")]
    assert len(network_lines) <= expected_network_errors, (errors, unexpected)
    assert [e for e in errors if not e.startswith("Failed to load resource")] == [], errors
    assert unexpected == [], unexpected


def _unexpected(response: sync_api.Response) -> str:
    """'' for the deliberate bad-query answer, else the failing URL."""
    body = response.request.post_data or ""
    if response.status == 400 and response.url.endswith("/v4/businesses/search") and "nmae:" in body:
        return ""
    return f"{response.status} {response.request.method} {response.url}"


def api_count(base_url: str, token: str, query: str) -> int:
    response = httpx.post(
        f"{base_url}/v4/businesses/search",
        json={"query": query, "num_records": 0},
        headers={"Authorization": f"Bearer {token}"},
    )
    return int(response.json()["num_found"])


@contextmanager
def media_server(factory: pytest.TempPathFactory) -> Iterator[tuple[MediaServer, Path]]:
    media_dir = shared_media(factory.getbasetemp())
    server = MediaServer(media_dir).start()
    try:
        yield server, media_dir
    finally:
        server.stop()


def test_dashboard_search_download_cancel_and_fetch(
    page: sync_api.Page,
    dashboard_server: tuple[str, dict[str, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base_url, env, data_dir = dashboard_server
    expect = sync_api.expect
    page.goto(base_url + "/")
    page.get_by_label("Email").fill("web@example.com")
    page.get_by_label("Password").fill("web-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#account-line")).to_contain_text("web@example.com")
    expect(page.locator("#account-line")).to_contain_text("50,000 credits")
    token = page.evaluate("sessionStorage.getItem('dlserve-token')")

    page.get_by_label("Query").fill("nmae:hilton")
    expect(page.locator("#query-error")).to_contain_text(re.compile(r"nmae.*position 0"))
    page.get_by_label("Query").fill("categories:hotels")
    hotels = api_count(base_url, token, "categories:hotels")
    expect(page.locator("#count")).to_have_text(f"{hotels:,} matching records")
    expect(page.locator("#query-error")).to_have_text("")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview tbody tr")).to_have_count(10)
    page.screenshot(path=str(ARTIFACTS / "dashboard-search.png"), full_page=True)

    # A field list built with the picker chooses the preview's columns (and the CSV's below).
    page.get_by_label("Add a field").select_option("name")
    page.get_by_label("Add a field").select_option("reviews.rating")
    page.get_by_label("Add a field").select_option("id")
    expect(page.locator("#fields")).to_have_value("name,reviews.rating,id")
    expect(page.get_by_label("View", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview thead th")).to_have_text(["name", "reviews", "id"])

    # A download that waits (no worker yet) is cancelled from its row.
    page.get_by_label("Query").fill("*")
    page.get_by_role("button", name="Download", exact=True).click()
    first = page.locator("#downloads li").first
    expect(first.locator(".status")).to_have_text("queued")
    first.get_by_role("button", name=re.compile("Cancel download")).click()
    expect(first.locator(".status")).to_have_text("cancelled")

    # Another, in CSV, is exported by a worker process while the page watches it.
    worker = start_worker(env, data_dir, "web")
    try:
        page.get_by_label("Query").fill("categories:hotels")
        page.get_by_label("Format").select_option("CSV")
        page.get_by_role("button", name="Download", exact=True).click()
        latest = page.locator("#downloads li").first
        expect(latest.locator(".status")).to_have_text("completed", timeout=60_000)
        expect(latest.locator(".muted")).to_contain_text(f"{hotels:,} of {hotels:,} records")
        links = latest.locator(".files a")
        expect(links.first).to_be_visible()
        assert links.count() == -(-hotels // 400)
        page.screenshot(path=str(ARTIFACTS / "dashboard-downloads.png"), full_page=True)
        href = links.first.get_attribute("href")
        assert href is not None
        fetched = page.request.get(href)
        assert fetched.ok
        body = fetched.text()
        assert body.startswith("name,reviews.rating,id\r\n")  # the field list, in its order
        rows = list(csv.reader(io.StringIO(body)))[1:]
        assert len({row[2] for row in rows}) == min(400, hotels)  # a row per review, 400 records

        # Refreshing it right away: a delta download with nothing changed, free.
        latest.get_by_role("button", name=re.compile(r"Refresh download \d+")).click()
        refreshed = page.locator("#downloads li").first
        expect(refreshed.locator(".delta")).to_contain_text("changes since #", timeout=60_000)
        expect(refreshed.locator(".status")).to_have_text("completed", timeout=60_000)
        expect(refreshed.locator(".delta")).to_contain_text("0 added, 0 changed, 0 deleted")
        expect(refreshed.locator(".files a")).to_have_count(0)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    # Keyboard: the tabs follow the arrow keys; the media tab has labelled fields.
    page.get_by_role("tab", name="Data").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Media")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Video or audio URL")).to_be_visible()

    # A signed-in user's media file: the link fetches it with the token (a bare link answered 404).
    with media_server(tmp_path_factory) as (server, media_dir):
        page.get_by_label("Video or audio URL").fill(server.url("/v360.mp4"))
        page.get_by_label("Quality").select_option("best")
        page.get_by_role("button", name="Fetch").click()
        item = page.locator("#media-list li").first
        expect(item.locator(".status")).to_have_text("completed", timeout=60_000)
        with page.expect_download() as downloading:
            item.locator("a").click()
        saved = tmp_path_factory.mktemp("saved") / "media.mp4"
        downloading.value.save_as(saved)
        assert saved.read_bytes() == (media_dir / "v360.mp4").read_bytes()
        assert downloading.value.suggested_filename == "v360.mp4"

    # Everything the server wrote in its data dir is private: database, snapshots, results, media.
    written = [p for p in data_dir.rglob("*") if not p.name.endswith(".log")]  # logs: the test's own
    assert {p.name for p in written} >= {"dlserve.db", "snapshots", "files", "secret_key"}
    loose = {
        str(p.relative_to(data_dir)): oct(p.stat().st_mode & 0o777)
        for p in written
        if p.stat().st_mode & 0o077
    }
    assert loose == {}

    # Phone-sized screen: nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Data").click()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

    # Signing out revokes the token the page got from POST /v4/auth (issue 12).
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('dlserve-token')") is None
    revoked = httpx.get(f"{base_url}/v4/account", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401
    if os.environ.get("DLSERVE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(
            ARTIFACTS / "dashboard-downloads.png",
            Path(__file__).resolve().parents[2] / "docs" / "dashboard.png",
        )


def test_dashboard_schedules_the_search_lists_and_deletes_schedules(
    page: sync_api.Page, dashboard_server: tuple[str, dict[str, str], Path]
) -> None:
    base_url, env, _data_dir = dashboard_server
    expect = sync_api.expect
    page.goto(base_url + "/")
    page.get_by_label("API token").fill(
        json.loads(cli(env, "accounts", "create", "sched@example.com", "--credits", "10"))["token"]
    )
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#schedules")).to_contain_text("No schedules yet.")

    page.get_by_label("Query").fill("categories:hotels")
    page.get_by_label("Format").select_option("CSV")
    page.get_by_label(re.compile("^Every")).fill("7d")
    page.get_by_label("only changes (delta)").check()
    page.get_by_role("button", name="Schedule this search").click()
    item = page.locator("#schedules li").first
    expect(item).to_contain_text("businesses: categories:hotels")
    expect(item.locator(".status")).to_have_text("every 7d · delta")
    expect(item.locator(".muted")).to_contain_text("CSV · next run")
    token = page.evaluate("sessionStorage.getItem('dlserve-token')")
    (listed,) = httpx.get(f"{base_url}/v4/schedules", headers={"Authorization": f"Bearer {token}"}).json()[
        "records"
    ]
    assert (listed["query"], listed["every"], listed["delta"], listed["format"]) == (
        "categories:hotels",
        "7d",
        True,
        "CSV",
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-schedules.png"), full_page=True)

    item.get_by_role("button", name=f"Delete schedule {listed['id']}").click()
    expect(page.locator("#schedules")).to_contain_text("No schedules yet.")
