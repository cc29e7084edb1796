"""The durable job queue: jobs are rows, claimed by workers with a lease (:mod:`.queue`)."""

from dlserve.jobs.queue import Job, JobQueue, JobStatus

__all__ = ["Job", "JobQueue", "JobStatus"]
