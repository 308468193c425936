"""What every group of Telegram handlers shares: the core service, the question pool its
blocking calls run in (changes to the knowledge base have a thread of their own:
`KnowledgeHandlers._change`), and the person behind an update as the core's `Actor`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import TypeVar

from telegram import Update

from bot.core.actors import Actor
from bot.runtime.service import CrisisBot

T = TypeVar("T")


class CoreCalls:
    """Base of the handler classes; the model and the stores never run on the event loop, so
    one slow question or ingest never stalls the other chats."""

    def __init__(self, service: CrisisBot, executor: Executor) -> None:
        self.service = service
        self.executor = executor

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(function, *args))

    def _actor(self, update: Update) -> Actor:
        """The sender with the roles configured for them (group roles: see
        `TelegramHandlers.actor_with_chat_roles`)."""
        user = update.effective_user
        assert user is not None
        return self.service.actor("telegram", user.id, user.full_name)
