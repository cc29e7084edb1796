"""Signing per Standard Webhooks (checked with the ``standardwebhooks`` package and by hand), the
retry schedule, and the webhook URL check (injected resolvers: no DNS, no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from dlserve.errors import Invalid
from dlserve.media.guard import AddressPolicy
from dlserve.webhooks.account_secret import new_secret
from dlserve.webhooks.models import RetrySchedule
from dlserve.webhooks.signing import signed_headers
from dlserve.webhooks.urls import checked_webhook_url

BODY = b'{"id":"7","status":"completed","query":"name:\\"caf\xc3\xa9\\""}'


def test_signature_verifies_with_standardwebhooks_and_is_the_spec_hmac() -> None:
    secret = new_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    headers = signed_headers(secret, "msg_abc", now, BODY)

    assert Webhook(secret).verify(BODY, headers) == {"id": "7", "status": "completed", "query": 'name:"café"'}
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"msg_abc.{int(now.timestamp())}.".encode() + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"completed", b"cancelled")),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
)
def test_any_change_breaks_the_signature(tamper: Any) -> None:
    secret = new_secret()
    headers, body = tamper(signed_headers(secret, "msg_abc", datetime.now(UTC), BODY), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # another account's secret
        Webhook(new_secret()).verify(BODY, signed_headers(secret, "msg_abc", datetime.now(UTC), BODY))


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret[6:])) == 32


def test_the_schedule_doubles_caps_and_gives_up_after_the_retry_period() -> None:
    schedule = RetrySchedule(timedelta(seconds=10), timedelta(hours=1), timedelta(hours=24))
    assert [schedule.delay(n).total_seconds() for n in range(1, 12)] == [
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
        3600,
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.next_attempt(start, 1, start) == start + timedelta(seconds=10)
    late = start + timedelta(hours=23, minutes=59)
    assert schedule.next_attempt(start, 20, late) == late + timedelta(hours=1)  # still inside: retried
    assert schedule.next_attempt(start, 21, start + timedelta(hours=24)) is None


def test_the_default_schedule_keeps_trying_for_at_least_24_hours() -> None:
    schedule = RetrySchedule()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now, failures = start, 0
    while (following := schedule.next_attempt(start, failures + 1, now)) is not None:
        failures += 1
        now = following
    assert now - start >= timedelta(hours=24)
    assert 25 <= failures + 1 <= 40  # attempts in all: a bounded number


def resolver_to(*addresses: str) -> Any:
    def resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        return [(socket.AF_INET, (address, port)) for address in addresses]

    return resolve


def test_urls_resolving_to_internal_addresses_are_refused() -> None:
    policy = AddressPolicy(allow_private=False, resolver=resolver_to("10.1.2.3"))
    with pytest.raises(Invalid, match="non-public address") as refused:
        checked_webhook_url(policy, "https://hooks.internal.example/x")
    assert refused.value.details[0].field == "webhook_url"
    public = AddressPolicy(allow_private=False, resolver=resolver_to("93.184.216.34"))
    assert (
        checked_webhook_url(public, "  https://hooks.example.com/x?a=1  ")
        == "https://hooks.example.com/x?a=1"
    )
    assert checked_webhook_url(public, None) is None
    allowed = AddressPolicy(allow_private=True, resolver=resolver_to("10.1.2.3"))
    assert (
        checked_webhook_url(allowed, "http://hooks.internal.example/x") == "http://hooks.internal.example/x"
    )
    for scheme_url in ["file:///etc/passwd", "gopher://127.0.0.1/", "javascript:alert(1)"]:
        with pytest.raises(Invalid, match="http:// or https://"):
            checked_webhook_url(allowed, scheme_url)
