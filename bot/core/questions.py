"""Members' use-cases: ask a question, vote on an answer, list the sources.

Written against ports (`QuestionPorts`) that the runtime provides, so the rules here (the
question's length, the per-person limit, who may do what, what is logged for votes) hold for
every platform, and nothing here knows how the store or the model were built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from bot.core.actors import Action, Actor, require
from bot.core.answer import Answer
from bot.core.composer import AnswerComposer
from bot.core.errors import QuestionError
from bot.core.feedback import Feedback, Vote
from bot.core.messages import EMPTY_QUESTION, LONG_QUESTION
from knowledge.language import reply_language
from bot.core.question_types import searchable_question
from bot.core.rate_limit import RateLimited, RateLimiter
from bot.core.refusals import RefusalLog
from index.retriever import Retriever
from knowledge.documents import DocumentInfo
from knowledge.store_interface import KnowledgeStore


_MAX_RETRIEVED = 100  # passages searched for one answer, "tell me more" included


def clean_question(text: str, limit: int) -> str:
    """Collapse white space and refuse empty or over-long questions before any work."""
    question = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not question:
        raise QuestionError(EMPTY_QUESTION).worded(EMPTY_QUESTION)
    if len(question) > limit:
        raise QuestionError(LONG_QUESTION.format(length=len(question), limit=limit)).worded(
            LONG_QUESTION, length=len(question), limit=limit)
    return question


@dataclass(frozen=True)
class QuestionLimits:
    """How long a question may be, and how many passages an answer is composed from."""

    max_question_chars: int
    retrieve_k: int


class QuestionPorts(Protocol):
    """What answering needs; each part is opened by the runtime on first use, so listing the
    sources never loads the model."""

    @property
    def store(self) -> KnowledgeStore: ...
    @property
    def retriever(self) -> Retriever: ...
    @property
    def composer(self) -> AnswerComposer: ...
    @property
    def feedback(self) -> Feedback: ...
    @property
    def limiter(self) -> RateLimiter: ...
    @property
    def read_limiter(self) -> RateLimiter: ...
    @property
    def refusals(self) -> RefusalLog: ...
    def ensure_open(self) -> None: ...


class Questions:
    """ask / vote / sources for one knowledge base."""

    def __init__(self, ports: QuestionPorts, limits: QuestionLimits) -> None:
        self._ports = ports
        self.limits = limits

    def clean(self, text: str) -> str:
        """The question as it will be answered, or `QuestionError` (adapters check early)."""
        return clean_question(text, self.limits.max_question_chars)

    def admit(self, actor: Actor) -> None:
        """Count one question of `actor` against their limit, or raise `RateLimited` (its
        first refusal in a wait audited, the rest collapsed into that row).

        Cheap and in memory, so adapters call it on their event loop before anything else (a
        thread, a "typing…", a queued job): a flood is turned away where it arrives."""
        require(actor, Action.ASK)
        self._limit(self._ports.limiter, actor, "ask", "rate limited: questions")

    def ask(self, question: str, actor: Actor | None = None, asked_at: date | None = None,
            admitted: bool = False, exclude_passages: frozenset[int] = frozenset()) -> Answer:
        """Answer with quotes. With an actor (chat users), the per-user limit applies (unless
        the adapter already counted this question with `admit`) and the question and answer
        are logged so that votes can refer to them. `asked_at` (default today) is the date
        "latest" and "this week" refer to; evaluations replay old questions.
        `exclude_passages` are never quoted ("tell me more": the next passages of an answer);
        as many more are retrieved, so the answer still has `retrieve_k` to choose from."""
        text = self.clean(question)
        ports = self._ports
        if actor is not None:
            require(actor, Action.ASK)
            if not admitted:
                self.admit(actor)
        ports.ensure_open()
        searched = searchable_question(text)  # "Is it true that X?" is searched as "X?"
        query = ports.retriever.embed_query(searched)
        # Bounded: a person pressing "More" again and again must not make each search, and
        # the composer's work on its hits, grow with the passages already quoted.
        wanted = min(self.limits.retrieve_k + len(exclude_passages), _MAX_RETRIEVED)
        hits = ports.retriever.search_vector(query, wanted, searched, asked_at)
        if exclude_passages:
            hits = [h for h in hits if h.stored.passage.id not in exclude_passages][: self.limits.retrieve_k]
        answer = ports.composer.compose(text, query, hits, asked_at)
        answer = replace(answer, language=reply_language(text))  # the words around the quotes
        if actor is not None:
            answer = replace(answer, id=ports.feedback.record_answer(actor, answer))
        return answer

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        require(actor, Action.VOTE)
        return self._ports.feedback.vote(actor, answer_id, value)

    def admit_read(self, actor: Actor, what: str) -> None:
        """Count one look at the sources (`/sources`, `/help`, a pager press) against the
        person's read limit: each loads the store, so a flood of them stalls everyone's
        questions. `what` names it in the audit log when refused."""
        require(actor, Action.LIST_SOURCES)
        self._limit(self._ports.read_limiter, actor, what, "rate limited: sources and help")

    def sources(self, actor: Actor | None = None) -> list[DocumentInfo]:
        if actor is not None:
            require(actor, Action.LIST_SOURCES)
        self._ports.ensure_open()
        return self._ports.store.documents()

    def source_count(self) -> int:
        """How many documents answers come from (for /help): a count, not every document."""
        self._ports.ensure_open()
        return self._ports.store.document_count()

    def _limit(self, limiter: RateLimiter, actor: Actor, action: str, reason: str) -> None:
        try:
            limiter.check(actor.key)
        except RateLimited:
            self._ports.refusals.record(actor, action, "", reason)
            raise
