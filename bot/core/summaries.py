"""Moderators' use-cases: a summary of what the knowledge base says on a topic, and the digest
of what was added to it, with the bookkeeping that keeps digests from repeating or losing a
document (`mark_posted`).

The summarising itself is `bot.core.summary.Summarizer`; this module checks the request (who,
which dates, how long) and decides the digest's window.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from bot.core.actors import Action, Actor, NotAllowed, require
from bot.core.errors import SummaryError
from bot.core.messages import BACKWARD_RANGE, BAD_DATE, LONG_TOPIC, SENTENCE_COUNT, SUMMARY_BUSY
from bot.core.rate_limit import RateLimited, RateLimiter
from bot.core.refusals import RefusalLog
from bot.core.summary import Digest, Summarizer, Summary
from knowledge.documents import parse_published
from knowledge.errors import SourceError
from knowledge.store_interface import KnowledgeStore

DIGEST_SETTLE = timedelta(minutes=1)  # documents added this recently wait for the next digest
DEFAULT_DIGEST_DAYS = 7
MAX_SUMMARY_SENTENCES = 20



def date_arg(name: str, value: str | None) -> str | None:
    """A partial ISO date from a person ('2024', '2024-11', '2024-11-05'), or None."""
    try:
        return parse_published(value.strip() if value else None)
    except SourceError:
        raise SummaryError(BAD_DATE.format(name=name, value=value)) from None


def first_day(partial: str) -> str:
    """'2024' -> '2024-01-01', '2024-11' -> '2024-11-01'."""
    return (partial + "-01-01")[:10] if len(partial) == 4 else (partial + "-01")[:10]


@dataclass(frozen=True)
class SummaryLimits:
    """The settings a summary request is checked against."""

    max_topic_chars: int
    default_sentences: int
    digest_topics: int
    max_concurrent: int = 1  # summaries and digests made at once; the rest are refused as busy


class SummaryPorts(Protocol):
    """What summaries and digests need; opened by the runtime on first use."""

    @property
    def store(self) -> KnowledgeStore: ...
    @property
    def summarizer(self) -> Summarizer: ...
    @property
    def moderator_limiter(self) -> RateLimiter: ...
    @property
    def refusals(self) -> RefusalLog: ...
    def ensure_open(self) -> None: ...


class Summaries:
    """summarize / digest / mark_posted for one knowledge base."""

    def __init__(self, ports: SummaryPorts, limits: SummaryLimits) -> None:
        self._ports = ports
        self.limits = limits
        # Summaries run on the question threads: the cap keeps some of them for members' answers.
        self._slots = threading.BoundedSemaphore(limits.max_concurrent)

    def admit(self, actor: Actor, action: str, target: str = "") -> None:
        """Count one summary or digest request of `actor` against the moderators' limit (its
        first refusal in a wait audited). Before the role check, so that even a non-moderator's
        attempts stop being answered after a few. Cheap: adapters call it on their event loop
        before any work, then pass `admitted=True`."""
        try:
            self._ports.moderator_limiter.check(actor.key)
        except RateLimited:
            self._ports.refusals.record(actor, action, target, "rate limited: summaries and digests")
            raise

    def _check(self, actor: Actor | None, admitted: bool, action: str, target: str) -> None:
        """The limit (unless admitted), then the role; a refused role is audited as an admin's is."""
        if actor is None:
            return
        if not admitted:
            self.admit(actor, action, target)
        try:
            require(actor, Action.SUMMARIZE)
        except NotAllowed:
            self._ports.refusals.record(actor, action, target, "not a moderator")
            raise

    @contextmanager
    def _slot(self, wait: bool) -> Iterator[None]:
        """One of the `max_concurrent` places; a person is refused when none is free (a thread
        waiting for one would be a question thread lost), the scheduled digest waits."""
        if not self._slots.acquire(blocking=wait):
            raise SummaryError(SUMMARY_BUSY)
        try:
            yield
        finally:
            self._slots.release()

    def summarize(
        self, topic: str | None, since: str | None = None, until: str | None = None,
        max_sentences: int | None = None, actor: Actor | None = None, admitted: bool = False,
    ) -> Summary:
        """"What we know about X": quoted sentences on `topic` (or on everything published in
        the date range), in date order, each cited. With an actor (chat), moderators only,
        within their limit (unless the adapter already counted this request with `admit`)."""
        self._check(actor, admitted, "summary", topic or "")
        clean_topic = " ".join((topic or "").split()) or None
        limit = self.limits.max_topic_chars
        if clean_topic is not None and len(clean_topic) > limit:
            raise SummaryError(LONG_TOPIC.format(length=len(clean_topic), limit=limit))
        first, last = date_arg("since", since), date_arg("until", until)
        if first and last and first[: len(last)] > last[: len(first)]:
            raise SummaryError(BACKWARD_RANGE.format(first=first, last=last))
        count = self.limits.default_sentences if max_sentences is None else max_sentences
        if not 1 <= count <= MAX_SUMMARY_SENTENCES:
            raise SummaryError(SENTENCE_COUNT.format(limit=MAX_SUMMARY_SENTENCES))
        self._ports.ensure_open()
        with self._slot(wait=actor is None):
            return self._ports.summarizer.summarize(clean_topic, first, last, count)

    def digest(
        self, actor: Actor | None = None, since: str | None = None, key: str | None = None,
        now: datetime | None = None, admitted: bool = False,
    ) -> Digest:
        """The documents added since `since` (a date, from its start in UTC), else since the
        digest last posted under `key` (a chat or channel), else in the last 7 days; up to a
        minute before `now`.

        The last minute waits for the next digest: a write stamps its documents' time before
        it commits, so one still committing could otherwise fall between two digests and be
        lost. With the margin every document lands in exactly one digest of a key.

        With an actor, as `summarize`: moderators only, within their limit."""
        self._check(actor, admitted, "digest", since or "")
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        end = moment - DIGEST_SETTLE
        first = date_arg("since", since)
        self._ports.ensure_open()
        if first is not None:
            start = datetime.fromisoformat(first_day(first)).replace(tzinfo=timezone.utc)
        elif key is not None and (last := self._ports.store.get_meta(f"digest:{key}")) is not None:
            start = datetime.fromisoformat(last)
        else:
            start = moment - timedelta(days=DEFAULT_DIGEST_DAYS)
        with self._slot(wait=actor is None):
            return self._ports.summarizer.digest(
                start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"),
                self.limits.digest_topics, 2,
            )

    def mark_posted(self, key: str, digest: Digest) -> None:
        """The next digest under `key` starts where this one ended; call only once it is posted.

        Never moves back: an older preview posted after a newer digest went out must not make
        the next one repeat what was already posted. One atomic step in the store, since the
        worker and a moderator in a chat process may mark the same place at once."""
        until = datetime.fromisoformat(digest.until).astimezone(timezone.utc).isoformat(timespec="seconds")
        self._ports.store.advance_meta(f"digest:{key}", until)  # UTC ISO times sort as they happen
