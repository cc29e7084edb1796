"""Child process of `make bench`: run one queued export to the end in this process, print figures.

Run as its own process so that its peak RSS is the worker's alone.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from pathlib import Path

from dlserve.container import build_services
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.logs import configure_logging
from dlserve.settings import Settings


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ``getrusage``: Linux carries ``ru_maxrss`` over ``exec``
    from the forking parent, so a child of a big process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    data_dir = Path(sys.argv[1])
    configure_logging("warning")
    services = build_services(Settings(data_dir=data_dir, log_level="warning"))
    try:
        started = time.perf_counter()
        download_id = 0
        while (job := services.queue.claim("bench", EXPORT_KINDS)) is not None:
            download_id = int(job.subject_id or 0)
            services.runner.run(job, "bench", threading.Event())
        seconds = time.perf_counter() - started
        download = services.downloads.find(download_id)
        assert download is not None
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "records": download.num_downloaded,
                    "files": len(download.files),
                    "bytes": sum(f.bytes for f in download.files),
                    "status": download.status.value,
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
        )
    finally:
        services.close()


if __name__ == "__main__":
    main()
