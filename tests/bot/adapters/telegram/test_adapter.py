"""The real python-telegram-bot Application, driven through the stand-in Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.runtime.service import CrisisBot
from bot.adapters.telegram.app import build_application
from tests.telegram_server import FakeTelegram, Recorded

QUESTION = "How many North Korean troops arrived in Russia?"


class Running:
    """A started Application with its service and the stand-in it talks to."""

    def __init__(self, server: FakeTelegram, service: CrisisBot, application: Application) -> None:  # type: ignore[type-arg]
        self.server = server
        self.service = service
        self.application = application

    async def reply_to(self, update: dict[str, Any], method: str = "sendMessage", **match: Any) -> Recorded:
        """Push an update and wait for the first `method` call after it (matching `match`)."""
        start = len(self.server.requests)
        self.server.push_update(update)
        return await self.server.wait_for(
            method, lambda r: all(r.params.get(k) == v for k, v in match.items()), after=start
        )


async def start(
    server: FakeTelegram, service: CrisisBot, message_limit: int | None = None
) -> Application:  # type: ignore[type-arg]
    application = build_application(service, service.settings.telegram, message_limit=message_limit)
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    return application


async def stop(application: Application) -> None:  # type: ignore[type-arg]
    assert application.updater is not None
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


@pytest_asyncio.fixture
async def running(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> AsyncIterator[Running]:
    service = make_service()
    application = await start(telegram_server, service)
    yield Running(telegram_server, service, application)
    await stop(application)


def buttons(request: Recorded) -> list[dict[str, Any]]:
    markup = request.params.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


@pytest.mark.asyncio
async def test_start_registers_commands(running: Running) -> None:
    commands = running.server.calls("setMyCommands")[-1].params["commands"]
    assert {c["command"] for c in commands} == {"ask", "sources", "help"}


@pytest.mark.asyncio
async def test_private_question_gets_a_cited_answer_with_vote_buttons(running: Running) -> None:
    server = running.server
    reply = await running.reply_to(server.private_message(QUESTION), chat_id=501)
    text = reply.params["text"]
    assert "10,000 North Korean troops" in text
    assert "<b>Sources</b>" in text and "as of 2024-11" in text and "analysis" in text
    assert reply.params["parse_mode"] == "HTML"
    assert reply.params["link_preview_options"] == {"is_disabled": True}
    assert [b["text"] for b in buttons(reply)] == ["👍", "👎", "More"]
    typing = server.calls("sendChatAction")
    assert typing and typing[0].params["action"] == "typing"


@pytest.mark.asyncio
async def test_group_answers_only_when_addressed(running: Running) -> None:
    server = running.server
    server.push_update(server.group_message("so how many troops did NK send??"))
    reply = await running.reply_to(server.group_message(f"@{server.bot_user['username']} {QUESTION}"))
    assert "10,000" in reply.params["text"]
    await asyncio.sleep(1)  # give a wrong reply to the first message time to show up
    sent = server.calls("sendMessage")
    assert len(sent) == 1, "the unaddressed group message got a reply"

    # A reply to the bot's answer is a question too.
    answer_message = server.sent_messages[-1]
    follow = await running.reply_to(server.group_message("Which missiles was Ukraine allowed to use?", reply_to_message=answer_message))
    assert "ATACMS" in follow.params["text"]

    via_command = await running.reply_to(server.group_message(f"/ask@{server.bot_user['username']} {QUESTION}"))
    assert "10,000" in via_command.params["text"]


@pytest.mark.asyncio
async def test_declined_question_says_so_without_buttons(running: Running) -> None:
    reply = await running.reply_to(running.server.private_message("What's a good banana bread recipe?"))
    assert "no answer" in reply.params["text"]
    assert buttons(reply) == []


@pytest.mark.asyncio
async def test_article_text_is_escaped(running: Running, tmp_path: Path) -> None:
    story = tmp_path / "fuel.md"
    story.write_text("---\ntitle: Fuel & food <update>\npublisher: A&B News\nkind: news\npublished: 2024-12-01\n---\n"
                     "The ministry said deliveries of <b>fuel</b> & food to Kherson resumed on Monday.\n")
    running.service.ingest(running.service.read([story], "test").documents)
    reply = await running.reply_to(running.server.private_message("Did deliveries of fuel and food to Kherson resume?"))
    text = reply.params["text"]
    assert "deliveries of &lt;b&gt;fuel&lt;/b&gt; &amp; food to Kherson" in text
    assert "Fuel &amp; food &lt;update&gt;" in text and "A&amp;B News" in text


@pytest.mark.asyncio
async def test_long_answer_is_split_into_valid_parts(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> None:
    service = make_service()
    application = await start(telegram_server, service, message_limit=300)
    try:
        start_index = len(telegram_server.requests)
        telegram_server.push_update(telegram_server.private_message(QUESTION))
        await telegram_server.wait_for("sendMessage", lambda r: bool(buttons(r)), after=start_index)
        parts = [r for r in telegram_server.requests[start_index:] if r.method == "sendMessage"]
        assert len(parts) >= 2
        assert all(r.params["parse_mode"] == "HTML" for r in parts)  # the stand-in refuses bad HTML
        assert [bool(buttons(r)) for r in parts] == [False] * (len(parts) - 1) + [True]
        assert "reply_parameters" in parts[0].params and "reply_parameters" not in parts[-1].params
    finally:
        await stop(application)


@pytest.mark.asyncio
async def test_429_is_retried(running: Running) -> None:
    server = running.server
    server.fail_next("sendMessage", 429, retry_after=1)
    refused = await running.reply_to(server.private_message(QUESTION), chat_id=501)
    retried = await server.wait_for("sendMessage", after=server.requests.index(refused) + 1)
    assert retried.params == refused.params and "10,000" in retried.params["text"]
    assert len(server.sent_messages) == 1  # delivered once, after the retry


@pytest.mark.asyncio
async def test_vote_round_trip(running: Running) -> None:
    server = running.server
    reply = await running.reply_to(server.private_message(QUESTION))
    answer_message = server.sent_messages[-1]
    up = next(b for b in buttons(reply) if b["text"] == "👍")
    acknowledged = await running.reply_to(server.callback_query(up["callback_data"], answer_message), "answerCallbackQuery")
    assert "recorded" in acknowledged.params["text"]
    assert re.fullmatch(r"[0-9a-f]{64}", up["callback_data"])  # PTB's key; the Vote stays in its cache
    with sqlite3.connect(running.service.settings.database_path) as db:
        (answer_id,), = db.execute("SELECT id FROM asked WHERE question = ?", (QUESTION,)).fetchall()
        rows = db.execute("SELECT a.question, a.document_ids, v.value FROM votes v JOIN asked a ON a.id = v.answer_id"
                          " WHERE v.answer_id = ?", (answer_id,)).fetchall()
    assert rows == [(QUESTION, '["turning-tides-2024-11"]', 1)]


@pytest.mark.asyncio
async def test_per_user_limit_answers_with_a_message(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> None:
    service = make_service(questions_per_minute=2)
    application = await start(telegram_server, service)
    try:
        for _ in range(2):
            await Running(telegram_server, service, application).reply_to(telegram_server.private_message(QUESTION))
        refused = await Running(telegram_server, service, application).reply_to(telegram_server.private_message(QUESTION))
        assert "Please wait" in refused.params["text"]
        other = await Running(telegram_server, service, application).reply_to(
            telegram_server.private_message(QUESTION, user_id=777), chat_id=777)
        assert "10,000" in other.params["text"]
    finally:
        await stop(application)


@pytest.mark.asyncio
async def test_unknown_command_and_non_text(running: Running) -> None:
    server = running.server
    reply = await running.reply_to(server.private_message("/frobnicate now"))
    assert "I don't know the command /frobnicate" in reply.params["text"]
    sticker = await running.reply_to(server.sticker_message())
    assert "as text" in sticker.params["text"]
    photo = await running.reply_to(server.photo_message())
    assert "as text" in photo.params["text"]
    captioned = await running.reply_to(server.photo_message(caption=QUESTION))
    assert "10,000" in captioned.params["text"]
    too_long = await running.reply_to(server.private_message("why " * 300))
    assert "too long" in too_long.params["text"]


@pytest.mark.asyncio
async def test_group_stays_silent_for_stickers_and_foreign_commands(running: Running) -> None:
    server = running.server
    server.push_update(server.sticker_message(chat_id=-100777))
    server.push_update(server.group_message("/weather@some_other_bot"))
    marker = await running.reply_to(server.group_message(f"@{server.bot_user['username']} {QUESTION}"))
    await asyncio.sleep(1)  # give a wrong reply time to show up
    assert len(server.calls("sendMessage")) == 1 and "10,000" in marker.params["text"]


@pytest.mark.asyncio
async def test_sources_pages_with_buttons(running: Running, tmp_path: Path) -> None:
    for number in range(12):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number} overnight.")
    running.service.ingest(running.service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)
    first = await running.reply_to(running.server.private_message("/sources"))
    assert "13 documents" in first.params["text"]
    following = next(b for b in buttons(first) if b["text"].startswith("Next"))
    page_two = await running.reply_to(
        running.server.callback_query(following["callback_data"], running.server.sent_messages[-1]), "editMessageText")
    assert "page 2 of 2" in page_two.params["text"]


@pytest.mark.asyncio
async def test_a_failing_update_is_logged_and_answered_with_an_apology(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(running.service, "ask", broken)
    with caplog.at_level(logging.ERROR):
        reply = await running.reply_to(running.server.private_message(QUESTION))
    assert reply.params["text"].startswith("Sorry, something went wrong")
    assert "index exploded" in caplog.text
    monkeypatch.undo()
    after = await running.reply_to(running.server.private_message(QUESTION))
    assert "10,000" in after.params["text"], "the bot kept running"


@pytest.mark.asyncio
async def test_one_slow_question_does_not_stall_the_others(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    real_ask = running.service.ask
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_for_one(question: str, actor: object = None, *more: object) -> object:
        if "slow" in question:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(timeout=30)
        return real_ask(question, actor, *more)  # type: ignore[arg-type]

    monkeypatch.setattr(running.service, "ask", slow_for_one)
    server = running.server
    server.push_update(server.private_message("a slow question about North Korean troops", user_id=901))
    fast = await running.reply_to(server.private_message(QUESTION, user_id=902), chat_id=902)
    assert "10,000" in fast.params["text"]
    gate.set()
    await server.wait_for("sendMessage", lambda r: r.params.get("chat_id") == 901)


@pytest.mark.asyncio
async def test_an_edited_message_is_not_answered_again(running: Running) -> None:
    server = running.server
    original = server.private_message(QUESTION)
    await running.reply_to(original)
    edited = {"edited_message": {**original["message"], "text": QUESTION + " (edited)", "edit_date": 1}}
    server.push_update(edited)
    marker = await running.reply_to(server.private_message("/help"))
    await asyncio.sleep(1)  # give a wrong second answer time to show up
    answers = [r for r in server.calls("sendMessage") if "10,000" in r.params["text"]]
    assert len(answers) == 1 and "Maintained by" in marker.params["text"]


@pytest.mark.asyncio
async def test_bidi_controls_stored_in_a_title_never_reach_the_citation_line(running: Running, tmp_path: Path) -> None:
    """A title and publisher stored with bidi controls, zero-width characters and NUL (before
    the readers stripped them) are shown straight, in an answer and in /sources."""
    from tests.bidi_titles import PUBLISHER, QUESTION, TITLE, add_document_stored_with_bidi, invisible_in

    add_document_stored_with_bidi(running.service, tmp_path)
    answer = (await running.reply_to(running.server.private_message(QUESTION))).params["text"]
    assert f">{TITLE}</a> — {PUBLISHER}, news" in answer or f"{TITLE} — {PUBLISHER}, news" in answer, answer
    assert invisible_in(answer) == set()
    listing = (await running.reply_to(running.server.private_message("/sources"))).params["text"]
    assert TITLE in listing and f"— {PUBLISHER}, news" in listing, listing
    assert invisible_in(listing) == set()
