"""The bot's own words in the asker's language, through the real Application and the stand-in.

The sender's Telegram `language_code` is a hint: the language the question is written in
wins, and the hint speaks only where there is no text to judge (a /help, a button press).
Quotes are never translated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.core import messages
from bot.runtime.service import CrisisBot
from tests.bot.adapters.telegram.test_adapter import QUESTION, Running, running, start, stop  # noqa: F401 (fixture)
from tests.telegram_server import FakeTelegram

UKRAINIAN_QUESTION = "Скільки північнокорейських військових прибуло до Росії?"


@pytest_asyncio.fixture
async def limited(telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot]) -> AsyncIterator[Running]:
    service = make_service(questions_per_minute=1)
    application = await start(telegram_server, service)
    yield Running(telegram_server, service, application)
    await stop(application)


def is_ukrainian_reply(text: str) -> bool:
    """An answer (sources headed in Ukrainian) or a refusal, in Ukrainian either way; while
    the gate reads English only, the refusal says so and asks for English."""
    return "<b>Джерела</b>" in text or text.startswith(("У базі знань немає відповіді",
                                                         "Поки що я не можу відповідати на запитання українською"))


@pytest.mark.asyncio
async def test_a_ukrainian_question_gets_ukrainian_words_and_an_english_question_english(running: Running) -> None:
    server = running.server
    ukrainian = (await running.reply_to(server.private_message(UKRAINIAN_QUESTION, language_code="en"),
                                        chat_id=501)).params["text"]
    assert is_ukrainian_reply(ukrainian), ukrainian
    assert "Sources" not in ukrainian and "no answer" not in ukrainian
    if "<b>Джерела</b>" in ukrainian:  # quoted in English: said in one line, in Ukrainian
        assert "мовою оригіналу: англійська" in ukrainian
    # A Ukrainian phone asking in English is answered in English.
    english = (await running.reply_to(server.private_message(QUESTION, language_code="uk"),
                                      chat_id=501)).params["text"]
    assert "<b>Sources</b>" in english and "as of 2024-11" in english
    assert "мовою оригіналу" not in english


@pytest.mark.asyncio
async def test_help_follows_the_greeting_or_the_phone(running: Running) -> None:
    server = running.server
    by_phone = await running.reply_to(server.private_message("/help", language_code="ru"), chat_id=501)
    assert by_phone.params["text"].startswith("Я отвечаю на вопросы о войне в Украине")
    by_greeting = await running.reply_to(server.private_message("привіт", language_code="ru"), chat_id=501)
    assert by_greeting.params["text"].startswith("Я відповідаю на запитання про війну в Україні")
    in_english = await running.reply_to(server.private_message("hello", language_code="uk"), chat_id=501)
    assert in_english.params["text"].startswith("I answer questions about the war in Ukraine")
    unknown = await running.reply_to(server.private_message("/help", language_code="de"), chat_id=501)
    assert unknown.params["text"].startswith("I answer questions")


@pytest.mark.asyncio
async def test_a_refusal_is_said_in_the_language_of_the_question(limited: Running) -> None:
    server = limited.server
    await limited.reply_to(server.private_message("Сколько северокорейских военных прибыло в Россию?"), chat_id=501)
    refused = await limited.reply_to(server.private_message("А что ответила Украина?"), chat_id=501)
    assert refused.params["text"].startswith("Вы достигли лимита вопросов: 1 за 60 с.")
    assert messages.RATE_LIMITED.split(" {")[0] not in refused.params["text"]
