"""Telegram updates -> core calls -> Telegram HTML, and nothing else.

Each handler translates: who is asking (an `Actor`), what they asked, and how the core's
`Answer` looks in Telegram. Work on the model and the index runs in the question pool (see
`bot.runtime.executors`) so one slow question never stalls the others; user errors become polite
replies, anything else is logged with the update and answered with a short apology.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.core.actors import Action, Actor, may
from bot.core import messages as phrases
from bot.core.translation import Phrases, error_text
from bot.core.translation import phrases as words_for
from knowledge.language import Language, reply_language
from bot.core.conversation import Notice, Reply, small_talk_reply
from bot.core.conversation_memory import ConversationKey
from bot.core.rate_limit import RateLimited
from bot.runtime.service import CrisisBot
from bot.adapters.telegram.chat_roles import ChatModerators
from bot.adapters.telegram.buttons import MoreAnswer, SourcesPage, Vote, expired_text, vote_keyboard
from bot.adapters.telegram.core_calls import CoreCalls
from bot.adapters.telegram.formatting import MESSAGE_LIMIT, answer_messages, sources_page
from bot.adapters.telegram.log_context import update_ids
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
COMMANDS = list(phrases.TELEGRAM_COMMANDS.items())
MODERATOR_COMMANDS = list(phrases.TELEGRAM_MODERATOR_COMMANDS.items())  # the core checks the role anyway


class TelegramHandlers(CoreCalls):
    """The bot's behaviour in Telegram; one instance per running application."""

    def __init__(
        self,
        service: CrisisBot,
        executor: Executor,
        bot_username: Callable[[], str],
        maintainer: str,
        message_limit: int = MESSAGE_LIMIT,
        moderators: ChatModerators | None = None,
    ) -> None:
        super().__init__(service, executor)
        self._username = bot_username
        self.maintainer = maintainer
        self.message_limit = message_limit
        # No group listed unless the caller says: then only configured ids have roles.
        self.moderators = moderators if moderators is not None else ChatModerators(frozenset())

    async def actor_with_chat_roles(self, update: Update) -> Actor:
        """The actor, moderator too when they administer the group the update comes from and
        that group is one of the listed moderator chats (`bot.adapters.telegram.chat_roles`:
        asked of Telegram at most once a minute per group)."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None
        is_admin = False
        if chat is not None and chat.type != ChatType.PRIVATE:
            is_admin = await self.moderators.is_moderator(update.get_bot(), chat.id, user.id)
        return self.service.actor("telegram", user.id, user.full_name, platform_moderator=is_admin)

    # -- deciding whether a message is for us ------------------------------------------------

    def question_in(self, message: Message) -> str | None:
        """The question a message asks the bot, or None when it is not addressed to the bot.

        Private chats: every text (or a photo's caption). Groups: only a message that mentions
        the bot or replies to one of its messages; the mention itself is removed.
        """
        text = message.text or message.caption or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        mention = f"@{self._username()}".lower()
        mentions = (
            message.parse_entities([MessageEntity.MENTION]) if message.text is not None
            else message.parse_caption_entities([MessageEntity.MENTION])
        )
        if any(value.lower() == mention for value in mentions.values()):
            for value in mentions.values():
                if value.lower() == mention:
                    text = text.replace(value, " ")
            return text
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == message.get_bot().id:
            return text
        return None

    @staticmethod
    def conversation_key(update: Update) -> ConversationKey | None:
        """The sender's conversation in this chat (the core keeps one per person and chat)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return None
        return ConversationKey("telegram", str(message.chat.id), str(user.id))

    @staticmethod
    def follows_up(message: Message) -> bool:
        """Whether a message may lean on the sender's previous question: in a private chat, or
        in a group when it replies to one of the bot's messages. A group message that only
        mentions the bot stands on its own."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        replied = message.reply_to_message
        return replied is not None and replied.from_user is not None and replied.from_user.id == message.get_bot().id

    # -- commands -----------------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.help(update, context)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                   language: Language | None = None) -> None:
        """The help text, in `language` (a greeting's) or the language of the person's Telegram."""
        message = update.effective_message
        if message is None:
            return
        if update.effective_user is not None and not await self._admitted(
                message, self.service.questions.admit_read, self._actor(update), "help"):
            return
        count = await self._run(self.service.questions.source_count)
        words = words_for(language) if language is not None else _words(message)
        text = words.text(phrases.TELEGRAM_HELP, sources=count, bot=html.escape(self._username()),
                          maintainer=html.escape(self.maintainer))
        actor = await self._helped_actor(update)
        if actor is not None and may(actor, Action.SUMMARIZE):
            # Hints, not gates: moderator and admin commands stay out of the public command
            # menu, and the core checks the role again on every call.
            text += "\n\n" + phrases.TELEGRAM_HELP_MODERATOR
        if actor is not None and may(actor, Action.CHANGE_KNOWLEDGE):
            text += "\n\n" + phrases.TELEGRAM_HELP_ADMIN
        await message.reply_text(text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)

    async def _helped_actor(self, update: Update) -> Actor | None:
        """The /help reader with their group roles; without them if Telegram will not say."""
        if update.effective_user is None:
            return None
        try:
            return await self.actor_with_chat_roles(update)
        except TelegramError:
            return self._actor(update)

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        question = " ".join(context.args or [])
        if not question.strip() and message.reply_to_message is not None:
            question = message.reply_to_message.text or ""
        if not question.strip():
            await message.reply_text(_words(message).text(phrases.TELEGRAM_ASK_USAGE))
            return
        await self._answer(update, context, question)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        actor = self._actor(update)
        if not await self._admitted(message, self.service.questions.admit_read, actor, "sources"):
            return
        documents = await self._run(self.service.sources, actor)
        text, pages = sources_page(documents, 0)
        await message.reply_text(
            text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
            reply_markup=_pager(0, pages),
        )

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        command = message.text.split()[0]
        addressed = message.chat.type == ChatType.PRIVATE or command.lower().endswith(f"@{self._username().lower()}")
        if addressed:
            await message.reply_text(_words(message).text(phrases.TELEGRAM_UNKNOWN_COMMAND, command=command))

    # -- questions ----------------------------------------------------------------------------

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        question = self.question_in(message)
        if question is not None:
            await self._answer(update, context, question)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos without caption, voice...: a hint in private, silence in groups."""
        message = update.effective_message
        if message is not None and message.chat.type == ChatType.PRIVATE:
            await message.reply_text(_words(message).text(phrases.NOT_TEXT))

    async def _admitted(self, message: Message, admit: Callable[..., None], *args: object,
                        question: str | None = None) -> bool:
        """Whether the core's limit lets this request through. Checked here on the event loop,
        before any reply, "typing…" or queued job: a refused person is told once per wait and
        then ignored, so one person's flood costs neither threads nor replies."""
        try:
            admit(*args)
        except RateLimited as exc:
            if exc.tell:
                await message.reply_text(error_text(exc, _words(message, question)),
                                         do_quote=message.chat.type != ChatType.PRIVATE)
            return False
        return True

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        message = update.effective_message
        assert message is not None
        notice = small_talk_reply(question)
        if notice is not None:  # "hello", "help", "thanks": never searched, never refused
            if notice.wants_help:
                await self.help(update, context, notice.language)  # counted against the read limit there
            elif await self._admitted(message, self.service.questions.admit_read, self._actor(update), "small talk",
                                      question=question):
                await self._say(update, context, message, notice)
            return
        actor = self._actor(update)
        key = self.conversation_key(update)
        follow_up = self.follows_up(message)
        try:
            if not await self._admitted(message, self.service.questions.admit, actor, question=question):
                return
            async with _typing(message):
                reply = await self._run(self.service.conversation.reply, question, actor, key, None, True,
                                        follow_up, _locale(message))
        except CrisisbotError as exc:
            await message.reply_text(error_text(exc, _words(message, question)),
                                     do_quote=message.chat.type != ChatType.PRIVATE)
            return
        await self._send_reply(update, context, message, reply)

    async def _send_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                          reply: Reply) -> None:
        """An answer (in parts, the buttons under the last), or a notice, as a reply to `message`."""
        if isinstance(reply, Notice):
            await self._say(update, context, message, reply)
            return
        parts = answer_messages(reply, limit=self.message_limit)
        keyboard = vote_keyboard(reply.id, reply.words) if reply.found and reply.id is not None else None
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            await message.reply_text(
                part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                reply_markup=keyboard if last else None, do_quote=number == 0,
            )

    async def _say(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                   notice: Notice) -> None:
        if notice.wants_help:
            await self.help(update, context, notice.language)
        else:
            await message.reply_text(notice.text, do_quote=message.chat.type != ChatType.PRIVATE)

    # -- buttons (their data: `bot.adapters.telegram.buttons`) ------------------------------

    async def vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not isinstance(query.data, Vote):
            return
        vote = query.data
        try:
            await self._run(self.service.vote, self._actor(update), vote.answer_id, vote.value)
        except CrisisbotError as exc:
            await query.answer(error_text(exc, _user_words(update))[:200])
            return
        await query.answer(_user_words(update).text(phrases.VOTE_RECORDED if vote.value > 0 else phrases.VOTE_FLAGGED))

    async def more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """"More" under an answer: its continuation, for whoever pressed it, as a reply to
        the answer. The data is PTB's own object (a forged key arrives as
        `InvalidCallbackData` and goes to `expired`); the id is checked again all the same."""
        query = update.callback_query
        if query is None or not isinstance(query.data, MoreAnswer) or not isinstance(query.data.answer_id, int):
            return
        message = query.message
        actor = self._actor(update)
        try:
            self.service.questions.admit(actor)
        except RateLimited as exc:
            await query.answer(error_text(exc, _user_words(update))[:200] if exc.tell else None)
            return
        await query.answer()  # at once: "query is too old" otherwise
        if not isinstance(message, Message):
            return
        try:
            async with _typing(message):
                reply = await self._run(self.service.conversation.more, query.data.answer_id, actor,
                                        self.conversation_key(update), None, True, _user_locale(update))
        except CrisisbotError as exc:
            await message.reply_text(error_text(exc, _user_words(update)), do_quote=message.chat.type != ChatType.PRIVATE)
            return
        await self._send_reply(update, context, message, reply)

    async def sources_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not isinstance(query.data, SourcesPage):
            return
        actor = self._actor(update)
        try:
            self.service.questions.admit_read(actor, "sources page")
        except RateLimited as exc:
            await query.answer(error_text(exc, _user_words(update))[:200] if exc.tell else None)  # or it spins
            return
        await query.answer()
        documents = await self._run(self.service.sources, actor)
        text, pages = sources_page(documents, query.data.page)
        page = min(max(query.data.page, 0), pages - 1)
        with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
            await query.edit_message_text(
                text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                reply_markup=_pager(page, pages),
            )

    async def expired(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button whose data PTB no longer has (a restart, or dropped from its cache), or one
        no handler knows: say so, so the press does not spin until Telegram gives up."""
        query = update.callback_query
        if query is not None:
            await query.answer(expired_text(query))

    # -- errors -------------------------------------------------------------------------------

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with context; tell the person something went wrong; never stop the bot."""
        log.error("error while handling %s", update_ids(update), exc_info=context.error)  # ids, no text
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(Exception):
                await update.effective_message.reply_text(_words(update.effective_message).text(phrases.APOLOGY))


def _locale(message: Message) -> str | None:
    """The sender's Telegram language: a hint, since people write in other languages too."""
    return message.from_user.language_code if message.from_user is not None else None


def _words(message: Message, text: str | None = None) -> Phrases:
    """The bot's words for a reply to `message`: the language `text` (the question) is in,
    else the sender's Telegram language, else English."""
    locale = _locale(message)
    return words_for(reply_language(text, locale) if text else locale)


def _user_locale(update: Update) -> str | None:
    return update.effective_user.language_code if update.effective_user is not None else None


def _user_words(update: Update) -> Phrases:
    """For a button press: it carries no text, only the presser's Telegram language."""
    return words_for(_user_locale(update))


@contextlib.asynccontextmanager
async def _typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" until the answer is ready (Telegram clears it after 5 s, so repeat)."""

    async def keep_typing() -> None:
        while True:
            with contextlib.suppress(Exception):
                await message.chat.send_action(ChatAction.TYPING)
            await asyncio.sleep(4)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _pager(page: int, pages: int) -> InlineKeyboardMarkup | None:
    if pages <= 1:
        return None
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(phrases.PREVIOUS, callback_data=SourcesPage(page - 1)))
    buttons.append(InlineKeyboardButton(f"{page + 1} / {pages}", callback_data=SourcesPage(page)))
    if page < pages - 1:
        buttons.append(InlineKeyboardButton(phrases.NEXT, callback_data=SourcesPage(page + 1)))
    return InlineKeyboardMarkup([buttons])
