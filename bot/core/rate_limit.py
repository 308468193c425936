"""Per-user limits, so one account cannot flood a public group or brigade the bot.

A sliding window per actor key; shared by every adapter through the core service. The first
refusal of a wait says when to try again, because silence under load is what users hate most;
the refusals after it, until that wait is over, are silent (`RateLimited.tell` is False), so
that a flood of 300 messages is not answered with 300 refusals: every reply is a request to
the platform, on the same connection and rate budget as other people's answers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from bot.core.messages import RATE_LIMITED
from bot.core.errors import Refusal

_FORGET_ABOVE = 10_000  # keys; idle ones are forgotten now and then beyond this


class RateLimited(Refusal):
    """Too many requests from one person in the window; `tell` is True for the first refusal
    of a wait (say it), False for the ones after it (drop them without a reply)."""

    def __init__(self, retry_after: float, limit: int, window: float, tell: bool = True,
                 template: str = RATE_LIMITED) -> None:
        self.retry_after = retry_after
        seconds = max(1, round(retry_after))
        fields: dict[str, object] = {"limit": limit, "window": window, "seconds": seconds,
                                     "plural": "s" if seconds != 1 else ""}
        super().__init__(template.format(**fields), tell)
        self.worded(template, **fields)


def silent(exc: BaseException) -> bool:
    """Whether an error is a repeated refusal that adapters drop without a reply."""
    return isinstance(exc, Refusal) and not exc.tell


class RateLimiter:
    """At most `limit` events per `window` seconds for each key; `template` words the refusal
    (fields: limit, window, seconds, plural)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 template: str = RATE_LIMITED) -> None:
        self.limit = limit
        self.window = window
        self.template = template
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._told_until: dict[str, float] = {}  # key -> end of the wait its refusal was told
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one event for `key`, or raise `RateLimited` without counting it."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                free_at = events[0] + self.window
                tell = self._told_until.get(key, float("-inf")) <= now
                if tell:
                    self._told_until[key] = free_at
                raise RateLimited(free_at - now, self.limit, self.window, tell, self.template)
            events.append(now)
            if len(self._events) > _FORGET_ABOVE:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for idle in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
            del self._events[idle]
        for done in [k for k, until in self._told_until.items() if until <= now]:
            del self._told_until[done]
