"""`LoginGate`: ``POST /v4/auth`` as the event loop runs it — throttled, and hashed on a bounded pool.

A password check is argon2: tens of milliseconds of CPU and ``memory_cost`` of RAM each. Running
them on the request thread pool let 40 concurrent logins take 2.6 GiB and every thread. Here they
run on their own pool of ``concurrency`` threads, so at most that many hashes (and their memory)
exist at once; the other logins wait as coroutines. The throttle is checked first, so blocked
emails and addresses never reach the hash at all.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from dlserve.accounts.services import AccountService
from dlserve.accounts.throttle import LoginThrottle
from dlserve.errors import Unauthorized


class LoginGate:
    def __init__(self, accounts: AccountService, throttle: LoginThrottle, concurrency: int) -> None:
        self._accounts = accounts
        self._throttle = throttle
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="password-hash")

    async def login(self, email: str, password: str, address: str) -> str:
        """A new API token; ``LoginThrottled`` (429) while blocked, ``Unauthorized`` when wrong."""
        await asyncio.to_thread(self._throttle.check, email, address)
        loop = asyncio.get_running_loop()
        try:
            token = await loop.run_in_executor(self._pool, self._accounts.login, email, password)
        except Unauthorized:
            await asyncio.to_thread(self._throttle.failed, email, address)
            raise
        await asyncio.to_thread(self._throttle.succeeded, email)
        return token

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
