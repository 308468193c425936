"""The members' cog: `/ask`, `/sources`, questions in mentions and DMs, the vote buttons and
the sources pager.

Translation only: interactions and messages become core calls with an `Actor`, and `Answer`s
become embeds. The buttons survive a restart: their state lives in the custom id, parsed by a
template, and discord.py routes a click on any message, old or new, to these classes once
they are registered with `Client.add_dynamic_items` (so votes on yesterday's answers count).

Conversations: in a DM, in a thread, or in a reply to one of the bot's messages, a short
follow-up leans on the same person's previous question in that channel; a mention in a
channel that replies to nothing stands on its own. Where the bot opens a thread for a
question, the question is remembered under the thread, so a follow-up that mentions the bot
there leans on it.
The More button under an answer continues that answer for whoever presses it
(`bot.core.conversation`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord.core_calls import NO_MENTIONS, CoreCalls, cog_of, interaction_words, refused_privately
from bot.adapters.discord.formatting import answer_messages, sources_page
from bot.adapters.discord.limits import admitted
from bot.core.answer import Answer
from bot.core.conversation import Notice, Reply, small_talk_reply
from bot.core.conversation_memory import ConversationKey
from bot.core.messages import (
    APOLOGY,
    HELP,
    MENTION_HINT,
    MORE_BUTTON,
    NEXT,
    PREVIOUS,
    VOTE_FLAGGED,
    VOTE_RECORDED,
)
from bot.core.rate_limit import silent
from bot.core.translation import Phrases, error_text, phrases
from bot.runtime.sections import DiscordSection
from knowledge.errors import CrisisbotError
from knowledge.language import reply_language

log = logging.getLogger(__name__)

Messages = list[tuple[list[discord.Embed], discord.ui.View | None]]


class Members(commands.Cog):
    """Everyone's commands; `core` runs the questions, `config` says which servers want a
    thread per question, and `bot` is the client whose mentions are questions."""

    def __init__(self, bot: discord.Client, core: CoreCalls, config: DiscordSection) -> None:
        self.bot = bot
        self.core = core
        self.config = config

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question about the war in Ukraine")
    async def ask(self, interaction: discord.Interaction[Any], question: str) -> None:
        """Ask a question; the answer quotes its sources."""
        service = self.core.service
        service.questions.clean(question)  # refused privately
        actor = await self.core.actor_of(interaction)
        notice = small_talk_reply(question, interaction_words(interaction, question).language)
        if notice is not None:
            if await admitted(interaction, service.questions.admit_read, actor, "help"):
                text = await self.core.run_core(self.notice_text, notice)
                await interaction.response.send_message(text, allowed_mentions=NO_MENTIONS)
            return
        if not await admitted(interaction, service.questions.admit, actor):
            return
        await interaction.response.defer(thinking=True)  # within Discord's 3 s: "thinking…"
        channel = interaction.channel
        follow_up = interaction.guild_id is None or isinstance(channel, discord.Thread)
        key = _key(interaction.channel_id, interaction.user.id)
        reply = await self.core.run_core(service.conversation.reply, question, actor, key, None, True, follow_up,
                                         _locale(interaction))
        for embeds, content, view in await self._messages(reply):
            await interaction.followup.send(content or discord.utils.MISSING, embeds=embeds,
                                            allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    def notice_text(self, notice: Notice) -> str:
        """A notice in words: the help (with the number of sources) or its own sentence.
        Blocking (the help counts the sources): run it on the question pool."""
        if notice.wants_help:
            return phrases(notice.language).text(
                HELP, sources=self.core.service.questions.source_count(),
                minutes=f"{self.core.service.conversation.limits.minutes:g}")
        return notice.text

    async def _messages(self, reply: Reply) -> list[tuple[list[discord.Embed], str, discord.ui.View | None]]:
        """Each message of a reply: an answer's embeds (buttons under the last), or a notice's text."""
        if isinstance(reply, Notice):
            return [([], await self.core.run_core(self.notice_text, reply), None)]
        return [(embeds, "", view) for embeds, view in _messages_with_view(reply)]

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        """List the sources the answers come from."""
        actor = await self.core.actor_of(interaction)
        if not await admitted(interaction, self.core.service.questions.admit_read, actor, "sources"):
            return
        documents = await self.core.run_core(self.core.service.sources, actor)
        embed, pages = sources_page(documents, 0)
        await interaction.response.send_message(
            embed=embed, allowed_mentions=NO_MENTIONS, **_view_kwargs(pager_view(0, pages))
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """DMs and messages that mention the bot (a reply to the bot mentions it unless the
        sender turned the ping off) are questions; everything else is ignored: without the
        privileged message-content intent Discord sends no other text anyway."""
        bot_user = self.bot.user
        if message.author.bot or bot_user is None:
            return
        if message.guild is not None and bot_user not in message.mentions:
            return
        question = re.sub(rf"<@!?{bot_user.id}>", " ", message.content).strip()
        try:
            await self._answer_message(message, question)
        except CrisisbotError as exc:
            if not silent(exc):  # a repeated refusal of the limit is dropped
                await message.reply(error_text(exc, phrases(reply_language(question))),
                                    allowed_mentions=NO_MENTIONS, mention_author=False)
        except Exception:
            log.exception("failed to answer message %s in channel %s", message.id, message.channel.id)
            await message.reply(phrases(reply_language(question)).text(APOLOGY),
                                allowed_mentions=NO_MENTIONS, mention_author=False)

    async def _answer_message(self, message: discord.Message, question: str) -> None:
        actor = await self.core.actor_of(message)  # first: nothing is done in a server not the community's
        if not question:
            await message.reply(MENTION_HINT, allowed_mentions=NO_MENTIONS, mention_author=False)
            return
        service = self.core.service
        notice = small_talk_reply(question)  # a message has no locale: its own language decides
        if notice is not None:  # "hello", "help", "thanks": never searched, never refused
            service.questions.admit_read(actor, "help")
            text = await self.core.run_core(self.notice_text, notice)
            await message.reply(text, allowed_mentions=NO_MENTIONS, mention_author=False)
            return
        service.questions.admit(actor)  # before a thread or "typing…": a flood costs nothing
        follow_up = (message.guild is None or isinstance(message.channel, discord.Thread)
                     or self.bot.user is not None and _replies_to(message, self.bot.user.id))
        target, channel_id = await self._answer_target(message, question)
        key = _key(channel_id, message.author.id)
        async with message.channel.typing():
            reply = await self.core.run_core(service.conversation.reply, question, actor, key, None, True, follow_up)
        for embeds, content, view in await self._messages(reply):
            await target(content or None, embeds=embeds, **_view_kwargs(view))

    async def _answer_target(self, message: discord.Message, question: str) -> tuple[Callable[..., Any], int]:
        """Where the answer goes, and the channel whose conversation it belongs to: a new
        thread in servers that want one (follow-ups are then asked there), else a reply."""
        guild = message.guild
        if (guild is not None and guild.id in self.config.thread_guild_ids
                and isinstance(message.channel, discord.TextChannel)):
            thread = await message.create_thread(name=question[:90])
            return partial(thread.send, allowed_mentions=NO_MENTIONS), thread.id
        return partial(message.reply, allowed_mentions=NO_MENTIONS, mention_author=False), message.channel.id

    async def continue_answer(self, interaction: discord.Interaction[Any], answer_id: int) -> None:
        """The More button: answer `answer_id` continued, for whoever pressed it."""
        service = self.core.service
        actor = await self.core.actor_of(interaction)
        if not await admitted(interaction, service.questions.admit, actor):
            return
        await interaction.response.defer(thinking=True)
        key = _key(interaction.channel_id, interaction.user.id)
        reply = await self.core.run_core(service.conversation.more, answer_id, actor, key, None, True,
                                         _locale(interaction))
        for embeds, content, view in await self._messages(reply):
            await interaction.followup.send(content or discord.utils.MISSING, embeds=embeds,
                                            allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    async def record_vote(self, interaction: discord.Interaction[Any], answer_id: int, value: int) -> None:
        await self.core.run_core(self.core.service.vote, await self.core.actor_of(interaction), answer_id, value)
        words = interaction_words(interaction)
        await interaction.response.send_message(words.text(VOTE_RECORDED if value > 0 else VOTE_FLAGGED), ephemeral=True)

    async def show_sources_page(self, interaction: discord.Interaction[Any], page: int) -> None:
        actor = await self.core.actor_of(interaction)
        if not await admitted(interaction, self.core.service.questions.admit_read, actor, "sources page"):
            return
        documents = await self.core.run_core(self.core.service.sources, actor)
        embed, pages = sources_page(documents, page)
        page = max(0, min(page, pages - 1))
        await interaction.response.edit_message(embed=embed, view=pager_view(page, pages))


# -- buttons ------------------------------------------------------------------------------------


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"crisisbot:vote:(?P<answer>[0-9]+):(?P<value>-?1)"):
    """👍 / 👎 under an answer; the click is stored through the core's `vote`."""

    def __init__(self, answer_id: int, value: int) -> None:
        super().__init__(discord.ui.Button(
            emoji="👍" if value > 0 else "👎", style=discord.ButtonStyle.secondary,
            custom_id=f"crisisbot:vote:{answer_id}:{value}",
        ))
        self.answer_id = answer_id
        self.value = value

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VoteButton:
        return cls(int(match["answer"]), int(match["value"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await refused_privately(interaction, cog_of(interaction, Members).record_vote(interaction, self.answer_id, self.value))


class SourcesPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                        template=r"crisisbot:sources:(?P<page>[0-9]+):(?P<label>prev|next)"):
    """Paging of `/sources`; the page to show is in the id."""

    def __init__(self, page: int, label: str) -> None:
        super().__init__(discord.ui.Button(
            label=PREVIOUS if label == "prev" else NEXT, style=discord.ButtonStyle.secondary,
            custom_id=f"crisisbot:sources:{page}:{label}",
        ))
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> SourcesPageButton:
        return cls(int(match["page"]), match["label"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await refused_privately(interaction, cog_of(interaction, Members).show_sources_page(interaction, self.page))


class MoreButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"crisisbot:more:(?P<answer>[0-9]{1,19})"):
    """"More" under an answer: its continuation for whoever presses it. The id is only a key
    into the core's memory of answers given (`Conversation.more`): a forged or stale one
    continues nothing and says so."""

    def __init__(self, answer_id: int, label: str = MORE_BUTTON) -> None:
        super().__init__(discord.ui.Button(
            label=label, style=discord.ButtonStyle.secondary, custom_id=f"crisisbot:more:{answer_id}",
        ))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> MoreButton:
        return cls(int(match["answer"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await refused_privately(interaction, cog_of(interaction, Members).continue_answer(interaction, self.answer_id))


BUTTONS = (VoteButton, SourcesPageButton, MoreButton)


def vote_view(answer_id: int, words: Phrases | None = None) -> discord.ui.View:
    """👍 / 👎 and More (in the asker's language) under an answer."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, 1))
    view.add_item(VoteButton(answer_id, -1))
    view.add_item(MoreButton(answer_id, (words or phrases()).text(MORE_BUTTON)))
    return view


def pager_view(page: int, pages: int) -> discord.ui.View | None:
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    if page > 0:
        view.add_item(SourcesPageButton(page - 1, "prev"))
    if page < pages - 1:
        view.add_item(SourcesPageButton(page + 1, "next"))
    return view


def _messages_with_view(answer: Answer) -> Messages:
    """The embeds of each message; vote buttons under the last one of a found answer."""
    messages = answer_messages(answer)
    votes = vote_view(answer.id, answer.words) if answer.found and answer.id is not None else None
    return [(embeds, votes if number == len(messages) - 1 else None) for number, embeds in enumerate(messages)]


def _locale(interaction: discord.Interaction[Any]) -> str | None:
    """The person's Discord language: a hint for a question whose words leave it open."""
    return str(interaction.locale.value) if interaction.locale is not None else None


def _key(channel_id: int | None, user_id: int) -> ConversationKey:
    return ConversationKey("discord", str(channel_id), str(user_id))


def _replies_to(message: discord.Message, user_id: int) -> bool:
    """Whether `message` replies to a message of `user_id` (the bot)."""
    reference = message.reference
    replied = reference.resolved if reference is not None else None
    return isinstance(replied, discord.Message) and replied.author.id == user_id


def _view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}
