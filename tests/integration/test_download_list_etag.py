"""`GET /v4/downloads` (the list) has a weak ETag and answers 304 while the page is unchanged
(SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dlserve.container import Services
from tests.integration.test_hot_paths import report_progress, start_download


def test_the_list_has_an_etag_and_304_and_follows_every_change(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    first_id = start_download(client, auth)
    first = client.get("/v4/downloads", headers=auth)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    unchanged = client.get("/v4/downloads", headers={**auth, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    # Another page of the same downloads is another resource.
    assert client.get("/v4/downloads?limit=5", headers={**auth, "If-None-Match": etag}).status_code == 200

    report_progress(services, written=1)  # a running part's progress
    moved = client.get("/v4/downloads", headers={**auth, "If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.json()["records"][0]["num_downloaded"] == 1
    assert moved.headers["etag"] != etag

    client.delete(f"/v4/downloads/{first_id}", headers=auth)
    cancelled = client.get("/v4/downloads", headers={**auth, "If-None-Match": moved.headers["etag"]})
    assert cancelled.status_code == 200
    assert cancelled.json()["records"][0]["status"] == "cancelled"

    start_download(client, auth)  # a new download
    grown = client.get("/v4/downloads", headers={**auth, "If-None-Match": cancelled.headers["etag"]})
    assert grown.status_code == 200
    assert grown.json()["num_found"] == 2


def test_the_list_etag_is_per_account(client: TestClient, services: Services, auth: dict[str, str]) -> None:
    start_download(client, auth)
    etag = client.get("/v4/downloads", headers=auth).headers["etag"]
    other = {"Authorization": f"Bearer {services.accounts.create_account('b@example.com', credits=10).token}"}
    empty = client.get("/v4/downloads", headers={**other, "If-None-Match": etag})
    assert empty.status_code == 200
    assert empty.json() == {"num_found": 0, "records": []}
