"""Admins update the knowledge base: add a URL, pasted text or files, remove, re-kind, refresh.

Every operation passes the one role check in `bot.core.actors` and every change, every refused
attempt and every failure is written to the audit log before the result (or the exception)
goes back to the adapter. Fetching and extraction happen before anything is written, so a
broken source never leaves half a document behind; the writer then commits whole documents.
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
import time
from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from bot.core.actors import SCHEDULER, Action, Actor, NotAllowed, require
from bot.core.audit import Audit, AuditEntry
from bot.core.feedback import Feedback
from bot.core.interrupted import IngestInterrupted, kept_documents
from bot.core.new_documents import date_filter, fetch_document, parse_kind, text_document
from bot.core.render import describe_poll, poll_summary
from bot.core.coverage import MAX_GAP_QUESTIONS, GapCluster, KnowledgeStats, group_gaps, week_start, weekly_stats
from index.embedder import Embedder
from index.writer import IngestReport, KnowledgeWriter, Progress
from knowledge.crash_test_hook import crash_test_point
from knowledge.documents import Document, DocumentInfo, Kind
from knowledge.errors import CrisisbotError
from knowledge.feed_poll import FeedLimits, poll_feed
from knowledge.feeds import FeedEntry, FeedStore, PollReport, Subscription, parse_feed
from knowledge.readers import ReadResult
from knowledge.sql_bounds import page_offset
from knowledge.store_interface import KnowledgeStore


log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PER_PAGE = 100
MAX_STATS_WEEKS = 104


class AdminError(CrisisbotError):
    """An admin operation cannot be done as asked (no URL to refresh, a page that is not there)."""


@dataclass(frozen=True)
class Page:
    """One page of a document listing; `page` counts from 1."""

    items: list[DocumentInfo]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class FilesAdded:
    """What adding files did, and which files inside folders were not ours to read."""

    report: IngestReport
    skipped: list[Path]


def describe(report: IngestReport) -> str:
    """The outcome of an ingest in a few words, for the audit log and for people."""
    copies = report.near_duplicates
    if len(report.added) + len(report.replaced) + len(report.unchanged) + len(copies) == 1:
        if report.added:
            return f"added {report.added[0]} ({report.passages} passages)"
        if report.replaced:
            return f"replaced {report.replaced[0]} ({report.passages} passages)"
        if copies:
            return f"not added: {copies[0][0]} nearly repeats {copies[0][1]}"
        new_id, existing = report.unchanged[0]
        return "unchanged" if new_id == existing else f"unchanged (same text as {existing})"
    return (
        f"{len(report.added)} added, {len(report.replaced)} replaced, "
        f"{len(report.unchanged)} unchanged"
        + (f", {len(copies)} near-duplicates skipped" if copies else "")
        + f" ({report.passages} passages)"
    )


class AdminPorts(Protocol):
    """What knowledge administration needs of the runtime, and nothing more. Each part is
    opened on first use (listing sources must not load the model), so they are properties."""

    @property
    def store(self) -> KnowledgeStore: ...
    @property
    def writer(self) -> KnowledgeWriter: ...
    @property
    def audit(self) -> Audit: ...
    @property
    def feedback(self) -> Feedback: ...
    @property
    def feeds(self) -> FeedStore: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def allow_private_urls(self) -> bool: ...
    def ensure_open(self) -> None: ...
    def read(self, paths: Iterable[Path], added_by: str,
             csv_columns: Mapping[str, str] | None = None) -> ReadResult: ...
    def ingest(self, documents: builtins.list[Document], progress: Progress | None = None) -> IngestReport: ...
    def remove(self, document_id: str) -> int: ...
    def feed_poll_lock(self) -> AbstractContextManager[bool]: ...


class KnowledgeAdmin:
    """Admin operations over one knowledge base; adapters call these with the person's `Actor`."""

    def __init__(self, ports: AdminPorts, feed_limits: FeedLimits = FeedLimits()) -> None:
        self._bot = ports
        self._feed_limits = feed_limits
        # One poll at a time per process: a slow poll must not be overlapped by the next
        # scheduled one (or an admin's), which would fetch every new entry twice.
        self._polling = threading.Lock()

    # -- the one gate -------------------------------------------------------------------------

    def _run(
        self, actor: Actor, action: str, target: str, work: Callable[[], T],
        outcome: Callable[[T], str] | None,
    ) -> T:
        """Check the role, do the work and audit it. `outcome` None: a read, audited only
        when refused. A change's row is begun before the work and finished after it, so a
        process killed in between leaves a "started" row for what it committed."""
        audit = self._bot.audit
        try:
            require(actor, Action.CHANGE_KNOWLEDGE)
        except NotAllowed:
            audit.record(actor, action, target, "refused: not an admin")
            log.info("refused %s %s to %s", action, target, actor.key)
            raise
        if outcome is None:
            return work()
        entry = audit.begin(actor, action, target)
        crash_test_point("audit.started")
        try:
            value = work()
        except IngestInterrupted as exc:  # what was committed before Ctrl-C stays: say so
            audit.finish(entry, f"interrupted: {exc.outcome}")
            raise
        except KeyboardInterrupt:  # outside an import's batches: nothing of it was committed
            audit.finish(entry, "interrupted: nothing was changed")
            raise
        except CrisisbotError as exc:
            audit.finish(entry, f"error: {exc}")
            raise
        except Exception as exc:
            audit.finish(entry, f"error: unexpected {type(exc).__name__}")
            raise
        crash_test_point("audit.finish.before")
        audit.finish(entry, f"ok: {outcome(value)}")
        return value

    # -- changes ------------------------------------------------------------------------------

    def add_url(
        self, actor: Actor, url: str, kind: Kind | str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Fetch a web page or PDF and add it; the same URL again replaces the earlier version."""

        def work() -> IngestReport:
            document = fetch_document(self._bot.allow_private_urls, url, actor.key, parse_kind(kind))
            return self._bot.ingest([document], progress)

        return self._run(actor, "add-url", url, work, describe)

    def add_text(
        self, actor: Actor, title: str, text: str, kind: Kind | str | None = None,
        url: str | None = None, published: str | None = None, publisher: str | None = None,
    ) -> IngestReport:
        """Add text an admin pasted (a statement, a transcript) under a title."""
        clean_title = " ".join(title.split())

        def work() -> IngestReport:
            document = text_document(actor, clean_title, text, kind, url, published, publisher)
            return self._bot.ingest([document])

        return self._run(actor, "add-text", clean_title or "(untitled)", work, describe)

    def add_files(
        self, actor: Actor, paths: Iterable[Path], progress: Progress | None = None,
        added_by: str | None = None, csv_columns: Mapping[str, str] | None = None,
        label: str | None = None, kind: Kind | str | None = None,
    ) -> FilesAdded:
        """Read and validate every file first, then add them all (or nothing, on a bad one).

        `kind`, when given, overrides what the files say (front matter, a JSONL field).
        `label` names the files in the audit log when their paths mean nothing to a reader
        (an upload saved to a temporary folder is logged by the name it was sent under)."""
        paths = list(paths)

        def work() -> FilesAdded:
            forced = None if kind is None or kind == "" else parse_kind(kind)
            read = self._bot.read(paths, added_by or actor.key, csv_columns)
            documents = read.documents if forced is None else [replace(d, kind=forced) for d in read.documents]
            self._bot.ensure_open()
            known = set(self._bot.store.known_hashes([d.sha256 for d in documents]))
            try:
                return FilesAdded(self._bot.ingest(documents, progress), read.skipped)
            except KeyboardInterrupt:
                raise IngestInterrupted(kept_documents(self._bot.store, documents, known), len(documents)) from None

        target = label if label is not None else ", ".join(str(p) for p in paths)
        return self._run(actor, "add-files", target, work, lambda added: describe(added.report))

    def remove(self, actor: Actor, document_id: str) -> int:
        """Remove a document with its passages and vectors; returns the passage count."""

        def work() -> tuple[DocumentInfo, int]:
            self._bot.ensure_open()
            info = self._bot.store.document_info(document_id)
            return info, self._bot.remove(document_id)

        info, removed = self._run(
            actor, "remove", document_id, work,
            lambda done: f"removed {done[0].id} {done[0].title!r} ({done[1]} passages)",
        )
        return removed

    def set_kind(self, actor: Actor, document_id: str, kind: Kind | str) -> DocumentInfo:
        """Say what sort of source a document is; citations show it from the next answer on."""

        def work() -> tuple[Kind, DocumentInfo]:
            new_kind = parse_kind(kind, required=True)
            bot = self._bot
            bot.ensure_open()
            before = bot.store.document_info(document_id)
            bot.writer.set_kind(document_id, new_kind)
            return before.kind, bot.store.document_info(document_id)

        old, info = self._run(
            actor, "set-kind", document_id, work,
            lambda done: f"{document_id} kind {done[0].value} -> {done[1].kind.value}",
        )
        return info

    def refresh(self, actor: Actor, document_id: str, progress: Progress | None = None) -> IngestReport:
        """Fetch a document's URL again and store the new text under the same id.

        The kind, the URL and the first adder are kept; a page that no longer carries a date
        keeps the old one. Unchanged text is reported as such and nothing is written.
        """

        def work() -> IngestReport:
            bot = self._bot
            bot.ensure_open()
            old = bot.store.document_info(document_id)
            if not old.url:
                raise AdminError(f"{document_id} has no URL to refresh from (it came from a file or pasted text)")
            fetched = fetch_document(self._bot.allow_private_urls, old.url, old.added_by, old.kind)
            document = replace(
                fetched, id=old.id, url=old.url, published=fetched.published or old.published
            )
            return bot.ingest([document], progress)

        return self._run(actor, "refresh", document_id, work, describe)

    # -- reads (admins only; audited when refused) ---------------------------------------------

    def list(
        self, actor: Actor, page: int = 1, per_page: int = 10, publisher: str | None = None,
        kind: Kind | str | None = None, since: str | None = None, until: str | None = None,
    ) -> Page:
        """One page of the documents, newest publication first, optionally filtered."""

        def work() -> Page:
            if not 1 <= per_page <= MAX_PER_PAGE:
                raise AdminError(f"per page must be between 1 and {MAX_PER_PAGE}")
            if page < 1:
                raise AdminError("pages are numbered from 1")
            wanted_kind = None if kind is None or kind == "" else parse_kind(kind)
            first, last = date_filter("since", since), date_filter("until", until)
            self._bot.ensure_open()
            items, total = self._bot.store.documents_page(
                page_offset(page, per_page), per_page, publisher or None, wanted_kind, first, last
            )
            pages = max(1, math.ceil(total / per_page))
            if page > pages:
                raise AdminError(f"there is no page {page}: {total} documents make {pages} page(s)")
            return Page(items, page, pages, total)

        return self._run(actor, "list", f"page {page}", work, None)

    def show(self, actor: Actor, document_id: str) -> tuple[DocumentInfo, str]:
        """A document's details and its first passage."""

        def work() -> tuple[DocumentInfo, str]:
            self._bot.ensure_open()
            store = self._bot.store
            return store.document_info(document_id), store.first_passage_text(document_id)

        return self._run(actor, "show", document_id, work, None)

    def log(self, actor: Actor, limit: int = 20, page: int = 1) -> builtins.list[AuditEntry]:
        """The audit log, most recent first."""

        def work() -> builtins.list[AuditEntry]:
            if not 1 <= limit <= 1000:
                raise AdminError("the limit must be between 1 and 1000")
            if page < 1:
                raise AdminError("pages are numbered from 1")
            return self._bot.audit.entries(limit, page_offset(page, limit))

        return self._run(actor, "log", f"page {page}", work, None)

    # -- feeds --------------------------------------------------------------------------------

    def subscribe(self, actor: Actor, url: str) -> Subscription:
        """Follow an RSS or Atom feed. It is fetched once now, so that a page that is not a
        feed (or a URL that cannot be reached) is refused at once rather than at every poll;
        its entries are taken in by the next poll."""

        def work() -> Subscription:
            from knowledge.url_guard import validate_url

            checked = validate_url(url).url
            feed = parse_feed(self._fetch_feed(checked), checked)
            return self._bot.feeds.subscribe(checked, actor.key, feed.title)

        return self._run(
            actor, "subscribe", url, work,
            lambda sub: f"subscribed to {sub.title or sub.url}",
        )

    def unsubscribe(self, actor: Actor, url: str) -> None:
        """Stop following a feed; the documents it brought in stay until removed."""
        self._run(actor, "unsubscribe", url, lambda: self._bot.feeds.unsubscribe(url.strip()),
                  lambda _: "unsubscribed")

    def feeds(self, actor: Actor) -> builtins.list[Subscription]:
        return self._run(actor, "feeds", "", self._bot.feeds.list, None)

    def poll_feeds(self, actor: Actor, progress: Progress | None = None) -> builtins.list[PollReport]:
        """Poll every subscribed feed now, each entry through the URL path (guard, limits,
        extraction, de-duplication). Each feed's outcome is a line of the audit log;
        `progress` hears (feeds polled, feeds) after each one. The feeds share one time
        budget and each takes at most its cap of new entries (`FeedLimits`); a feed that
        fails in any way is its report's error, and the poll goes on with the next one.

        Raises:
            AdminError: a poll is already running, in this process or another one sharing the knowledge.
        """

        busy = "the feeds are being polled already{}; try again when that poll is done"

        def work() -> builtins.list[PollReport]:
            if not self._polling.acquire(blocking=False):
                raise AdminError(busy.format(""))
            try:
                with self._bot.feed_poll_lock() as acquired:
                    if not acquired:
                        raise AdminError(busy.format(" by another process"))
                    subscriptions = self._bot.feeds.list()
                    reports = []
                    deadline = time.monotonic() + self._feed_limits.budget_seconds
                    for sub in subscriptions:
                        reports.append(self._poll_guarded(actor, sub, deadline))
                        if progress is not None:
                            progress(len(reports), len(subscriptions))
                    return reports
            finally:
                self._polling.release()

        return self._run(actor, "poll", "all feeds", work, None)  # each feed is audited

    def poll_feeds_scheduled(self) -> builtins.list[PollReport]:
        """The scheduled poll the adapters and the worker run every `feed_poll_minutes`: every
        feed, as the feed poller, audited per feed, with one summary line logged.

        It never raises, so no scheduler (PTB's JobQueue, a discord.py `tasks.loop`) can be
        stopped by one bad run: a poll still running (a slow feed, or an admin's poll) makes
        this one a no-op, a feed's failure is in its report and the audit log, and anything
        unexpected is logged with its traceback and retried at the next run."""
        try:
            reports = self.poll_feeds(SCHEDULER)
        except AdminError as exc:
            log.info("scheduled feed poll skipped: %s", exc)
            return []
        except Exception:
            log.exception("scheduled feed poll failed")
            return []
        log.info("scheduled feed poll: %s", poll_summary(reports))
        return reports

    def _poll_guarded(self, actor: Actor, sub: Subscription, deadline: float) -> PollReport:
        """One feed's poll, whose failure (already audited) is its report, never the poll's end."""
        try:
            return self._poll_one(actor, sub, deadline)
        except CrisisbotError as exc:  # e.g. unsubscribed while the poll ran
            return PollReport(sub.url, error=str(exc))
        except Exception as exc:
            log.exception("feed %s: poll failed unexpectedly", sub.url)
            return PollReport(sub.url, error=f"unexpected error ({type(exc).__name__})")

    def _poll_one(self, actor: Actor, sub: Subscription, deadline: float) -> PollReport:
        def add_entry(entry: FeedEntry) -> str | None:
            document = fetch_document(self._bot.allow_private_urls, entry.link, f"feed:{sub.url}", parse_kind(None))
            if document.published is None and entry.published:  # the feed dates it
                document = replace(document, published=entry.published)
            report = self._bot.ingest([document])
            if report.near_duplicates:
                return f"nearly repeats {report.near_duplicates[0][1]}"
            if report.unchanged:
                new_id, existing = report.unchanged[0]
                return "already stored" if new_id == existing else f"same text as {existing}"
            return None

        def work() -> PollReport:
            return poll_feed(self._bot.feeds, sub.url, self._fetch_feed, add_entry,
                             self._feed_limits, deadline)

        return self._run(actor, "poll-feed", sub.url, work, describe_poll)

    def _fetch_feed(self, url: str) -> bytes:
        from knowledge.fetching import FetchPolicy, fetch_feed

        return fetch_feed(url, FetchPolicy(allow_private=self._bot.allow_private_urls))

    # -- coverage -------------------------------------------------------------------------------

    def gaps(self, actor: Actor, since: str | None = None, limit: int = 10) -> builtins.list[GapCluster]:
        """Declined and 👎-voted questions since a date, grouped by meaning, biggest first."""

        def work() -> builtins.list[GapCluster]:
            if not 1 <= limit <= 100:
                raise AdminError("the number of groups must be between 1 and 100")
            first = date_filter("since", since)
            rows = self._bot.feedback.gap_questions(first, MAX_GAP_QUESTIONS)
            if not rows:
                return []
            return group_gaps(rows, self._bot.embedder)[:limit]

        return self._run(actor, "gaps", since or "all", work, None)

    def stats(self, actor: Actor, weeks: int = 8, today: date | None = None) -> KnowledgeStats:
        """Totals, and documents added, questions, answers and votes in each recent week."""

        def work() -> KnowledgeStats:
            if not 1 <= weeks <= MAX_STATS_WEEKS:
                raise AdminError(f"the number of weeks must be between 1 and {MAX_STATS_WEEKS}")
            day = today or datetime.now(timezone.utc).date()
            since = (week_start(day) - timedelta(weeks=weeks - 1)).isoformat()
            bot = self._bot
            bot.ensure_open()
            totals = bot.feedback.totals()
            return KnowledgeStats(
                documents=bot.store.document_count(),
                passages=bot.store.passage_count(),
                questions=totals.questions,
                answered=totals.answered,
                votes_up=totals.votes_up,
                votes_down=totals.votes_down,
                weeks=weekly_stats(bot.store.documents_added_by_week(since),
                                   bot.feedback.activity_by_week(since), weeks, day),
            )

        return self._run(actor, "stats", f"{weeks} weeks", work, None)
