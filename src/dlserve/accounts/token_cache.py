"""`TokenCache`: tokens this process verified recently, so a poller costs no token lookup.

Every API call carries a token and most of them (status polls) do little else; verifying it is a
query. A token verified here is trusted for ``ttl_seconds`` (a few seconds), bounded in count.

Revocation: revoking through this process calls :meth:`TokenCache.invalidate`, so it takes effect
here at once. Another API process keeps trusting the token until its own entry ages out, so a
revocation takes effect everywhere within ``ttl_seconds`` (``DLSERVE_TOKEN_CACHE_SECONDS``); 0
turns the cache off. Failed verifications are never cached: a token issued a moment ago works
at once everywhere.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from dlserve.accounts.tokens import hash_token

A = TypeVar("A")

DEFAULT_MAX_ENTRIES = 10_000


class TokenCache(Generic[A]):
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # token digest → (account, monotonic time it stops being trusted); oldest first.
        self._entries: OrderedDict[str, tuple[A, float]] = OrderedDict()

    def lookup(self, token: str, verify: Callable[[str], A]) -> A:
        """The account ``token`` belongs to: from the cache while fresh, else ``verify(token)``
        (which raises for a bad token; nothing is cached then)."""
        account = self.peek(token)
        if account is None:
            account = verify(token)
            self.remember(token, account)
        return account

    def peek(self, token: str) -> A | None:
        """The cached account of ``token`` while its entry is fresh; None otherwise."""
        if self._ttl <= 0:
            return None
        entry = self._entries.get(hash_token(token))
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        return None

    def remember(self, token: str, account: A) -> None:
        """Trust ``token`` for ``account`` for the next ``ttl_seconds`` (it was just verified)."""
        if self._ttl <= 0:
            return
        key = hash_token(token)
        with self._lock:
            self._entries[key] = (account, self._clock() + self._ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (on revocation): its next use is verified against the database."""
        with self._lock:
            self._entries.pop(hash_token(token), None)

    def forget_digests(self, digests: Iterable[str]) -> None:
        """Forget tokens by their stored digests (``AccountService``'s revocation listener)."""
        with self._lock:
            for digest in digests:
                self._entries.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
