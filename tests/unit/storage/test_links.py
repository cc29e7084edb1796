"""Signed links: only our signature for this exact path and expiry opens a file, until it expires."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from dlserve.clock import FrozenClock
from dlserve.errors import Forbidden, Gone
from dlserve.storage.links import LinkSigner, file_link_path

PATH = "/v4/files/12/12_1.csv"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2024, 12, 25, 10, 0, 0, tzinfo=UTC))


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner("test-secret")


def query(signer: LinkSigner, path: str, expires_at: datetime) -> tuple[str, str]:
    params = parse_qs(signer.sign(path, expires_at), strict_parsing=True)
    assert set(params) == {"expires", "signature"}
    return params["expires"][0], params["signature"][0]


def test_sign_produces_the_documented_query_string(signer: LinkSigner, clock: FrozenClock) -> None:
    expires_at = clock.now() + timedelta(days=7)
    expires = str(int(expires_at.timestamp()))
    expected = hmac.new(b"test-secret", f"{PATH}\n{expires}".encode(), hashlib.sha256).hexdigest()
    assert signer.sign(PATH, expires_at) == f"expires={expires}&signature={expected}"


def test_a_fresh_link_verifies(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    signer.verify(PATH, expires, signature, clock.now())


def test_the_expiry_second_itself_is_still_valid(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(seconds=60))
    clock.advance(seconds=60)
    signer.verify(PATH, expires, signature, clock.now())
    clock.advance(seconds=1)
    with pytest.raises(Gone, match="This link has expired"):
        signer.verify(PATH, expires, signature, clock.now())


def test_an_expired_link_is_gone(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    clock.advance(days=7, seconds=1)
    with pytest.raises(Gone) as raised:
        signer.verify(PATH, expires, signature, clock.now())
    assert raised.value.status_code == 410


def test_a_signature_for_another_path_is_forbidden(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    for other in ("/v4/files/12/12_2.csv", "/v4/files/13/12_1.csv", PATH + "x"):
        with pytest.raises(Forbidden, match="This link is not valid"):
            signer.verify(other, expires, signature, clock.now())


def test_a_stretched_expiry_is_forbidden(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    with pytest.raises(Forbidden):
        signer.verify(PATH, str(int(expires) + 86400), signature, clock.now())
    # Same number, different spelling: the signed text is the literal parameter.
    with pytest.raises(Forbidden):
        signer.verify(PATH, "0" + expires, signature, clock.now())


def test_a_link_from_another_secret_is_forbidden(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(LinkSigner("other-secret"), PATH, clock.now() + timedelta(days=7))
    with pytest.raises(Forbidden):
        signer.verify(PATH, expires, signature, clock.now())


def test_a_tampered_signature_is_forbidden(signer: LinkSigner, clock: FrozenClock) -> None:
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    with pytest.raises(Forbidden):
        signer.verify(PATH, expires, flipped, clock.now())


def test_tampered_and_expired_is_forbidden_not_gone(signer: LinkSigner, clock: FrozenClock) -> None:
    """Checking the signature first means a forged link learns nothing about expiry."""
    expires, signature = query(signer, PATH, clock.now() + timedelta(days=7))
    clock.advance(days=30)
    with pytest.raises(Forbidden):
        signer.verify("/v4/files/12/12_2.csv", expires, signature, clock.now())
    with pytest.raises(Forbidden):
        signer.verify(PATH, str(int(expires) - 1), signature, clock.now())


@pytest.mark.parametrize(
    ("expires", "signature"),
    [
        (None, None),
        ("1735725600", None),
        (None, "a" * 64),
        ("", "a" * 64),
        ("-5", "a" * 64),
        ("1e9", "a" * 64),
        ("9" * 5000, "a" * 64),
        ("1735725600", ""),
        ("1735725600", "a" * 63),
        ("1735725600", "A" * 64),
        ("1735725600", "é" * 64),
        ("1735725600", "g" * 64),
    ],
)
def test_missing_or_malformed_parameters_are_forbidden(
    signer: LinkSigner, clock: FrozenClock, expires: str | None, signature: str | None
) -> None:
    with pytest.raises(Forbidden, match="This link is not valid"):
        signer.verify(PATH, expires, signature, clock.now())


def test_expiry_is_compared_in_utc_whatever_the_offset(signer: LinkSigner, clock: FrozenClock) -> None:
    paris = timezone(timedelta(hours=1))
    expires, signature = query(signer, PATH, datetime(2024, 12, 25, 11, 30, tzinfo=paris))  # 10:30 UTC
    signer.verify(PATH, expires, signature, datetime(2024, 12, 25, 10, 29, tzinfo=UTC))
    with pytest.raises(Gone):
        signer.verify(PATH, expires, signature, datetime(2024, 12, 25, 10, 31, tzinfo=UTC))


def test_naive_datetimes_and_empty_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        LinkSigner("")
    with pytest.raises(ValueError, match="timezone"):
        LinkSigner("s").sign(PATH, datetime(2030, 1, 1))


def test_signed_url_and_file_link_path() -> None:
    signer = LinkSigner("s")
    expires_at = datetime(2030, 1, 1, tzinfo=UTC)
    assert file_link_path(12, "12_1.csv") == PATH
    # Odd characters are percent-encoded, so the signed path is exactly what the client requests.
    assert file_link_path("a/b", "x y.csv") == "/v4/files/a%2Fb/x%20y.csv"
    url = signer.signed_url("http://127.0.0.1:8000/", PATH, expires_at)
    assert url == f"http://127.0.0.1:8000{PATH}?{signer.sign(PATH, expires_at)}"
