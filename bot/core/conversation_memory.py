"""A bounded, expiring memory of the last few turns of each conversation.

A follow-up ("and Biden?", "why?", "tell me more") leans on what the same person asked just
before, in the same chat. The memory is keyed by (platform, chat, user), so one person's
questions never resolve another's, and it is bounded three ways so that a flood of new chats
cannot exhaust the process: few turns per key, turns forgotten after a while, and at most
`max_keys` keys (the least recently used dropped first). It lives in memory only: a restart
forgets every conversation, which is what people expect of "what I just asked".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class ConversationKey:
    """Where and with whom: one person in one chat (a thread or DM counts as a chat)."""

    platform: str
    chat: str
    user: str


@dataclass(frozen=True)
class Turn:
    """One answered question, as a later follow-up needs it.

    `question` is what was searched (the follow-up resolved); `topic` is the last question
    that stood on its own (or an "and X?" substitution of it), which later follow-ups resolve
    against so that a chain of "why?", "when?" does not grow without end. `passages` are the
    passage ids quoted by this question and every "tell me more" of it, so a further "more"
    skips them all."""

    question: str
    topic: str
    passages: frozenset[int] = frozenset()
    answer_id: int | None = None


class ExpiringLru(Generic[K, V]):
    """A thread-safe mapping with a size bound (least recently used out first) and a
    time-to-live per entry, measured on an injectable clock (tests move time by hand)."""

    def __init__(self, max_keys: int, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1 or ttl_seconds <= 0:
            raise ValueError("max_keys and ttl_seconds must be positive")
        self.max_keys = max_keys
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored_at, value = item
            if self._clock() - stored_at > self.ttl_seconds:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = (self._clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_keys:
                self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class ConversationMemory:
    """The last `max_turns` turns of each (platform, chat, user), each kept `ttl_seconds`
    after the key's last turn, for at most `max_keys` keys."""

    def __init__(self, max_turns: int = 5, ttl_seconds: float = 30 * 60, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be positive")
        self.max_turns = max_turns
        self._turns: ExpiringLru[ConversationKey, tuple[Turn, ...]] = ExpiringLru(max_keys, ttl_seconds, clock)
        self._lock = threading.Lock()  # remember() reads, then writes: one at a time

    def remember(self, key: ConversationKey, turn: Turn) -> None:
        with self._lock:
            turns = self._turns.get(key) or ()
            self._turns.put(key, (turns + (turn,))[-self.max_turns:])

    def last(self, key: ConversationKey) -> Turn | None:
        turns = self._turns.get(key)
        return turns[-1] if turns else None

    def recent(self, key: ConversationKey) -> tuple[Turn, ...]:
        return self._turns.get(key) or ()

    def forget(self, key: ConversationKey) -> None:
        self._turns.pop(key)

    def __len__(self) -> int:
        """How many conversations are remembered (expired ones may still count until read)."""
        return len(self._turns)
