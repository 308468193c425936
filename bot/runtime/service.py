"""The core service: the plain-Python entry points every adapter calls.

It owns the store, the index and the model for one data folder, opens them lazily (so a CLI
command that only lists sources never loads the model) and validates user input before any
work starts.
"""

from __future__ import annotations

import getpass
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.actors import LOCAL_PLATFORM, SCHEDULER, Action, Actor, RoleDirectory, require
from bot.core.answer import Answer
from bot.core.answer_sentences import AnswerSentences
from bot.core.audit import Audit
from bot.runtime.backends import choose_backend
from bot.core.feedback import Feedback, Vote
from bot.core.rate_limit import RateLimiter
from bot.core.composer import AnswerComposer, AnswerPolicy
from bot.core.errors import QuestionError, SummaryError
from bot.core.relevance import RelevancePolicy
from bot.runtime.settings import Settings
from bot.core.summary import Digest, Summarizer, Summary
from index.embedder import Embedder, bundled_model_path
from index.embedder_choice import make_embedder
from index.embedding_cache import CachedEmbedder, EmbeddingCache
from index.retriever import RetrievalPolicy, Retriever
from index.interfaces import RepairReport, VectorIndex
from index.writer import IngestReport, KnowledgeWriter, Progress
from knowledge.documents import Document, DocumentInfo, parse_published
from knowledge.errors import ConfigError, SourceError
from knowledge.feeds import FeedStore, PollReport
from knowledge.readers import ReadResult, read_markdown, read_paths
from knowledge.store_interface import KnowledgeStore

if TYPE_CHECKING:
    from bot.core.admin import KnowledgeAdmin

log = logging.getLogger(__name__)

BUILTIN_ADDED_BY = "builtin"
DIGEST_SETTLE = timedelta(minutes=1)  # documents added this recently wait for the next digest


def builtin_documents() -> list[Document]:
    """The knowledge that ships with the project (the seed article)."""
    folder = resources.files("knowledge") / "builtin"
    with resources.as_file(folder) as path:
        return [read_markdown(p, BUILTIN_ADDED_BY) for p in sorted(Path(path).glob("*.md"))]


