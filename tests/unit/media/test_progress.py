"""ProgressTracker: yt-dlp hook dicts in, one download's progress out; limits and cancellation."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlserve.media.errors import Cancelled, FetchError, TooLarge
from dlserve.media.progress import ProgressTracker, refuse_text_file

TWO_STREAMS = {"requested_formats": [{"format_id": "v"}, {"format_id": "a"}]}


def hook(
    tracker: ProgressTracker, fmt: str, done: int, total: int | None, status: str = "downloading"
) -> None:
    tracker.hook(
        {
            "status": status,
            "downloaded_bytes": done,
            "total_bytes": total,
            "speed": 1000.0,
            "eta": 3,
            "info_dict": {**TWO_STREAMS, "format_id": fmt},
        }
    )


def test_progress_of_merged_streams_counts_both_and_never_reaches_100_before_the_end() -> None:
    tracker = ProgressTracker()
    hook(tracker, "v", 500, 1000)
    first = tracker.snapshot()
    assert (first.progress, first.downloaded_bytes, first.total_bytes) == (25.0, 500, None)
    hook(tracker, "v", 1000, 1000, "finished")
    hook(tracker, "a", 100, 200)
    second = tracker.snapshot()
    assert (second.progress, second.total_bytes, second.speed, second.eta) == (75.0, 1200, 1000.0, 3)
    hook(tracker, "a", 200, 200, "finished")
    assert tracker.snapshot().progress == 99.9


def test_the_size_limit_stops_on_the_announced_size_or_on_the_bytes_so_far() -> None:
    announced = ProgressTracker(max_bytes=1000)
    with pytest.raises(TooLarge, match="1,000 bytes"):
        hook(announced, "v", 10, 5000)
    unknown_size = ProgressTracker(max_bytes=1000)
    hook(unknown_size, "v", 900, None)
    with pytest.raises(TooLarge, match="so far"):
        hook(unknown_size, "v", 1001, None)
    with pytest.raises(TooLarge):
        ProgressTracker(max_bytes=1000).check_expected_size(1001)
    ProgressTracker(max_bytes=1000).check_expected_size(None)


def test_cancel_makes_the_next_hook_raise_and_runs_callbacks_once() -> None:
    tracker = ProgressTracker()
    calls: list[str] = []
    tracker.on_cancel(lambda: calls.append("closed"))
    tracker.cancel("removed")
    tracker.cancel("again")
    assert calls == ["closed"]
    assert tracker.cancel_reason == "removed"
    with pytest.raises(Cancelled, match="removed"):
        hook(tracker, "v", 1, 10)


def test_a_finished_file_that_is_text_is_refused(tmp_path: Path) -> None:
    playlist = tmp_path / "media.mp4"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nhttp://169.254.169.254/latest/meta-data\n")
    with pytest.raises(FetchError, match=r"playlist or markup .* where media was expected") as raised:
        refuse_text_file(playlist)
    assert not raised.value.retryable
    binary = tmp_path / "real.mp4"
    binary.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)))
    refuse_text_file(binary)
    refuse_text_file(tmp_path / "gone.mp4")  # merged away already: nothing to check
