"""A value computed from the whole store, kept fresh without making questions wait for it.

The retriever needs some things computed from every passage: the BM25 matrix, the mean and
covariance of the vectors. They go stale whenever the store's generation moves. Recomputing at
the next question is fine while it is cheap, but during a big import the generation moves every
few hundred passages, and a recompute of seconds at every question would stall answering.

So the first value is built at once (there is nothing else to answer from). After that, a
rebuild is still done at once while the previous one was cheap, so a small knowledge base (and
the test suite) sees every write immediately; once a build has been slow, the next ones run in
one background thread while questions are answered from the previous value, which the finished
build replaces in one assignment. A build that finishes after another write is simply replaced
by the next one; two builds never run at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

SLOW_BUILD_SECONDS = 0.2
"""A question may wait for a rebuild this long, not longer: after a build slower than this the
next one runs in the background. On the 2-core machine, busy, 0.2 s is BM25 over about 3,000
passages or the vector statistics of about 10,000; the test suite's knowledge bases are far
smaller, so their writes are always seen at the next question."""

COOL_DOWN_AFTER = 1.0
"""After a background build of at least this many seconds, the next one waits as long as it took
(counted from its end). During a long import builds would otherwise run back to back, and a
build in Python holds the interpreter lock often enough to slow every question beside it (at a
million passages the lexical part went from 6 ms to 84 ms at p95 while one ran); waiting
halves the time questions share the interpreter, at the price of older lexical results."""

T = TypeVar("T")


@dataclass(frozen=True)
class _Built(Generic[T]):
    generation: int
    value: T
    seconds: float
    finished: float  # time.perf_counter() at the end of the build


class Refresher(Generic[T]):
    """Holds `build(generation)`'s latest result and decides when and where to rebuild it."""

    def __init__(
        self, build: Callable[[int], T], name: str, slow_after: float = SLOW_BUILD_SECONDS,
        before_swap: Callable[[], None] | None = None,
    ) -> None:
        """`build` must read the store no earlier than the generation it is given was read.
        `before_swap`: called in the builder thread between building and swapping in (tests
        pause a build there to ask and write meanwhile)."""
        self._build = build
        self.name = name
        self.slow_after = slow_after
        self.before_swap = before_swap
        self._built: _Built[T] | None = None
        self._lock = threading.Lock()  # held by whoever is building in the caller's thread
        self._builder: threading.Thread | None = None
        self._failed: int | None = None  # a generation whose background build failed

    def get(self, generation: int) -> T:
        """The value for `generation`, or the previous one while a rebuild is under way."""
        built = self._built
        if built is not None and built.generation == generation:
            return built.value
        if built is None:
            with self._lock:
                return self._refresh(generation)
        if not self._lock.acquire(blocking=False):
            return built.value  # another question is rebuilding: answer from the last value
        try:
            return self._refresh(generation)
        finally:
            self._lock.release()

    def _refresh(self, generation: int) -> T:
        """Under the lock: rebuild here, start the background builder, or keep the value."""
        built = self._built
        if built is not None and (built.generation == generation or self._building()):
            return built.value
        if built is None or built.seconds < self.slow_after:
            self._built = self._timed(generation)
            return self._built.value
        if self._failed != generation and not self._cooling_down(built):
            log.info("%s: the last build took %.2f s; rebuilding in the background",
                     self.name, built.seconds)
            self._builder = threading.Thread(target=self._build_in_background, args=(generation,),
                                             name=self.name, daemon=True)
            self._builder.start()
        return built.value

    @staticmethod
    def _cooling_down(built: _Built[T]) -> bool:
        return built.seconds >= COOL_DOWN_AFTER and time.perf_counter() - built.finished < built.seconds

    def _timed(self, generation: int) -> _Built[T]:
        started = time.perf_counter()
        value = self._build(generation)
        finished = time.perf_counter()
        return _Built(generation, value, finished - started, finished)

    def _build_in_background(self, generation: int) -> None:
        try:
            built = self._timed(generation)
            if self.before_swap is not None:
                self.before_swap()
            with self._lock:
                self._built = built
        except Exception:
            self._failed = generation  # retried at the next write, not at every question
            log.exception("%s: building in the background failed; answering from the previous "
                          "build", self.name)

    def _building(self) -> bool:
        return self._builder is not None and self._builder.is_alive()

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a running background build; True if none is running (any more)."""
        return wait_for(self._builder, timeout)


def wait_for(builder: threading.Thread | None, timeout: float | None) -> bool:
    """Join a builder thread if there is one; True if it is not running (any more)."""
    if builder is None:
        return True
    builder.join(timeout)
    return not builder.is_alive()