def _date_arg(name: str, value: str | None) -> str | None:
    try:
        return parse_published(value.strip() if value else None)
    except SourceError:
        raise SummaryError(f"bad {name} date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _first_day(partial: str) -> str:
    """'2024' -> '2024-01-01', '2024-11' -> '2024-11-01'."""
    return (partial + "-01-01")[:10] if len(partial) == 4 else (partial + "-01")[:10]


def clean_question(text: str, limit: int) -> str:
    """Collapse white space and refuse empty or over-long questions before any work."""
    question = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not question:
        raise QuestionError("Please ask a question: the message is empty.")
    if len(question) > limit:
        raise QuestionError(
            f"The question is too long ({len(question):,} characters; the limit is {limit:,})."
        )
    return question


class CrisisBot:
    """ask / ingest / remove / sources / reindex over one knowledge base."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        embedding_cache_path: Path | None = None,
    ) -> None:
        """`embedding_cache_path` overrides the settings' one: `crisisbot eval` builds a
        throwaway knowledge base but reuses the vectors cached in the real data folder."""
        self.settings = settings
        self.backend = choose_backend(settings)
        self._embedder = embedder
        self.embedding_cache_path = embedding_cache_path or settings.embedding_cache_path
        self._embedding_cache: EmbeddingCache | None = None
        self._open_lock = threading.Lock()
        self._opened = False

    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        path = self.settings.model_path or bundled_model_path()
        s = self.settings
        # The export lives beside the embedding cache, so `crisisbot eval` (a throwaway
        # knowledge base) reuses the data folder's export as it reuses its cached vectors.
        return make_embedder(path, s.model_name, s.embedding_backend, s.embedding_quantize,
                             cache_dir=self.embedding_cache_path.parent / "onnx")

    @cached_property
    def store(self) -> KnowledgeStore:
        return self.backend.open_store()

    @cached_property
    def index(self) -> VectorIndex:
        return self.backend.open_index(self.store, self.embedder.name, self.embedder.dimension)

    @cached_property
    def knowledge_embedder(self) -> Embedder:
        """The embedder for texts of the knowledge base (passages, the sentences answers quote),
        cached in the data folder. Never for questions: the cache must hold no user text."""
        if not self.settings.embedding_cache:
            return self.embedder
        self._embedding_cache = EmbeddingCache(self.embedding_cache_path)
        return CachedEmbedder(self.embedder, self._embedding_cache)

    @cached_property
    def writer(self) -> KnowledgeWriter:
        return KnowledgeWriter(self.store, self.index, self.knowledge_embedder, self.backend.write_lock())

    @cached_property
    def answer_sentences(self) -> AnswerSentences:
        return AnswerSentences(self.store, self.knowledge_embedder)

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        policy = RetrievalPolicy(
            lexical_weight=s.lexical_weight,
            candidates=s.retrieval_candidates,
            recency_weight=s.recency_weight,
            recency_days=s.recency_days,
        )
        return Retriever(self.store, self.index, self.embedder, self.backend.open_lexical(self.store), policy)

    @cached_property
    def feedback(self) -> Feedback:
        return self.backend.open_feedback()

    @cached_property
    def audit(self) -> Audit:
        return self.backend.open_audit()

    @cached_property
    def feeds(self) -> FeedStore:
        return self.backend.open_feeds()

    @cached_property
    def admin(self) -> KnowledgeAdmin:
        """Admin operations on the knowledge base, each checked and written to the audit log."""
        from bot.core.admin import KnowledgeAdmin

        return KnowledgeAdmin(self)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.questions_per_minute, 60.0)

    @cached_property
    def roles(self) -> RoleDirectory:
        s = self.settings
        return RoleDirectory(
            admins={"telegram": frozenset(str(i) for i in s.telegram_admin_ids)},
            moderators={"telegram": frozenset(str(i) for i in s.telegram_moderator_ids)},
        )

    @cached_property
    def composer(self) -> AnswerComposer:
        s = self.settings
        policy = AnswerPolicy(
            relevance=RelevancePolicy(
                min_score=s.min_passage_score,
                min_shared_terms=s.min_shared_terms,
                phrase_floor=s.phrase_match_floor,
            ),
            min_sentence_score=s.min_sentence_score,
            max_sentences=s.max_answer_sentences,
        )
        return AnswerComposer(self.knowledge_embedder, policy)

    def open(self) -> RepairReport:
        """Seed an empty knowledge base, then load the index and mend it against the store."""
        with self._open_lock:
            self._seed_if_new()  # may already have opened the index
            report = self.index.refresh_if_stale()
            self._opened = True
            return report

    def warm_up(self) -> None:
        """Open, then run one retrieval, so a serving bot has loaded the model and built what
        retrieval computes from every passage (BM25, the vectors' statistics: about a minute
        at a million passages) before its first member asks, not during that question."""
        self.open()
        self.retriever.search("warm up", 1)

    def ensure_open(self) -> None:
        if not self._opened:
            self.open()

    def _seed_if_new(self) -> None:
        """Load the built-in knowledge once, into a data folder that never had any.

        Idempotent: a crash before the flag is set re-runs it, and the content hash stops the
        seed article from being added twice. A folder whose owner removed it stays as it is.
        """
        if self.store.get_meta("initialised") is not None:
            return
        if self.settings.load_builtin_knowledge and self.store.document_count() == 0:
            log.info("empty knowledge base: loading the built-in knowledge")
            self.writer.ingest(builtin_documents())
        self.store.set_meta("initialised", "1")

    # -- members ----------------------------------------------------------------------------

    def actor(
        self,
        platform: str,
        user_id: object,
        name: str = "",
        platform_moderator: bool = False,
        platform_admin: bool = False,
    ) -> Actor:
        """The neutral person an adapter passes in, with the roles the core grants them."""
        roles = self.roles.roles_of(platform, str(user_id), platform_moderator, platform_admin)
        return Actor(platform, str(user_id), name, roles)

    def local_operator(self, user_name: str | None = None) -> Actor:
        """The person at the server's terminal: an admin, since they own the data folder."""
        user = user_name or getpass.getuser()
        return self.actor(LOCAL_PLATFORM, user, user, platform_admin=True)

    def ask(self, question: str, actor: Actor | None = None, asked_at: date | None = None) -> Answer:
        """Answer with quotes. With an actor (chat users), the per-user limit applies and the
        question and answer are logged so that votes can refer to them. `asked_at` (default
        today) is the date "latest" and "this week" refer to; evaluations replay old questions."""
        question = clean_question(question, self.settings.max_question_chars)
        if actor is not None:
            require(actor, Action.ASK)
            self.limiter.check(actor.key)
        self.ensure_open()
        query = self.retriever.embed_query(question)
        hits = self.retriever.search_vector(query, self.settings.retrieve_k, question, asked_at)
        answer = self.composer.compose(question, query, hits)
        if actor is not None:
            answer = replace(answer, id=self.feedback.record_answer(actor, answer))
        return answer

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        require(actor, Action.VOTE)
        return self.feedback.vote(actor, answer_id, value)

    def sources(self, actor: Actor | None = None) -> list[DocumentInfo]:
        if actor is not None:
            require(actor, Action.LIST_SOURCES)
        self.ensure_open()
        return self.store.documents()

    # -- admins -----------------------------------------------------------------------------

    def read(self, paths: Iterable[Path], added_by: str,
             csv_columns: Mapping[str, str] | None = None) -> ReadResult:
        """Read and validate every source before anything is written; `csv_columns` maps
        document fields to the columns of CSV files (see `parse_column_mapping`)."""
        return read_paths(paths, added_by, csv_columns=csv_columns)

    def ingest(self, documents: list[Document], progress: Progress | None = None) -> IngestReport:
        """Write the documents; then, in the background, embed the sentences answers may quote
        from them (`warm_answer_sentences`), so the first answers from them are quick."""
        self.ensure_open()
        report = self.writer.ingest(documents, progress)
        if self.settings.warm_answer_sentences and self.settings.embedding_cache:
            self.answer_sentences.submit(report.passage_ids)
        return report

    def embed_answer_sentences(self, passage_ids: Sequence[int] | None = None,
                               progress: Progress | None = None) -> int:
        """Embed (into the embedding cache) the answer sentences of these passages, default
        all, that it lacks; returns how many. `crisisbot prepare-answers` runs it."""
        if not self.settings.embedding_cache:
            raise ConfigError("preparing answers needs the embedding cache (CRISISBOT_EMBEDDING_CACHE=true)")
        self.ensure_open()
        return self.answer_sentences.embed(passage_ids, progress)

    def remove(self, document_id: str) -> int:
        self.ensure_open()
        return self.writer.remove(document_id)

    def reindex(self, progress: Progress | None = None) -> RepairReport:
        self._seed_if_new()
        return self.writer.reindex(progress)

    # -- moderators -------------------------------------------------------------------------

    @cached_property
    def summarizer(self) -> Summarizer:
        s = self.settings
        relevance = RelevancePolicy(min_score=s.min_passage_score, min_shared_terms=s.min_shared_terms,
                                    phrase_floor=s.phrase_match_floor)
        return Summarizer(self.store, self.retriever, self.knowledge_embedder, relevance)

    def summarize(
        self, topic: str | None, since: str | None = None, until: str | None = None,
        max_sentences: int | None = None, actor: Actor | None = None,
    ) -> Summary:
        """"What we know about X": quoted sentences on `topic` (or on everything published in
        the date range), in date order, each cited. With an actor (chat), moderators only."""
        if actor is not None:
            require(actor, Action.SUMMARIZE)
        clean_topic = " ".join((topic or "").split()) or None
        if clean_topic is not None and len(clean_topic) > self.settings.max_question_chars:
            raise SummaryError(f"The topic is too long ({len(clean_topic):,} characters; the limit is "
                               f"{self.settings.max_question_chars:,}).")
        first, last = _date_arg("since", since), _date_arg("until", until)
        if first and last and first[: len(last)] > last[: len(first)]:
            raise SummaryError(f"the range ends ({last}) before it starts ({first})")
        count = self.settings.summary_sentences if max_sentences is None else max_sentences
        if not 1 <= count <= 20:
            raise SummaryError("the number of sentences must be between 1 and 20")
        self.ensure_open()
        return self.summarizer.summarize(clean_topic, first, last, count)

    def digest(
        self, actor: Actor | None = None, since: str | None = None, key: str | None = None,
        now: datetime | None = None,
    ) -> Digest:
        """The documents added since `since` (a date, from its start in UTC), else since the
        digest last posted under `key` (a chat or channel), else in the last 7 days; up to a
        minute before `now`.

        The last minute waits for the next digest: a write stamps its documents' time before
        it commits, so one still committing could otherwise fall between two digests and be
        lost. With the margin every document lands in exactly one digest of a key."""
        if actor is not None:
            require(actor, Action.SUMMARIZE)
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        end = moment - DIGEST_SETTLE
        first = _date_arg("since", since)
        self.ensure_open()
        if first is not None:
            start = datetime.fromisoformat(_first_day(first)).replace(tzinfo=timezone.utc)
        elif key is not None and (last := self.store.get_meta(f"digest:{key}")) is not None:
            start = datetime.fromisoformat(last)
        else:
            start = moment - timedelta(days=7)
        return self.summarizer.digest(
            start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"),
            self.settings.digest_topics, 2,
        )

    def mark_digest_posted(self, key: str, digest: Digest) -> None:
        """The next digest under `key` starts where this one ended; call only once it is posted.

        Never moves back: an older preview posted after a newer digest went out must not make
        the next one repeat what was already posted. One atomic step in the store, since the
        worker and a moderator in a chat process may mark the same place at once."""
        until = datetime.fromisoformat(digest.until).astimezone(timezone.utc).isoformat(timespec="seconds")
        self.store.advance_meta(f"digest:{key}", until)  # UTC ISO times sort as they happen

    def poll_feeds_scheduled(self) -> list[PollReport]:
        """The scheduled poll the adapters run every `feed_poll_minutes`: every feed, as the
        feed poller, audited per feed, with one summary line logged.

        It never raises, so no scheduler (PTB's JobQueue, a discord.py `tasks.loop`) can be
        stopped by one bad run: a poll still running (a slow feed, or an admin's poll) makes
        this one a no-op, a feed's failure is in its report and the audit log, and anything
        unexpected is logged with its traceback and retried at the next run."""
        from bot.core.admin import AdminError
        from bot.core.render import poll_summary

        try:
            reports = self.admin.poll_feeds(SCHEDULER)
        except AdminError as exc:
            log.info("scheduled feed poll skipped: %s", exc)
            return []
        except Exception:
            log.exception("scheduled feed poll failed")
            return []
        log.info("scheduled feed poll: %s", poll_summary(reports))
        return reports

    def close(self) -> None:
        if "answer_sentences" in self.__dict__:
            self.answer_sentences.close()
        if "retriever" in self.__dict__ and not self.retriever.wait_for_builds(timeout=120):
            log.warning("closing while a background rebuild still runs; it will stop with an error")
        if "store" in self.__dict__:
            self.store.close()
        if "feedback" in self.__dict__:
            self.feedback.close()
        if "audit" in self.__dict__:
            self.audit.close()
        if "feeds" in self.__dict__:
            self.feeds.close()
        if self._embedding_cache is not None:
            self._embedding_cache.close()
        self.backend.close()
