"""`WakeUp`: a job queued by this process wakes an idle worker thread of the same process at once.

Worker threads otherwise look for work every half second; a media download submitted through this
process's API rings the bell so that it starts without that wait. Workers in other processes still
find the job by polling: the bell is an optimisation, the queue stays the truth.
"""

from __future__ import annotations

import threading


class WakeUp:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        """Return when the bell rings or after ``timeout`` seconds."""
        with self._condition:
            seen = self._rings
            self._condition.wait_for(lambda: self._rings != seen, timeout)
