"""Per-user question limits, so one account cannot flood a public group or brigade the bot.

A sliding window per actor key; shared by every adapter through the core service. The error
says when to try again, because silence under load is what users hate most.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from bot.core.messages import RATE_LIMITED
from knowledge.errors import CrisisbotError


class RateLimited(CrisisbotError):
    """Too many questions from one person in the window."""

    def __init__(self, retry_after: float, limit: int, window: float) -> None:
        self.retry_after = retry_after
        seconds = max(1, round(retry_after))
        super().__init__(RATE_LIMITED.format(limit=limit, window=window, seconds=seconds,
                                             plural="s" if seconds != 1 else ""))


class RateLimiter:
    """At most `limit` events per `window` seconds for each key."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one event for `key`, or raise `RateLimited` without counting it."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                raise RateLimited(events[0] + self.window - now, self.limit, self.window)
            events.append(now)
            if len(self._events) > 10_000:  # forget idle keys now and then
                for idle in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                    del self._events[idle]
