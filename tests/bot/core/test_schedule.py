"""The digest schedule: read once at start, clear errors, right times across time zones and DST."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.core.schedule import parse_schedule
from bot.runtime.settings import load_settings
from knowledge.errors import ConfigError

KYIV = ZoneInfo("Europe/Kyiv")


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon 09:00", {0}),
        ("Mon,Thu 18:30", {0, 3}),
        ("mon-fri 08:00", {0, 1, 2, 3, 4}),
        ("fri-mon 08:00", {4, 5, 6, 0}),
        ("daily 7:05", set(range(7))),
        ("sat sun 10:00", {5, 6}),
    ],
)
def test_days_and_times_are_read(text: str, days: set[int]) -> None:
    schedule = parse_schedule(text, "Europe/Kyiv")
    assert schedule.days == frozenset(days)
    assert schedule.at.replace(tzinfo=None) in {time(9), time(18, 30), time(8), time(7, 5), time(10)}
    assert schedule.zone == KYIV


@pytest.mark.parametrize(
    ("text", "zone", "message"),
    [
        ("monday 09:00", "UTC", "unknown day 'monday'"),
        ("mon 9", "UTC", "cannot read 'mon 9'"),
        ("mon 24:00", "UTC", "no such time 24:00"),
        ("mon 09:60", "UTC", "no such time 09:60"),
        ("mon 09:00", "Europe/Kiev2", "unknown time zone 'Europe/Kiev2'"),
        ("09:00", "UTC", "cannot read '09:00'"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text, zone)


def test_the_next_run_follows_the_zone_across_daylight_saving() -> None:
    schedule = parse_schedule("mon 09:00", "Europe/Kyiv")
    # Saturday 26 Oct 2024; clocks go back on Sunday 27 Oct: Monday 09:00 is 07:00 UTC, not 06:00.
    after = schedule.next_after(datetime(2024, 10, 26, 12, 0, tzinfo=timezone.utc))
    assert after == datetime(2024, 10, 28, 9, 0, tzinfo=KYIV)
    assert after.astimezone(timezone.utc) == datetime(2024, 10, 28, 7, 0, tzinfo=timezone.utc)
    # In summer the same wall-clock time is 06:00 UTC.
    summer = schedule.next_after(datetime(2024, 7, 1, 5, 0, tzinfo=timezone.utc))
    assert summer.astimezone(timezone.utc) == datetime(2024, 7, 1, 6, 0, tzinfo=timezone.utc)
    # Exactly at the time: the next one is a week later.
    assert schedule.next_after(summer) == datetime(2024, 7, 8, 9, 0, tzinfo=KYIV)
    # Sunday 23:30 UTC is already Monday 02:30 in Kyiv.
    assert schedule.runs_on(datetime(2024, 7, 7, 23, 30, tzinfo=timezone.utc))
    assert not schedule.runs_on(datetime(2024, 7, 7, 20, 0, tzinfo=timezone.utc))
    assert schedule.describe() == "mon 09:00 Europe/Kyiv"
    assert parse_schedule("daily 06:15", "UTC").describe() == "daily 06:15 UTC"


def test_settings_refuse_a_bad_schedule_at_start_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="CRISISBOT_DIGEST_SCHEDULE: .*unknown day 'funday'"):
        load_settings(digest_schedule="funday 09:00")
    with pytest.raises(ConfigError, match="CRISISBOT_DIGEST_TIMEZONE: .*unknown time zone 'Kyiv'"):
        load_settings(digest_timezone="Kyiv")
    settings = load_settings(digest_schedule="mon,thu 18:30", digest_timezone="Europe/Kyiv")
    assert settings.schedule.describe() == "mon, thu 18:30 Europe/Kyiv"
