"""A TEST HOOK: kill this process with SIGKILL at a named point, to prove crash safety.

The kill-point suite (tests/bot/runtime/test_kill_points.py, docs/testing.md) starts a real
crisisbot process with `CRISISBOT_TEST_KILL_AT=<point>` (or `<point>:<n>`, the n-th time the
point is reached) and checks, after the kill, that the knowledge base is consistent. Writes
call `crash_test_point("<point>")` at the moments a crash could hurt: before and after each
commit, between writing and renaming a file. Without the variable (every real deployment) a
call costs one global lookup and returns; nothing here ever runs otherwise.

It lives in knowledge/, the bottom layer, so that every layer can mark its points.
"""

from __future__ import annotations

import os
import signal
import threading

ENVIRONMENT_VARIABLE = "CRISISBOT_TEST_KILL_AT"


def _target(raw: str | None) -> tuple[str, int] | None:
    if not raw:
        return None
    name, _, count = raw.partition(":")
    return name, int(count) if count else 1


_TARGET = _target(os.environ.get(ENVIRONMENT_VARIABLE))
_hits = 0
_hits_lock = threading.Lock()


def crash_test_point(name: str) -> None:
    """SIGKILL this process here if the test hook names this point (and this is its n-th hit)."""
    if _TARGET is None or _TARGET[0] != name:
        return
    global _hits
    with _hits_lock:
        _hits += 1
        if _hits == _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
