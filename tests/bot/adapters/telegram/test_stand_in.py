"""Self-tests of the Telegram stand-in, driven by the real python-telegram-bot client.

The adapter tests trust this server; these tests show that PTB accepts what it answers (so the
shapes are right) and that it behaves like Telegram where the adapter's correctness depends on
it: long polling, offsets, commands, callback queries, flood control and validation errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_server import FakeTelegram

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])


def plain_bot(server: FakeTelegram) -> Bot:
    return Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url)


def builder(server: FakeTelegram) -> ApplicationBuilder:
    return (ApplicationBuilder().token(server.token).base_url(server.base_url)
            .base_file_url(server.base_file_url))


@contextlib.asynccontextmanager
async def polling(server: FakeTelegram, *handlers: BaseHandler[Any, Any, Any]
                  ) -> AsyncIterator[tuple[Application[Any, Any, Any, Any, Any, Any], list[object]]]:
    """A real Application polling the stand-in; yields it and the errors its handlers raised."""
    app = builder(server).build()
    errors: list[object] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    for handler in handlers:
        app.add_handler(handler)
    app.add_error_handler(on_error)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling()
    try:
        yield app, errors
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.mark.asyncio
async def test_get_me_and_startup_sequence(telegram_server: FakeTelegram) -> None:
    async with polling(telegram_server):
        await telegram_server.wait_for("getUpdates", timeout=5)
    methods = [r.method for r in telegram_server.requests]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert telegram_server.calls("getUpdates")[0].params == {"timeout": 10, "offset": 0}
    # Stopping confirms the offset with one last short getUpdates.
    assert telegram_server.calls("getUpdates")[-1].params["timeout"] == 0
    async with plain_bot(telegram_server) as bot:
        me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (1000, "crisis_test_bot", True)


@pytest.mark.asyncio
async def test_send_message_records_decoded_params(telegram_server: FakeTelegram) -> None:
    async with plain_bot(telegram_server) as bot:
        sent = await bot.send_message(42, "<b>Kyiv</b> &amp; Kharkiv", parse_mode=ParseMode.HTML,
                                      reply_markup=KEYBOARD)
    call = telegram_server.calls("sendMessage")[0]
    assert call.params == {"chat_id": 42, "text": "<b>Kyiv</b> &amp; Kharkiv", "parse_mode": "HTML",
                           "reply_markup": {"inline_keyboard": [[{"text": "More",
                                                                  "callback_data": "more:1"}]]}}
    # The reply is what Telegram stores: tags parsed into entities, entities unescaped.
    assert sent.text == "Kyiv & Kharkiv" and sent.chat.type == "private"
    assert sent.parse_entities() == {sent.entities[0]: "Kyiv"}
    assert sent.reply_markup == KEYBOARD and sent.from_user and sent.from_user.is_bot
    assert telegram_server.sent_messages[-1]["message_id"] == sent.message_id


@pytest.mark.asyncio
async def test_text_params_stay_strings(telegram_server: FakeTelegram) -> None:
    async with plain_bot(telegram_server) as bot:
        await bot.send_message(-100777, "42")
        await bot.send_chat_action(-100777, "typing")
    assert telegram_server.calls("sendMessage")[0].params["text"] == "42"
    assert telegram_server.calls("sendChatAction")[0].params == {"chat_id": -100777,
                                                                 "action": "typing"}


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "reason"), [
    ("x" * 4097, "message is too long"),
    ("<p>paragraph</p>", 'unsupported start tag "p" at byte offset 0'),
    ("<b>bold", 'can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("x</b>", "unexpected end tag at byte offset 1"),
    ("1 <2", "unclosed start tag at byte offset 2"),
    ("AT&T", 'unescaped "&"'),
    ("<span>x</span>", 'tag "span" must have class "tg-spoiler"'),
    ("<b> </b>", "message text is empty"),
])
async def test_send_message_rejects_what_telegram_rejects(
    telegram_server: FakeTelegram, text: str, reason: str
) -> None:
    async with plain_bot(telegram_server) as bot:
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(42, text, parse_mode=ParseMode.HTML)
    assert reason in caught.value.message.lower()
    assert len(telegram_server.calls("sendMessage")) == 1 and not telegram_server.sent_messages


@pytest.mark.asyncio
async def test_limits_count_visible_text_and_callback_bytes(telegram_server: FakeTelegram) -> None:
    visible = "&lt;" + "ї" * 4094 + "&#33;"  # 4096 characters once entities are decoded
    async with plain_bot(telegram_server) as bot:
        sent = await bot.send_message(42, f"<i>{visible}</i>", parse_mode=ParseMode.HTML)
        assert sent.text is not None and len(sent.text) == 4096 and sent.text.endswith("!")
        button = InlineKeyboardButton("Go", callback_data="é" * 33)  # 66 bytes
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):  # PTB: "Button_data_invalid"
            await bot.send_message(42, "hi", reply_markup=InlineKeyboardMarkup([[button]]))


@pytest.mark.asyncio
async def test_edit_message_text(telegram_server: FakeTelegram) -> None:
    async with plain_bot(telegram_server) as bot:
        sent = await bot.send_message(7, "Searching…", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("<b>Answer</b>", chat_id=7,
                                             message_id=sent.message_id, parse_mode="HTML")
        assert isinstance(edited, Message) and edited.text == "Answer"
        assert edited.reply_markup is None  # edited without reply_markup: the keyboard is gone
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("<b>Answer</b>", chat_id=7, message_id=sent.message_id,
                                        parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=7, message_id=999)
        assert await bot.delete_message(7, sent.message_id) is True
    assert [m["text"] for m in telegram_server.sent_messages] == ["Searching…", "Answer"]


@pytest.mark.asyncio
async def test_private_message_reaches_handler_through_long_poll(
    telegram_server: FakeTelegram,
) -> None:
    received: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        received.append(update.message.text)
        await update.message.reply_text(f"echo: {update.message.text}")

    async with polling(telegram_server, MessageHandler(filters.TEXT & ~filters.COMMAND, echo)
                       ) as (_, errors):
        held = await telegram_server.wait_for("getUpdates", timeout=5)
        await asyncio.sleep(0.3)  # the poll is now held open by the server
        started = time.monotonic()
        update_id = telegram_server.push_update(telegram_server.private_message("Що з Харковом?"))
        reply = await telegram_server.wait_for("sendMessage", timeout=5)
        assert time.monotonic() - started < 2  # woken at once, not after the 10 s poll timeout
        confirm = await telegram_server.wait_for(
            "getUpdates", lambda r: r.params.get("offset") == update_id + 1, timeout=5)
    assert held.params["timeout"] == 10
    assert received == ["Що з Харковом?"] and not errors
    assert reply.params == {"chat_id": 501, "text": "echo: Що з Харковом?"}
    assert confirm is not None


@pytest.mark.asyncio
async def test_commands_reach_command_handler(telegram_server: FakeTelegram) -> None:
    seen: list[tuple[int, list[str]]] = []

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        seen.append((update.effective_chat.id, list(context.args or [])))

    async with polling(telegram_server, CommandHandler("ask", ask)) as (_, errors):
        telegram_server.push_update(telegram_server.private_message("/ask where is the front"))
        telegram_server.push_update(
            telegram_server.group_message("/ask@crisis_test_bot casualties?"))
        telegram_server.push_update(telegram_server.group_message("/ask@other_bot ignored"))
        telegram_server.push_update(telegram_server.private_message("ask without slash"))
        last = telegram_server.push_update(telegram_server.private_message("/help"))
        await telegram_server.wait_for(
            "getUpdates", lambda r: r.params.get("offset") == last + 1, timeout=5)
        await asyncio.sleep(0.2)  # let the Application process the queued updates
    assert seen == [(501, ["where", "is", "the", "front"]), (-100777, ["casualties?"])]
    assert not errors


@pytest.mark.asyncio
async def test_callback_query_is_answered(telegram_server: FakeTelegram) -> None:
    pressed: list[str] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("Loading…")
        await query.edit_message_text("More detail")

    async with polling(telegram_server, CallbackQueryHandler(on_press)) as (app, errors):
        await app.bot.send_message(501, "Answer", reply_markup=KEYBOARD)
        message = telegram_server.sent_messages[-1]
        telegram_server.push_update(telegram_server.callback_query("more:1", message))
        answer = await telegram_server.wait_for("answerCallbackQuery", timeout=5)
        edit = await telegram_server.wait_for("editMessageText", timeout=5)
    assert pressed == ["more:1"] and not errors
    assert answer.params == {"callback_query_id": "1", "text": "Loading…"}
    assert edit.params["message_id"] == message["message_id"] and edit.params["chat_id"] == 501
    assert telegram_server.sent_messages[-1]["text"] == "More detail"


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_flood_control_plain_bot_raises_retry_after(telegram_server: FakeTelegram) -> None:
    telegram_server.fail_next("sendMessage", 429, retry_after=1)
    async with plain_bot(telegram_server) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(42, "hi")
        # PTB drops the description and words its own message from retry_after.
        assert str(caught.value) == "Flood control exceeded. Retry in 1 seconds"
        await bot.send_message(42, "hi")  # one-shot: the next call succeeds
    assert len(telegram_server.calls("sendMessage")) == 2
    assert len(telegram_server.sent_messages) == 1


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_flood_control_rate_limiter_retries(telegram_server: FakeTelegram) -> None:
    telegram_server.fail_next("sendMessage", 429, retry_after=1)
    app = builder(telegram_server).rate_limiter(AIORateLimiter(max_retries=2)).build()
    async with app:
        started = time.monotonic()
        sent = await app.bot.send_message(-100777, "hi")
        elapsed = time.monotonic() - started
    assert sent.text == "hi" and 1.0 <= elapsed < 3
    assert [r.params["text"] for r in telegram_server.calls("sendMessage")] == ["hi", "hi"]


@pytest.mark.asyncio
async def test_unknown_method_is_404_and_recorded(telegram_server: FakeTelegram) -> None:
    async with plain_bot(telegram_server) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 42})
    async with plain_bot(telegram_server) as bot:
        with pytest.raises(InvalidToken, match="Not Found"):  # PTB maps a plain 404 so
            await bot._post("getSecrets")  # noqa: SLF001 - what an unsupported method meets
    assert telegram_server.unknown == [("sendTelepathy", {"chat_id": 42}), ("getSecrets", {})]


@pytest.mark.asyncio
async def test_get_updates_offset_limit_and_timeout(telegram_server: FakeTelegram) -> None:
    ids = [telegram_server.push_update(telegram_server.private_message(f"m{n}"))
           for n in range(4)]
    async with plain_bot(telegram_server) as bot:
        first = await bot.get_updates(offset=ids[1], limit=2, timeout=0)
        assert [u.update_id for u in first] == ids[1:3]
        rest = await bot.get_updates(timeout=0)  # no offset: nothing newly confirmed
        assert [u.update_id for u in rest] == ids[1:]
        assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
        started = time.monotonic()
        assert await bot.get_updates(offset=ids[-1] + 1, timeout=1) == ()
        assert 0.9 <= time.monotonic() - started < 3  # held for the whole timeout


@pytest.mark.asyncio
async def test_webhook_blocks_polling_and_drop_pending(telegram_server: FakeTelegram) -> None:
    telegram_server.push_update(telegram_server.private_message("stale"))
    async with plain_bot(telegram_server) as bot:
        assert await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates(timeout=0) == ()
    assert telegram_server.calls("setWebhook")[0].params == {
        "url": "https://example.invalid/hook", "secret_token": "s3cret"}
    assert telegram_server.calls("deleteWebhook")[0].params == {"drop_pending_updates": True}


@pytest.mark.asyncio
async def test_builders_parse_in_ptb(telegram_server: FakeTelegram) -> None:
    server = telegram_server
    asked = server.group_message("Слава 🇺🇦 @crisis_test_bot, що нового?")
    server.push_update(asked)
    server.push_update(server.group_message("reply", reply_to_message=asked["message"]))
    server.push_update(server.sticker_message())
    server.push_update(server.photo_message(caption="map"))
    async with plain_bot(server) as bot:
        updates = await bot.get_updates(timeout=0)
    mention, reply, sticker, photo = (u.message for u in updates)
    assert mention is not None and mention.chat.type == "supergroup"
    assert list(mention.parse_entities(["mention"]).values()) == ["@crisis_test_bot"]
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.text == mention.text
    assert sticker is not None and sticker.sticker is not None and sticker.text is None
    assert photo is not None and photo.caption == "map" and len(photo.photo) == 2


@pytest.mark.asyncio
async def test_chat_queries(telegram_server: FakeTelegram) -> None:
    telegram_server.chat_admins[-100777] = [9, 1000]
    async with plain_bot(telegram_server) as bot:
        owner, admin = await bot.get_chat_administrators(-100777)
        chat = await bot.get_chat(-100777)
        with pytest.raises(BadRequest, match="private chat"):
            await bot.get_chat_administrators(501)
        assert await bot.set_my_commands([("ask", "Ask a question")])
        commands = await bot.get_my_commands()
    assert isinstance(owner, ChatMemberOwner) and owner.user.id == 9
    assert isinstance(admin, ChatMemberAdministrator) and admin.user.is_bot
    assert isinstance(chat, ChatFullInfo) and chat.type == "supergroup"
    assert [(c.command, c.description) for c in commands] == [("ask", "Ask a question")]
