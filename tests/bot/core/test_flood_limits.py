"""Issue 17, items 3 and 11 in the core: a limited person is told once per wait, their
refusals are one audit row per window, moderators have a limit of their own and a cap on
summaries made at once, and /help reads a count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.core.actors import Actor, NotAllowed
from bot.core.answer import Answer
from bot.core.errors import SummaryError
from bot.core.rate_limit import RateLimited, RateLimiter, silent
from bot.core.refusals import RefusalLog
from bot.core.summaries import Summaries, SummaryLimits
from bot.core.summary import Summary
from bot.runtime.service import CrisisBot
from knowledge.documents import Document
from knowledge.store_interface import KnowledgeStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusals(bot: CrisisBot, action: str | None = None) -> list[str]:
    return [e.result for e in bot.audit.entries(1000)
            if e.result.startswith("refused:") and (action is None or e.action == action)]


def test_a_limited_key_is_told_once_per_wait_then_dropped() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock)
    limiter.check("k")
    limiter.check("k")
    told = []
    for _ in range(10):
        with pytest.raises(RateLimited) as refused:
            limiter.check("k")
        told.append(refused.value.tell)
        clock.now += 1
    assert told == [True] + [False] * 9
    assert silent(refused.value) and not silent(ValueError())
    with pytest.raises(RateLimited) as other:  # another key has its own wait
        limiter.check("j"), limiter.check("j"), limiter.check("j")
    assert other.value.tell
    clock.now = 1061  # the wait is over: counted again, and the next wait is told again
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(RateLimited) as again:
        limiter.check("k")
    assert again.value.tell


def test_refusal_log_writes_one_row_per_person_action_and_reason_per_window(bot: CrisisBot) -> None:
    clock = Clock()
    log = RefusalLog(lambda: bot.audit, 60, clock)
    flooder, other = bot.actor("telegram", 666), bot.actor("telegram", 7)
    written = [log.record(flooder, "ask", "", "rate limited: questions") for _ in range(300)]
    assert written == [True] + [False] * 299
    assert log.record(other, "ask", "", "rate limited: questions")  # another person: their own row
    assert log.record(flooder, "summary", "", "not a moderator")  # another reason: its own row
    assert not log.record(flooder, "digest", "", "not a moderator")  # same reason, other action
    clock.now += 61
    assert log.record(flooder, "ask", "", "rate limited: questions")  # a new window: one more row
    assert sorted(refusals(bot)) == ["refused: not a moderator"] + ["refused: rate limited: questions"] * 3


def test_a_flood_of_questions_is_one_audit_row_and_one_told_refusal(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot(questions_per_minute=2)
    flooder = bot.actor("telegram", 666)
    bot.questions.admit(flooder)
    bot.ask("What did Macron say?", flooder, admitted=True)  # counted once, by admit
    bot.ask("What did Macron say?", flooder)
    told = []
    for _ in range(300):
        with pytest.raises(RateLimited) as refused:
            bot.questions.admit(flooder)
        told.append(refused.value.tell)
    assert told.count(True) == 1
    assert refusals(bot, "ask") == ["refused: rate limited: questions"]
    bot.questions.admit(bot.actor("telegram", 7))  # a bystander is not affected


def test_sources_and_help_count_against_their_own_limit(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot(source_requests_per_minute=3, questions_per_minute=1)
    reader = bot.actor("discord", 5)
    for what in ("sources", "help", "sources page"):
        bot.questions.admit_read(reader, what)
    with pytest.raises(RateLimited, match="the sources or the help 3 times"):
        bot.questions.admit_read(reader, "help")
    bot.questions.admit(reader)  # questions are counted apart
    assert refusals(bot, "help") == ["refused: rate limited: sources and help"]


def test_help_reads_a_count_on_either_backend(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot()
    assert bot.questions.source_count() == 0
    bot.ingest([Document(id=f"doc-{n}", title=f"Report {n}", text=f"Report number {n} on the ports. " * 5,
                         added_by="test") for n in range(3)])
    assert bot.questions.source_count() == bot.store.document_count() == len(bot.sources()) == 3


def test_moderator_requests_have_their_own_limit_and_refusals_are_audited(
        make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot(moderator_requests_per_minute=2, questions_per_minute=1)
    moderator = bot.actor("telegram", 1, platform_moderator=True)
    bot.summaries.admit(moderator, "summary", "ports")
    bot.digest(moderator)  # counted by the core itself
    with pytest.raises(RateLimited, match="2 summaries or digests") as refused:
        bot.summarize("ports", actor=moderator)
    assert refused.value.tell
    with pytest.raises(RateLimited) as again:
        bot.summaries.admit(moderator, "digest")
    assert not again.value.tell
    bot.questions.admit(moderator)  # their questions are counted apart
    member = bot.actor("telegram", 2)
    for _ in range(2):
        with pytest.raises(NotAllowed):
            bot.summarize("ports", actor=member)
    with pytest.raises(RateLimited):  # a non-moderator is limited too: no endless refusals
        bot.summarize("ports", actor=member)
    entries = [(e.user_id, e.action, e.result) for e in bot.audit.entries(100)]
    assert sorted(entries) == sorted([("1", "summary", "refused: rate limited: summaries and digests"),
                                      ("2", "summary", "refused: not a moderator"),
                                      ("2", "summary", "refused: rate limited: summaries and digests")])


# -- the concurrency cap ------------------------------------------------------------------------


class BlockingSummarizer:
    """Holds every summary until `release` is set, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def summarize(self, topic: str | None, since: str | None, until: str | None, count: int) -> Summary:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.release()
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return Summary(topic, since, until, Answer(topic or ""))


@dataclass
class Ports:
    store: KnowledgeStore
    summarizer: BlockingSummarizer
    moderator_limiter: RateLimiter
    refusals: RefusalLog

    def ensure_open(self) -> None:
        pass


def test_at_most_max_concurrent_summaries_run_and_a_person_is_refused_as_busy(bot: CrisisBot) -> None:
    summarizer = BlockingSummarizer()
    ports = Ports(bot.store, summarizer, RateLimiter(100), RefusalLog(lambda: bot.audit))
    summaries = Summaries(ports, SummaryLimits(100, 6, 8, max_concurrent=1))  # type: ignore[arg-type]
    moderator = Actor("telegram", "1", "Mod", bot.actor("telegram", 1, platform_moderator=True).roles)
    first = threading.Thread(target=summaries.summarize, args=("ports",), kwargs={"actor": moderator})
    first.start()
    assert summarizer.started.acquire(timeout=10)
    with pytest.raises(SummaryError, match="Another summary is being made"):
        summaries.summarize("grain", actor=moderator)
    scheduled = threading.Thread(target=summaries.summarize, args=("grain",))  # no actor: it waits
    scheduled.start()
    assert not summarizer.started.acquire(timeout=0.3)  # still waiting for the slot
    summarizer.release.set()
    first.join(10)
    scheduled.join(10)
    assert summarizer.started.acquire(timeout=1)
    assert summarizer.most == 1
    summaries.summarize("again", actor=moderator)  # the slot is free again
