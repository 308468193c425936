"""Flood and load through the real python-telegram-bot Application and the stand-in Bot API
(issue 17, item 11 and the "flood and load" suite): a limited person is told once and then
ignored, /sources, /help and the pager are limited too, /help reads a count, and 100 people
asking at once are each answered or told once that they are limited, with no errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.messages import APOLOGY
from bot.runtime.service import CrisisBot
from tests.bot.adapters.telegram.test_adapter import QUESTION, buttons, start, stop
from tests.telegram_server import FakeTelegram, Recorded

LIMITED = "Please wait"


def to_chat(server: FakeTelegram, chat: int, method: str = "sendMessage", after: int = 0) -> list[Recorded]:
    return [r for r in server.requests[after:] if r.method == method and r.params.get("chat_id") == chat]


async def settle(server: FakeTelegram, count: Callable[[], int], expected: int, timeout: float = 120) -> None:
    """Wait until `count()` reaches `expected`, then a moment more for anything extra to show."""
    deadline = time.monotonic() + timeout
    while count() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


@pytest.mark.asyncio
async def test_a_flooder_is_told_once_then_ignored_and_audited_once(
        telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> None:
    server = telegram_server
    service = make_service(questions_per_minute=2)
    application = await start(server, service)
    try:
        start_index = len(server.requests)
        for _ in range(30):
            server.push_update(server.private_message(QUESTION, user_id=666))
        server.push_update(server.private_message(QUESTION, user_id=777))
        await server.wait_for("sendMessage", lambda r: r.params.get("chat_id") == 777, after=start_index, timeout=60)
        await settle(server, lambda: len(to_chat(server, 666, after=start_index)), 3)
        texts = [r.params["text"] for r in to_chat(server, 666, after=start_index)]
        assert len(texts) == 3 and sum(LIMITED in t for t in texts) == 1
        assert sum("10,000" in t for t in texts) == 2
        assert len(to_chat(server, 666, "sendChatAction", start_index)) <= 2  # no "typing…" for the refused
        refusals = [e for e in service.audit.entries(100) if e.result.startswith("refused")]
        assert [(e.user_id, e.action, e.result) for e in refusals] == [("666", "ask", "refused: rate limited: questions")]
    finally:
        await stop(application)


@pytest.mark.asyncio
async def test_a_moderator_flooding_summaries_gets_no_typing_after_the_limit(
        telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> None:
    """The moderators' limit is checked before "typing…" and before any work, as the members' is."""
    server = telegram_server
    service = make_service(moderator_requests_per_minute=2, telegram_moderator_ids="888")
    application = await start(server, service)
    try:
        start_index = len(server.requests)
        for _ in range(10):
            server.push_update(server.private_message("/summary grain", user_id=888))
        await settle(server, lambda: sum(LIMITED in r.params["text"] for r in to_chat(server, 888, after=start_index)), 1)
        texts = [r.params["text"] for r in to_chat(server, 888, after=start_index)]
        assert sum(LIMITED in t for t in texts) == 1
        assert len(to_chat(server, 888, "sendChatAction", start_index)) == 2  # the two admitted only
        refusals = [e for e in service.audit.entries(100) if e.result.startswith("refused")]
        assert [(e.user_id, e.action) for e in refusals] == [("888", "summary")]
    finally:
        await stop(application)


@pytest.mark.asyncio
async def test_sources_help_and_pager_count_against_a_limit_and_help_reads_a_count(
        telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = telegram_server
    service = make_service(source_requests_per_minute=3)
    for number in range(12):  # two pages of sources, so /sources has a pager
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number}.")
    service.ingest(service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)
    application = await start(server, service)
    try:
        def no_listing() -> None:
            raise AssertionError("/help loaded every document")

        with monkeypatch.context() as patch:
            patch.setattr(service.store, "documents", no_listing)
            helped = await reply(server, server.private_message("/help"))
        assert "13" in helped.params["text"] and LIMITED not in helped.params["text"]
        listed = await reply(server, server.private_message("/sources"))
        following = next(b for b in buttons(listed) if b["text"].startswith("Next"))
        press = server.callback_query(following["callback_data"], server.sent_messages[-1])
        turned = await reply(server, press, "editMessageText")
        assert "page 2 of 2" in turned.params["text"]
        refused = await reply(server, server.private_message("/sources"))  # the 4th in a minute
        assert LIMITED in refused.params["text"] and "sources or the help" in refused.params["text"]
        start_index = len(server.requests)
        server.push_update(server.private_message("/help"))
        server.push_update(server.private_message("/sources"))
        server.push_update(server.callback_query(following["callback_data"], server.sent_messages[-2]))
        server.push_update(server.private_message(QUESTION))  # questions are counted apart
        answer = await server.wait_for("sendMessage", after=start_index, timeout=30)
        assert "10,000" in answer.params["text"]
        pressed = await server.wait_for("answerCallbackQuery", after=start_index, timeout=30)
        assert not pressed.params.get("text")  # acknowledged without a word, so it stops spinning
        await asyncio.sleep(0.5)
        assert len(to_chat(server, 501, after=start_index)) == 1  # /help and /sources: silence
        assert not [r for r in server.requests[start_index:] if r.method == "editMessageText"]
        refusals = [(e.action, e.result) for e in service.audit.entries(100) if e.result.startswith("refused")]
        assert refusals == [("sources", "refused: rate limited: sources and help")]  # one row for the four refusals
    finally:
        await stop(application)


async def reply(server: FakeTelegram, update: dict[str, object], method: str = "sendMessage") -> Recorded:
    start_index = len(server.requests)
    server.push_update(update)  # type: ignore[arg-type]
    return await server.wait_for(method, after=start_index, timeout=30)


@pytest.mark.asyncio
async def test_a_hundred_concurrent_askers_are_each_answered_or_told_once(
        telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
        caplog: pytest.LogCaptureFixture) -> None:
    """100 people ask at once; 10 of them ask 3 more times at once. Each is answered once (the
    limit is 1 a minute); each of the 10 is told once that they are limited; nothing fails."""
    server = telegram_server
    service = make_service(questions_per_minute=1)
    application = await start(server, service)
    users = list(range(20_000, 20_100))
    flooders = users[::10]
    try:
        caplog.set_level(logging.WARNING)
        start_index = len(server.requests)
        for user in users:
            server.push_update(server.private_message(QUESTION, user_id=user))
        for _ in range(3):
            for user in flooders:
                server.push_update(server.private_message(QUESTION, user_id=user))
        expected = len(users) + len(flooders)
        await settle(server, lambda: len([r for r in server.requests[start_index:] if r.method == "sendMessage"]),
                     expected)
        for user in users:
            texts = [r.params["text"] for r in to_chat(server, user, after=start_index)]
            assert sum("10,000" in t for t in texts) == 1, (user, texts)
            assert sum(LIMITED in t for t in texts) == (1 if user in flooders else 0), (user, texts)
            assert len(texts) == (2 if user in flooders else 1) and APOLOGY not in texts
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    finally:
        await stop(application)
