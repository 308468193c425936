"""Refused requests in the audit log, one row per person and reason per window.

A refusal is how misuse shows up (someone trying moderator commands, or flooding), so it is
audited as admins' refusals are (`bot.core.admin`). But a flood must not become a flood of
rows: 300 refused messages from one person are one row, and the next row comes only once the
window has passed. The memory of what was written is bounded (oldest forgotten first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.core.actors import Actor
from bot.core.audit import Audit

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # (person, reason) pairs; beyond this the oldest are forgotten


class RefusalLog:
    """Writes a refusal to the audit log unless the person was refused for the same reason
    within `window` seconds (whatever they tried: a /summary and a /digest refused by the same
    limit are one row, named by the first)."""

    def __init__(self, audit: Callable[[], Audit], window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._audit = audit  # called on the first refusal only: opening the log may open a database
        self.window = window
        self._clock = clock
        self._written: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, actor: Actor, action: str, target: str, reason: str) -> bool:
        """Audit `refused: {reason}` for this attempt; False when it collapsed into an earlier row."""
        key = (actor.key, reason)
        now = self._clock()
        with self._lock:
            last = self._written.get(key)
            if last is not None and now - last < self.window:
                return False
            self._written[key] = now
            self._written.move_to_end(key)
            while len(self._written) > REMEMBERED:
                self._written.popitem(last=False)
        self._audit().record(actor, action, target, f"refused: {reason}")
        log.info("refused %s %s to %s: %s", action, target, actor.key, reason)
        return True
