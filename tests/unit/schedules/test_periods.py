"""Reading ``every`` and computing a schedule's next time (pure functions, fixed times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dlserve.errors import Invalid
from dlserve.schedules.periods import Cron, Interval, describe_seconds, parse_every

NOW = datetime(2026, 11, 30, 9, 17, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1d", 86400), ("7d", 7 * 86400), ("6h", 6 * 3600), ("30m", 1800), ("2w", 14 * 86400), (" 12H ", 43200)],
)
def test_intervals_are_read_in_their_unit(text: str, seconds: int) -> None:
    assert parse_every(text, min_seconds=60, now=NOW) == Interval(seconds)


def test_seconds_are_allowed_only_when_the_minimum_allows_them() -> None:
    assert parse_every("2s", min_seconds=1, now=NOW) == Interval(2)
    with pytest.raises(Invalid) as refused:
        parse_every("2s", min_seconds=3600, now=NOW)
    assert refused.value.details[0].field == "every"
    assert "runs 2s apart, the shortest period allowed is 1h" in refused.value.message


@pytest.mark.parametrize("text", ["", "1x", "0h", "d", "1.5h", "-1d", "* * *", "61 * * * *", "every day"])
def test_unreadable_periods_are_a_400_naming_every(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_every(text, min_seconds=0, now=NOW)
    assert [d.field for d in refused.value.details] == ["every"]


def test_a_cron_expression_runs_at_its_next_time_in_utc() -> None:
    mondays = parse_every("0 3 * * 1", min_seconds=3600, now=NOW)
    assert mondays == Cron("0 3 * * 1")
    first = mondays.first_due(NOW)  # NOW is a Monday after 03:00: the next Monday
    assert first == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert mondays.next_after(first, first) == datetime(2026, 12, 14, 3, 0, tzinfo=UTC)


def test_a_cron_expression_more_frequent_than_the_minimum_is_refused() -> None:
    with pytest.raises(Invalid, match="runs 5m apart"):
        parse_every("*/5 * * * *", min_seconds=3600, now=NOW)
    with pytest.raises(Invalid, match="runs 1m apart"):  # two minutes in a row, once a day
        parse_every("0,1 4 * * *", min_seconds=3600, now=NOW)
    assert parse_every("0 * * * *", min_seconds=3600, now=NOW) == Cron("0 * * * *")


def test_an_interval_first_runs_at_creation() -> None:
    assert Interval(3600).first_due(NOW) == NOW


def test_the_next_time_keeps_the_cadence_and_collapses_missed_periods() -> None:
    hourly = Interval(3600)
    due = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert hourly.next_after(due, due) == due + timedelta(hours=1)
    assert hourly.next_after(due, due + timedelta(minutes=1)) == due + timedelta(hours=1)
    # Five and a half hours of downtime: one run now, the next at the first cadence time after now.
    assert hourly.next_after(due, due + timedelta(hours=5, minutes=30)) == due + timedelta(hours=6)
    assert hourly.next_after(due, due + timedelta(hours=6)) == due + timedelta(hours=7)
    assert hourly.next_after(due, due - timedelta(minutes=1)) == due  # not due yet


def test_a_cron_schedule_after_downtime_moves_to_its_first_time_after_now() -> None:
    daily = Cron("30 2 * * *")
    due = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    assert daily.next_after(due, NOW) == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"), [(86400, "1d"), (3600, "1h"), (90, "90s"), (120, "2m"), (1209600, "2w")]
)
def test_periods_are_described_in_the_largest_whole_unit(seconds: int, text: str) -> None:
    assert describe_seconds(seconds) == text
