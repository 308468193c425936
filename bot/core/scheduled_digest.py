"""The scheduled digest's one flow, shared by the chat adapters and `crisisbot worker`:
make the digest of a place, post it, and only then mark it posted.

Platform-neutral: a place is its core digest key and a coroutine that posts a `Digest` there
(the platform modules `bot.adapters.telegram.digest_post` and `bot.adapters.discord.digest_post` build it). The
key is the same whoever posts (a chat process or the worker), so the two never post the same
documents twice to one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from bot.core.actors import Actor
from bot.core.summary import Digest

log = logging.getLogger(__name__)

# Runs a blocking core call off the event loop (an executor) and awaits its result.
CoreRunner = Callable[[Callable[[], Any]], Awaitable[Any]]


class DigestSource(Protocol):
    """Makes a place's digest and remembers where it ended (`bot.core.summaries.Summaries`)."""

    def digest(self, actor: Actor | None = None, since: str | None = None, key: str | None = None,
               now: datetime | None = None) -> Digest: ...
    def mark_posted(self, key: str, digest: Digest) -> None: ...


@dataclass(frozen=True)
class DigestPlace:
    """Where a scheduled digest goes: `key` is the core's digest key (`telegram:<chat id>`,
    `discord:<channel id>`), `name` is for the log, `post` sends a non-empty digest there and
    raises if it could not."""

    key: str
    name: str
    post: Callable[[Digest], Awaitable[None]]


async def deliver_digest(
    summaries: DigestSource, place: DigestPlace, run: CoreRunner, now: datetime | None = None,
) -> Digest | None:
    """Post what is new at `place` since its last digest; None when nothing is new.

    The key is marked only once `post` returned, so a failed post (an exception, passed on to
    the caller, which logs it) leaves the key alone and the next run covers the same documents.
    An empty digest posts nothing and marks nothing.
    """
    digest: Digest = await run(partial(summaries.digest, key=place.key, now=now))
    if digest.empty:
        log.info("scheduled digest for %s: nothing new since %s", place.name, digest.since)
        return None
    await place.post(digest)
    await run(partial(summaries.mark_posted, place.key, digest))
    log.info("scheduled digest posted to %s: %d documents in %d topics", place.name, digest.documents,
             len(digest.topics))
    return digest
