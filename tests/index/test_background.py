from __future__ import annotations

import logging
import threading

import pytest

import index.background as background
from index.background import Refresher


class FakeClock:
    """perf_counter for index.background: each build "takes" `build_seconds`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.build_seconds = 0.0

    def perf_counter(self) -> float:
        return self.now


class Builds:
    """A build function that records its calls and can be held inside the build."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.generations: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self, generation: int) -> str:
        self.generations.append(generation)
        self.entered.set()
        assert self.release.wait(10), "the test never released the build"
        if self.fail:
            raise RuntimeError("store unreadable")
        self.clock.now += self.clock.build_seconds
        return f"value@{generation}"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(background, "time", fake)
    return fake


def test_cheap_builds_happen_at_once(clock: FakeClock) -> None:
    builds = Builds(clock)
    refresher = Refresher(builds, "test", slow_after=0.2, before_swap=lambda: pytest.fail("no background"))
    clock.build_seconds = 0.1
    assert refresher.get(1) == "value@1"
    assert refresher.get(1) == "value@1" and builds.generations == [1]  # not rebuilt: same generation
    assert refresher.get(2) == "value@2" and refresher.get(5) == "value@5"
    assert builds.generations == [1, 2, 5] and refresher.wait_for_build(0)


def test_after_a_slow_build_the_next_runs_in_the_background(clock: FakeClock) -> None:
    builds = Builds(clock)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        assert release.wait(10)

    refresher = Refresher(builds, "test", slow_after=0.2, before_swap=hold)
    clock.build_seconds = 0.5  # slow, but too short for a cool-down
    assert refresher.get(1) == "value@1"  # the first build is always synchronous
    assert refresher.get(2) == "value@1"  # slow: started in the background, old value served
    assert held.wait(10)  # built, waiting to be swapped in
    assert refresher.get(3) == "value@1"  # still the old one, and no second build is started
    assert not refresher.wait_for_build(0)
    release.set()
    assert refresher.wait_for_build(10)
    assert builds.generations == [1, 2]
    assert refresher.get(2) == "value@2"  # swapped in
    assert refresher.get(3) == "value@2"  # built for 2, replaced by the next build (for 3)
    assert refresher.wait_for_build(10) and refresher.get(3) == "value@3"
    assert builds.generations == [1, 2, 3]


def test_after_a_long_build_the_next_waits_as_long_as_it_took(clock: FakeClock) -> None:
    builds = Builds(clock)
    refresher = Refresher(builds, "test", slow_after=0.2)
    clock.build_seconds = 30.0  # a million passages
    assert refresher.get(1) == "value@1"  # finished at 30
    clock.now = 59.0
    assert refresher.get(2) == "value@1" and refresher.wait_for_build(0)  # cooling down: none started
    assert builds.generations == [1]
    clock.now = 60.0
    assert refresher.get(2) == "value@1"  # 30 s after the last build ended: rebuilt behind
    assert refresher.wait_for_build(10) and builds.generations == [1, 2]
    assert refresher.get(2) == "value@2"


def test_a_build_that_became_cheap_is_synchronous_again(clock: FakeClock) -> None:
    builds = Builds(clock)
    refresher = Refresher(builds, "test", slow_after=0.2)
    clock.build_seconds = 0.5
    refresher.get(1)
    clock.build_seconds = 0.01  # the knowledge base shrank
    assert refresher.get(2) == "value@1"
    assert refresher.wait_for_build(10) and refresher.get(2) == "value@2"
    assert refresher.get(3) == "value@3"


def test_a_question_during_a_synchronous_rebuild_is_answered_from_the_last_value(clock: FakeClock) -> None:
    builds = Builds(clock)
    refresher = Refresher(builds, "test", slow_after=0.2)
    refresher.get(1)
    builds.release.clear()
    builds.entered.clear()
    rebuilding = threading.Thread(target=refresher.get, args=(2,))
    rebuilding.start()
    assert builds.entered.wait(10)  # the other question is inside the (cheap) rebuild
    assert refresher.get(2) == "value@1"  # does not wait for it
    builds.release.set()
    rebuilding.join(10)
    assert refresher.get(2) == "value@2" and builds.generations == [1, 2]


def test_a_failed_background_build_keeps_the_old_value(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    builds = Builds(clock)
    refresher = Refresher(builds, "test", slow_after=0.0)
    refresher.get(1)
    builds.fail = True
    with caplog.at_level(logging.ERROR):
        assert refresher.get(2) == "value@1"
        assert refresher.wait_for_build(10)
    assert "failed" in caplog.text
    assert refresher.get(2) == "value@1" and refresher.wait_for_build(0)
    assert builds.generations == [1, 2]  # not retried at every question of that generation
    builds.fail = False
    assert refresher.get(3) == "value@1"  # the next write retries
    assert refresher.wait_for_build(10) and refresher.get(3) == "value@3"


def test_the_first_build_failing_raises() -> None:
    def broken(generation: int) -> str:
        raise RuntimeError("store unreadable")

    with pytest.raises(RuntimeError):
        Refresher(broken, "test").get(1)
