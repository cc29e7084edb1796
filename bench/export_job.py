"""Child process of `make bench`: run one queued export to the end in this process, print figures.

Run as its own process so that its peak RSS is the worker's alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

from dlserve.container import Services, build_services
from dlserve.logs import configure_logging
from dlserve.settings import Settings
from dlserve.storage.interfaces import Storage

ENDED = {"completed", "failed", "cancelled"}


def status_of(services: Services, download_id: int) -> str:
    download = services.downloads.find(download_id)
    assert download is not None
    return download.status.value


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
    """``export_job.py DATA_DIR DOWNLOAD_ID``: the download runs on this process's worker runtime
    as `dlserve worker` runs it (BENCH_EXPORT_THREADS export threads, default the `workers`
    setting: parts written side by side), timed from start to completed."""
    data_dir, download_id = Path(sys.argv[1]), int(sys.argv[2])
    configure_logging("warning")
    settings = Settings(data_dir=data_dir, log_level="warning")
    threads = int(os.environ.get("BENCH_EXPORT_THREADS", str(settings.workers)))
    services = build_services(settings)
    try:
        runtime = services.worker_runtime(export_threads=threads, media_threads=0, webhook_threads=0)
        started = time.perf_counter()
        runtime.start()
        try:
            while (status := status_of(services, download_id)) not in ENDED:
                time.sleep(0.05)
        finally:
            runtime.stop()
        seconds = time.perf_counter() - started
        if status != "completed":
            raise SystemExit(f"download {download_id} ended {status}")
        download = services.downloads.find(download_id)
        assert download is not None
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "threads": threads,
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
