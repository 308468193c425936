"""The members' cog: `/ask`, `/sources`, questions in mentions and DMs, the vote buttons and
the sources pager.

Translation only: interactions and messages become core calls with an `Actor`, and `Answer`s
become embeds. The buttons survive a restart: their state lives in the custom id, parsed by a
template, and discord.py routes a click on any message, old or new, to these classes once
they are registered with `Client.add_dynamic_items` (so votes on yesterday's answers count).
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

from bot.adapters.discord.core_calls import NO_MENTIONS, CoreCalls, cog_of, refused_privately
from bot.adapters.discord.formatting import answer_messages, sources_page
from bot.core.answer import Answer
from bot.core.messages import APOLOGY, MENTION_HINT, NEXT, PREVIOUS, VOTE_FLAGGED, VOTE_RECORDED
from bot.runtime.sections import DiscordSection
from knowledge.errors import CrisisbotError

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
        actor = await self.core.actor_of(interaction)  # refused privately too, before the public "thinking…"
        await interaction.response.defer(thinking=True)  # within Discord's 3 s: "thinking…"
        answer = await self.core.run_core(service.ask, question, actor)
        for embeds, view in _messages_with_view(answer):
            await interaction.followup.send(embeds=embeds, allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        """List the sources the answers come from."""
        documents = await self.core.run_core(self.core.service.sources, await self.core.actor_of(interaction))
        embed, pages = sources_page(documents, 0)
        await interaction.response.send_message(
            embed=embed, allowed_mentions=NO_MENTIONS, **_view_kwargs(pager_view(0, pages))
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """DMs and messages that mention the bot are questions; everything else is ignored."""
        bot_user = self.bot.user
        if message.author.bot or bot_user is None:
            return
        if message.guild is not None and bot_user not in message.mentions:
            return
        question = re.sub(rf"<@!?{bot_user.id}>", " ", message.content).strip()
        try:
            await self._answer_message(message, question)
        except CrisisbotError as exc:
            await message.reply(str(exc), allowed_mentions=NO_MENTIONS, mention_author=False)
        except Exception:
            log.exception("failed to answer message %s in channel %s", message.id, message.channel.id)
            await message.reply(APOLOGY, allowed_mentions=NO_MENTIONS, mention_author=False)

    async def _answer_message(self, message: discord.Message, question: str) -> None:
        actor = await self.core.actor_of(message)  # first: nothing is done in a server not the community's
        if not question:
            await message.reply(MENTION_HINT, allowed_mentions=NO_MENTIONS, mention_author=False)
            return
        target = await self._answer_target(message, question)
        async with message.channel.typing():
            answer = await self.core.run_core(self.core.service.ask, question, actor)
        for embeds, view in _messages_with_view(answer):
            await target(None, embeds=embeds, **_view_kwargs(view))

    async def _answer_target(self, message: discord.Message, question: str) -> Callable[..., Any]:
        """Where the answer goes: a new thread in servers that want one, else a reply."""
        guild = message.guild
        if (guild is not None and guild.id in self.config.thread_guild_ids
                and isinstance(message.channel, discord.TextChannel)):
            thread = await message.create_thread(name=question[:90])
            return partial(thread.send, allowed_mentions=NO_MENTIONS)
        return partial(message.reply, allowed_mentions=NO_MENTIONS, mention_author=False)

    async def record_vote(self, interaction: discord.Interaction[Any], answer_id: int, value: int) -> None:
        await self.core.run_core(self.core.service.vote, await self.core.actor_of(interaction), answer_id, value)
        await interaction.response.send_message(VOTE_RECORDED if value > 0 else VOTE_FLAGGED, ephemeral=True)

    async def show_sources_page(self, interaction: discord.Interaction[Any], page: int) -> None:
        documents = await self.core.run_core(self.core.service.sources, await self.core.actor_of(interaction))
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


BUTTONS = (VoteButton, SourcesPageButton)


def vote_view(answer_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, 1))
    view.add_item(VoteButton(answer_id, -1))
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
    votes = vote_view(answer.id) if answer.found and answer.id is not None else None
    return [(embeds, votes if number == len(messages) - 1 else None) for number, embeds in enumerate(messages)]


def _view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}
