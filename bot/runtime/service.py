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
from contextlib import AbstractContextManager
from datetime import date, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path

from bot.core.actors import LOCAL_PLATFORM, Actor, RoleDirectory
from bot.core.admin import KnowledgeAdmin
from bot.core.answer import Answer
from bot.core.answer_sentences import AnswerSentences
from bot.core.audit import Audit
from bot.runtime.backends import choose_backend
from bot.core.feedback import Feedback, Vote
from bot.core.messages import MODERATOR_LIMITED, READS_LIMITED
from bot.core.rate_limit import RateLimiter
from bot.core.refusals import RefusalLog
from bot.core.composer import AnswerComposer, AnswerPolicy
from bot.core.relevance import GatePolicy
from bot.runtime.settings import Settings
from bot.core.questions import QuestionLimits, Questions
from bot.core.conversation import Conversation, ConversationLimits
from bot.core.summaries import Summaries, SummaryLimits
from bot.core.summary import Digest, Summarizer, Summary
from bot.runtime.multilingual import MultilingualParts
from index.embedder import Embedder, bundled_model_path
from index.embedder_choice import make_embedder
from index.embedding_cache import CachedEmbedder, EmbeddingCache
from index.retriever import RetrievalPolicy, Retriever
from index.interfaces import RepairReport, VectorIndex
from index.writer import IngestReport, KnowledgeWriter, Progress
from knowledge.documents import Document, DocumentInfo
from knowledge.errors import ConfigError
from knowledge.feed_poll import FeedLimits
from knowledge.feeds import FeedStore, PollReport
from knowledge.readers import ReadResult, read_markdown, read_paths
from knowledge.store_interface import KnowledgeStore

log = logging.getLogger(__name__)

BUILTIN_ADDED_BY = "builtin"


def builtin_documents() -> list[Document]:
    """The knowledge that ships with the project (the seed article)."""
    folder = resources.files("knowledge") / "builtin"
    with resources.as_file(folder) as path:
        return [read_markdown(p, BUILTIN_ADDED_BY) for p in sorted(Path(path).glob("*.md"))]


