"""The discord.py client around the core service: slash commands, mentions, DMs, buttons.

Translation only: interactions and messages become core calls with an `Actor`, and `Answer`s
become embeds. Every message goes out with `AllowedMentions.none()` so that article text or a
question containing @everyone, a role or a user mention can never ping anyone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import tasks

from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.messages import APOLOGY
from bot.adapters.discord.components import SourcesPageButton, VoteButton, pager_view, vote_view
from bot.adapters.discord.formatting import answer_messages, sources_page
from bot.adapters.discord.kb import KbListButton, KnowledgeCommands, feed_poll_loop
from bot.adapters.discord.summaries import PostButton, Previews, add_moderator_commands, digest_loop
from bot.runtime.executors import CoreExecutors
from bot.runtime.sections import DiscordSection
from bot.runtime.service import CrisisBot
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)

T = TypeVar("T")
NO_MENTIONS = discord.AllowedMentions.none()


class CrisisDiscordClient(discord.Client):
    """One client per process; `sync_guild` set (or 0 for global) syncs commands at start.

    Questions and reads run on `executor`, changes to the knowledge base on
    `knowledge_executor` (see `bot.runtime.executors`); by default the first is the client's own and
    the second the process's knowledge thread, both shut down by `close`. An executor passed
    in is the caller's to shut down.
    """

    def __init__(
        self, service: CrisisBot, executor: Executor | None = None, sync: int | None = None, *,
        knowledge_executor: Executor | None = None, config: DiscordSection | None = None, **options: Any,
    ) -> None:
        # Default intents suffice: Discord delivers the content of DMs and of messages that
        # mention the bot without the privileged message-content intent.
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS, **options)
        self.service = service
        self.config = config or service.settings.discord  # this adapter's section only
        self.executors = CoreExecutors(executor, knowledge_executor)
        self.sync_target = sync
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        register_commands(self.tree)
        self.feed_loop: tasks.Loop[Any] | None = None
        self.digest_loop: tasks.Loop[Any] | None = None
        self.previews = Previews()  # summaries and digests waiting for "Post to channel"

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, SourcesPageButton, KbListButton, PostButton)
        if self.config.schedules.run_schedules:
            self.feed_loop = feed_poll_loop(self)
            self.digest_loop = digest_loop(self)
        else:  # `crisisbot worker` runs them, once for every process
            log.info("run_schedules is off: no scheduled feed poll or digest in this process")
        for loop in (self.feed_loop, self.digest_loop):
            if loop is not None:
                loop.start()
        if self.sync_target is not None:
            guild = discord.Object(self.sync_target) if self.sync_target else None
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.warning("synced %d slash commands %s", len(synced), f"to guild {self.sync_target}" if guild else "globally")

    async def close(self) -> None:
        for loop in (self.feed_loop, self.digest_loop):
            if loop is not None:
                loop.cancel()
        try:
            await super().close()
        finally:
            self.executors.shutdown()

    async def run_core(self, function: Callable[..., T], *args: object) -> T:
        """A question or a read, on the question pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executors.questions, partial(function, *args))

    async def run_change(self, function: Callable[..., T], actor: Actor, *args: object) -> T:
        """`function(actor, *args)`, a change to the knowledge base, on the knowledge thread
        (a refused attempt on the question pool: `CoreExecutors.for_change`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executors.for_change(actor), partial(function, actor, *args))

    async def run_scheduled_poll(self) -> None:
        """The scheduled feed poll (never raising: the core sees to that) on the knowledge thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executors.knowledge, self.service.poll_feeds_scheduled)

    def actor_of(self, user: discord.abc.User, guild: discord.Guild | None = None) -> Actor:
        """What Discord says of the person: Manage Server, Manage Messages and their server
        roles. The core turns that into roles (the configured role ids are its to match) and
        decides what each role may do."""
        admin = moderator = False
        role_ids: list[int] = []
        if isinstance(user, discord.Member):
            permissions = user.guild_permissions
            role_ids = [role.id for role in user.roles]
            admin, moderator = permissions.manage_guild, permissions.manage_messages
        return self.service.actor("discord", user.id, user.display_name, moderator, admin, role_ids)

    # -- questions ----------------------------------------------------------------------------

    async def answer_interaction(self, interaction: discord.Interaction[Any], question: str) -> None:
        """Acknowledge within Discord's 3 s (thinking…), then answer with follow-ups."""
        self.service.questions.clean(question)  # refused privately
        await interaction.response.defer(thinking=True)
        answer = await self.run_core(self.service.ask, question, self.actor_of(interaction.user))
        for embeds, view in _messages_with_view(answer):
            await interaction.followup.send(embeds=embeds, allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    async def on_message(self, message: discord.Message) -> None:
        """DMs and messages that mention the bot are questions; everything else is ignored."""
        if message.author.bot or self.user is None:
            return
        direct = message.guild is None
        if not direct and self.user not in message.mentions:
            return
        question = re.sub(rf"<@!?{self.user.id}>", " ", message.content).strip()
        try:
            if not question:
                await message.reply(
                    "Ask me something after the mention, for example: how many troops did North Korea send?",
                    allowed_mentions=NO_MENTIONS, mention_author=False,
                )
                return
            target = await self._answer_target(message, question)
            async with message.channel.typing():
                answer = await self.run_core(self.service.ask, question, self.actor_of(message.author, message.guild))
            for embeds, view in _messages_with_view(answer):
                await target(None, embeds=embeds, **_view_kwargs(view))
        except CrisisbotError as exc:
            await message.reply(str(exc), allowed_mentions=NO_MENTIONS, mention_author=False)
        except Exception:
            log.exception("failed to answer message %s in channel %s", message.id, message.channel.id)
            await message.reply(APOLOGY, allowed_mentions=NO_MENTIONS, mention_author=False)

    async def _answer_target(self, message: discord.Message, question: str) -> Callable[..., Any]:
        """Where the answer goes: a new thread in servers that want one, else a reply."""
        guild = message.guild
        if (guild is not None and guild.id in self.config.thread_guild_ids
                and isinstance(message.channel, discord.TextChannel)):
            thread = await message.create_thread(name=question[:90])
            return partial(thread.send, allowed_mentions=NO_MENTIONS)
        return partial(message.reply, allowed_mentions=NO_MENTIONS, mention_author=False)

    # -- buttons ------------------------------------------------------------------------------

    async def record_vote(self, interaction: discord.Interaction[Any], answer_id: int, value: int) -> None:
        await self.run_core(self.service.vote, self.actor_of(interaction.user), answer_id, value)
        await interaction.response.send_message(
            "Thanks, your feedback was recorded." if value > 0 else "Thanks, the maintainers will look at this answer.",
            ephemeral=True,
        )

    async def show_sources_page(self, interaction: discord.Interaction[Any], page: int) -> None:
        documents = await self.run_core(self.service.sources, self.actor_of(interaction.user))
        embed, pages = sources_page(documents, page)
        page = max(0, min(page, pages - 1))
        await interaction.response.edit_message(embed=embed, view=pager_view(page, pages))

    # -- errors -------------------------------------------------------------------------------

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A polite ephemeral reply; user errors say what to do, bugs are logged."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, CrisisbotError):
            text = str(cause)
        else:
            log.error("slash command %s failed", interaction.command and interaction.command.name, exc_info=cause)
            text = APOLOGY
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _messages_with_view(answer: Answer) -> list[tuple[list[discord.Embed], discord.ui.View | None]]:
    """The embeds of each message; vote buttons under the last one of a found answer."""
    messages = answer_messages(answer)
    votes = vote_view(answer.id) if answer.found and answer.id is not None else None
    return [(embeds, votes if number == len(messages) - 1 else None) for number, embeds in enumerate(messages)]


def _view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


def register_commands(tree: app_commands.CommandTree[Any]) -> None:
    """The members' commands, the moderators' `/summary` and `/digest`, and the admins' `/kb` group."""

    @tree.command(name="ask")
    @app_commands.describe(question="Your question about the war in Ukraine")
    async def ask(interaction: discord.Interaction[Any], question: str) -> None:
        """Ask a question; the answer quotes its sources."""
        client: CrisisDiscordClient = interaction.client  # type: ignore[assignment]
        await client.answer_interaction(interaction, question)

    @tree.command(name="sources")
    async def sources(interaction: discord.Interaction[Any]) -> None:
        """List the sources the answers come from."""
        client: CrisisDiscordClient = interaction.client  # type: ignore[assignment]
        documents = await client.run_core(client.service.sources, client.actor_of(interaction.user))
        embed, pages = sources_page(documents, 0)
        await interaction.response.send_message(
            embed=embed, allowed_mentions=NO_MENTIONS, **_view_kwargs(pager_view(0, pages))
        )

    add_moderator_commands(tree)
    tree.add_command(KnowledgeCommands())
