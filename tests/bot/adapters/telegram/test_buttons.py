"""Buttons through python-telegram-bot's arbitrary callback data: Telegram (the stand-in) sees
only PTB's 64-character keys, a press round-trips through the real client back to the object,
buttons outlive a restart through the store in the data folder, and a button PTB no longer knows
(no store) is answered with the flow's "expired" sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from telegram.ext import InvalidCallbackData

from bot.adapters.telegram.buttons import PostPreview, Vote, expired_text
from bot.core.kb_requests import BUTTON_EXPIRED
from bot.core.messages import TELEGRAM_PREVIEW_GONE
from bot.core.previews import EXPIRED, POST_BUTTON, Kind
from bot.runtime.service import CrisisBot
from tests.bot.adapters.telegram.test_adapter import QUESTION, Running, buttons, start, stop
from tests.bot.adapters.telegram.test_summaries import GROUP, MODERATOR, TOPIC, add_reports, message_of, started
from tests.telegram_server import FakeTelegram

PTB_KEY = re.compile(r"[0-9a-f]{64}")  # a keyboard's uuid4 hex, then the button's


def pressed(query_data: object, keyboard: list[InlineKeyboardButton]) -> CallbackQuery:
    """A callback query as PTB hands it to a handler after looking its data up."""
    user = User(7, "Olena", is_bot=False)
    message = Message(1, datetime.now(timezone.utc), Chat(7, "private"), from_user=User(1, "Bot", is_bot=True),
                      reply_markup=InlineKeyboardMarkup([keyboard]))
    return CallbackQuery("1", user, "instance", data=query_data, message=message)  # type: ignore[arg-type]


def test_a_stale_post_button_names_the_command_when_its_keyboard_still_knows_it() -> None:
    forged = InvalidCallbackData("f" * 64)
    digest = InlineKeyboardButton(POST_BUTTON, callback_data=PostPreview(Kind.DIGEST, "token"))
    assert expired_text(pressed(forged, [digest])) == EXPIRED.format(command="digest")
    after_restart = InlineKeyboardButton(POST_BUTTON, callback_data=InvalidCallbackData("f" * 64))
    assert expired_text(pressed(forged, [after_restart])) == TELEGRAM_PREVIEW_GONE
    vote = InlineKeyboardButton("👍", callback_data=InvalidCallbackData("f" * 64))
    assert expired_text(pressed(forged, [vote])) == BUTTON_EXPIRED
    assert expired_text(pressed(forged, [InlineKeyboardButton("👍", callback_data=Vote(1, 1))])) == BUTTON_EXPIRED


@pytest.mark.asyncio
async def test_telegram_sees_only_keys_and_buttons_outlive_a_restart(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot], tmp_path: Path,
) -> None:
    server = telegram_server
    service = make_service(telegram_admin_ids="501")
    for number in range(12):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number}.")
    service.ingest(service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)
    add_reports(service, days_ago=1)
    first = await started(server, service)
    try:
        answer = await first.reply_to(server.private_message(QUESTION))
        answer_message = server.sent_messages[-1]
        sources = await first.reply_to(server.private_message("/sources"))
        sources_message = server.sent_messages[-1]
        listing = await first.reply_to(server.private_message("/kb list"))
        listing_message = server.sent_messages[-1]
        begin = len(server.requests)
        server.push_update(server.group_message(f"/summary {TOPIC}", user_id=MODERATOR))
        preview = await server.wait_for("sendMessage", lambda r: bool(buttons(r)), after=begin, timeout=60)
        await server.wait_for("sendMessage", lambda r: r.params["chat_id"] == GROUP, after=begin)
        preview_message = message_of(server, preview)
        shown = [b for reply in (answer, sources, listing, preview) for b in buttons(reply)]
        assert len(shown) == 3 + 2 + 1 + 1 and all(PTB_KEY.fullmatch(b["callback_data"]) for b in shown)
        assert len({b["callback_data"] for b in shown}) == len(shown)

        up = next(b for b in buttons(answer) if b["text"] == "👍")
        told = await first.reply_to(server.callback_query(up["callback_data"], answer_message), "answerCallbackQuery")
        assert "recorded" in told.params["text"]
    finally:
        await stop(first.application)

    # A restart: the buttons' store in the data folder gives PTB its cache back, so what was
    # sent before still works (as when buttons carried their own data); the preview itself
    # lived in memory, so its Post button says it expired, naming the command.
    again = Running(server, service, await start(server, service))
    try:
        down = next(b for b in buttons(answer) if b["text"] == "👎")
        told = await again.reply_to(server.callback_query(down["callback_data"], answer_message), "answerCallbackQuery")
        assert told.params["text"].startswith("Thanks")  # the 👎 counted (a vote's own thanks)
        for reply, message in ((sources, sources_message), (listing, listing_message)):
            following = next(b for b in buttons(reply) if b["text"].startswith("Next"))
            begin = len(server.requests)
            server.push_update(server.callback_query(following["callback_data"], message, user_id=501))
            await server.wait_for("editMessageText", lambda r: True, after=begin)
        post = await again.reply_to(server.callback_query(buttons(preview)[0]["callback_data"], preview_message,
                                                          user_id=MODERATOR), "answerCallbackQuery")
        assert post.params.get("text") == EXPIRED.format(command="summary")
        assert [m for m in server.sent_messages if m["chat"]["id"] == GROUP and TOPIC in m["text"].lower()] == []
    finally:
        await stop(again.application)

    # Without the store (a new data folder, or a key it never had), every button expires.
    (service.settings.data_dir / "telegram-buttons.pickle").unlink()
    fresh = Running(server, service, await start(server, service))
    try:
        presses = [(next(b for b in buttons(answer) if b["text"] == "👎"), answer_message, 501),
                   (next(b for b in buttons(sources) if b["text"].startswith("Next")), sources_message, 501),
                   (next(b for b in buttons(listing) if b["text"].startswith("Next")), listing_message, 501),
                   (buttons(preview)[0], preview_message, MODERATOR)]
        told_after = []
        for button, message, user in presses:
            reply = await fresh.reply_to(server.callback_query(button["callback_data"], message, user_id=user),
                                         "answerCallbackQuery")
            told_after.append(reply.params.get("text"))
        assert told_after == [BUTTON_EXPIRED] * 3 + [TELEGRAM_PREVIEW_GONE]
    finally:
        await stop(fresh.application)