class CrisisBot:
    """The composition root of one knowledge base: builds the store, the index, the model and
    the core's use-cases from the settings, each on first use (a CLI command that only lists
    sources never loads the model), and closes them. The use-cases themselves live in
    `bot.core` (`questions`, `summaries`, `admin`); the few methods below that carry their
    names only hand over to them, so the CLI and tests read as before."""

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
        self._cache_lock = threading.Lock()
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
        cache = self._cache()
        return self.embedder if cache is None else CachedEmbedder(self.embedder, cache)

    def _cache(self) -> EmbeddingCache | None:
        """The embedding cache of passage vectors (MiniLM's and e5's), if on; opened once."""
        if not self.settings.embedding_cache:
            return None
        with self._cache_lock:  # the fill's thread and this one may both ask first
            if self._embedding_cache is None:
                self._embedding_cache = EmbeddingCache(self.embedding_cache_path)
        return self._embedding_cache

    @cached_property
    def multilingual(self) -> MultilingualParts | None:
        """e5 beside MiniLM (bot.runtime.multilingual), when the settings turn it on."""
        if not self.settings.multilingual_retrieval:
            return None
        return MultilingualParts(self.settings, self.backend, self.store, self.embedding_cache_path.parent / "onnx",
                                 self._cache, self.backend.write_lock())

    @cached_property
    def writer(self) -> KnowledgeWriter:
        second = None if self.multilingual is None else self.multilingual.writing()
        return KnowledgeWriter(self.store, self.index, self.knowledge_embedder, self.backend.write_lock(),
                               multilingual=second)

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
            multilingual_weight=s.multilingual_weight,
            multilingual_lexical_weight=s.multilingual_lexical_weight,
        )
        second = None if self.multilingual is None else self.multilingual.retrieval
        return Retriever(self.store, self.index, self.embedder, self.backend.open_lexical(self.store), policy,
                         multilingual=second)

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
        limits = FeedLimits(self.settings.feed_max_new_entries, self.settings.feed_poll_budget_seconds)
        return KnowledgeAdmin(self, limits)

    @cached_property
    def questions(self) -> Questions:
        s = self.settings
        return Questions(self, QuestionLimits(s.max_question_chars, s.retrieve_k))

    @cached_property
    def conversation(self) -> Conversation:
        """One per bot: every chat's follow-ups are remembered here (per person and chat)."""
        s = self.settings
        limits = ConversationLimits(s.conversation_turns, s.conversation_minutes, s.conversation_max_keys,
                                    s.more_button_hours)
        return Conversation(self.questions, limits, ask=self._ask_late)

    def _ask_late(self, question: str, actor: Actor | None, asked_at: date | None, admitted: bool,
                  exclude_passages: frozenset[int]) -> Answer:
        """`ask`, looked up at each call: a conversation's questions go through the same entry
        point as every other question (and a test that replaces `ask` replaces it for chats too)."""
        return self.ask(question, actor, asked_at, admitted, exclude_passages)

    @cached_property
    def summaries(self) -> Summaries:
        s = self.settings
        return Summaries(self, SummaryLimits(s.max_question_chars, s.summary_sentences, s.digest_topics,
                                             s.max_concurrent_summaries))

    @property
    def allow_private_urls(self) -> bool:
        return self.settings.allow_private_urls

    def feed_poll_lock(self) -> AbstractContextManager[bool]:
        """Held while feeds are polled, across every process sharing the knowledge base."""
        return self.backend.feed_poll_lock()

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.questions_per_minute, 60.0)

    @cached_property
    def read_limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.source_requests_per_minute, 60.0, template=READS_LIMITED)

    @cached_property
    def moderator_limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.moderator_requests_per_minute, 60.0, template=MODERATOR_LIMITED)

    @cached_property
    def refusals(self) -> RefusalLog:
        """Refused chat requests in the audit log, one row per person and reason a minute."""
        return RefusalLog(lambda: self.audit, 60.0)

    @cached_property
    def roles(self) -> RoleDirectory:
        s = self.settings
        return RoleDirectory(
            admins={"telegram": frozenset(str(i) for i in s.telegram_admin_ids)},
            moderators={"telegram": frozenset(str(i) for i in s.telegram_moderator_ids)},
            admin_groups={"discord": frozenset(str(i) for i in s.discord_admin_role_ids)},
            moderator_groups={"discord": frozenset(str(i) for i in s.discord_moderator_role_ids)},
        )

    @cached_property
    def composer(self) -> AnswerComposer:
        s = self.settings
        policy = AnswerPolicy(
            relevance=GatePolicy(threshold=s.gate_threshold),
            min_sentence_score=s.min_sentence_score,
            max_sentences=s.max_answer_sentences,
        )
        return AnswerComposer(self.knowledge_embedder, policy, document_text=self.store.document_text)

    def open(self) -> RepairReport:
        """Seed an empty knowledge base, then load the index and mend it against the store."""
        with self._open_lock:
            self._seed_if_new()  # may already have opened the index
            report = self.index.refresh_if_stale()
            if self.multilingual is not None:  # fills missing e5 vectors in the background
                self.multilingual.open()
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
        group_ids: Iterable[object] = (),
    ) -> Actor:
        """The neutral person an adapter passes in, with the roles the core grants them
        (`group_ids`: the platform groups they are in, such as Discord server roles)."""
        roles = self.roles.roles_of(platform, str(user_id), platform_moderator, platform_admin,
                                    [str(g) for g in group_ids])
        return Actor(platform, str(user_id), name, roles)

    def local_operator(self, user_name: str | None = None) -> Actor:
        """The person at the server's terminal: an admin, since they own the data folder."""
        user = user_name or getpass.getuser()
        return self.actor(LOCAL_PLATFORM, user, user, platform_admin=True)

    def ask(self, question: str, actor: Actor | None = None, asked_at: date | None = None,
            admitted: bool = False, exclude_passages: frozenset[int] = frozenset()) -> Answer:
        return self.questions.ask(question, actor, asked_at, admitted, exclude_passages)

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        return self.questions.vote(actor, answer_id, value)

    def sources(self, actor: Actor | None = None) -> list[DocumentInfo]:
        return self.questions.sources(actor)

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
        relevance = GatePolicy(threshold=s.gate_threshold)
        return Summarizer(self.store, self.retriever, self.knowledge_embedder, relevance)

    def summarize(
        self, topic: str | None, since: str | None = None, until: str | None = None,
        max_sentences: int | None = None, actor: Actor | None = None, admitted: bool = False,
    ) -> Summary:
        return self.summaries.summarize(topic, since, until, max_sentences, actor, admitted)

    def digest(
        self, actor: Actor | None = None, since: str | None = None, key: str | None = None,
        now: datetime | None = None, admitted: bool = False,
    ) -> Digest:
        return self.summaries.digest(actor, since, key, now, admitted)

    def mark_digest_posted(self, key: str, digest: Digest) -> None:
        self.summaries.mark_posted(key, digest)

    def poll_feeds_scheduled(self) -> list[PollReport]:
        return self.admin.poll_feeds_scheduled()

    def close(self) -> None:
        """Stop and join the background work first: a thread still inside torch, onnxruntime
        or faiss when the interpreter exits aborts the process (SIGABRT, exit 134)."""
        multilingual = self.__dict__.get("multilingual")
        if multilingual is not None and not multilingual.close(timeout=120):
            log.warning("closing while the multilingual vectors are still being filled")
        if "answer_sentences" in self.__dict__:
            self.answer_sentences.close()
        if "retriever" in self.__dict__ and not self.retriever.wait_for_builds(timeout=120):
            log.warning("closing while a background rebuild still runs; it will stop with an error")
        # The embedded index trains and saves an approximate copy in a thread (PostgreSQL's has none).
        for index in (self.__dict__.get("index"), multilingual and multilingual.__dict__.get("index")):
            index_build = getattr(index, "wait_for_build", None)
            if index_build is not None and not index_build(timeout=600):
                log.warning("closing while the search index is still built in the background")
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
