"""A failing update is logged by its ids and the error, never by what the person wrote or
their name: logs outlive chats and are read by more people."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.core import messages as phrases
from bot.runtime.service import CrisisBot
from tests.bot.adapters.telegram.test_adapter import start, stop
from tests.telegram_server import FakeTelegram

PRIVATE_QUESTION = "Is my brother Taras Shevchuk in Bucha safe?"


@pytest.mark.asyncio
async def test_an_unexpected_error_logs_ids_not_the_message(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = make_service()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the retriever broke")

    monkeypatch.setattr(service, "ask", broken)  # a bug in the core, as the handler sees one
    application = await start(telegram_server, service)
    try:
        with caplog.at_level(logging.ERROR):
            start_at = len(telegram_server.requests)
            update = telegram_server.private_message(f"/ask {PRIVATE_QUESTION}", user_id=777,
                                                     first_name="Oksana")
            update_id = telegram_server.push_update(update)
            reply = await telegram_server.wait_for("sendMessage", after=start_at)
    finally:
        await stop(application)
    assert reply.params["text"] == phrases.APOLOGY
    errors = [r for r in caplog.records if r.getMessage().startswith("error while handling")]
    assert len(errors) == 1
    logged = caplog.text
    message_id = update["message"]["message_id"]
    assert errors[0].getMessage() == f"error while handling update {update_id} (chat 777, message {message_id})"
    assert "RuntimeError: the retriever broke" in logged  # the error and its traceback stay
    for private in ("Taras", "Bucha", "Oksana", PRIVATE_QUESTION):
        assert private not in logged
