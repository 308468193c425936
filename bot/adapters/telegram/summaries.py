"""`/summary`, `/digest`, the "Post to channel" button and the scheduled digest in Telegram.

A summary is posted in a moderator's name, so they see it first: the preview always goes to
their private chat (never to the group, where it would already be "posted"), with a button that
posts it to the chat the command came from. Who may ask is decided by the core (`actor=`, the
SUMMARIZE action); this module only finds the person's roles (`actor_with_chat_roles`: the
administrators of a listed moderator chat are moderators) and translates.

Who may post a preview, and when it has expired, is decided by the core too
(`bot.core.previews`, the same flow as Discord's): at the press this module finds the presser's
roles afresh (the group's administrators are asked again, not taken from the one-minute cache:
someone demoted since the preview posts nothing) and shows the outcome.

The scheduled digest runs in PTB's JobQueue as the process itself (no actor) through the flow
`crisisbot worker` uses too (`bot.core.scheduled_digest`, `bot.adapters.telegram.digest_post`): it marks its
key only after it was posted, so a failed post is retried with the same documents next time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

from telegram import Bot, CallbackQuery, Message, Update, User
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.core.actors import Actor
from bot.core.kb_requests import UNREADABLE, USAGE_LINE
from bot.core import messages as phrases
from bot.core.previews import POST_FAILED, POSTING, Claimed, Kind, Pending, Previews, Refused
from bot.core.scheduled_digest import DigestPlace, deliver_digest
from bot.runtime.service import CrisisBot
from bot.adapters.telegram.chat_roles import ChatModerators
from bot.adapters.telegram.buttons import PostPreview, post_keyboard
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


USAGE = {"summary": phrases.TELEGRAM_SUMMARY_USAGE, "digest": phrases.TELEGRAM_DIGEST_USAGE}


class UsageError(CrisisbotError):
    """A /summary or /digest argument the bot cannot read."""


@dataclass(frozen=True)
class Shown:
    """What a Telegram preview waits with (the core's opaque payload): the HTML messages the
    moderator read, the target chat's title for "Posted to …", and the group whose
    administrators count as moderators for it (None when it was asked in the private chat:
    then, as when it was made, only configured roles count)."""

    parts: list[str]
    title: str
    roles_chat: int | None


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
            raise UsageError(f"{UNREADABLE.format(word=word)} {USAGE_LINE.format(usage=USAGE[command])}")
        else:
            words.append(word)
    if command == "digest" and words:
        raise UsageError(f"{phrases.TELEGRAM_DIGEST_NO_TOPIC} {USAGE_LINE.format(usage=USAGE['digest'])}")
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
        digest_chat_id: int | None = None,
        message_limit: int = MESSAGE_LIMIT,
        moderators: ChatModerators | None = None,
    ) -> None:
        super().__init__(service, executor)
        self.moderators = moderators if moderators is not None else ChatModerators(frozenset())
        self.digest_chat_id = digest_chat_id  # the scheduled digest's chat, and Post's from a private chat
        self._actor_of = actor_of
        self._username = bot_username
        self.message_limit = message_limit
        self.previews: Previews[Shown] = Previews()

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
        await self._deliver(update, actor, Kind.SUMMARY, parts, postable=summary.found)

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
        mark = (key, digest) if key is not None else None
        await self._deliver(update, actor, Kind.DIGEST, parts, postable=not digest.empty, mark=mark)

    def _target_id(self, message: Message) -> int | None:
        """Where Post sends a preview: the group it was asked in, else the digest chat."""
        if message.chat.type != ChatType.PRIVATE:
            return message.chat.id
        return self.digest_chat_id

    async def _target_title(self, message: Message, target: int) -> str:
        if message.chat.id == target and message.chat.title:
            return message.chat.title
        with contextlib.suppress(TelegramError):
            chat = await message.get_bot().get_chat(target)
            if chat.title or chat.effective_name:
                return chat.title or chat.effective_name or ""
        return f"chat {target}"

    async def _deliver(self, update: Update, actor: Actor, kind: Kind, parts: list[str], postable: bool,
                       mark: tuple[str, Digest] | None = None) -> None:
        """Send `parts` to the moderator's private chat, with a Post button when there is
        somewhere to post; in a group, only a short note (or how to open a private chat)."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        command = kind.value
        bot = message.get_bot()
        target = self._target_id(message) if postable else None
        token, markup = None, None
        if target is not None:
            roles_chat = message.chat.id if message.chat.type != ChatType.PRIVATE else None
            shown = Shown(parts, await self._target_title(message, target), roles_chat)
            token = self.previews.add(Pending.of(kind, actor, str(target), shown, mark))
            markup = post_keyboard(kind, token)
        try:
            await send_html(bot, user.id, parts, markup)
            if postable and target is None:
                await bot.send_message(user.id, phrases.TELEGRAM_NO_TARGET.format(command=command))
        except (Forbidden, BadRequest) as exc:
            if token is not None:
                self.previews.discard(token)
            if message.chat.type == ChatType.PRIVATE or (
                    isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower()):
                raise
            await message.reply_text(phrases.TELEGRAM_START_PRIVATE.format(bot=self._username(), command=command))
            return
        if message.chat.type != ChatType.PRIVATE:
            note = phrases.TELEGRAM_SENT_PREVIEW if token is not None else phrases.TELEGRAM_SENT_RESULT
            await message.reply_text(note)

    # -- the Post button ----------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Post a kept preview to its target chat, signed with the moderator's name, if the core
        says the presser may (`Previews.claim`); else answer why not."""
        query = update.callback_query
        if query is None or not isinstance(query.data, PostPreview) or not isinstance(query.message, Message):
            return
        token, kind = query.data.token, query.data.kind
        pending = self.previews.get(token)
        try:
            presser = await self._presser(query.from_user, pending, query.get_bot())
        except TelegramError as exc:  # Telegram would not say who administers the group
            assert pending is not None  # it is asked only about a waiting preview
            log.warning("asking for the administrators of chat %s failed: %s", pending.payload.roles_chat, exc)
            await query.answer(POST_FAILED.format(place=pending.payload.title, reason=exc.message)[:200])
            return
        outcome = self.previews.claim(token, presser, kind)
        if isinstance(outcome, Refused):
            await query.answer(outcome.text)
            return
        await query.answer(POSTING)
        await self._post(query, query.message, outcome)

    async def _presser(self, user: User, pending: Pending[Shown] | None, bot: Bot) -> Actor:
        """The person pressing, with the roles they hold now: the configured ones, and moderator
        if they administer the group the preview was asked in and it is a listed moderator chat,
        asked of Telegram afresh (a press is rare, and a demotion must count at once)."""
        group = pending.payload.roles_chat if pending is not None else None
        admin = await self.moderators.is_moderator(bot, group, user.id, fresh=True)
        return self.service.actor("telegram", user.id, user.full_name, platform_moderator=admin)

    async def _post(self, query: CallbackQuery, preview: Message, claimed: Claimed[Shown]) -> None:
        """Post, then mark the digest key and turn the preview into "Posted to …". If Telegram
        refuses the post, the preview is put back, so the moderator may press again."""
        pending, shown = claimed.pending, claimed.pending.payload
        try:
            await send_html(query.get_bot(), int(pending.target), with_footer(shown.parts, posted_by(pending.name)))
        except TelegramError as exc:
            self.previews.put_back(claimed)
            log.warning("posting a preview to chat %s failed: %s", pending.target, exc)
            await preview.reply_text(POST_FAILED.format(place=shown.title, reason=exc.message))
            return
        if pending.mark is not None:  # posted: mark it at once
            await self._run(self.service.mark_digest_posted, *pending.mark)
        with contextlib.suppress(BadRequest):  # the preview was deleted: the post still stands
            await query.edit_message_text(shown.parts[-1] + posted_to(shown.title),
                                          parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)

    # -- the scheduled digest -----------------------------------------------------------------

    async def digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The JobQueue callback: post what is new to the digest chat, or nothing.

        The key is marked only after every message went out. Any failure is logged and the
        job queue goes on: the next run covers the same documents again.
        """
        chat_id = self.digest_chat_id
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

