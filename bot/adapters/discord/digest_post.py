"""Posting a digest to a Discord channel: the scheduled digest of the Discord adapter (its
`tasks.loop`) and of `crisisbot worker`, which uses the REST API only (a logged-in
`discord.Client` that never connects to the gateway).

Both render with `digest_messages` (embeds packed within Discord's limits), send with
`AllowedMentions.none()` and use the same core key, `discord:<channel id>`, so whichever posts,
a channel never gets the same documents twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord

from bot.adapters.discord.summary_format import Messages, digest_messages
from bot.core.scheduled_digest import DigestPlace
from bot.runtime.sections import DiscordSection
from bot.core.summary import Digest
from knowledge.errors import ConfigError

NO_MENTIONS = discord.AllowedMentions.none()


def digest_key(channel_id: int) -> str:
    """The core's digest key of a Discord channel (where the next digest there starts)."""
    return f"discord:{channel_id}"


async def send_messages(channel: discord.abc.Messageable, messages: Messages, first_line: str | None = None) -> None:
    """Post the messages in order; `first_line` (who posted it) goes above the first one."""
    for number, embeds in enumerate(messages):
        content = first_line if number == 0 else None
        await channel.send(content, embeds=embeds, allowed_mentions=NO_MENTIONS)


async def post_digest(channel: discord.abc.Messageable, digest: Digest) -> None:
    """The digest as the adapter shows it, in as many messages as Discord's limits need."""
    await send_messages(channel, digest_messages(digest))


def bot_token(config: DiscordSection) -> str:
    if config.bot_token is None:
        raise ConfigError("DISCORD_BOT_TOKEN is not set: create a bot in the Discord developer portal and export its token")
    return config.bot_token.get_secret_value()


@asynccontextmanager
async def rest_client(token: str) -> AsyncIterator[discord.Client]:
    """A client logged in over REST (`GET /users/@me`, the application), never connected to
    the gateway: enough to send to a channel by id. Closed on exit."""
    # Intents matter only to a gateway session; the default set keeps discord.py's state quiet.
    client = discord.Client(intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS)
    try:
        await client.login(token)
        yield client
    finally:
        await client.close()


def worker_place(config: DiscordSection) -> DigestPlace | None:
    """The worker's Discord digest place (`discord_digest_channel_id`), None when unset. Each
    post logs in anew: the digest goes out once a day or week."""
    channel_id = config.digest_channel_id
    if channel_id is None:
        return None
    token = bot_token(config)  # refuse at start, not at the first digest

    async def post(digest: Digest) -> None:
        async with rest_client(token) as client:
            await post_digest(client.get_partial_messageable(channel_id), digest)

    return DigestPlace(digest_key(channel_id), f"Discord channel {channel_id}", post)
