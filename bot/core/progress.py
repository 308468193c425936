"""How a long knowledge-base operation shows its progress in a chat: when the "Working on it…"
message may be edited, and what it says.

The core reports `(done, total)` from its executor thread, often many times a second; both chat
platforms rate-limit edits of a message, and an edit per document of a big batch would queue
behind that limit for minutes and delay the final result. So one throttle decides, for every
front end, whether an update is due; the adapter only performs the edit it is handed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.core.messages import (  # the sentences of this flow live with all the others
    WORKING as WORKING,
    PROGRESS as PROGRESS,
    DOCUMENTS_ADDED as DOCUMENTS_ADDED,
    FEEDS_POLLED as FEEDS_POLLED,
)

# -- timing -------------------------------------------------------------------------------------

EDIT_INTERVAL = 2.0  # seconds between progress edits of one message


class ProgressThrottle:
    """At most one progress update every `interval` seconds, and none after the result.

    `working_shown`: the adapter has already put `WORKING` on screen (a sent message), so the
    first count waits an interval like any later edit; when the platform shows its own
    "thinking" indicator instead (a deferred response), the first count is due at once.
    Safe to call from any thread.
    """

    def __init__(self, unit: str = DOCUMENTS_ADDED, interval: float = EDIT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, *, working_shown: bool = True) -> None:
        self.unit = unit
        self._interval = interval
        self._clock = clock
        self._last = clock() if working_shown else float("-inf")
        self._lock = threading.Lock()
        self._finished = False

    def update(self, done: int, total: int) -> str | None:
        """The text to show now, or None when no edit is due."""
        now = self._clock()
        with self._lock:
            if self._finished or now - self._last < self._interval:
                return None
            self._last = now
        return PROGRESS.format(working=WORKING, done=done, total=total, unit=self.unit)

    def finish(self) -> None:
        """The result is about to be shown: later reports must not overwrite it."""
        with self._lock:
            self._finished = True

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._finished
