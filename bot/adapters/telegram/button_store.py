"""Keeps what Telegram buttons carry across restarts, in the data folder.

With python-telegram-bot's arbitrary callback data a button holds a key into an in-memory
cache (`bot.adapters.telegram.buttons`). Without a store, every 👍 / 👎, pager and Post button
sent before a restart would stop working, where they used to carry their own data. This
persistence keeps only that cache (no chat, user or bot data: nothing about people), written
whole and atomically: a new file is written beside the old one and renamed over it, so a
crash mid-write leaves the previous copy. An unreadable file is logged and set aside, and the
bot starts with an empty cache (its old buttons then say they are no longer active) rather
than refusing to start.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

log = logging.getLogger(__name__)

FLUSH_SECONDS = 30  # PTB hands the cache over this often, and at shutdown


class ButtonStore(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """A `BasePersistence` that stores the callback-data cache and nothing else."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=False, callback_data=True),
            update_interval=FLUSH_SECONDS,
        )
        self.path = path
        self._data: CDCData | None = None
        self._written: CDCData | None = None

    async def get_callback_data(self) -> CDCData | None:
        self._data = self._written = self._read()
        return self._data

    async def update_callback_data(self, data: CDCData) -> None:
        self._data = data
        self._write_if_changed()

    async def flush(self) -> None:
        self._write_if_changed()

    def _read(self) -> CDCData | None:
        try:
            with self.path.open("rb") as file:
                data = pickle.load(file)
        except FileNotFoundError:
            return None
        except Exception as exc:  # damaged or foreign: the buttons expire, the bot starts
            aside = self.path.with_name(self.path.name + ".unreadable")
            log.warning("the buttons' store %s is unreadable (%s); moved to %s, starting empty",
                        self.path, type(exc).__name__, aside.name)
            os.replace(self.path, aside)
            return None
        return data  # type: ignore[no-any-return]

    def _write_if_changed(self) -> None:
        if self._data is None or self._data == self._written:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(self._data, file, protocol=pickle.HIGHEST_PROTOCOL)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._written = self._data

    # -- nothing else is stored ----------------------------------------------------------------

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_conversations(self, name: str) -> ConversationDict:
        return {}

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        return None

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None
