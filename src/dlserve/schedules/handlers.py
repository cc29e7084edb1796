"""The schedules domain's part in the worker runtime: the tick, as an upkeep task.

Every process with worker threads ticks (``dlserve serve`` with workers, each ``dlserve worker``);
the claim is safe to run anywhere at once (see :mod:`dlserve.schedules.ticker`), so more workers
only mean a schedule is noticed sooner, never that it runs twice.
"""

from __future__ import annotations

from dlserve.jobs.worker import UpkeepTask
from dlserve.schedules.ticker import ScheduleTicker


def schedule_upkeep(ticker: ScheduleTicker, every_s: float) -> UpkeepTask:
    return UpkeepTask("schedule-tick", ticker.tick, every_s)
