"""Posting a digest to a Telegram chat: the scheduled digest of the Telegram adapter (its
JobQueue job) and of `crisisbot worker` (a bare Bot API client, no Application, no polling).

Both render with `digest_messages` (escaped HTML, split within Telegram's 4096 characters) and
use the same core key, `telegram:<chat id>`, so whichever posts, a chat never gets the same
documents twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, ExtBot

from bot.core.scheduled_digest import DigestPlace
from bot.runtime.sections import TelegramSection
from bot.core.summary import Digest
from bot.adapters.telegram.formatting import MESSAGE_LIMIT
from bot.adapters.telegram.summary_format import digest_messages
from knowledge.errors import ConfigError

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def digest_key(chat_id: int) -> str:
    """The core's digest key of a Telegram chat (where the next digest there starts)."""
    return f"telegram:{chat_id}"


async def send_html(bot: Bot, chat_id: int, parts: Sequence[str], markup: InlineKeyboardMarkup | None = None) -> None:
    """HTML messages in order, link previews off, the keyboard under the last."""
    for number, part in enumerate(parts):
        await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                               reply_markup=markup if number == len(parts) - 1 else None)


async def post_digest(bot: Bot, chat_id: int, digest: Digest, limit: int = MESSAGE_LIMIT) -> None:
    """The digest as the adapter shows it, in as many messages as Telegram's limit needs."""
    await send_html(bot, chat_id, digest_messages(digest, limit=limit))


def bot_token(config: TelegramSection) -> str:
    if config.bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
    return config.bot_token.get_secret_value()


def api_urls(config: TelegramSection) -> tuple[str, str]:
    """The Bot API's base URL and its file URL (`telegram_api_url`: a stand-in in tests)."""
    api = config.api_url.rstrip("/")
    return api, api.replace("/bot", "/file/bot") if api.endswith("/bot") else api + "/file/bot"


def standalone_bot(config: TelegramSection) -> ExtBot[int]:
    """A Bot API client for posting only (no updates are fetched), with the adapter's flood
    control: `AIORateLimiter` retries a 429 after `retry_after`, 3 times. Use `async with`."""
    api, file_api = api_urls(config)
    return ExtBot(bot_token(config), base_url=api, base_file_url=file_api,
                  rate_limiter=AIORateLimiter(max_retries=3))


def worker_place(config: TelegramSection) -> DigestPlace | None:
    """The worker's Telegram digest place (`telegram_digest_chat_id`), None when unset. Each
    post opens its own short-lived client: the digest goes out once a day or week."""
    chat_id = config.digest_chat_id
    if chat_id is None:
        return None
    bot_token(config)  # refuse at start, not at the first digest

    async def post(digest: Digest) -> None:
        async with standalone_bot(config) as bot:
            await post_digest(bot, chat_id, digest)

    return DigestPlace(digest_key(chat_id), f"Telegram chat {chat_id}", post)
