"""Group administrators are moderators only in the listed moderator chats; Telegram's word on
who administers a group is kept at most a minute, for a bounded number of groups; an edited
message never runs a command again. Real python-telegram-bot against the stand-in Bot API."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update

from bot.adapters.telegram.chat_roles import ADMIN_CACHE_SECONDS, ChatModerators
from bot.adapters.telegram.handlers import TelegramHandlers
from bot.core.actors import Action, Role, may
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from tests.bot.adapters.telegram.test_adapter import start, stop
from tests.fakes import HashingEmbedder
from tests.telegram_server import FakeTelegram

LISTED, UNLISTED = -100777, -100888  # both administered by OWNER
OWNER, MEMBER, CONFIGURED_ADMIN = 700, 702, 42
REFUSED = "Only moderators may do that."


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def update_in(server: FakeTelegram, bot: Bot, chat_id: int, user_id: int) -> Update:
    raw = server.group_message("hi", chat_id=chat_id, user_id=user_id)
    raw["update_id"] = 1
    return Update.de_json(raw, bot)


def admin_calls(server: FakeTelegram, chat_id: int) -> int:
    return sum(1 for r in server.calls("getChatAdministrators") if r.params["chat_id"] == chat_id)


@pytest.mark.asyncio
async def test_administrators_are_moderators_only_in_listed_chats(telegram_server: FakeTelegram,
                                                                  tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, telegram_admin_ids=str(CONFIGURED_ADMIN),
                             telegram_moderator_chat_ids=str(LISTED))
    service = CrisisBot(settings, HashingEmbedder())
    handlers = TelegramHandlers(service, ThreadPoolExecutor(1), lambda: "crisisbot", "the moderators",
                                moderators=ChatModerators(settings.telegram.moderator_chat_ids))
    for chat in (LISTED, UNLISTED):
        telegram_server.chat_admins[chat] = [OWNER, CONFIGURED_ADMIN]
    async with Bot(telegram_server.token, base_url=telegram_server.base_url) as bot:
        listed_owner = await handlers.actor_with_chat_roles(update_in(telegram_server, bot, LISTED, OWNER))
        unlisted_owner = await handlers.actor_with_chat_roles(update_in(telegram_server, bot, UNLISTED, OWNER))
        configured = await handlers.actor_with_chat_roles(update_in(telegram_server, bot, UNLISTED, CONFIGURED_ADMIN))

    assert may(listed_owner, Action.SUMMARIZE)
    assert unlisted_owner.roles == frozenset({Role.MEMBER})  # creating a group makes no one a moderator
    assert may(configured, Action.CHANGE_KNOWLEDGE)  # configured ids count in every chat
    assert admin_calls(telegram_server, UNLISTED) == 0  # not even asked: nothing there would count


@pytest.mark.asyncio
async def test_a_demotion_counts_within_a_minute(telegram_server: FakeTelegram) -> None:
    clock = Clock()
    moderators = ChatModerators(frozenset({LISTED}), clock=clock)
    telegram_server.chat_admins[LISTED] = [OWNER]
    async with Bot(telegram_server.token, base_url=telegram_server.base_url) as bot:
        assert await moderators.is_moderator(bot, LISTED, OWNER)
        telegram_server.chat_admins[LISTED] = []  # demoted
        clock.now += ADMIN_CACHE_SECONDS - 1
        assert await moderators.is_moderator(bot, LISTED, OWNER)  # Telegram is not asked every message
        assert not await moderators.is_moderator(bot, LISTED, OWNER, fresh=True)  # a press asks afresh
        telegram_server.chat_admins[LISTED] = [OWNER]
        assert await moderators.is_moderator(bot, LISTED, OWNER, fresh=True)
        telegram_server.chat_admins[LISTED] = []
        clock.now += ADMIN_CACHE_SECONDS + 0.001
        assert not await moderators.is_moderator(bot, LISTED, OWNER)
    assert ADMIN_CACHE_SECONDS <= 60
    assert admin_calls(telegram_server, LISTED) == 4


@pytest.mark.asyncio
async def test_the_cache_keeps_only_the_most_recently_asked_chats(telegram_server: FakeTelegram) -> None:
    chats = [-1001, -1002, -1003]
    moderators = ChatModerators(frozenset(chats), limit=2)
    for chat in chats:
        telegram_server.chat_admins[chat] = [OWNER]
    async with Bot(telegram_server.token, base_url=telegram_server.base_url) as bot:
        for chat in (-1001, -1002, -1001, -1003):  # -1002 is now the least recently asked
            assert await moderators.is_moderator(bot, chat, OWNER)
        assert len(moderators) == 2
        await moderators.is_moderator(bot, -1001, OWNER)  # still cached
        await moderators.is_moderator(bot, -1002, OWNER)  # forgotten: asked again
    assert [admin_calls(telegram_server, chat) for chat in chats] == [1, 2, 1]


@pytest.mark.asyncio
async def test_a_group_owner_in_an_unlisted_group_cannot_summarise(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    """Through the running application: the owner of a group nobody listed asks for a summary."""
    service = make_service()  # lists the stand-in's default group only
    telegram_server.chat_admins[UNLISTED] = [OWNER]
    telegram_server.chat_admins[LISTED] = [OWNER]
    application = await start(telegram_server, service)
    try:
        begin = len(telegram_server.requests)
        telegram_server.push_update(telegram_server.group_message("/summary grain", chat_id=UNLISTED, user_id=OWNER))
        refused = await telegram_server.wait_for("sendMessage", lambda r: r.params["chat_id"] == UNLISTED, after=begin)
        assert refused.params["text"] == REFUSED
        begin = len(telegram_server.requests)
        telegram_server.push_update(telegram_server.group_message("/summary grain", chat_id=LISTED, user_id=OWNER))
        answered = await telegram_server.wait_for("sendMessage", after=begin, timeout=60)
        assert answered.params["text"] != REFUSED  # a moderator there: a result, privately or in the group
    finally:
        await stop(application)
        service.close()


def edited(update: dict[str, Any]) -> dict[str, Any]:
    """The same message as Telegram sends it after its author edited it."""
    return {"edited_message": {**update["message"], "edit_date": int(time.time())}}


@pytest.mark.asyncio
async def test_an_edited_command_is_not_run_again(
    telegram_server: FakeTelegram, make_service: Callable[..., CrisisBot],
) -> None:
    server = telegram_server
    service = make_service()
    application = await start(server, service)
    try:
        begin = len(server.requests)
        for command in ("/ask How many North Korean troops arrived in Russia?", "/help", "/start", "/sources"):
            server.push_update(edited(server.private_message(command)))
            server.push_update(edited(server.group_message(command.replace(" ", "@crisis_test_bot ", 1)
                                                           if " " in command else command + "@crisis_test_bot")))
        server.push_update(server.private_message("/help", user_id=999))  # handled after all of them
        reply = await server.wait_for("sendMessage", after=begin, timeout=60)
    finally:
        await stop(application)
        service.close()
    assert reply.params["chat_id"] == 999  # the first reply is the new message's: no edit was answered
    later = [r for r in server.requests[begin:] if r.method in ("sendMessage", "sendChatAction")]
    assert [r.params["chat_id"] for r in later] == [999]


def test_the_telegram_section_carries_the_moderator_chats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISBOT_TELEGRAM_MODERATOR_CHAT_IDS", "-1001, -1002")
    assert load_settings(data_dir=tmp_path).telegram.moderator_chat_ids == frozenset({-1001, -1002})
    monkeypatch.delenv("CRISISBOT_TELEGRAM_MODERATOR_CHAT_IDS")
    assert load_settings(data_dir=tmp_path).telegram.moderator_chat_ids == frozenset()
