"""The progress throttle: when an edit is due and what it says, on an injected clock."""

from __future__ import annotations

import threading

from bot.core.progress import FEEDS_POLLED, ProgressThrottle


def run(throttle: ProgressThrottle, now: list[float], reports: list[tuple[float, int, int]]) -> list[str]:
    shown = []
    for at, done, total in reports:
        now[0] = at
        text = throttle.update(done, total)
        if text is not None:
            shown.append(text)
    return shown


def test_after_a_working_message_the_first_count_waits_an_interval() -> None:
    now = [0.0]
    throttle = ProgressThrottle(interval=2.0, clock=lambda: now[0])
    shown = run(throttle, now, [(step * 0.5, step + 1, 10) for step in range(10)])
    assert shown == ["Working on it… 5 of 10 documents added", "Working on it… 9 of 10 documents added"]


def test_behind_a_thinking_indicator_the_first_count_is_due_at_once() -> None:
    now = [0.0]
    throttle = ProgressThrottle(FEEDS_POLLED, interval=2.0, clock=lambda: now[0], working_shown=False)
    shown = run(throttle, now, [(0.0, 1, 5), (1.0, 2, 5), (2.5, 3, 5), (4.4, 4, 5)])
    assert shown == ["Working on it… 1 of 5 feeds polled", "Working on it… 3 of 5 feeds polled"]


def test_nothing_after_the_result() -> None:
    now = [0.0]
    throttle = ProgressThrottle(interval=2.0, clock=lambda: now[0], working_shown=False)
    throttle.finish()
    assert throttle.finished and run(throttle, now, [(0.0, 1, 2), (10.0, 2, 2)]) == []


def test_many_threads_get_one_edit_per_interval() -> None:
    throttle = ProgressThrottle(interval=3600.0, working_shown=False)
    shown: list[str] = []
    lock = threading.Lock()

    def report() -> None:
        for done in range(200):
            text = throttle.update(done, 200)
            if text is not None:
                with lock:
                    shown.append(text)

    workers = [threading.Thread(target=report) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(shown) == 1
