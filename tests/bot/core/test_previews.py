"""The preview -> post state machine on its own: who may post, expiry, the bound, put back."""

from __future__ import annotations

import re

from bot.core.actors import Actor, Role
from bot.core.previews import (
    EXPIRED, MAX_PENDING, NO_LONGER_MODERATOR, NOT_YOURS, PREVIEW_SECONDS, Claimed, Kind, Pending, Previews,
    Refused,
)
from bot.core.summary import Digest

MODERATOR = Actor("telegram", "502", "Olena", frozenset({Role.MEMBER, Role.MODERATOR}))
DEMOTED = Actor("telegram", "502", "Olena", frozenset({Role.MEMBER}))
ADMIN_NOW = Actor("telegram", "502", "Olena", frozenset({Role.MEMBER, Role.ADMIN}))
OTHER_MODERATOR = Actor("telegram", "503", "Taras", frozenset({Role.MEMBER, Role.MODERATOR}))
SAME_ID_ELSEWHERE = Actor("discord", "502", "Olena", frozenset({Role.MEMBER, Role.MODERATOR}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def preview(payload: str = "parts", kind: Kind = Kind.SUMMARY, actor: Actor = MODERATOR) -> Pending[str]:
    return Pending.of(kind, actor, "-100777", payload)


def test_the_moderator_who_asked_claims_it_once() -> None:
    store: Previews[str] = Previews()
    token = store.add(preview())
    claimed = store.claim(token, MODERATOR, Kind.SUMMARY)
    assert isinstance(claimed, Claimed) and claimed.token == token
    assert claimed.pending == Pending(Kind.SUMMARY, "telegram:502", "Olena", "-100777", "parts")
    assert len(store) == 0  # taken out: a second press finds nothing
    assert store.claim(token, MODERATOR, Kind.SUMMARY) == Refused(EXPIRED.format(command="summary"))


def test_a_promoted_moderator_may_still_post() -> None:
    store: Previews[str] = Previews()
    token = store.add(preview())
    assert isinstance(store.claim(token, ADMIN_NOW, Kind.SUMMARY), Claimed)


def test_someone_else_is_refused_and_the_preview_stays() -> None:
    store: Previews[str] = Previews()
    token = store.add(preview())
    assert store.claim(token, OTHER_MODERATOR, Kind.SUMMARY) == Refused(NOT_YOURS)
    assert store.claim(token, SAME_ID_ELSEWHERE, Kind.SUMMARY) == Refused(NOT_YOURS)  # the key, not the id
    assert len(store) == 1
    assert isinstance(store.claim(token, MODERATOR, Kind.SUMMARY), Claimed)


def test_a_demoted_moderator_is_refused_and_the_preview_stays() -> None:
    store: Previews[str] = Previews()
    token = store.add(preview())
    assert store.claim(token, DEMOTED, Kind.SUMMARY) == Refused(NO_LONGER_MODERATOR)
    assert store.get(token) is not None
    assert isinstance(store.claim(token, MODERATOR, Kind.SUMMARY), Claimed)  # promoted again: posts


def test_unknown_tokens_expire_with_the_kind_of_the_button() -> None:
    store: Previews[str] = Previews()
    assert store.claim("nope", MODERATOR, Kind.DIGEST) == Refused("This preview has expired; run /digest again.")
    assert store.claim("", MODERATOR, Kind.SUMMARY) == Refused("This preview has expired; run /summary again.")


def test_a_preview_expires_after_its_time() -> None:
    clock = Clock()
    store: Previews[str] = Previews(clock=clock)
    token = store.add(preview(kind=Kind.DIGEST))
    clock.now += PREVIEW_SECONDS
    assert store.get(token) is not None  # exactly at the limit it still waits
    clock.now += 1
    assert store.claim(token, MODERATOR, Kind.SUMMARY) == Refused(EXPIRED.format(command="summary"))
    assert len(store) == 0  # dropped, not merely refused


def test_the_oldest_previews_are_forgotten_beyond_the_bound() -> None:
    store: Previews[str] = Previews()
    tokens = [store.add(preview(str(n))) for n in range(MAX_PENDING + 2)]
    assert len(store) == MAX_PENDING == 256
    assert store.get(tokens[0]) is None and store.get(tokens[1]) is None
    assert all(store.get(token) is not None for token in tokens[2:])
    small: Previews[str] = Previews(limit=2)
    first, second = small.add(preview("1")), small.add(preview("2"))
    claimed = small.claim(first, MODERATOR, Kind.SUMMARY)
    assert isinstance(claimed, Claimed)
    small.put_back(claimed)  # put back counts as the newest
    small.add(preview("3"))
    assert small.get(second) is None and small.get(first) is not None


def test_a_failed_post_is_put_back_with_its_age() -> None:
    clock = Clock()
    store: Previews[str] = Previews(clock=clock)
    mark = ("telegram:-100777", Digest("2024-11-18T00:00:00+00:00", "2024-11-25T00:00:00+00:00", [], 0))
    token = store.add(Pending.of(Kind.DIGEST, MODERATOR, "-100777", "parts", mark))
    claimed = store.claim(token, MODERATOR, Kind.DIGEST)
    assert isinstance(claimed, Claimed) and claimed.pending.mark == mark
    clock.now += PREVIEW_SECONDS - 10
    store.put_back(claimed)
    again = store.claim(token, MODERATOR, Kind.DIGEST)
    assert isinstance(again, Claimed) and again.pending == claimed.pending
    store.put_back(again)
    clock.now += 11  # its age came back with it: a day after it was made, it has expired
    assert store.claim(token, MODERATOR, Kind.DIGEST) == Refused(EXPIRED.format(command="digest"))


def test_tokens_are_random_unique_and_fit_a_telegram_button() -> None:
    store: Previews[str] = Previews(limit=10_000)
    tokens = [store.add(preview()) for _ in range(2000)]
    assert len(set(tokens)) == len(tokens) == len(store)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", token) for token in tokens)
    assert len(f"p:d:{tokens[0]}".encode()) <= 64
    other: Previews[str] = Previews()
    assert not set(tokens) & {other.add(preview()) for _ in range(100)}  # not a counter
