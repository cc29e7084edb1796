"""What ``AsyncClient`` awaits that ``Client`` does plainly: sleeping, disk work, progress callbacks.

``_sync.py`` is generated from ``_async.py`` (``make sdk-sync``), which imports these names from
here; the generated file imports the same names from ``_io_sync``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
default_sleep: Sleep = anyio.sleep


async def to_thread(func: Callable[..., T], *args: Any) -> T:
    """Disk work (hashing a kept file, writing chunks) in a worker thread: the event loop stays free."""
    return await anyio.to_thread.run_sync(func, *args)


async def report(on_progress: Callable[[Any], object], item: object) -> None:
    """``on_progress`` may be a plain function or a coroutine function."""
    result = on_progress(item)
    if inspect.isawaitable(result):
        await result
