"""Recency: "what is the latest on ...?" should quote this week's report, not last year's.

Only questions that ask for it (recency words) get the preference: "how many troops did North
Korea send?" is answered by the best-matching passage whatever its age, and every quote shows
its date anyway. The preference is a bonus added to the fused rank score, largest for a source
published on the day the question is asked and halving about every `days` x 0.7; a source
dated after the question (possible in an evaluation replaying old questions) gets none, and
neither does one without a date.
"""

from __future__ import annotations

import math
import re
from datetime import date

_RECENCY = re.compile(
    r"\b(latest|newest|most recent|recent|recently|now|nowadays|currently|current|at present|"
    r"presently|at the moment|today|tonight|this (?:week|month|year|morning|evening)|"
    r"(?:last|past) (?:week|few days|days)|so far|as of now|up to date|still|yesterday|"
    r"(?:this|last|past) weekend|(?:on|last|this) (?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday)(?: night| morning| evening)?)\b",
    re.IGNORECASE,
)


def mentions_recency(question: str) -> bool:
    """True when the question asks about the present ("latest", "now", "this week"...)."""
    return _RECENCY.search(question) is not None


def published_date(published: str | None) -> date | None:
    """'2024', '2024-11' or '2024-11-06' as the first day it can mean; None when unknown."""
    if not published:
        return None
    parts = [int(p) for p in published.split("-")]
    try:
        return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return None


def recency_bonus(published: str | None, asked_at: date, weight: float, days: float) -> float:
    """weight x exp(-age / days) for a source `age` days older than the question, else 0."""
    when = published_date(published)
    if when is None or weight <= 0 or days <= 0:
        return 0.0
    age = (asked_at - when).days
    if age < 0:
        return 0.0
    return weight * math.exp(-age / days)
