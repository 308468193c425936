"""Follow-ups, small talk and the More button, through the real python-telegram-bot
Application and the stand-in Bot API, over the seed article with the real model.

Whether a follow-up was resolved is read from the feedback log, which records the question
actually searched: "why?" alone is declined on the seed article, while "why?" after the
troops question is answered from it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from bot.core import messages
from bot.core.conversation import Conversation, ConversationLimits
from bot.runtime.service import CrisisBot
from tests.bot.adapters.telegram.test_adapter import QUESTION, Running, buttons, start, stop
from tests.telegram_server import FakeTelegram

RESOLVED_WHY = f"why: {QUESTION}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def chat(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> AsyncIterator[tuple[Running, Clock]]:
    service = make_service(questions_per_minute=100)
    clock = Clock()
    service.__dict__["conversation"] = Conversation(service.questions, ConversationLimits(), clock)
    application = await start(telegram_server, service)
    yield Running(telegram_server, service, application), clock
    await stop(application)


def asked(service: CrisisBot) -> list[str]:
    with sqlite3.connect(service.settings.database_path) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'asked'").fetchone() is None:
            return []  # the feedback log was never opened: nothing was asked
        return [row[0] for row in db.execute("SELECT question FROM asked ORDER BY id")]


def answered(reply: Any) -> bool:
    return "no answer" not in reply.params["text"] and "<b>Sources</b>" in reply.params["text"]


@pytest.mark.asyncio
async def test_follow_up_in_a_private_chat_is_resolved_and_expires(chat: tuple[Running, Clock]) -> None:
    running, clock = chat
    server = running.server
    alone = await running.reply_to(server.private_message("why?", user_id=601), chat_id=601)
    assert not answered(alone)  # the control: "why?" on its own has no answer
    await running.reply_to(server.private_message(QUESTION, user_id=601), chat_id=601)
    follow = await running.reply_to(server.private_message("why?", user_id=601), chat_id=601)
    assert answered(follow)
    assert asked(running.service)[-1] == RESOLVED_WHY

    clock.now += 31 * 60  # past conversation_minutes: the previous question is forgotten
    late = await running.reply_to(server.private_message("why?", user_id=601), chat_id=601)
    assert not answered(late)
    assert asked(running.service)[-1] == "why?"


@pytest.mark.asyncio
async def test_group_reply_is_resolved_per_user_and_a_mention_stands_alone(chat: tuple[Running, Clock]) -> None:
    running, _ = chat
    server = running.server
    bot = server.bot_user["username"]
    await running.reply_to(server.group_message(f"@{bot} {QUESTION}", user_id=502))
    answer_message = server.sent_messages[-1]

    # Another member replying "why?" to that answer has no previous question of their own.
    other = await running.reply_to(server.group_message("why?", user_id=503, reply_to_message=answer_message))
    assert not answered(other)
    assert asked(running.service)[-1] == "why?"

    # A mention without a reply stands on its own, even from the person who asked.
    mention = await running.reply_to(server.group_message(f"@{bot} why?", user_id=502))
    assert not answered(mention)

    # The asker's reply to the answer leans on their question.
    follow = await running.reply_to(server.group_message("why?", user_id=502, reply_to_message=answer_message))
    assert answered(follow)
    assert asked(running.service)[-1] == RESOLVED_WHY


@pytest.mark.asyncio
async def test_greetings_thanks_and_help_are_not_refused(chat: tuple[Running, Clock]) -> None:
    running, _ = chat
    server = running.server
    for text in ("hello", "Привіт!", "help", f"/ask@{server.bot_user['username']} hi"):
        reply = await running.reply_to(server.private_message(text, user_id=604), chat_id=604)
        heading = "Як питати" if text == "Привіт!" else "How to ask"  # a greeting's own language
        assert heading in reply.params["text"], text
    thanks = await running.reply_to(server.private_message("thank you!", user_id=604), chat_id=604)
    assert thanks.params["text"] == messages.THANKS_REPLY
    assert asked(running.service) == []  # none of them was searched


@pytest.mark.asyncio
async def test_tell_me_more_and_the_more_button_continue_the_answer(chat: tuple[Running, Clock]) -> None:
    running, _ = chat
    server = running.server
    first = await running.reply_to(server.private_message(QUESTION, user_id=605), chat_id=605)
    assert [b["text"] for b in buttons(first)] == ["👍", "👎", messages.MORE_BUTTON]
    answer_message = server.sent_messages[-1]
    more = next(b for b in buttons(first) if b["text"] == messages.MORE_BUTTON)
    start_index = len(server.requests)
    server.push_update(server.callback_query(more["callback_data"], answer_message, user_id=605))
    await server.wait_for("answerCallbackQuery", after=start_index)
    continued = await server.wait_for("sendMessage", after=start_index)
    assert answered(continued)
    assert "10,000 North Korean troops" not in continued.params["text"]  # the next passages
    assert asked(running.service)[-1] == QUESTION

    # "tell me more" goes on from there, until the knowledge base has nothing more.
    texts = [continued.params["text"]]
    for _ in range(10):
        reply = await running.reply_to(server.private_message("tell me more", user_id=605), chat_id=605)
        if reply.params["text"] == messages.NOTHING_MORE:
            break
        texts.append(reply.params["text"])
    else:
        pytest.fail("tell me more never ran out on a one-article knowledge base")
    assert len(set(texts)) == len(texts)  # each continuation quoted something new


@pytest.mark.asyncio
async def test_more_pressed_by_another_member_continues_for_them(chat: tuple[Running, Clock]) -> None:
    running, _ = chat
    server = running.server
    first = await running.reply_to(server.group_message(f"@{server.bot_user['username']} {QUESTION}", user_id=502))
    answer_message = server.sent_messages[-1]
    more = next(b for b in buttons(first) if b["text"] == messages.MORE_BUTTON)
    start_index = len(server.requests)
    server.push_update(server.callback_query(more["callback_data"], answer_message, user_id=506))
    continued = await server.wait_for("sendMessage", after=start_index)
    assert answered(continued) and "10,000 North Korean troops" not in continued.params["text"]
    assert continued.params["reply_parameters"]["message_id"] == answer_message["message_id"]


@pytest.mark.asyncio
async def test_forged_more_data_is_refused(chat: tuple[Running, Clock]) -> None:
    running, _ = chat
    server = running.server
    await running.reply_to(server.private_message(QUESTION, user_id=607), chat_id=607)
    answer_message = server.sent_messages[-1]
    for forged in ("more:1", "0" * 64, "crisisbot:more:999999999999999999999"):
        told = await running.reply_to(server.callback_query(forged, answer_message, user_id=607), "answerCallbackQuery")
        assert told.params.get("text") == messages.BUTTON_EXPIRED
    assert asked(running.service) == [QUESTION]  # nothing was continued
