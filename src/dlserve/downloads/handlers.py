"""The downloads domain's part in the worker runtime: who runs export jobs, and its upkeep."""

from __future__ import annotations

from dlserve.downloads.janitor import Janitor
from dlserve.downloads.runner import ExportRunner
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.jobs.interfaces import Job
from dlserve.jobs.worker import Handler, JobContext, UpkeepTask

JANITOR_EVERY_S = 30.0


def export_handler(runner: ExportRunner, janitor: Janitor) -> Handler:
    """Plan and part jobs; one that fails on its last attempt fails its download."""

    def run(job: Job, context: JobContext) -> None:
        runner.run(job, context.worker_id, context.stop)

    return Handler(kinds=EXPORT_KINDS, run=run, on_dead=janitor.fail_job)


def export_upkeep(janitor: Janitor) -> UpkeepTask:
    """Downloads whose jobs died or that nothing finished, and result files past their expiry."""
    return UpkeepTask("export-janitor", janitor.run_once, JANITOR_EVERY_S)
