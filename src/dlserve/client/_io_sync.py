"""The blocking counterparts of ``_io_async``, for the generated ``_sync.py``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Sleep = Callable[[float], None]
default_sleep: Sleep = time.sleep


def to_thread(func: Callable[..., T], *args: Any) -> T:
    """Run ``func`` here: a blocking client has no event loop to keep free."""
    return func(*args)


def report(on_progress: Callable[[Any], object], item: object) -> None:
    on_progress(item)
