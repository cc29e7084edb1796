"""Login throttling: exponential backoff per email and per client address, kept in the database.

Each failed login counts against two keys, ``email:<normalized email>`` and ``address:<client
address>``. The first ``free_attempts`` failures of an email (``address_free_attempts`` of an
address, which many users may share) cost nothing; from then on every failure blocks that key for
``backoff`` seconds, doubling each time up to ``backoff_max``. While a key is
blocked, logins for it are answered ``429`` with ``Retry-After`` *before* any password is hashed,
so a flood of wrong passwords costs the server a row read each, not an argon2 hash.

A correct login clears its email's counter (not its address's: logging into one's own account must
not reset the guessing of others'). The rows live in the database, so every API process sees the
same counters. The address is the TCP peer (or what the server's proxy-header handling made it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import login_throttle
from dlserve.errors import TooManyRequests

ADDRESS_PREFIX = "address:"


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int = 5
    backoff: float = 2.0
    backoff_max: float = 900.0
    # Many users may share one address (an office, a proxy): an address gets more free attempts.
    address_free_attempts: int = 50

    def block_for(self, key: str, failures: int) -> float:
        """Seconds ``key`` is blocked after its ``failures``-th failure (0 while attempts are free)."""
        free = self.address_free_attempts if key.startswith(ADDRESS_PREFIX) else self.free_attempts
        if failures <= free:
            return 0.0
        exponent = min(failures - free - 1, 40)  # 2**40 s is far past any maximum
        return min(self.backoff_max, self.backoff * float(2**exponent))


class LoginThrottled(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, db: Database, clock: Clock, policy: ThrottlePolicy) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy

    def check(self, email: str, address: str) -> None:
        """Raise :class:`LoginThrottled` while the email or the address is blocked."""
        now = self._clock.now()
        with self._db.read() as conn:
            blocked = conn.execute(
                select(login_throttle.c.blocked_until).where(
                    login_throttle.c.key.in_(_keys(email, address)), login_throttle.c.blocked_until > now
                )
            ).scalars()
            latest = max(blocked, default=None)
        if latest is not None:
            raise LoginThrottled(max(1, math.ceil((latest - now).total_seconds())))

    def failed(self, email: str, address: str) -> None:
        now = self._clock.now()
        for key in _keys(email, address):
            failures = self._count_failure(key, now)
            seconds = self._policy.block_for(key, failures)
            if seconds:
                with self._db.write() as conn:
                    conn.execute(
                        update(login_throttle)
                        .where(login_throttle.c.key == key)
                        .values(blocked_until=now + timedelta(seconds=seconds))
                    )

    def succeeded(self, email: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(login_throttle).where(login_throttle.c.key == _email_key(email)))

    def _count_failure(self, key: str, now: datetime) -> int:
        """Add one failure to ``key`` atomically (concurrent API processes included); the new count."""
        for _ in range(3):
            with self._db.write() as conn:
                counted = conn.execute(
                    update(login_throttle)
                    .where(login_throttle.c.key == key)
                    .values(failures=login_throttle.c.failures + 1, updated_at=now)
                    .returning(login_throttle.c.failures)
                ).scalar()
                if counted is not None:
                    return int(counted)
            try:
                with self._db.write() as conn:
                    conn.execute(insert(login_throttle).values(key=key, failures=1, updated_at=now))
                return 1
            except IntegrityError:
                continue  # another process inserted it first: count on its row
        return self._policy.free_attempts + 1  # contended three times over: treat as throttled


def _email_key(email: str) -> str:
    return "email:" + email.strip().lower()[:300]


def _keys(email: str, address: str) -> list[str]:
    return [_email_key(email), ADDRESS_PREFIX + address[:90]]
