"""The discord.py bot around the core service: one cog per audience.

`Members` (`/ask`, `/sources`, mentions and DMs, votes, the sources pager), `Moderators`
(`/summary`, `/digest`, "Post to channel", the scheduled digest) and `Admins` (the `/kb` group,
its pager, the scheduled feed poll) each receive what they use in `__init__`. Every message
goes out with `AllowedMentions.none()` so that article text or a question containing
@everyone, a role or a user mention can never ping anyone.

There are no prefix commands: mentions and DMs are questions (the `Members` listener), so
`on_message` here does not parse them as commands. Default intents suffice: Discord delivers
the content of DMs and of messages that mention the bot without the privileged
message-content intent.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import admins, members, moderators
from bot.adapters.discord.admins import Admins
from bot.adapters.discord.core_calls import NO_MENTIONS, CoreCalls, interaction_words, say_error, tell
from bot.adapters.discord.members import Members
from bot.adapters.discord.moderators import Moderators, Previews
from bot.core.messages import APOLOGY
from bot.runtime.executors import CoreExecutors
from bot.runtime.sections import DiscordSection
from bot.runtime.service import CrisisBot
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)


class PoliteTree(app_commands.CommandTree[Any]):
    """The command tree whose errors become a polite ephemeral reply: user errors say what to
    do (a CrisisbotError's own words), bugs are logged and apologised for."""

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, CrisisbotError):
            await say_error(interaction, cause)
            return
        log.error("slash command %s failed", interaction.command and interaction.command.name, exc_info=cause)
        await tell(interaction, interaction_words(interaction).text(APOLOGY))


class CrisisDiscordClient(commands.Bot):
    """One bot per process; `sync` set (or 0 for global) syncs commands at start.

    Questions and reads run on `executor`, changes to the knowledge base on
    `knowledge_executor` (see `bot.runtime.executors`); by default the first is the bot's own and
    the second the process's knowledge thread, both shut down by `close`. An executor passed
    in is the caller's to shut down.
    """

    def __init__(
        self, service: CrisisBot, executor: Executor | None = None, sync: int | None = None, *,
        config: DiscordSection, knowledge_executor: Executor | None = None, **options: Any,
    ) -> None:
        super().__init__(command_prefix=commands.when_mentioned, help_command=None, tree_cls=PoliteTree,
                         intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS, **options)
        self.service = service
        self.config = config  # this adapter's section only: it reads no settings
        self.executors = CoreExecutors(executor, knowledge_executor)
        self.sync_target = sync
        self.previews = Previews()  # summaries and digests waiting for "Post to channel"
        core = CoreCalls(service, self.executors, self.config)
        self.members = Members(self, core, self.config)
        self.moderators = Moderators(self, core, self.config, self.previews)
        self.admins = Admins(core, self.config)

    async def setup_hook(self) -> None:
        for cog in (self.members, self.moderators, self.admins):
            await self.add_cog(cog)
        self.add_dynamic_items(*members.BUTTONS, *moderators.BUTTONS, *admins.BUTTONS)
        if not self.config.guild_ids:
            log.warning("discord_guild_ids is empty: the bot answers in direct messages only, in no server")
        if not self.config.schedules.run_schedules:  # `crisisbot worker` runs them, once for every process
            log.info("run_schedules is off: no scheduled feed poll or digest in this process")
        if self.sync_target is not None:
            guild = discord.Object(self.sync_target) if self.sync_target else None
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.warning("synced %d slash commands %s", len(synced), f"to guild {self.sync_target}" if guild else "globally")

    async def on_message(self, message: discord.Message, /) -> None:
        """Not `commands.Bot`'s: no message is a prefix command (see the module docstring)."""

    async def close(self) -> None:
        """Removing the cogs (in `commands.Bot.close`) stops their loops; then the executors."""
        try:
            await super().close()
        finally:
            self.executors.shutdown()
