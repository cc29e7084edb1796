"""Durable jobs and the one worker runtime that runs them.

- :mod:`.interfaces` — the queue's contract (``JobQueue``, ``Job``, ``JobStatus``).
- :mod:`.queue` — ``SqlJobQueue``: rows of the ``jobs`` table (the only module that touches it).
- :mod:`.memory` — ``InMemoryJobQueue``: the same contract in a dict, for unit tests.
- :mod:`.worker` — ``WorkerRuntime``: claims any kind, dispatches to each domain's handler,
  heartbeats running jobs, runs the domains' upkeep on one schedule per process.
"""

from dlserve.jobs.interfaces import Job, JobQueue, JobStatus, JobStopped, LeaseLost

__all__ = ["Job", "JobQueue", "JobStatus", "JobStopped", "LeaseLost"]
