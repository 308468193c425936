"""`/summary`, `/digest`, the "Post to channel" button and the scheduled digest in Telegram.

A summary is posted in a moderator's name, so they see it first: the preview always goes to
their private chat (never to the group, where it would already be "posted"), with a button that
posts it to the chat the command came from. Who may ask is decided by the core (`actor=`, the
SUMMARIZE action); this module only finds the person's roles (`actor_with_chat_roles`: group
administrators are moderators) and translates. Previews live in memory only: after a restart,
or once 256 newer ones were made, the button says the preview expired.

The scheduled digest runs in PTB's JobQueue as the process itself (no actor) through the flow
`crisisbot worker` uses too (`bot.core.scheduled_digest`, `bot.adapters.telegram.digest_post`): it marks its
key only after it was posted, so a failed post is retried with the same documents next time.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.core.actors import Actor
from bot.core.scheduled_digest import DigestPlace, deliver_digest
from bot.runtime.service import CrisisBot
from bot.adapters.telegram.core_calls import CoreCalls
from bot.core.summary import Digest
from bot.adapters.telegram.digest_post import NO_PREVIEW, digest_key, post_digest, send_html
from bot.adapters.telegram.formatting import MESSAGE_LIMIT
from bot.adapters.telegram.summary_format import (
    digest_messages,
    posted_by,
    posted_to,
    summary_messages,
    with_footer,
)
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)


POST_PREFIX = "p"  # callback data "p:<s|d>:<token>"; "v", "s" (handlers.py) and "k" (kb.py) are taken
MAX_PENDING = 256
SENT_PREVIEW = "Sent you a preview in a private message."
SENT_RESULT = "Sent you the result in a private message."
START_PRIVATE = ("I can't send you a private message yet. Open a private chat with @{bot}, press "
                 "Start, then run /{command} here again.")
NO_TARGET = ("There is no chat to post this to from here: run /{command} in the group, or ask an "
             "admin to set telegram_digest_chat_id.")
EXPIRED = "This preview has expired; run /{command} again."
NOT_YOURS = "Only the moderator who asked for this preview can post it."
POST_FAILED = "I couldn't post to {chat}: {reason}"
APOLOGY = "Sorry, something went wrong while doing that. The error was logged."
COMMAND_OF_KIND = {"s": "summary", "d": "digest"}
USAGE = {"summary": "/summary [topic] [since=YYYY-MM-DD] [until=YYYY-MM-DD]",
         "digest": "/digest [since=YYYY-MM-DD]"}


class UsageError(CrisisbotError):
    """A /summary or /digest argument the bot cannot read."""


@dataclass(frozen=True)
class Preview:
    """A preview waiting for its Post button: what to post, where, and for whom."""

    kind: str  # "s" summary, "d" digest
    moderator_id: int
    moderator_name: str
    target_id: int
    target_title: str
    parts: list[str]
    digest: Digest | None = None
    mark_key: str | None = None  # the digest key to mark once posted


def ptb_days(weekdays: Iterable[int]) -> tuple[int, ...]:
    """`date.weekday()` numbers (0 = Monday) as `JobQueue.run_daily` wants them: since PTB 20,
    0-6 are Sunday to Saturday (`_jobqueue.py`, `_CRON_MAPPING`)."""
    return tuple(sorted((day + 1) % 7 for day in weekdays))


def parse_args(command: str, args: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """`since=`/`until=` options (only `since=` for /digest), the other words being the topic."""
    allowed = ("since", "until") if command == "summary" else ("since",)
    options: dict[str, str] = {}
    words: list[str] = []
    for word in args:
        key, equals, value = word.partition("=")
        if equals and key.lower() in allowed and value and key.lower() not in options:
            options[key.lower()] = value
        elif equals and key.lower() in ("since", "until"):
            raise UsageError(f"I can't read {word!r}. Usage: {USAGE[command]}")
        else:
            words.append(word)
    if command == "digest" and words:
        raise UsageError(f"/digest takes no topic. Usage: {USAGE['digest']}")
    topic = " ".join(words).strip().strip("\"'“”«»").strip()
    return topic or None, options


class SummaryHandlers(CoreCalls):
    """The moderators' summary and digest commands, their Post button and the digest job."""

    def __init__(
        self,
        service: CrisisBot,
        executor: Executor,
        actor_of: Callable[[Update], Awaitable[Actor]],
        bot_username: Callable[[], str],
        message_limit: int = MESSAGE_LIMIT,
    ) -> None:
        super().__init__(service, executor)
        self._actor_of = actor_of
        self._username = bot_username
        self.message_limit = message_limit
        self._pending: OrderedDict[str, Preview] = OrderedDict()

    # -- commands -----------------------------------------------------------------------------

    async def summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/summary [topic] [since=…] [until=…]`: a preview in the moderator's private chat."""
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        try:
            topic, options = parse_args("summary", context.args or [])
            actor = await self._actor_of(update)
            await _typing(message)
            summary = await self._run(partial(self.service.summarize, topic, options.get("since"),
                                              options.get("until"), actor=actor))
        except CrisisbotError as exc:
            await message.reply_text(str(exc))
            return
        parts = summary_messages(summary, limit=self.message_limit)
        await self._deliver(update, "s", parts, postable=summary.found)

    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/digest [since=…]`: what is new, previewed privately like a summary.

        Without `since=`, the digest starts where the last one posted to the target chat ended
        (its key), and posting it marks that key, so the chat's next digest does not repeat it.
        Only the configured digest chat's key is the scheduled one: a digest posted in another
        group never moves the schedule. With `since=`, the period is the moderator's choice and
        nothing is marked (marking could skip documents added before `since`).
        """
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        target = self._target_id(message)
        try:
            _, options = parse_args("digest", context.args or [])
            since = options.get("since")
            key = digest_key(target) if target is not None and since is None else None
            actor = await self._actor_of(update)
            await _typing(message)
            digest = await self._run(partial(self.service.digest, actor=actor, since=since, key=key))
        except CrisisbotError as exc:
            await message.reply_text(str(exc))
            return
        parts = digest_messages(digest, limit=self.message_limit)
        await self._deliver(update, "d", parts, postable=not digest.empty, digest=digest, mark_key=key)

    def _target_id(self, message: Message) -> int | None:
        """Where Post sends a preview: the group it was asked in, else the digest chat."""
        if message.chat.type != ChatType.PRIVATE:
            return message.chat.id
        return self.service.settings.telegram_digest_chat_id

    async def _target_title(self, message: Message, target: int) -> str:
        if message.chat.id == target and message.chat.title:
            return message.chat.title
        with contextlib.suppress(TelegramError):
            chat = await message.get_bot().get_chat(target)
            if chat.title or chat.effective_name:
                return chat.title or chat.effective_name or ""
        return f"chat {target}"

    async def _deliver(self, update: Update, kind: str, parts: list[str], postable: bool,
                       digest: Digest | None = None, mark_key: str | None = None) -> None:
        """Send `parts` to the moderator's private chat, with a Post button when there is
        somewhere to post; in a group, only a short note (or how to open a private chat)."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        command = COMMAND_OF_KIND[kind]
        bot = message.get_bot()
        target = self._target_id(message) if postable else None
        token, markup = None, None
        if target is not None:
            token = secrets.token_urlsafe(8)  # random: an old button never matches a new preview
            self._keep(token, Preview(kind, user.id, user.full_name, target,
                                      await self._target_title(message, target), parts, digest, mark_key))
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(
                "Post to channel", callback_data=f"{POST_PREFIX}:{kind}:{token}")]])
        try:
            await send_html(bot, user.id, parts, markup)
            if postable and target is None:
                await bot.send_message(user.id, NO_TARGET.format(command=command))
        except (Forbidden, BadRequest) as exc:
            if token is not None:
                self._pending.pop(token, None)
            if message.chat.type == ChatType.PRIVATE or (
                    isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower()):
                raise
            await message.reply_text(START_PRIVATE.format(bot=self._username(), command=command))
            return
        if message.chat.type != ChatType.PRIVATE:
            await message.reply_text(SENT_PREVIEW if token is not None else SENT_RESULT)

    def _keep(self, token: str, preview: Preview) -> None:
        self._pending[token] = preview
        while len(self._pending) > MAX_PENDING:  # the oldest previews' buttons expire
            self._pending.popitem(last=False)

    # -- the Post button ----------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Post a kept preview to its target chat, signed with the moderator's name.

        Only the moderator who asked for the preview may post it: it was made with their roles,
        and it is their name that goes under it. The preview is taken out before posting, so a
        double tap cannot post it twice; it is put back if nothing could be posted.
        """
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        _, kind, token = (query.data.split(":", 2) + ["", ""])[:3]
        preview = self._pending.get(token)
        if preview is None:
            await query.answer(EXPIRED.format(command=COMMAND_OF_KIND.get(kind, "summary")))
            return
        if query.from_user.id != preview.moderator_id:
            await query.answer(NOT_YOURS)
            return
        if self._pending.pop(token, None) is None:  # another tap took it meanwhile
            await query.answer()
            return
        await query.answer("Posting…")
        bot = query.get_bot()
        parts = with_footer(preview.parts, posted_by(preview.moderator_name))
        try:
            await send_html(bot, preview.target_id, parts)
        except TelegramError as exc:
            self._keep(token, preview)
            log.warning("posting a preview to chat %s failed: %s", preview.target_id, exc)
            await query.message.reply_text(POST_FAILED.format(chat=preview.target_title, reason=exc.message))
            return
        if preview.mark_key is not None and preview.digest is not None:  # posted: mark it at once
            await self._run(self.service.mark_digest_posted, preview.mark_key, preview.digest)
        with contextlib.suppress(BadRequest):  # the preview was deleted: the post still stands
            await query.edit_message_text(preview.parts[-1] + posted_to(preview.target_title),
                                          parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)

    # -- the scheduled digest -----------------------------------------------------------------

    async def digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The JobQueue callback: post what is new to the digest chat, or nothing.

        The key is marked only after every message went out. Any failure is logged and the
        job queue goes on: the next run covers the same documents again.
        """
        chat_id = self.service.settings.telegram_digest_chat_id
        if chat_id is None:
            return
        place = DigestPlace(digest_key(chat_id), f"chat {chat_id}",
                            partial(post_digest, context.bot, chat_id, limit=self.message_limit))
        try:
            await deliver_digest(self.service.summaries, place, self._run)
        except Exception:
            log.exception("scheduled digest for chat %s failed", chat_id)


async def _typing(message: Message) -> None:
    """One "typing…" in the chat asked in: a summary takes a few seconds, well within the 5 s
    Telegram shows it for; a failure to show it is no reason to fail the command."""
    with contextlib.suppress(TelegramError):
        await message.chat.send_action(ChatAction.TYPING)

