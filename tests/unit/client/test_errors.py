"""Every HTTP error maps to one class and carries what the server said."""

from __future__ import annotations

import httpx
import pytest

from dlserve.client import (
    AuthenticationError,
    Client,
    Conflict,
    DlserveError,
    ErrorDetail,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    ValidationError,
)
from dlserve.client.errors import error_from_response
from tests.unit.client.fake_server import API, TOKEN, envelope


def client_answering(status: int, body: object, headers: dict[str, str] | None = None) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers={"X-Request-Id": "req_42", **(headers or {})})

    return Client(API, TOKEN, transport=httpx.MockTransport(handler), retries=0)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (402, PaymentRequired),
        (404, NotFound),
        (409, Conflict),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (403, DlserveError),
        (410, DlserveError),
    ],
)
def test_status_maps_to_class_with_the_envelope(status: int, cls: type[DlserveError]) -> None:
    details = [{"field": "query", "message": "unknown field at position 3"}]
    client = client_answering(status, envelope(status, "it went wrong", details))
    with client, pytest.raises(cls) as caught:
        client.count("businesses", "*")
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == "it went wrong"
    assert error.error == httpx.codes.get_reason_phrase(status)
    assert error.details == [ErrorDetail("query", "unknown field at position 3")]
    assert error.request_id == "req_42"
    assert error.response is not None
    assert str(error) == f"{status} {error.error}: it went wrong (query: unknown field at position 3)"


def test_media_detail_becomes_the_message() -> None:
    body = {"detail": "Descarga no disponible o no completada"}
    with client_answering(404, body) as client, pytest.raises(NotFound) as caught:
        client.media_get("x")
    assert caught.value.message == "Descarga no disponible o no completada"
    assert caught.value.details == []


def test_fastapi_422_list_becomes_details() -> None:
    body = {"detail": [{"loc": ["body", "quality"], "msg": "Input should be 'best'", "type": "enum"}]}
    with client_answering(422, body) as client, pytest.raises(ValidationError) as caught:
        client.media_download("http://127.0.0.1/x.mp4", "8k")
    assert caught.value.details == [ErrorDetail("quality", "Input should be 'best'")]
    assert caught.value.message == "quality: Input should be 'best'"


def test_a_non_json_error_body_is_kept_as_text() -> None:
    with client_answering(502, "<html>Bad gateway</html>") as client, pytest.raises(ServerError) as caught:
        client.account()
    assert caught.value.message == "<html>Bad gateway</html>"
    assert caught.value.error == "Bad Gateway"


def test_rate_limited_carries_retry_after() -> None:
    response = httpx.Response(429, json=envelope(429, "slow down"), headers={"Retry-After": "7"})
    error = error_from_response(response, retry_after=7.0)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0


def test_an_unexpected_success_body_is_an_error() -> None:
    with client_answering(200, {"no": "num_found"}) as client, pytest.raises(DlserveError) as caught:
        client.count("businesses", "*")
    assert "unexpected answer to POST /v4/businesses/search" in caught.value.message
