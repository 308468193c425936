"""What every fuzz test checks around one example: it ends in time, within memory, and either
succeeds or raises one of our own errors.

An input that makes a reader run for minutes or allocate gigabytes is as much a bug as one that
raises a traceback (issue 17: a 422-byte YAML front matter took 816 MB), so each example's CPU
time is measured under a wall-clock alarm, its memory under `tracemalloc`, and the resident set
size is compared too, because lxml, pypdf's C parts and the tokenizer allocate outside Python's
allocator. Lazy imports and first-use caches belong outside the bound: warm them up first.
"""

from __future__ import annotations

import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from knowledge.errors import CrisisbotError

T = TypeVar("T")
MB = 1024 * 1024


class TooSlow(AssertionError):
    """Raised by the alarm inside the example that overran its time bound."""


@dataclass(frozen=True)
class Bounds:
    """Limits for one example: generous for the machine, far below what a bomb would take."""

    seconds: float = 10.0  # CPU time: two busy cores must not fail an example, only its own work
    megabytes: float = 64.0  # tracemalloc peak
    rss_megabytes: float = 256.0  # resident set growth: allocations outside Python's allocator


def _rss_bytes() -> int:
    """Current resident set size (Linux); 0 elsewhere, where only tracemalloc bounds memory."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import resource

    return pages * resource.getpagesize()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt the example when it overruns, so a hang fails instead of stalling the suite."""

    def expire(signum: int, frame: object) -> None:
        raise TooSlow(f"example still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bounded(run: Callable[[], T], bounds: Bounds = Bounds()) -> T | CrisisbotError:
    """Run one example: its result, or the `CrisisbotError` it raised (anything else propagates).

    Time is bounded twice: the CPU time the example used (so that other work on the machine
    cannot fail it), and a wall-clock alarm at three times the bound, so that a hang that uses
    no CPU still ends. Memory: the tracemalloc peak and the growth of the RSS.
    """
    outcome: T | CrisisbotError
    rss_before = _rss_bytes()
    tracemalloc.start()
    started = time.process_time()
    try:
        with _alarm(max(bounds.seconds * 3, 30.0)):
            outcome = run()
    except CrisisbotError as exc:
        outcome = exc
    finally:
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_growth = _rss_bytes() - rss_before
    assert elapsed <= bounds.seconds, f"took {elapsed:.1f} s of CPU (bound {bounds.seconds} s)"
    assert peak <= bounds.megabytes * MB, f"peak {peak / MB:.1f} MB traced (bound {bounds.megabytes} MB)"
    assert rss_growth <= bounds.rss_megabytes * MB, (
        f"resident set grew {rss_growth / MB:.1f} MB (bound {bounds.rss_megabytes} MB)")
    return outcome


def assert_one_error(outcome: object, expected: type[CrisisbotError]) -> None:
    """A refusal must be one of `expected`, with a message a person can read."""
    if not isinstance(outcome, CrisisbotError):
        return
    assert isinstance(outcome, expected), f"{type(outcome).__name__} instead of {expected.__name__}: {outcome}"
    assert str(outcome).strip(), "an error without a message"
