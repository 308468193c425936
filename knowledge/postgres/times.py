"""Times between PostgreSQL's `timestamptz` and the text the embedded store keeps, so that both
backends give the core the same strings: ISO 8601, UTC, to the second."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_text(value: datetime | None) -> str | None:
    """A `timestamptz` read back as the embedded store writes times: '2026-11-27T04:00:00+00:00'."""
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds")


def utc_instant(text: str) -> datetime:
    """An ISO 8601 time (as `_now()` gives it) for a `timestamptz` column; naive means UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def since_instant(since: str | None) -> datetime | None:
    """The first instant the embedded store's text comparison `time >= since` lets through:
    `since` is YYYY, YYYY-MM, YYYY-MM-DD or a full ISO time; None or '' means no bound."""
    if not since:
        return None
    text = since.strip()
    if len(text) == 4 and text.isdigit():
        text += "-01-01"
    elif len(text) == 7 and text[4] == "-":
        text += "-01"
    return utc_instant(text)
