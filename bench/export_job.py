"""Child process of `make bench`: run one queued export to the end in this process, print figures.

Run as its own process so that its peak RSS is the worker's alone.
"""

from __future__ import annotations

import hashlib
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
from dlserve.storage.interfaces import Storage


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ``getrusage``: Linux carries ``ru_maxrss`` over ``exec``
    from the forking parent, so a child of a big process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def content_sha256(storage: Storage, keys: list[str], *, csv: bool) -> str:
    """SHA-256 of the download's content as one file: the parts in order, a CSV header once."""
    digest = hashlib.sha256()
    for index, key in enumerate(keys):
        with storage.open_read(key) as part:
            if csv and index > 0:
                part.readline()  # every part repeats the header
            while chunk := part.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


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
                    "content_sha256": content_sha256(
                        services.storage,
                        [f.storage_key for f in sorted(download.files, key=lambda f: f.part_no)],
                        csv=download.format == "csv",
                    ),
                    # the files themselves (local storage): Parquet is compared by content, not bytes
                    "paths": [
                        str(services.storage.local_path(f.storage_key))
                        for f in sorted(download.files, key=lambda f: f.part_no)
                    ],
                }
            )
        )
    finally:
        services.close()


if __name__ == "__main__":
    main()
