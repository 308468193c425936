"""Which Telegram group administrators count as moderators, and how long Telegram's word is kept.

Anyone can create a group and be its administrator, so a group's administrators count as the
community's moderators only in the groups the operator listed (`telegram_moderator_chat_ids`);
elsewhere only the configured ids have roles. A group is not asked about at all when it is not
listed: nothing Telegram could say there would count.

The administrators of a listed group are cached for `ADMIN_CACHE_SECONDS` (a busy group would
otherwise spend its rate limit asking), so a demotion counts within a minute; the cache holds
at most `MAX_CACHED_CHATS` groups, the least recently asked forgotten first. A press of "Post
to channel" asks afresh (`fresh=True`): it is rare, and a demotion must count at once there.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Bot

ADMIN_CACHE_SECONDS = 60.0
MAX_CACHED_CHATS = 256


class ChatModerators:
    """The administrators of the listed groups, asked of Telegram and kept a minute.

    `clock` is monotonic seconds (a test may move it)."""

    def __init__(self, chat_ids: frozenset[int], seconds: float = ADMIN_CACHE_SECONDS,
                 limit: int = MAX_CACHED_CHATS, clock: Callable[[], float] = time.monotonic) -> None:
        self.chat_ids = chat_ids
        self.seconds = seconds
        self.limit = limit
        self.clock = clock
        self._admins: OrderedDict[int, tuple[float, frozenset[int]]] = OrderedDict()

    def listed(self, chat_id: int | None) -> bool:
        return chat_id is not None and chat_id in self.chat_ids

    async def is_moderator(self, bot: Bot, chat_id: int | None, user_id: int, fresh: bool = False) -> bool:
        """Whether `user_id` administers `chat_id` and that group is listed (raises Telegram's
        error when it will not say)."""
        if chat_id is None or not self.listed(chat_id):
            return False
        return user_id in await self._administrators(bot, chat_id, fresh)

    async def _administrators(self, bot: Bot, chat_id: int, fresh: bool) -> frozenset[int]:
        now = self.clock()
        cached = self._admins.get(chat_id)
        if cached is not None and not fresh and now < cached[0]:
            self._admins.move_to_end(chat_id)
            return cached[1]
        members = await bot.get_chat_administrators(chat_id)
        admins = frozenset(member.user.id for member in members)
        self._admins[chat_id] = (now + self.seconds, admins)
        self._admins.move_to_end(chat_id)
        while len(self._admins) > self.limit:
            self._admins.popitem(last=False)
        return admins

    def __len__(self) -> int:
        return len(self._admins)
