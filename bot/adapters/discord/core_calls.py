"""What every Discord cog shares: the core service, the executors its blocking calls run on,
the person behind an interaction as the core's `Actor`, and a private line back to them.

The client builds one `CoreCalls` and hands it to each cog's `__init__`, so no cog reaches
the service through `interaction.client`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import discord
from discord.ext import commands

from bot.core.actors import Actor
from bot.runtime.executors import CoreExecutors
from bot.runtime.service import CrisisBot

T = TypeVar("T")
CogT = TypeVar("CogT", bound=commands.Cog)
NO_MENTIONS = discord.AllowedMentions.none()


class CoreCalls:
    """The model and the stores never run on the event loop: questions and reads go to the
    question pool, changes to the knowledge thread (`bot.runtime.executors`), so one slow
    ingest never stalls the other members' questions."""

    def __init__(self, service: CrisisBot, executors: CoreExecutors) -> None:
        self.service = service
        self.executors = executors

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

    def actor_of(self, user: discord.abc.User) -> Actor:
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


async def tell(interaction: discord.Interaction[Any], text: str) -> None:
    """A private line to whoever acted, whether or not the interaction was acknowledged yet."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


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
