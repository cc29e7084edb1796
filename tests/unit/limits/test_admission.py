"""QueryAdmission: per-account rate and concurrency limits, and the separate pool for heavy work."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from dlserve.limits.admission import AdmissionLimits, QueryAdmission, RateLimited, require_heavy_pool


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_refills_continuously_and_says_when_to_retry() -> None:
    ticks = Ticks()
    admission = QueryAdmission(AdmissionLimits(rate_per_minute=6, per_account=100, threads=1), ticks)
    for _ in range(6):
        admission.admit(1)
        admission.release(1)
    with pytest.raises(RateLimited) as raised:
        admission.admit(1)
    assert raised.value.retry_after == 10  # one request every 10 s
    admission.admit(2)  # another account has its own bucket
    ticks.now += 10
    admission.admit(1)
    admission.close()


def test_concurrency_is_limited_per_account_while_requests_run() -> None:
    admission = QueryAdmission(AdmissionLimits(rate_per_minute=1000, per_account=2, threads=4))
    release = threading.Event()
    started = threading.Semaphore(0)

    def heavy() -> str:
        started.release()
        release.wait(10)
        return "done"

    async def scenario() -> None:
        running = [asyncio.create_task(admission.run(1, heavy)) for _ in range(2)]
        for _ in range(2):
            await asyncio.to_thread(started.acquire)
        with pytest.raises(RateLimited) as raised:
            await admission.run(1, heavy)
        assert raised.value.retry_after == 1
        assert "query_concurrency_per_account" in raised.value.message
        other = asyncio.create_task(admission.run(2, lambda: "other account"))
        assert await other == "other account"
        release.set()
        assert await asyncio.gather(*running) == ["done", "done"]
        assert await admission.run(1, lambda: "again") == "again"  # slots were given back

    asyncio.run(scenario())
    admission.close()


def test_heavy_work_runs_on_its_own_bounded_pool() -> None:
    admission = QueryAdmission(AdmissionLimits(rate_per_minute=1000, per_account=10, threads=2))
    names: set[str] = set()
    lock = threading.Lock()

    def record() -> None:
        with lock:
            names.add(threading.current_thread().name)

    async def scenario() -> None:
        await asyncio.gather(*(admission.run(account, record) for account in range(8)))

    asyncio.run(scenario())
    assert names
    assert all(name.startswith("heavy-query") for name in names)
    assert len(names) <= 2
    admission.close()


def test_interactive_work_runs_at_normal_priority_and_scans_move_to_the_heavy_pool() -> None:
    admission = QueryAdmission(AdmissionLimits(rate_per_minute=1000, per_account=10, threads=2))
    calls: list[tuple[str, int]] = []

    def index_read() -> str:
        calls.append(
            (threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        )
        return "from the index"

    def scan() -> str:
        calls.append((threading.current_thread().name, 0))
        require_heavy_pool()  # before any side effect: raises on the interactive pool only
        return "scanned"

    async def scenario() -> None:
        assert await admission.run_interactive(1, index_read) == "from the index"
        assert await admission.run_interactive(1, scan) == "scanned"
        with pytest.raises(ValueError, match="invalid literal"):  # other errors are not retried
            await admission.run_interactive(1, lambda: int("not a number"))

    asyncio.run(scenario())
    (read_thread, read_niceness), first, second = calls
    assert read_thread.startswith("interactive-query")
    assert read_niceness == os.getpriority(os.PRIO_PROCESS, 0)  # not lowered
    assert first[0].startswith("interactive-query")  # tried there first, then run again ...
    assert second[0].startswith("heavy-query")  # ... from the start on the heavy pool
    require_heavy_pool()  # outside the interactive pool it does nothing
    admission.close()
