"""`bot.runtime.executors`: the question pool and the process's one knowledge thread."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import pytest

from bot.runtime import executors
from bot.core.actors import SCHEDULER, Actor, Role
from bot.runtime.executors import CoreExecutors

ADMIN = Actor("telegram", "1", "Admin", frozenset({Role.ADMIN}))
MEMBER = Actor("telegram", "2", "Member")


@pytest.fixture(autouse=True)
def fresh_knowledge_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide knowledge thread, fresh for each test (others may hold the real one)."""
    monkeypatch.setattr(executors, "_knowledge_thread", executors._SharedKnowledgeThread())


def accepts_work(executor: Executor) -> bool:
    try:
        executor.submit(lambda: None).result()
    except RuntimeError:  # "cannot schedule new futures after shutdown"
        return False
    return True


def test_adapters_share_one_knowledge_thread_until_the_last_one_stops() -> None:
    telegram, discord = CoreExecutors(), CoreExecutors()
    assert telegram.knowledge is discord.knowledge
    assert telegram.questions is not discord.questions and telegram.questions is not telegram.knowledge

    telegram.shutdown()
    telegram.shutdown()  # twice: still one release
    assert not accepts_work(telegram.questions)
    assert accepts_work(discord.knowledge) and accepts_work(discord.questions)

    discord.shutdown()
    assert not accepts_work(discord.knowledge) and not accepts_work(discord.questions)
    again = CoreExecutors()  # a later adapter gets a new knowledge thread
    assert again.knowledge is not discord.knowledge and accepts_work(again.knowledge)
    again.shutdown()


def test_executors_passed_in_stay_the_callers() -> None:
    with ThreadPoolExecutor(1) as questions, ThreadPoolExecutor(1) as knowledge:
        made = CoreExecutors(questions, knowledge)
        assert (made.questions, made.knowledge) == (questions, knowledge)
        made.shutdown()
        assert accepts_work(questions) and accepts_work(knowledge)


def test_changes_run_on_the_knowledge_thread_and_refusals_on_the_question_pool() -> None:
    made = CoreExecutors()
    try:
        assert made.for_change(ADMIN) is made.knowledge
        assert made.for_change(SCHEDULER) is made.knowledge
        assert made.for_change(MEMBER) is made.questions  # the core refuses at once: no wait
    finally:
        made.shutdown()
