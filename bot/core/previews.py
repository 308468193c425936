"""The moderators' preview -> "Post to channel" flow, written once for every chat platform.

A summary or digest goes out in a moderator's name and is made of quotes a model picked, so
the moderator reads it first: the adapter shows a private preview with a button, and the
button posts it. What may happen when the button is pressed is decided here, in `claim`, so
Telegram and Discord cannot drift apart again (they had: only Discord re-checked the role):

- the preview must still be waiting (not forgotten by a restart, by the bound of
  `MAX_PENDING`, or older than `PREVIEW_SECONDS`);
- the person pressing must be the one who asked: it was made with their roles and it is
  their name that goes under it;
- they must still be allowed to summarise, judged by the roles the adapter computed afresh for
  the press (a moderator demoted while the preview waited posts nothing).

A refused press leaves the preview in place, so its rightful moderator can still post it. A
granted press takes it out before the adapter posts (a double tap cannot post twice); if the
platform then refuses the post, the adapter puts it back and the moderator may press again.

What waits is the adapter's rendered messages, an opaque payload (`P`): what is posted must be
exactly what the moderator read (the same split, the same relative dates), the core needs
nothing from the content to decide, and rendering is the platform's job. The neutral `Digest`
is kept beside it only when posting must mark a digest key (`mark`).

Previews live in memory: they are short-lived, and one lost is simply made again.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from bot.core.actors import Action, Actor, may
from bot.core.summary import Digest

from bot.core.messages import (  # the sentences of this flow live with all the others
    POST_BUTTON as POST_BUTTON,
    POSTING as POSTING,
    EXPIRED as EXPIRED,
    NOT_YOURS as NOT_YOURS,
    NO_LONGER_MODERATOR as NO_LONGER_MODERATOR,
    POST_FAILED as POST_FAILED,
    POSTED_TO as POSTED_TO,
    POSTED_BY as POSTED_BY,
    A_MODERATOR as A_MODERATOR,
)


MAX_PENDING = 256
PREVIEW_SECONDS = 24 * 60 * 60  # a day: long enough to read and check, short of going stale
TOKEN_BYTES = 12  # 96 random bits, 16 URL-safe characters: fits Telegram's 64-byte callback data

P = TypeVar("P")


class Kind(str, Enum):
    """What a preview holds; the value is the command that makes it again."""

    SUMMARY = "summary"
    DIGEST = "digest"


@dataclass(frozen=True)
class Pending(Generic[P]):
    """A preview waiting for its button: what kind, who asked, where it would go, what to post.

    `requester` is the asking Actor's key and `name` the name the post is signed with; `target`
    is the adapter's own address of the chat or channel (opaque here); `mark` is the digest key
    and digest to mark as posted once it went out.
    """

    kind: Kind
    requester: str
    name: str
    target: str
    payload: P
    mark: tuple[str, Digest] | None = None

    @classmethod
    def of(cls, kind: Kind, actor: Actor, target: str, payload: P,
           mark: tuple[str, Digest] | None = None) -> Pending[P]:
        return cls(kind, actor.key, actor.name, target, payload, mark)


@dataclass(frozen=True)
class Refused:
    """The press posts nothing; `text` tells the person pressing why."""

    text: str


@dataclass(frozen=True)
class Claimed(Generic[P]):
    """The press may post: the preview has been taken out (`Previews.put_back` if posting fails)."""

    token: str
    pending: Pending[P]
    made_at: float  # the preview's age goes back with it


class Previews(Generic[P]):
    """The pending previews of one process, keyed by unguessable tokens.

    At most `limit` wait, the least recently made (or put back) forgotten first; one older
    than `seconds` counts as expired. `clock` is monotonic seconds (a test may move it).
    """

    def __init__(self, limit: int = MAX_PENDING, seconds: float = PREVIEW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._pending: OrderedDict[str, tuple[float, Pending[P]]] = OrderedDict()

    def add(self, pending: Pending[P]) -> str:
        """Keep `pending`; the token its button carries. Random, so an old button (from before
        a restart) never matches a new preview, and nobody can guess another's."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        while token in self._pending:
            token = secrets.token_urlsafe(TOKEN_BYTES)
        self._keep(token, self.clock(), pending)
        return token

    def get(self, token: str) -> Pending[P] | None:
        """The preview still waiting under `token` (an expired one is dropped)."""
        entry = self._pending.get(token)
        if entry is None:
            return None
        if self.clock() - entry[0] > self.seconds:
            del self._pending[token]
            return None
        return entry[1]

    def discard(self, token: str) -> None:
        """Forget a preview that could not even be shown."""
        self._pending.pop(token, None)

    def claim(self, token: str, presser: Actor, kind: Kind) -> Claimed[P] | Refused:
        """The decision when `presser` (with the roles they hold now) presses the button of
        token `token` (its `kind` as the button says, for the "expired" text)."""
        pending = self.get(token)
        if pending is None:
            return Refused(EXPIRED.format(command=kind.value))
        if presser.key != pending.requester:
            return Refused(NOT_YOURS)
        if not may(presser, Action.SUMMARIZE):
            return Refused(NO_LONGER_MODERATOR)
        made_at, _ = self._pending.pop(token)
        return Claimed(token, pending, made_at)

    def put_back(self, claimed: Claimed[P]) -> None:
        """After a failed post: the preview waits again, with the age it had."""
        self._keep(claimed.token, claimed.made_at, claimed.pending)

    def __len__(self) -> int:
        return len(self._pending)

    def _keep(self, token: str, made_at: float, pending: Pending[P]) -> None:
        self._pending[token] = (made_at, pending)
        while len(self._pending) > self.limit:
            self._pending.popitem(last=False)
