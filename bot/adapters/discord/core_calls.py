"""What every Discord cog shares: the core service, the executors its blocking calls run on,
the person behind an interaction as the core's `Actor`, and a private line back to them.

The client builds one `CoreCalls` and hands it to each cog's `__init__`, so no cog reaches
the service through `interaction.client`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, NoReturn, TypeVar

import discord
from discord.ext import commands

from bot.core.actors import Actor
from bot.core.errors import Refusal
from bot.core.messages import DISCORD_UNLISTED_GUILD
from bot.core.rate_limit import silent
from bot.core.translation import Phrases, error_text, phrases
from bot.runtime.executors import CoreExecutors
from bot.runtime.sections import DiscordSection
from bot.runtime.service import CrisisBot
from knowledge.errors import CrisisbotError
from knowledge.language import reply_language

log = logging.getLogger(__name__)

T = TypeVar("T")
CogT = TypeVar("CogT", bound=commands.Cog)
NO_MENTIONS = discord.AllowedMentions.none()
UNLISTED_REASON = "not one of the community's servers"
UNLISTED_RESULT = f"refused: {UNLISTED_REASON}"


class UnlistedGuild(Refusal):
    """An interaction or mention from a server that is not in `discord_guild_ids`; said once a
    window to each person (`Refusal.tell`), then dropped."""


class CoreCalls:
    """The model and the stores never run on the event loop: questions and reads go to the
    question pool, changes to the knowledge thread (`bot.runtime.executors`), so one slow
    ingest never stalls the other members' questions."""

    def __init__(self, service: CrisisBot, executors: CoreExecutors, config: DiscordSection) -> None:
        self.service = service
        self.executors = executors
        self.config = config  # which servers are the community's, and whether permissions count

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

    async def actor_of(self, source: discord.Interaction[Any] | discord.Message) -> Actor:
        """The person behind an interaction (or a message that mentions the bot), with the roles
        Discord vouches for; the core matches the configured role ids and decides what each
        role may do.

        Roles count only in the community's servers (`guild_ids`): anyone can invite a public
        bot to a server of their own and hold every permission there. In a DM the person is a
        member. In any other server they are refused, politely and in the audit log
        (`UnlistedGuild`), whatever they asked. Manage Server (admin) and Manage Messages
        (moderator) count only when the operator opted in, and are read from the
        interaction's `permissions`, those of the person in this very channel (what a
        moderator posts goes into it), not from their server-wide permissions.
        """
        if isinstance(source, discord.Interaction):
            interaction: discord.Interaction[Any] | None = source
            user, guild_id = source.user, source.guild_id
        else:
            interaction, user = None, source.author
            guild_id = source.guild.id if source.guild is not None else None
        if guild_id is None:
            return self.service.actor("discord", user.id, user.display_name)
        if guild_id not in self.config.guild_ids:
            await self._refuse(user, guild_id, _doing(source))
        admin = moderator = False
        if self.config.manage_server_is_admin and interaction is not None:
            permissions = interaction.permissions
            admin, moderator = permissions.manage_guild, permissions.manage_messages
        role_ids = [role.id for role in user.roles] if isinstance(user, discord.Member) else []
        return self.service.actor("discord", user.id, user.display_name, moderator, admin, role_ids)

    async def _refuse(self, user: discord.abc.User, guild_id: int, doing: str) -> NoReturn:
        """Audit the attempt (as a member: no role counts there) and raise the polite refusal;
        repeats within the refusal log's window are one audit row and get no reply."""
        stranger = self.service.actor("discord", user.id, user.display_name)
        first = await self.run_core(self.service.refusals.record, stranger, doing, f"guild {guild_id}",
                                    UNLISTED_REASON)
        raise UnlistedGuild(DISCORD_UNLISTED_GUILD, tell=first)


def _doing(source: discord.Interaction[Any] | discord.Message) -> str:
    """What was attempted, for the audit log: the command, a button, or a question by mention."""
    if isinstance(source, discord.Message):
        return "ask"
    if source.command is not None:
        return source.command.qualified_name
    data: dict[str, object] = dict(source.data or {})
    custom_id = data.get("custom_id")
    if isinstance(custom_id, str) and custom_id.count(":") >= 1:
        return f"button {custom_id.split(':')[1]}"  # crisisbot:vote:…, crisisbot:post:…
    return "interaction"


async def tell(interaction: discord.Interaction[Any], text: str) -> None:
    """A private line to whoever acted, whether or not the interaction was acknowledged yet."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def interaction_words(interaction: discord.Interaction[Any], text: str | None = None) -> Phrases:
    """The bot's words for a reply to `interaction`: the language `text` (a question) is in,
    else the person's Discord language (`locale`, a hint), else English."""
    locale = str(interaction.locale.value) if interaction.locale is not None else None
    return phrases(reply_language(text, locale) if text else locale)


async def say_error(interaction: discord.Interaction[Any], error: CrisisbotError) -> None:
    """A user error told privately; a repeated refusal (`silent`) is not told: a button press
    is acknowledged without a word (else Discord shows "This interaction failed"), a slash
    command is left unanswered."""
    if not silent(error):
        question = getattr(interaction.namespace, "question", None)  # /ask's: its language
        await tell(interaction, error_text(error, interaction_words(interaction, question if isinstance(question, str) else None)))
    elif interaction.type == discord.InteractionType.component and not interaction.response.is_done():
        await interaction.response.defer()


async def refused_privately(interaction: discord.Interaction[Any], work: Awaitable[None]) -> None:
    """Run a button's work; a refusal (`CrisisbotError`) is told privately, since a button's
    exception would otherwise end in a log line and Discord's "This interaction failed"."""
    try:
        await work
    except CrisisbotError as exc:
        await say_error(interaction, exc)


def cog_of(interaction: discord.Interaction[Any], kind: type[CogT]) -> CogT:
    """The cog of type `kind` loaded in the client that received `interaction`.

    Why buttons find their cog this way: discord.py makes a `DynamicItem` anew for each click,
    through the classmethod `from_custom_id` of the class registered for its template, so the
    item has no instance state but the interaction. Binding a subclass to each cog would not
    hold either: the registry is keyed by template and is overwritten, whenever a view is
    sent, by the class that rendered the button. Asking the interaction's own client (each
    client has its own cogs, also after a restart) with two `isinstance` checks is typed, needs
    no cast, and imports only discord.py, so a button module never imports the client.
    """
    client = interaction.client
    cog = client.get_cog(kind.__cog_name__) if isinstance(client, commands.Bot) else None
    if not isinstance(cog, kind):
        raise LookupError(f"the {kind.__cog_name__} cog is not loaded in this client")
    return cog
