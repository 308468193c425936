"""Members' questions are answered while imports hold the knowledge base's thread.

The real Application against the stand-in Bot API; imports fetch from the stand-in web server,
which holds /held/N pages until the test releases them, so an import stays in progress for
exactly as long as the test needs. On one shared two-thread executor, two held imports (two
admins, or an admin and the scheduled feed poll) took both threads and the question waited
for them; now changes queue on their own thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.runtime import executors
from bot.runtime.service import CrisisBot
from bot.adapters.telegram.app import CrisisApplication
from tests.bot.adapters.telegram.test_adapter import QUESTION, Running, start, stop
from tests.bot.runtime.test_executors import accepts_work
from tests.telegram_server import FakeTelegram, Recorded
from tests.web_server import LocalServer

ADMINS = (501, 503)
MEMBER = 777
ANSWER_WAIT = 60.0  # generous: a question that waits for the imports fails on the checks after


@pytest_asyncio.fixture
async def admins_bot(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> AsyncIterator[Running]:
    service = make_service(telegram_admin_ids=",".join(map(str, ADMINS)), allow_private_urls=True)
    application = await start(telegram_server, service)
    yield Running(telegram_server, service, application)
    await stop(application)


async def start_import(running: Running, url: str, admin: int) -> int:
    """An admin's `/kb add`, up to its "Working on it…" reply (sent just before the core is
    called); returns the index of the requests from which its outcome is looked for."""
    server = running.server
    start_index = len(server.requests)
    server.push_update(server.private_message(f"/kb add {url}", user_id=admin))
    await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == admin
                          and r.params["text"].startswith("Working on it"), after=start_index)
    return start_index


async def import_outcome(running: Running, admin: int, after: int) -> Recorded:
    return await running.server.wait_for(
        "editMessageText", lambda r: r.params["chat_id"] == admin and not r.params["text"].startswith("Working"),
        after=after, timeout=ANSWER_WAIT)


def outcomes_so_far(running: Running, after: int) -> list[str]:
    return [r.params["text"] for r in running.server.calls("editMessageText")[after:]
            if not r.params["text"].startswith("Working")]


async def member_asks(running: Running) -> str:
    server = running.server
    start_index = len(server.requests)
    server.push_update(server.private_message(QUESTION, user_id=MEMBER))
    reply = await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == MEMBER,
                                  after=start_index, timeout=ANSWER_WAIT)
    return str(reply.params["text"])


async def held(web: LocalServer, count: int) -> list[str]:
    return await asyncio.to_thread(web.hold.wait_for, count)


@pytest.mark.asyncio
async def test_two_admins_imports_in_progress_do_not_hold_up_a_question(admins_bot: Running, web: LocalServer) -> None:
    first, second = ADMINS
    service = admins_bot.service
    since = len(admins_bot.server.requests)
    await start_import(admins_bot, web.url("/held/1"), first)
    assert await held(web, 1) == ["/held/1"]  # fetching, and held there
    assert "10,000" in await member_asks(admins_bot)

    await start_import(admins_bot, web.url("/held/2"), second)  # queued behind the first
    assert "10,000" in await member_asks(admins_bot)
    assert outcomes_so_far(admins_bot, since) == [], "the question waited for the imports"

    web.hold.release()
    for admin in ADMINS:
        outcome = await import_outcome(admins_bot, admin, since)
        assert outcome.params["text"].startswith("added "), outcome.params["text"]
    assert {web.url("/held/1"), web.url("/held/2")} <= {d.url for d in service.store.documents()}


@pytest.mark.asyncio
async def test_the_scheduled_feed_poll_and_an_import_do_not_hold_up_a_question(
    admins_bot: Running, web: LocalServer,
) -> None:
    server, service, application = admins_bot.server, admins_bot.service, admins_bot.application
    admin = ADMINS[0]
    web.feed_items[:] = [("/held/3", "Story 3")]
    subscribed = await admins_bot.reply_to(server.private_message(f"/kb subscribe {web.url('/feed.rss')}"))
    assert "Subscribed to Local wire" in subscribed.params["text"]

    assert application.job_queue is not None
    (job,) = application.job_queue.get_jobs_by_name("poll-feeds")
    poll = asyncio.create_task(job.run(application))  # the scheduled run, now rather than in an hour
    assert await held(web, 1) == ["/held/3"]  # the poll is fetching its entry, and held there
    since = await start_import(admins_bot, web.url("/held/4"), admin)  # queued behind the poll
    assert "10,000" in await member_asks(admins_bot)
    assert not poll.done() and outcomes_so_far(admins_bot, since) == [], "the question waited for the imports"

    web.hold.release()
    await asyncio.wait_for(poll, ANSWER_WAIT)
    outcome = await import_outcome(admins_bot, admin, since)
    assert outcome.params["text"].startswith("added "), outcome.params["text"]
    stored = {d.url for d in service.store.documents()}
    assert {web.url("/held/3"), web.url("/held/4")} <= stored
    polled = [e for e in service.audit.entries(20) if e.platform == "scheduler" and e.action == "poll-feed"]
    assert polled and polled[0].result.startswith("ok"), polled


@pytest.mark.asyncio
async def test_shutting_down_shuts_both_executors_down(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executors, "_knowledge_thread", executors._SharedKnowledgeThread())  # this test's own
    application = await start(telegram_server, make_service())
    assert isinstance(application, CrisisApplication)
    made = application.executors
    assert accepts_work(made.questions) and accepts_work(made.knowledge)
    await stop(application)
    assert not accepts_work(made.questions) and not accepts_work(made.knowledge)
