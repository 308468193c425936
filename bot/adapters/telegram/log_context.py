"""What a log line may say about a Telegram update: its ids, never what people wrote.

An update carries names, user names and message text; logs are kept longer and read by more
people than the chat (and a member's question about the war can identify them). The error
handler logs these ids instead, enough to find the update in Telegram and to correlate lines.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import InvalidToken


def update_ids(update: object) -> str:
    """"update 10001 (chat -100777, message 12)" for an Update; its type name for anything else
    (python-telegram-bot passes None for errors outside updates, e.g. in jobs)."""
    if not isinstance(update, Update):
        return "(no update)" if update is None else f"(a {type(update).__name__})"
    parts = []
    if update.effective_chat is not None:
        parts.append(f"chat {update.effective_chat.id}")
    if update.effective_message is not None:
        parts.append(f"message {update.effective_message.message_id}")
    if update.callback_query is not None:
        parts.append(f"callback query {update.callback_query.id}")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"update {update.update_id}{detail}"


class _RejectedTokenFilter(logging.Filter):
    """Drops python-telegram-bot's own report of a rejected token (a traceback at ERROR, just
    before the same exception reaches `crisisbot serve`, which says it in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InvalidToken))


def leave_rejected_tokens_to_the_cli() -> None:
    """Install the filter once on the logger of python-telegram-bot's network retry loop."""
    logger = logging.getLogger("telegram.ext")
    if not any(isinstance(f, _RejectedTokenFilter) for f in logger.filters):
        logger.addFilter(_RejectedTokenFilter())
