"""The delivery job on the in-memory queue with a frozen clock: attempts, backoff times, giving up,
a subject that is gone, shutdown and lost leases. The POST is an injected poster that records what
it was handed (the real transport has its own tests in test_transport.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.db.tables import accounts, webhook_attempts, webhook_deliveries
from dlserve.jobs.interfaces import JobStatus, JobStopped, LeaseLost
from dlserve.jobs.memory import InMemoryJobQueue
from dlserve.webhooks.account_secret import WebhookSecrets
from dlserve.webhooks.delivery import GONE_ERROR, DeliverySettings, WebhookDeliverer
from dlserve.webhooks.events import _enqueue_in
from dlserve.webhooks.models import JOB_KIND, DeliveryStatus, RetrySchedule, SubjectType
from dlserve.webhooks.transport import PostOutcome
from tests.support.domain import database_without_jobs

BODY = b'{"id":"1","status":"completed"}'


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float


@dataclass
class Setup:
    db: Database
    clock: FrozenClock
    queue: InMemoryJobQueue
    secrets: WebhookSecrets
    deliverer: WebhookDeliverer
    outcomes: list[PostOutcome] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    bodies: dict[str, bytes | None] = field(default_factory=dict)

    def event(self, subject_id: str = "1") -> str:
        with self.db.write() as conn:
            return _enqueue_in(
                conn,
                self.queue,
                self.clock,
                1,
                SubjectType.DOWNLOAD,
                subject_id,
                "completed",
                "http://hook/x",
            )

    def run_due(self) -> int:
        ran = 0
        while (job := self.queue.claim("w", (JOB_KIND,))) is not None:
            self.deliverer.run(job, "w", threading.Event())
            ran += 1
        return ran

    def delivery(self, delivery_id: str) -> sa.RowMapping:
        with self.db.read() as conn:
            return (
                conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id))
                .mappings()
                .one()
            )

    def attempts(self, delivery_id: str) -> list[sa.RowMapping]:
        with self.db.read() as conn:
            return list(
                conn.execute(
                    sa.select(webhook_attempts)
                    .where(webhook_attempts.c.delivery_id == delivery_id)
                    .order_by(webhook_attempts.c.attempt)
                ).mappings()
            )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = database_without_jobs(tmp_path / "webhooks.db")
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    with db.write() as conn:
        conn.execute(accounts.insert().values(id=1, email="a@example.com", created_at=clock.now()))
    queue = InMemoryJobQueue(clock, lease_seconds=30.0)
    secrets = WebhookSecrets(db)
    holder: list[Setup] = []

    def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> PostOutcome:
        holder[0].sent.append(Sent(url, body, dict(headers), timeout))
        return holder[0].outcomes.pop(0) if holder[0].outcomes else PostOutcome(200, None)

    def render(subject_type: str, subject_id: str) -> bytes | None:
        return holder[0].bodies.get(subject_id, BODY)

    schedule = RetrySchedule(timedelta(seconds=10), timedelta(seconds=60), timedelta(minutes=10))
    deliverer = WebhookDeliverer(db, clock, queue, secrets, render, post, DeliverySettings(schedule, 3.0))
    holder.append(Setup(db, clock, queue, secrets, deliverer))
    yield holder[0]
    db.dispose()


def test_first_attempt_delivers_a_signed_post(setup: Setup) -> None:
    delivery_id = setup.event()
    assert setup.run_due() == 1
    [sent] = setup.sent
    assert sent.url == "http://hook/x"
    assert sent.body == BODY
    assert sent.timeout == 3.0
    assert Webhook(setup.secrets.get(1)).verify(sent.body, sent.headers) == {"id": "1", "status": "completed"}
    row = setup.delivery(delivery_id)
    assert row["status"] == DeliveryStatus.DELIVERED
    assert row["attempts"] == 1
    assert row["payload"] == BODY.decode()
    assert row["finished_at"] == setup.clock.now()
    assert row["next_attempt_at"] is None
    assert [(a["attempt"], a["status_code"], a["error"]) for a in setup.attempts(delivery_id)] == [
        (1, 200, None)
    ]
    assert setup.queue.stats()[JobStatus.DONE] == 1
    assert setup.run_due() == 0


def test_timeouts_and_errors_back_off_exponentially_with_the_same_id_and_body(setup: Setup) -> None:
    setup.outcomes = [
        PostOutcome(None, "timed out after 3 s"),
        PostOutcome(None, "ConnectionRefusedError: [Errno 111] Connection refused"),
        PostOutcome(502, "the receiver answered 502"),
    ]
    delivery_id = setup.event()
    start = setup.clock.now()
    due_times = []
    for _ in range(3):
        assert setup.run_due() == 1
        due = setup.delivery(delivery_id)["next_attempt_at"]
        due_times.append((due - start).total_seconds())
        assert setup.run_due() == 0  # not before it is due
        setup.clock.advance(seconds=(due - setup.clock.now()).total_seconds())
    assert setup.run_due() == 1

    assert due_times == [10, 30, 70]  # waits of 10, 20, 40 s after each failure
    assert len({s.headers["webhook-id"] for s in setup.sent}) == 1
    assert {s.body for s in setup.sent} == {BODY}
    assert len({s.headers["webhook-timestamp"] for s in setup.sent}) == 4  # a fresh timestamp each time
    attempts = setup.attempts(delivery_id)
    assert [(a["status_code"], a["error"]) for a in attempts] == [
        (None, "timed out after 3 s"),
        (None, "ConnectionRefusedError: [Errno 111] Connection refused"),
        (502, "the receiver answered 502"),
        (200, None),
    ]
    assert [a["attempted_at"] - start for a in attempts] == [timedelta(seconds=s) for s in (0, 10, 30, 70)]
    assert setup.delivery(delivery_id)["status"] == DeliveryStatus.DELIVERED


def test_after_the_retry_period_the_delivery_fails(setup: Setup) -> None:
    setup.outcomes = [PostOutcome(500, "the receiver answered 500")] * 100
    delivery_id = setup.event()
    start = setup.clock.now()
    while setup.run_due():
        due = setup.delivery(delivery_id)["next_attempt_at"]
        if due is not None:
            setup.clock.advance(seconds=(due - setup.clock.now()).total_seconds())
    row = setup.delivery(delivery_id)
    assert row["status"] == DeliveryStatus.FAILED
    assert row["next_attempt_at"] is None
    assert setup.clock.now() - start >= timedelta(minutes=10)  # the last attempt was after the period
    # at 0, 10, 30, 70, 130 s, then every 60 s: 190 ... 550, and 610 (past the 10 minutes: the last)
    assert row["attempts"] == len(setup.sent) == 13
    assert setup.queue.stats()[JobStatus.QUEUED] == 0


def test_a_subject_that_is_gone_fails_without_a_post(setup: Setup) -> None:
    setup.bodies["9"] = None
    delivery_id = setup.event("9")
    assert setup.run_due() == 1
    assert setup.sent == []
    assert setup.delivery(delivery_id)["status"] == DeliveryStatus.FAILED
    assert [a["error"] for a in setup.attempts(delivery_id)] == [GONE_ERROR]


def test_the_stored_body_is_resent_even_if_the_subject_changes(setup: Setup) -> None:
    setup.outcomes = [PostOutcome(500, "the receiver answered 500")]
    delivery_id = setup.event()
    setup.run_due()
    setup.bodies["1"] = b'{"changed":true}'
    setup.clock.advance(seconds=10)
    setup.run_due()
    assert [s.body for s in setup.sent] == [BODY, BODY]
    assert setup.delivery(delivery_id)["status"] == DeliveryStatus.DELIVERED


def test_shutdown_gives_the_attempt_back_untouched(setup: Setup) -> None:
    delivery_id = setup.event()
    job = setup.queue.claim("w", (JOB_KIND,))
    assert job is not None
    stop = threading.Event()
    stop.set()
    with pytest.raises(JobStopped):
        setup.deliverer.run(job, "w", stop)
    assert setup.sent == []
    assert setup.attempts(delivery_id) == []


def test_a_lost_lease_records_nothing_and_the_new_owner_delivers(setup: Setup) -> None:
    delivery_id = setup.event()
    stale = setup.queue.claim("w", (JOB_KIND,))
    assert stale is not None
    setup.clock.advance(seconds=31)  # the lease expired; another worker takes the job
    fresh = setup.queue.claim("w2", (JOB_KIND,))
    assert fresh is not None
    assert fresh.id == stale.id
    with pytest.raises(LeaseLost):
        setup.deliverer.run(stale, "w", threading.Event())
    assert setup.attempts(delivery_id) == []
    setup.deliverer.run(fresh, "w2", threading.Event())
    assert [a["attempt"] for a in setup.attempts(delivery_id)] == [1]
    assert len(setup.sent) == 2  # the zombie's POST went out too: receivers deduplicate by webhook-id
    assert {s.headers["webhook-id"] for s in setup.sent} == {delivery_id}


def test_jobs_whose_workers_keep_dying_fail_the_delivery(setup: Setup) -> None:
    delivery_id = setup.event()
    for _ in range(5):  # the job's own budget (JOB_MAX_ATTEMPTS)
        assert setup.queue.claim("w", (JOB_KIND,)) is not None
        setup.clock.advance(seconds=31)
    assert setup.deliverer.reap_dead_jobs() == 1
    assert setup.delivery(delivery_id)["status"] == DeliveryStatus.FAILED
