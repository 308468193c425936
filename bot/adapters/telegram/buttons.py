"""What a Telegram button carries, and what a press is told when that is gone.

The application runs with python-telegram-bot's arbitrary callback data
(`ApplicationBuilder.arbitrary_callback_data`): a button holds a Python object, PTB keeps it in
the bot's `CallbackDataCache` and gives Telegram only a 64-character key (two uuid4 hex
strings). So nothing has to be squeezed into Telegram's 64 bytes of callback data: a `/kb list`
page carries its whole `ListRequest`, however long its filters, and no store of our own keeps
what does not fit. The object's type routes a press to its handler
(`CallbackQueryHandler(pattern=Vote)`, ...).

The cache is in memory and bounded (`BUTTON_CACHE` keyboards, the least recently used dropped
first). A button from before a restart, or one long dropped, arrives as `InvalidCallbackData`;
`expired_text` then tells the person what a stale button of that flow has always said.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.ext import InvalidCallbackData

from bot.core.kb_requests import BUTTON_EXPIRED
from bot.core.messages import MORE_BUTTON, TELEGRAM_PREVIEW_GONE
from bot.core.translation import Phrases, phrases
from bot.core.previews import EXPIRED, POST_BUTTON, Kind

BUTTON_CACHE = 10_000  # keyboards kept (every answer has one): about 10 MB, days of a busy bot


@dataclass(frozen=True)
class Vote:
    """👍 (`value` 1) or 👎 (-1) under answer `answer_id`."""

    answer_id: int
    value: int


@dataclass(frozen=True)
class MoreAnswer:
    """"More" under answer `answer_id`: its continuation, for whoever presses it
    (`bot.core.conversation.Conversation.more`)."""

    answer_id: int


@dataclass(frozen=True)
class SourcesPage:
    """A page (from 0) of `/sources`."""

    page: int


@dataclass(frozen=True)
class PostPreview:
    """A preview's "Post to channel": the core's token (`bot.core.previews` finds the preview)
    and what the preview is, for the "expired" sentence."""

    kind: Kind
    token: str


def vote_keyboard(answer_id: int, words: Phrases | None = None) -> InlineKeyboardMarkup:
    """👍, 👎 and More under an answer; More in the asker's language (`words`)."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("👍", callback_data=Vote(answer_id, 1)),
        InlineKeyboardButton("👎", callback_data=Vote(answer_id, -1)),
        InlineKeyboardButton((words or phrases()).text(MORE_BUTTON), callback_data=MoreAnswer(answer_id)),
    ]])


def post_keyboard(kind: Kind, token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(POST_BUTTON, callback_data=PostPreview(kind, token))]])


def expired_text(query: CallbackQuery) -> str:
    """The answer to a press whose data PTB no longer has.

    A preview's Post button says the preview expired, naming the command that makes it again
    when another button of the same keyboard still knows which (after a restart none does);
    any other button says it is no longer active.
    """
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return BUTTON_EXPIRED
    pressed = query.data.callback_data if isinstance(query.data, InvalidCallbackData) else None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if isinstance(button.callback_data, PostPreview):
                return EXPIRED.format(command=button.callback_data.kind.value)
            stale = button.callback_data
            if button.text == POST_BUTTON and isinstance(stale, InvalidCallbackData) and stale.callback_data == pressed:
                return TELEGRAM_PREVIEW_GONE
    return BUTTON_EXPIRED
