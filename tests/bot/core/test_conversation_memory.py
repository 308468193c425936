"""The conversation memory's bounds: turns per key, time to live, number of keys, isolation."""

from __future__ import annotations

import threading

import pytest

from bot.core.conversation_memory import ConversationKey, ConversationMemory, ExpiringLru, Turn


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def turn(question: str) -> Turn:
    return Turn(question, question)


def test_keeps_the_last_turns_of_each_key_only() -> None:
    memory = ConversationMemory(max_turns=3)
    alice = ConversationKey("telegram", "1", "alice")
    for number in range(5):
        memory.remember(alice, turn(f"q{number}"))
    assert [t.question for t in memory.recent(alice)] == ["q2", "q3", "q4"]
    assert memory.last(alice) == turn("q4")


def test_users_and_chats_never_share_a_memory() -> None:
    memory = ConversationMemory()
    alice = ConversationKey("telegram", "1", "alice")
    memory.remember(alice, turn("Why did the US allow ATACMS strikes?"))
    assert memory.last(ConversationKey("telegram", "1", "bob")) is None
    assert memory.last(ConversationKey("telegram", "2", "alice")) is None
    assert memory.last(ConversationKey("discord", "1", "alice")) is None


def test_turns_expire_after_the_time_to_live() -> None:
    clock = Clock()
    memory = ConversationMemory(ttl_seconds=60, clock=clock)
    key = ConversationKey("cli", "t", "me")
    memory.remember(key, turn("q"))
    clock.now = 60
    assert memory.last(key) == turn("q")  # not yet: the limit itself still counts
    clock.now = 121  # 61 s after the last read refreshed nothing: the turn was stored at 0
    assert memory.last(key) is None
    assert len(memory) == 0  # an expired key is dropped when read


def test_a_new_turn_restarts_the_clock() -> None:
    clock = Clock()
    memory = ConversationMemory(ttl_seconds=60, clock=clock)
    key = ConversationKey("cli", "t", "me")
    memory.remember(key, turn("q1"))
    clock.now = 50
    memory.remember(key, turn("q2"))
    clock.now = 100
    assert [t.question for t in memory.recent(key)] == ["q1", "q2"]


def test_a_flood_of_keys_keeps_at_most_max_keys_least_recent_out_first() -> None:
    memory = ConversationMemory(max_keys=100)
    first = ConversationKey("telegram", "0", "0")
    memory.remember(first, turn("kept"))
    for number in range(1, 5000):
        memory.remember(ConversationKey("telegram", str(number), str(number)), turn("flood"))
        if number % 50 == 0:
            memory.last(first)  # used recently: stays
    assert len(memory) == 100
    assert memory.last(first) == turn("kept")
    assert memory.last(ConversationKey("telegram", "1", "1")) is None


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ConversationMemory(max_turns=0)
    with pytest.raises(ValueError):
        ExpiringLru(0, 60.0)
    with pytest.raises(ValueError):
        ExpiringLru(10, 0.0)


def test_concurrent_turns_are_all_kept() -> None:
    memory = ConversationMemory(max_turns=1000)
    key = ConversationKey("telegram", "1", "alice")

    def add(start: int) -> None:
        for number in range(start, start + 100):
            memory.remember(key, turn(str(number)))

    threads = [threading.Thread(target=add, args=(n * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(int(t.question) for t in memory.recent(key)) == list(range(800))
