"""The synchronous v4 API over HTTP: auth, account, search, paginate, records, views and errors."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dlserve.container import Services


def assert_envelope(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "code", "details"}, body
    assert body["code"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    if field is not None:
        assert field in [d["field"] for d in body["details"]], body
    return body


def test_auth_returns_a_working_token(client: TestClient, token: str) -> None:
    response = client.post("/v4/auth", json={"email": "user@example.com", "password": "secret-pw"})
    assert response.status_code == 200
    fresh = response.json()["token"]
    assert fresh != token
    account = client.get("/v4/account", headers={"Authorization": f"Bearer {fresh}"})
    assert account.status_code == 200
    assert account.json()["email"] == "user@example.com"
    assert account.json()["available_credits"] == 100


def test_wrong_password_and_missing_token_are_401_envelopes(client: TestClient, token: str) -> None:
    body = assert_envelope(
        client.post("/v4/auth", json={"email": "user@example.com", "password": "nope"}), 401
    )
    assert body["error"] == "Unauthorized"
    response = client.post("/v4/businesses/search", json={"query": "*"})
    assert_envelope(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_envelope(client.get("/v4/account", headers={"Authorization": "Bearer dls_wrong"}), 401)


def test_preview_counts_returns_and_charges(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/v4/businesses/search", json={"query": "name:hilton", "num_records": 1}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["num_found"] == 2
    assert body["total_cost"] == 1
    assert [r["id"] for r in body["records"]] == ["b1"]
    assert client.get("/v4/account", headers=auth).json()["available_credits"] == 99


def test_zero_records_is_a_free_count(client: TestClient, auth: dict[str, str]) -> None:
    body = client.post(
        "/v4/businesses/search", json={"query": "city:austin", "num_records": 0}, headers=auth
    ).json()
    assert body == {"num_found": 2, "total_cost": 0, "records": []}
    assert client.get("/v4/account", headers=auth).json()["available_credits"] == 100


def test_default_preview_is_ten_records_and_the_cap_is_enforced(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = client.post("/v4/businesses/search", json={"query": "*"}, headers=auth).json()
    assert body["num_found"] == 4
    assert len(body["records"]) == 4
    assert_envelope(
        client.post("/v4/businesses/search", json={"query": "*", "num_records": 51}, headers=auth),
        400,
        "num_records",
    )


def test_views_choose_fields_and_unknown_view_is_400(client: TestClient, auth: dict[str, str]) -> None:
    body = client.post(
        "/v4/businesses/search", json={"query": "id:b3", "view": "business_no_reviews"}, headers=auth
    ).json()
    assert "reviews" not in body["records"][0]
    assert body["records"][0]["extraField"] == "kept"
    assert_envelope(
        client.post("/v4/businesses/search", json={"query": "*", "view": "nope"}, headers=auth), 400, "view"
    )


def test_csv_preview_in_any_case_is_a_header_and_rows(client: TestClient, auth: dict[str, str]) -> None:
    body = client.post(
        "/v4/businesses/search",
        json={"query": "id:b1", "format": "csv", "view": "business_flat_reviews"},
        headers=auth,
    ).json()
    rows = list(csv.reader(io.StringIO("\n".join(body["records"]))))
    header, *data = rows
    assert body["total_cost"] == 1
    assert [dict(zip(header, r, strict=True))["reviews.text"] for r in data] == ["Great stay", "Noisy"]
    assert_envelope(
        client.post("/v4/businesses/search", json={"query": "*", "format": "xml"}, headers=auth),
        400,
        "format",
    )


def test_bad_query_is_a_400_naming_field_and_position(client: TestClient, auth: dict[str, str]) -> None:
    body = assert_envelope(
        client.post("/v4/businesses/search", json={"query": "city:austin AND nmae:x"}, headers=auth),
        400,
        "nmae",
    )
    assert "16" in str(body["details"])
    assert_envelope(
        client.post("/v4/businesses/search", json={"query": "name:(a OR"}, headers=auth), 400, "query"
    )


def test_not_enough_credits_is_402(client: TestClient, services: Services) -> None:
    poor = services.accounts.create_account("poor@example.com", credits=1).token
    headers = {"Authorization": f"Bearer {poor}"}
    body = assert_envelope(
        client.post("/v4/businesses/search", json={"query": "*", "num_records": 3}, headers=headers),
        402,
        "credits",
    )
    assert body["error"] == "Payment Required"
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1


def test_paginate_is_stable_and_ends_with_empty_pages(client: TestClient, auth: dict[str, str]) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        response = client.post(
            "/v4/businesses/paginate", params={"page": page, "limit": 2}, json={"query": "*"}, headers=auth
        )
        assert response.status_code == 200, response.text
        assert response.json()["num_found"] == 4
        seen.extend(r["id"] for r in response.json()["records"])
    assert seen == ["b1", "b2", "b3", "b4"]
    assert_envelope(
        client.post("/v4/businesses/paginate", params={"limit": 1001}, json={"query": "*"}, headers=auth),
        400,
        "limit",
    )


def test_get_one_record_and_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/v4/businesses/b2", headers=auth)
    assert response.status_code == 200
    assert response.json()["name"] == "Joe's Coffee"
    assert_envelope(client.get("/v4/businesses/zzz", headers=auth), 404)
    assert_envelope(client.post("/v4/cars/search", json={"query": "*"}, headers=auth), 404)


def test_no_data_loaded_is_a_clear_404(client: TestClient, auth: dict[str, str]) -> None:
    body = assert_envelope(client.post("/v4/products/search", json={"query": "*"}, headers=auth), 404)
    assert "dlserve load products" in str(body["message"])


def test_validation_errors_use_the_envelope_never_422(client: TestClient, auth: dict[str, str]) -> None:
    assert_envelope(client.post("/v4/businesses/search", json={"num_records": 1}, headers=auth), 400, "query")
    assert_envelope(
        client.post("/v4/businesses/search", json={"query": "*", "num_records": "many"}, headers=auth),
        400,
        "num_records",
    )
    response = client.post(
        "/v4/businesses/search", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert_envelope(response, 400)


def test_405_404_and_500_use_the_envelope(
    client: TestClient, auth: dict[str, str], services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_envelope(client.put("/v4/businesses/search", headers=auth), 405)
    assert_envelope(client.get("/v4/nothing/here/at/all", headers=auth), 404)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(services.catalog, "preview", explode)
    response = client.post("/v4/businesses/search", json={"query": "*"}, headers=auth)
    body = assert_envelope(response, 500)
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert body["error"] == "Internal Server Error"


def test_views_and_health(client: TestClient, auth: dict[str, str]) -> None:
    views = {v["name"]: v for v in client.get("/v4/views", headers=auth).json()}
    assert {
        "business_all_nested",
        "business_flat_reviews",
        "product_flat_prices",
        "property_flat_prices",
    } <= set(views)
    # Every view lists the fields it returns, the ones the datafiniti-sdk queries included.
    assert {"name", "firstName", "lastName"} <= set(views["people_all_nested"]["fields"])
    assert "name" in views["people_basic"]["fields"]
    assert "mostRecentRentalStatus" in views["property_basic"]["fields"]
    assert "mostRecentRentalStatus" in views["property_all_nested"]["fields"]
    assert views["property_all_nested"]["all_fields"] is True
    assert views["property_basic"]["all_fields"] is False
    assert "prices" not in views["property_no_prices"]["fields"]
    health = client.get("/v4/health").json()
    assert health["status"] == "ok"
    assert health["checks"]["records"]["loaded"]["businesses"] == 4
