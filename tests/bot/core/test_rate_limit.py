from __future__ import annotations

import pytest

from bot.core.rate_limit import RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_key_with_a_sliding_window() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock)
    for _ in range(3):
        limiter.check("telegram:1")
        clock.now += 10
    with pytest.raises(RateLimited) as refused:
        limiter.check("telegram:1")
    assert refused.value.retry_after == pytest.approx(30)
    assert "wait 30 seconds" in str(refused.value)
    limiter.check("telegram:2")  # others are not affected
    clock.now += 30
    limiter.check("telegram:1")  # the oldest question left the window


def test_refused_attempts_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock)
    limiter.check("k")
    for _ in range(5):
        clock.now += 10
        with pytest.raises(RateLimited):
            limiter.check("k")
    clock.now += 10
    limiter.check("k")
