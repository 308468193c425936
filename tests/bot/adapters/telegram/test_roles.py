"""Moderators are configured ids or the group's administrators, asked of Telegram itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from telegram import Bot, Update

from bot.core.actors import Action, Role, may
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from bot.adapters.telegram.chat_roles import ChatModerators
from bot.adapters.telegram.handlers import TelegramHandlers
from tests.fakes import HashingEmbedder
from tests.telegram_server import FakeTelegram


@pytest.mark.asyncio
async def test_group_administrators_are_moderators_and_configured_ids_count(
    telegram_server: FakeTelegram, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, telegram_admin_ids="42", telegram_moderator_ids="43",
                             telegram_moderator_chat_ids="-100777")
    service = CrisisBot(settings, HashingEmbedder())
    handlers = TelegramHandlers(service, ThreadPoolExecutor(1), lambda: telegram_server.bot_user["username"],
                                service.settings.maintainer,
                                moderators=ChatModerators(settings.telegram.moderator_chat_ids))
    telegram_server.chat_admins[-100777] = [700, 701]
    async with Bot(telegram_server.token, base_url=telegram_server.base_url) as bot:
        def update_from(user_id: int, group: bool = True) -> Update:
            raw = (telegram_server.group_message("hi", user_id=user_id) if group
                   else telegram_server.private_message("hi", user_id=user_id))
            raw["update_id"] = 1
            return Update.de_json(raw, bot)

        owner = await handlers.actor_with_chat_roles(update_from(700))
        member = await handlers.actor_with_chat_roles(update_from(702))
        configured_admin = await handlers.actor_with_chat_roles(update_from(42, group=False))
        configured_moderator = await handlers.actor_with_chat_roles(update_from(43, group=False))

    assert Role.MODERATOR in owner.roles and may(owner, Action.SUMMARIZE)
    assert not may(owner, Action.CHANGE_KNOWLEDGE)
    assert member.roles == frozenset({Role.MEMBER})
    assert may(configured_admin, Action.CHANGE_KNOWLEDGE)
    assert may(configured_moderator, Action.SUMMARIZE) and not may(configured_moderator, Action.CHANGE_KNOWLEDGE)
    assert len(telegram_server.calls("getChatAdministrators")) == 1  # cached for the second lookup
