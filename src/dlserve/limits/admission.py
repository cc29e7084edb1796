"""Admission for the heavy endpoints (search, count, paginate, download creation).

Three things, per API process:

- a **rate limit** per account: a token bucket of ``rate_per_minute`` requests (bursts up to the
  same number), refilled continuously;
- a **concurrency limit** per account: at most ``per_account`` of its heavy requests at once;
- a **separate bounded pool** (``threads``) that runs the heavy work, apart from the thread pool
  that serves cheap requests (``GET /v4/account``, auth, polling). However many heavy requests
  wait, they wait as coroutines on the event loop, not on threads the cheap requests need.
- an **interactive pool** of the same size, at normal priority, for reads the search index
  answers in milliseconds (:meth:`QueryAdmission.run_interactive`). Work on it that finds it must
  scan (the DuckDB path, a download) calls :func:`require_heavy_pool` before doing anything, and
  is run again from the start on the heavy pool.

Refusals are :class:`~dlserve.errors.TooManyRequests` carrying ``retry_after`` (seconds), which
every router turns into ``429`` with a ``Retry-After`` header and its own envelope.

The counters live in this process: with several API processes each one enforces the limits on its
own (``N`` processes admit up to ``N`` times the rate). Query cost itself is bounded per request
(length, clauses, timeout), which is what protects each process.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from dlserve.errors import TooManyRequests

T = TypeVar("T")
HEAVY_NICENESS = 10
_pool_of_thread = threading.local()


class NeedsHeavyPool(Exception):
    """Raised on the interactive pool by work that must scan: it is run again on the heavy pool.
    Never seen outside :meth:`QueryAdmission.run_interactive`."""


def require_heavy_pool() -> None:
    """Call before heavy work (a scan, a download) that may run on the interactive pool, and before
    any side effect: there it raises :class:`NeedsHeavyPool`; elsewhere it does nothing."""
    if getattr(_pool_of_thread, "interactive", False):
        raise NeedsHeavyPool()


@dataclass(frozen=True)
class AdmissionLimits:
    rate_per_minute: float = 120.0
    per_account: int = 4
    threads: int = 4


class RateLimited(TooManyRequests):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float
    running: int = 0


class QueryAdmission:
    def __init__(self, limits: AdmissionLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, limits.threads), thread_name_prefix="heavy-query", initializer=_lower_priority
        )
        self._interactive = ThreadPoolExecutor(
            max_workers=max(1, limits.threads),
            thread_name_prefix="interactive-query",
            initializer=_mark_interactive,
        )

    async def run(self, account_id: int, fn: Callable[[], T]) -> T:
        """Admit one heavy request of ``account_id`` (or raise 429) and run ``fn`` on the heavy pool."""
        self.admit(account_id)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self.release(account_id)

    async def run_interactive(self, account_id: int, fn: Callable[[], T]) -> T:
        """Admit one request of ``account_id`` like :meth:`run`, and run ``fn`` on the interactive
        pool; if it raises :class:`NeedsHeavyPool` (it must scan), run it again on the heavy pool."""
        self.admit(account_id)
        try:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._interactive, fn)
            except NeedsHeavyPool:
                return await loop.run_in_executor(self._pool, fn)
        finally:
            self.release(account_id)

    def admit(self, account_id: int) -> None:
        now = self._clock()
        rate = self._limits.rate_per_minute / 60.0
        with self._lock:
            bucket = self._buckets.setdefault(account_id, _Bucket(self._burst(), now))
            bucket.tokens = min(self._burst(), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.running >= self._limits.per_account:
                raise RateLimited(
                    f"Too many concurrent queries: at most {self._limits.per_account} at a time per "
                    "account (query_concurrency_per_account); retry when one has finished",
                    retry_after=1,
                )
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) / rate if rate > 0 else 60.0
                raise RateLimited(
                    f"Too many queries: at most {self._limits.rate_per_minute:g} per minute per account "
                    "(query_rate_per_minute)",
                    retry_after=max(1, math.ceil(wait)),
                )
            bucket.tokens -= 1.0
            bucket.running += 1

    def release(self, account_id: int) -> None:
        with self._lock:
            bucket = self._buckets.get(account_id)
            if bucket is not None:
                bucket.running = max(0, bucket.running - 1)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._interactive.shutdown(wait=False, cancel_futures=True)

    def _burst(self) -> float:
        return max(1.0, self._limits.rate_per_minute)


def _lower_priority() -> None:
    """Run this heavy-query thread at a lower CPU priority than the threads serving cheap requests:
    on a busy machine the scheduler then hands the event loop the CPU first. (On Linux a thread's
    nice value is its own; elsewhere this does nothing.)"""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICENESS)


def _mark_interactive() -> None:
    _pool_of_thread.interactive = True
