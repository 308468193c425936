"""When the weekly digest goes out: "mon 09:00" in a configured time zone.

Parsed and checked once, at start (a typo in a schedule must stop the bot with a clear
message, not silently post nothing for weeks), and used by both chat adapters, which hand
the days and the zone-aware time to their own schedulers (python-telegram-bot's JobQueue,
a discord.py `tasks.loop`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_SCHEDULE = re.compile(r"^\s*(?P<days>[a-z,\s-]+?)\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DigestSchedule:
    """Days of the week (0 = Monday, as `date.weekday()`) and a wall-clock time in `zone`."""

    days: frozenset[int]
    at: time  # with tzinfo = the zone

    @property
    def zone(self) -> ZoneInfo:
        assert isinstance(self.at.tzinfo, ZoneInfo)
        return self.at.tzinfo

    def runs_on(self, moment: datetime) -> bool:
        """Whether `moment` (any zone) falls on a scheduled day in the schedule's zone."""
        return moment.astimezone(self.zone).weekday() in self.days

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after `moment`, in the schedule's zone."""
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            candidate = datetime.combine(day, self.at.replace(tzinfo=None), tzinfo=self.zone)
            if day.weekday() in self.days and candidate > local:
                return candidate
        raise AssertionError("a schedule has at least one day")  # pragma: no cover

    def describe(self) -> str:
        days = "daily" if len(self.days) == 7 else ", ".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.at.strftime('%H:%M')} {self.zone.key}"


def parse_schedule(text: str, zone: str) -> DigestSchedule:
    """"mon 09:00", "mon,thu 18:30", "mon-fri 08:00" or "daily 09:00", in `zone` (IANA name).

    Raises:
        ValueError: with a message that says what is wrong and what is expected.
    """
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Kyiv or UTC)") from None
    match = _SCHEDULE.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r}: write days and a time, e.g. 'mon 09:00' or 'mon,thu 18:30'")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"no such time {hour:02d}:{minute:02d}")
    return DigestSchedule(_days(match["days"]), time(hour, minute, tzinfo=tz))


def _days(text: str) -> frozenset[int]:
    words = [w for w in re.split(r"[,\s]+", text.strip().lower()) if w]
    if words == ["daily"]:
        return frozenset(range(7))
    days: set[int] = set()
    for word in words:
        first, dash, last = word.partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise ValueError(f"unknown day {word!r}: use mon, tue, wed, thu, fri, sat, sun, a range "
                             "such as mon-fri, or daily")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last) if dash else DAY_NAMES.index(first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return frozenset(days)
